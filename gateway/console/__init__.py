"""The console (办事台): caseworkers' and citizens' pages, served by the gateway under /console.

Server-rendered (Jinja2) with htmx for fragments (a queue's table, its filters, claiming), never
whole-app navigation. A page does nothing an API client could not: every read and every action
is a call of the API route itself (`api()`: the route's handler, with the session's bearer token,
a JSON body and an Idempotency-Key, in this worker), so authentication, roles, validation,
idempotency, area scoping and the audit rows are the API's, with no second rule set. What the
API refuses, the page says in words; a record outside the caller's area reads as not found, as
the citizen's matter route already answers, so a page never confirms another area's case exists.

Why in the gateway and not a process of its own: it would hold the same key configuration, call
the same routes over HTTP and add a hop and a deployment for nothing; as a mixin it shares the
gateway's instances, health and metrics.

Sessions: the identity provider's access token in an HttpOnly, SameSite=Lax cookie on /console
(Secure behind https), living exactly as long as the token (staff: at most 15 minutes, then the
sign-in page says the session expired). Lax, not Strict, so the browser's return from the OIDC
provider carries it; every form carries a CSRF token derived from the session's token (an HMAC
only its holder can compute), and a POST without it is refused 403 before anything runs.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from datetime import date
from pathlib import Path
from urllib.parse import quote, urlencode

import jwt
import requests
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.dependency_providers import Config
from nameko.exceptions import UnknownService
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from chassis.entrypoints import http
from chassis.errors import Problem
from chassis.logs import get_logger
from gateway.api import ROUTES
from gateway.assistance_routes import CYCLES
from gateway.auth import DevIssuer, issue_token
from gateway.console import words

HERE = Path(__file__).resolve().parent
SESSION, SIGN_IN_NONCE, OIDC_STATE = "tongban_session", "tongban_sign_in", "tongban_oidc"
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
# what /console/assets serves: files from the npm packages (gateway/console/package.json, installed
# by `make install`) and the console's own stylesheet; nothing else of node_modules is reachable
ASSETS = {
    "htmx.min.js": HERE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js",
    "echarts.min.js": HERE / "node_modules" / "echarts" / "dist" / "echarts.common.min.js",
    "console.css": HERE / "static" / "console.css",
    "console.js": HERE / "static" / "console.js",
    "charts.js": HERE / "static" / "charts.js",
}
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
)
TEMPLATES.globals.update(words=words)
TEMPLATES.filters.update(yuan=words.yuan, when=words.when, figure=words.figure)
_API_MAP: Map | None = None


def api_map() -> Map:
    """The API's routes by path and method (built once every route module has declared its routes)."""
    global _API_MAP
    if _API_MAP is None:
        _API_MAP = Map([Rule(r.path, endpoint=r.handler, methods=[r.method]) for r in ROUTES])
    return _API_MAP


def csrf_for(token: str) -> str:
    return hmac.new(token.encode(), b"tongban-console-csrf", hashlib.sha256).hexdigest()[:40]


class Page(Exception):
    """Stop and answer with this response (a redirect to sign-in, a refusal page)."""

    def __init__(self, response: Response):
        self.response = response


class Session:
    def __init__(self, token: str, actor):
        self.token, self.actor = token, actor
        self.csrf = csrf_for(token)


def page(fn):
    """A page's handler, answering a `Page` raised on the way (sign-in, a refusal) with its response,
    and a fault (a service not running, a bug) with a page that says so, in the page's HTML: the
    API answers those 500 as JSON, which a browser would show as text. Nothing of the request is
    kept, as the API's failed worker keeps nothing."""

    def run(self, request, **values):
        try:
            return fn(self, request, **values)
        except Page as stop:
            return stop.response
        except Exception as exc:
            self.db.rollback()
            get_logger().error("console.fault", error=repr(exc), path=request.path, exc_info=True)
            return self.fault(request, exc)

    run.__name__ = fn.__name__
    run.__doc__ = fn.__doc__
    return run


class ConsoleRoutes:
    """Mixed into the gateway service (which provides auth, clock and the API's route handlers)."""

    config = Config()

    # --- plumbing ------------------------------------------------------------------------------

    def api(self, session: Session, method: str, path: str, body=None, query=None, key: str | None = None):
        """Call the API route at `path` as the session's holder: (status, JSON answer)."""
        handler, values = api_map().bind("console").match(path, method=method)
        headers = {"Authorization": f"Bearer {session.token}"}
        if key:
            headers["Idempotency-Key"] = key
        environ = EnvironBuilder(
            path=path,
            method=method,
            headers=headers,
            query_string=urlencode({k: v for k, v in (query or {}).items() if v not in (None, "")}),
            data=json.dumps(body) if body is not None else None,
            content_type="application/json" if body is not None else None,
        ).get_environ()
        # the API's worker that refuses rolls back what its route wrote before refusing; the page
        # goes on (to say why), so a call that may write runs in a savepoint, undone if refused
        savepoint = self.db.begin_nested() if method != "GET" else None
        try:
            response = getattr(self, handler)(Request(environ), **values)
        except Problem as problem:
            if savepoint is not None and savepoint.is_active:
                savepoint.rollback()
            if problem.status == 401:
                raise Page(self._to_sign_in("expired")) from None
            return problem.status, problem.as_json()
        if savepoint is not None and savepoint.is_active:
            savepoint.commit()
        return response.status_code, json.loads(response.get_data() or b"null")

    def render(
        self, template: str, status: int = 200, session: Session | None = None, fragment: bool = False, **context
    ) -> Response:
        html = TEMPLATES.get_template(template).render(session=session, actor=session and session.actor, **context)
        headers = dict(_SECURITY_HEADERS)
        if fragment:  # console.js swaps a refused fragment (it says why) instead of dropping it
            headers["X-Console-Fragment"] = "true"
        return Response(html, status=status, mimetype="text/html", headers=headers)

    def not_found(self, session: Session | None) -> Response:
        return self.render(
            "error.html", 404, session, title="未找到", detail="没有找到该记录，或该记录不在您的辖区内。"
        )

    def fault(self, request, exc: Exception) -> Response:
        session = None
        with contextlib.suppress(Page):  # signed out: the page without the header's session
            session = self.session(request)
        if isinstance(exc, UnknownService):
            detail = "办理该事项的业务服务暂未运行，请稍后重试。"
            return self.render("error.html", 503, session, title="服务暂不可用", detail=detail)
        detail = "系统未能完成此操作，已记录错误，请稍后重试。"
        return self.render("error.html", 500, session, title="系统错误", detail=detail)

    def _to_sign_in(self, why: str = "") -> Response:
        response = Response(status=303, headers={"Location": "/console/sign-in" + (f"?why={why}" if why else "")})
        response.delete_cookie(SESSION, path="/console")
        return response

    def session(self, request) -> Session:
        token = request.cookies.get(SESSION)
        if not token:
            raise Page(self._to_sign_in())
        try:
            actor = self.auth(f"Bearer {token}")
        except Problem:
            raise Page(self._to_sign_in("expired")) from None
        return Session(token, actor)

    def posted(self, request) -> tuple[Session, dict]:
        """A form's session and fields; 403 without the form's CSRF token (nothing runs)."""
        session = self.session(request)
        sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
        if not hmac.compare_digest(sent, session.csrf):
            raise Page(
                self.render(
                    "error.html",
                    403,
                    session,
                    title="请求被拒绝",
                    detail="表单缺少有效的安全校验码（CSRF），未执行任何操作。",
                )
            )
        return session, request.form.to_dict()

    # --- assets ---------------------------------------------------------------------------------

    @http("GET", "/console/assets/<name>")
    def console_asset(self, request, name):
        path = ASSETS.get(name)
        if path is None or not path.exists():
            return Response("not found", status=404, mimetype="text/plain")
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return Response(path.read_bytes(), mimetype=kind, headers={"Cache-Control": "max-age=3600"})

    # --- signing in -----------------------------------------------------------------------------

    def _dev_issuer(self):
        keys = self.config.get("CONSOLE_DEV_ISSUER_KEYS")
        return DevIssuer(Path(keys), Path(keys).with_name("unused-jwks.json")).current() if keys else None

    def _oidc(self) -> dict | None:
        names = ("AUTHORIZE_URL", "TOKEN_URL", "CLIENT_ID", "REDIRECT_URI")
        settings = {n.lower(): self.config.get(f"CONSOLE_OIDC_{n}") for n in names}
        return settings if all(settings.values()) else None

    @http("GET", "/console")
    @page
    def console_home(self, request):
        session = self.session(request)
        where = {"citizen": "/console/me", "admin": "/console/payments"}.get(session.actor.role, "/console/queues")
        return Response(status=303, headers={"Location": where})

    @http("GET", "/console/sign-in")
    def console_sign_in(self, request, error: str | None = None, status: int = 200):
        nonce = request.cookies.get(SIGN_IN_NONCE) or secrets.token_urlsafe(24)
        response = self.render(
            "sign_in.html",
            status,
            dev=self._dev_issuer() is not None,
            oidc=self._oidc() is not None,
            nonce=nonce,
            expired=request.args.get("why") == "expired",
            error=error,
            roles=words.SIGN_IN_ROLES,
        )
        response.set_cookie(
            SIGN_IN_NONCE, nonce, httponly=True, samesite="Strict", path="/console", secure=_https(request)
        )
        return response

    @http("POST", "/console/sign-in")
    def console_sign_in_dev(self, request):
        """`make run`'s local identity provider: pick a role and an area (never configured in production)."""
        nonce = request.cookies.get(SIGN_IN_NONCE) or ""
        if not nonce or not hmac.compare_digest(request.form.get(CSRF_FIELD, ""), nonce):
            return self.render("error.html", 403, None, title="请求被拒绝", detail="表单缺少有效的安全校验码（CSRF）。")
        issuer = self._dev_issuer()
        if issuer is None:
            return self.render("error.html", 404, None, title="未找到", detail="本环境未启用本地登录。")
        role, subject, area = (request.form.get(k, "").strip() for k in ("role", "subject", "area"))
        if role not in words.SIGN_IN_ROLES:
            return self.console_sign_in(request, "请选择身份。", 422)
        try:
            token = issue_token(issuer, subject, role, area or None)
        except ValueError:
            return self.console_sign_in(request, "证件号码或工号无效。", 422)
        return self._signed_in(request, token)

    def _signed_in(self, request, token: str) -> Response:
        try:
            self.auth(f"Bearer {token}")  # the same check every request makes, now, before the cookie
        except Problem as problem:
            return self.render("error.html", 401, None, title="登录失败", detail=problem.detail)
        expires = jwt.decode(token, options={"verify_signature": False})["exp"]
        response = Response(status=303, headers={"Location": "/console"})
        response.set_cookie(
            SESSION,
            token,
            max_age=max(0, int(expires - time.time())),
            httponly=True,
            samesite="Lax",
            path="/console",
            secure=_https(request),
        )
        response.delete_cookie(SIGN_IN_NONCE, path="/console")
        return response

    @http("GET", "/console/oidc/start")
    def console_oidc_start(self, request):
        """Production: the authorisation-code flow with PKCE at the bureau's identity provider; its
        access token is verified with the gateway's own key configuration (AUTH_JWKS, issuer, audience)."""
        oidc = self._oidc()
        if oidc is None:
            return self.render("error.html", 404, None, title="未找到", detail="本环境未配置统一身份认证。")
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": oidc["client_id"],
                "redirect_uri": oidc["redirect_uri"],
                "scope": "openid",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        response = Response(status=303, headers={"Location": f"{oidc['authorize_url']}?{query}"})
        response.set_cookie(
            OIDC_STATE, f"{state}.{verifier}", max_age=600, httponly=True, samesite="Lax", path="/console",
            secure=_https(request),
        )  # fmt: skip
        return response

    @http("GET", "/console/oidc/callback")
    def console_oidc_callback(self, request):
        oidc = self._oidc()
        state, _, verifier = (request.cookies.get(OIDC_STATE) or "").partition(".")
        if oidc is None or not state or not hmac.compare_digest(request.args.get("state", ""), state):
            return self.render("error.html", 403, None, title="登录失败", detail="登录请求已失效，请重新登录。")
        answer = requests.post(
            oidc["token_url"],
            data={
                "grant_type": "authorization_code",
                "code": request.args.get("code", ""),
                "redirect_uri": oidc["redirect_uri"],
                "client_id": oidc["client_id"],
                "code_verifier": verifier,
            },
            timeout=10,
        )
        token = answer.json().get("access_token") if answer.ok else None
        if not token:
            return self.render("error.html", 401, None, title="登录失败", detail="统一身份认证未返回令牌。")
        response = self._signed_in(request, token)
        response.delete_cookie(OIDC_STATE, path="/console")
        return response

    @http("POST", "/console/sign-out")
    @page
    def console_sign_out(self, request):
        self.posted(request)
        return self._to_sign_in()

    # --- work queues ----------------------------------------------------------------------------

    @http("GET", "/console/queues")
    @page
    def console_queues(self, request):
        session = self.session(request)
        status, answer = self.api(session, "GET", "/api/v1/work-queues")
        if status != 200:
            return self.render("error.html", status, session, title="无法打开工作队列", detail=answer.get("detail"))
        return self.render("queues.html", session=session, queues=answer["queues"])

    def _queue_page(self, request, session, queue_name, notice=None, status=200):
        filters = {k: request.values.get(k) for k in ("state", "claim", "overdue", "page")}
        code, answer = self.api(session, "GET", f"/api/v1/work-queues/{queue_name}", query=filters)
        if code == 404 or code == 403:
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开工作队列", detail=answer.get("detail"))
        partial = request.headers.get("HX-Request") == "true"
        return self.render(
            "queue_table.html" if partial else "queue.html",
            status,
            session,
            fragment=partial,
            queue=answer,
            filters=filters,
            queue_notice=notice,
            key=secrets.token_urlsafe(12),
        )

    @http("GET", "/console/queues/<queue_name>")
    @page
    def console_queue(self, request, queue_name):
        return self._queue_page(request, self.session(request), queue_name)

    @http("POST", "/console/queues/<queue_name>/items/<record_id>/<what>")
    @page
    def console_claim(self, request, queue_name, record_id, what):
        """认领 / 释放 from the queue's table; answers the table again (htmx), its filters and page kept."""
        session, form = self.posted(request)
        if what not in ("claim", "release"):
            return self.not_found(session)
        code, answer = self.api(
            session, "POST", f"/api/v1/work-queues/{queue_name}/items/{record_id}/{what}", key=form.get("key")
        )
        notice = None if code < 400 else words.refusal(answer)
        return self._queue_page(request, session, queue_name, notice, 200 if code < 400 else code)

    # --- the 低保 application and its household ----------------------------------------------------

    @http("GET", "/console/applications/<application_id>")
    @page
    def console_application(self, request, application_id, notice=None, status=200):
        session = self.session(request)
        if notice is None and request.args.get("done") in words.APPLICATION_STEPS:
            notice = words.APPLICATION_STEPS[request.args["done"]] + "：已完成"
        code, application = self.api(session, "GET", f"/api/v1/assistance/applications/{application_id}")
        if code in (403, 404, 422):
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开", detail=application.get("detail"))
        _, household = self.api(session, "GET", f"/api/v1/assistance/households/{application['household_id']}")
        _, payments = self.api(session, "GET", f"/api/v1/assistance/households/{application['household_id']}/payments")
        return self.render(
            "application.html",
            status,
            session,
            application=application,
            household=household if isinstance(household, dict) and "members" in household else None,
            payments=(payments or {}).get("payments", []) if isinstance(payments, dict) else [],
            notice=notice,
            key=secrets.token_urlsafe(12),
            today=self.clock.today(),
        )

    @http("GET", "/console/applications/lookup")
    @page
    def console_application_lookup(self, request):
        """A citizen's 低保 application by the number on its receipt (the API has no list of a
        citizen's applications); the application page reads it as the API lets them."""
        self.session(request)
        wanted = request.args.get("application", "").strip()
        return Response(status=303, headers={"Location": f"/console/applications/{quote(wanted, safe='')}"})

    @http("POST", "/console/applications/<application_id>/<step>")
    @page
    def console_application_step(self, request, application_id, step):
        """受理, 核对, 公示, 审批: the API route of the step, the page shown again with the outcome."""
        session, form = self.posted(request)
        if step not in words.APPLICATION_STEPS:
            return self.not_found(session)
        body = None
        if step == "decision":
            body = {"decision": form.get("decision", ""), "reason": form.get("reason", "")}
        code, answer = self.api(
            session, "POST", f"/api/v1/assistance/applications/{application_id}/{step}", body, key=form.get("key")
        )
        if code == 404:
            return self.not_found(session)
        if code < 400:  # post/redirect/get: reloading the page reads it, never sends the step again
            return Response(status=303, headers={"Location": f"/console/applications/{application_id}?done={step}"})
        return self.console_application(
            request, application_id=application_id, notice=words.refusal(answer), status=code
        )

    # --- matters (一件事) -------------------------------------------------------------------------

    @http("GET", "/console/matters/<matter_id>")
    @page
    def console_matter(self, request, matter_id):
        session = self.session(request)
        code, matter = self.api(session, "GET", f"/api/v1/matters/{matter_id}")
        if code in (403, 404, 422):
            return self.not_found(session)
        if code != 200:
            return self.render("error.html", code, session, title="无法打开", detail=matter.get("detail"))
        fragment = request.headers.get("HX-Request") == "true"
        return self.render("matter_steps.html" if fragment else "matter.html", session=session, matter=matter)

    # --- citizens -------------------------------------------------------------------------------

    @http("GET", "/console/me")
    @page
    def console_me(self, request):
        session = self.session(request)
        code, answer = self.api(session, "GET", "/api/v1/matters")
        matters = answer["matters"] if code == 200 else []
        return self.render("me.html", session=session, matters=matters)

    @http("GET", "/console/me/marriage-birth-hukou")
    @page
    def console_marriage_form(self, request, error=None, form=None, status=200):
        session = self.session(request)
        _, offices = self.api(session, "GET", "/api/v1/marriage/offices")
        return self.render(
            "apply_marriage.html",
            status,
            session,
            offices=(offices or {}).get("offices", []),
            error=error,
            form=form or {},
            key=secrets.token_urlsafe(12),
            earliest=date.fromordinal(self.clock.today().toordinal() + 1).isoformat(),
        )

    @http("POST", "/console/me/marriage-birth-hukou")
    @page
    def console_apply_marriage(self, request):
        """结婚生育户口一件事: apply once with a slot; the matter page follows its progress."""
        session, form = self.posted(request)
        body = {
            "office_code": form.get("office_code", ""),
            "slot_start": f"{form.get('slot_date', '')}T{form.get('slot_time', '')}:00+08:00",
            "party_a": {"resident_id": session.actor.id, "name": form.get("name_a", "")},
            "party_b": {"resident_id": form.get("resident_id_b", ""), "name": form.get("name_b", "")},
        }
        code, answer = self.api(session, "POST", "/api/v1/matters/marriage-birth-hukou", body, key=form.get("key"))
        if code >= 400:
            return self.console_marriage_form(request, error=words.refusal(answer), form=form, status=code)
        return Response(status=303, headers={"Location": f"/console/matters/{answer['matter_id']}"})

    @http("GET", "/console/me/death-report")
    @page
    def console_death_form(self, request, error=None, form=None, status=200):
        session = self.session(request)
        return self.render(
            "death_report.html",
            status,
            session,
            error=error,
            form=form or {},
            key=secrets.token_urlsafe(12),
            today=self.clock.today().isoformat(),
            relationships=words.INFORMANTS,
        )

    @http("POST", "/console/me/death-report")
    @page
    def console_report_death(self, request):
        """上报死亡: the family's notice of a death, which applies once for 身后一件事 (the funeral
        service opens the matter, the reporter one of its subjects); the matter page follows it."""
        session, form = self.posted(request)
        body = {
            "deceased": {
                "resident_id": form.get("resident_id", "").strip().upper(),
                "name": form.get("name", "").strip(),
            },
            "date_of_death": form.get("date_of_death", ""),
            "region_code": form.get("region_code", "").strip(),
            "place_of_death": form.get("place_of_death", "").strip() or None,
            "informant_relationship": form.get("informant_relationship") or None,
        }
        code, answer = self.api(session, "POST", "/api/v1/funeral/deaths", body, key=form.get("key"))
        if code >= 400:
            return self.console_death_form(request, error=words.refusal(answer), form=form, status=code)
        return Response(status=303, headers={"Location": f"/console/matters/{answer['matter_id']}"})

    @http("GET", "/console/me/benefits")
    @page
    def console_benefits(self, request):
        """我的待遇: what the API lets a citizen read of their own: the old-age allowance (高龄津贴) and
        its payments, the home-care voucher (养老服务补贴); a 低保 application by its number."""
        session = self.session(request)
        me = session.actor.id
        elder_code, elder = self.api(session, "GET", f"/api/v1/care/elders/{me}")
        _, paid = (
            self.api(session, "GET", f"/api/v1/care/elders/{me}/allowance/payments") if elder_code == 200 else (0, {})
        )
        voucher_code, voucher = self.api(session, "GET", f"/api/v1/care/vouchers/{me}")
        return self.render(
            "benefits.html",
            session=session,
            elder=elder if elder_code == 200 else None,
            allowance_payments=(paid or {}).get("payments", []) if isinstance(paid, dict) else [],
            voucher=voucher if voucher_code == 200 else None,
            application_id=request.args.get("application", "").strip(),
        )

    # --- the payments office (社会化发放): cycles to freeze, send and reconcile ---------------------

    def _cycle(self, session, cycle_id):
        code, cycle = self.api(session, "GET", f"{CYCLES}/{cycle_id}")
        return code, cycle

    @http("GET", "/console/payments")
    @page
    def console_payments(self, request):
        """The payments office's queue: this month, the next and the two before, each with what is
        to be done (freeze, send to the bank, reconcile). The assistance API has no list of cycles,
        and a cycle's id is its month (chassis.payment_runs.cycle_id_of), so each month is read by id."""
        session = self.session(request)
        first = self.clock.today().replace(day=1)
        months = [_add_months(first, n) for n in (1, 0, -1, -2)]
        rows = []
        for month in months:
            code, cycle = self._cycle(session, f"{month.year:04d}-{month.month:02d}")
            if code in (401, 403):
                return self.render("error.html", 403, session, title="无权办理", detail=words.refusal(cycle))
            if code not in (200, 404):
                return self.render("error.html", code, session, title="无法打开发放队列", detail=words.refusal(cycle))
            rows.append({"month": month, "cycle": cycle if code == 200 else None})
        return self.render("payments.html", session=session, rows=rows, key=secrets.token_urlsafe(12))

    @http("POST", "/console/payments/cycles")
    @page
    def console_freeze_cycle(self, request):
        """冻结: the month's cycle frozen through the API (a frozen month is answered as it is)."""
        session, form = self.posted(request)
        code, answer = self.api(session, "POST", CYCLES, {"month": form.get("month", "")}, key=form.get("key"))
        if code >= 400:
            return self.render("error.html", code, session, title="冻结未完成", detail=words.refusal(answer))
        notice = "已冻结" if answer.get("created") else "该月已冻结，未重复冻结"
        return self.console_payment_cycle(request, cycle_id=answer["cycle_id"], notice=notice)

    @http("GET", "/console/payments/cycles/<cycle_id>")
    @page
    def console_payment_cycle(self, request, cycle_id, notice=None, status=200, result=None, error=None):
        session = self.session(request)
        code, cycle = self._cycle(session, cycle_id)
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.render("error.html", code, session, title="无法打开发放批次", detail=words.refusal(cycle))
        return self.render(
            "payment_cycle.html",
            status,
            session,
            cycle=cycle,
            notice=notice,
            result=result,
            error=error,
            key=secrets.token_urlsafe(12),
        )

    @http("POST", "/console/payments/cycles/<cycle_id>/bank-batch")
    @page
    def console_send_batch(self, request, cycle_id):
        """发送: the cycle's pending payments handed to the bank (the API writes the batch file)."""
        session, form = self.posted(request)
        code, answer = self.api(session, "POST", f"{CYCLES}/{cycle_id}/bank-batch", key=form.get("key"))
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.console_payment_cycle(request, cycle_id=cycle_id, notice=words.refusal(answer), status=code)
        notice = f"已发送银行：{answer['rows']} 笔，合计 {words.yuan(answer['total_fen'])}"
        return self.console_payment_cycle(request, cycle_id=cycle_id, notice=notice)

    @http("POST", "/console/payments/cycles/<cycle_id>/bank-results")
    @page
    def console_reconcile(self, request, cycle_id):
        """对账: the bank's answers, one a line (payment id, paid or failed, the reason of a failure),
        as the bank's results file has them; the API applies and judges them."""
        session, form = self.posted(request)
        results, bad = words.bank_results(form.get("results", ""))
        if bad or not results:
            error = f"第 {bad} 行格式有误" if bad else "请至少填写一行银行回盘结果"
            return self.console_payment_cycle(
                request, cycle_id=cycle_id, error=error + "（付款编号,paid 或 failed,原因）。", status=422
            )
        code, answer = self.api(
            session, "POST", f"{CYCLES}/{cycle_id}/bank-results", {"results": results}, key=form.get("key")
        )
        if code == 404:
            return self.not_found(session)
        if code >= 400:
            return self.console_payment_cycle(request, cycle_id=cycle_id, notice=words.refusal(answer), status=code)
        return self.console_payment_cycle(request, cycle_id=cycle_id, notice="对账已完成", result=answer)

    # --- indicators (一组数据看态势) ----------------------------------------------------------------

    @http("GET", "/console/indicators")
    @page
    def console_indicators(self, request):
        """The region's indicators on a day, each against its target, from the API's one route (every
        owner's own figures); the chart (ECharts, charts.js) draws the same numbers the table lists."""
        session = self.session(request)
        region = (request.args.get("region") or session.actor.area or "").strip()
        on = (request.args.get("date") or self.clock.today().isoformat()).strip()
        figures, error, code = None, None, 200
        if region:
            code, answer = self.api(session, "GET", "/api/v1/indicators", query={"region": region, "date": on})
            if code == 200:
                figures = answer["indicators"]
            else:
                error = words.refusal(answer)
        return self.render(
            "indicators.html",
            code if code >= 400 else 200,
            session,
            region=region,
            on=on,
            figures=figures,
            chart=json.dumps(words.chart_of(figures or []), ensure_ascii=False),
            error=error,
        )

    # --- operations (运维): dead letters by queue, and replay --------------------------------------

    @http("GET", "/console/operations")
    @page
    def console_operations(self, request, notice=None, status=200):
        session = self.session(request)
        code, answer = self.api(session, "GET", "/api/v1/operations/dead-letters")
        if code in (401, 403):
            return self.render("error.html", 403, session, title="无权查看", detail=words.refusal(answer))
        if code >= 400:
            return self.render("error.html", code, session, title="无法读取死信队列", detail=words.refusal(answer))
        return self.render(
            "operations.html", status, session, queues=answer["queues"], notice=notice, key=secrets.token_urlsafe(12)
        )

    @http("POST", "/console/operations/dead-letters/<queue>/replay")
    @page
    def console_replay(self, request, queue):
        """重放: the queue's dead letters moved back to it, through the API (which audits it)."""
        session, form = self.posted(request)
        code, answer = self.api(
            session, "POST", f"/api/v1/operations/dead-letters/{queue}/replay", {}, key=form.get("key")
        )
        if code >= 400:
            return self.console_operations(request, notice=words.refusal(answer), status=code)
        return self.console_operations(request, notice=f"已重放 {answer['replayed']} 条消息到 {queue}")


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _add_months(first: date, n: int) -> date:
    """The first of the month n months after `first` (a first of a month)."""
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _https(request) -> bool:
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto") == "https"
