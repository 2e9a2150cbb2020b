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
import hashlib
import hmac
import json
import secrets
import time
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

import jwt
import requests
from jinja2 import Environment, FileSystemLoader, select_autoescape
from nameko.dependency_providers import Config
from werkzeug.routing import Map, Rule
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

from chassis.entrypoints import http
from chassis.errors import Problem
from gateway.api import ROUTES
from gateway.auth import DevIssuer, issue_token
from gateway.console import words

HERE = Path(__file__).resolve().parent
SESSION, SIGN_IN_NONCE, OIDC_STATE = "tongban_session", "tongban_sign_in", "tongban_oidc"
CSRF_FIELD, CSRF_HEADER = "csrf_token", "X-CSRF-Token"
# what /console/assets serves: files from the npm packages (gateway/console/package.json, installed
# by `make install`) and the console's own stylesheet; nothing else of node_modules is reachable
ASSETS = {
    "htmx.min.js": HERE / "node_modules" / "htmx.org" / "dist" / "htmx.min.js",
    "console.css": HERE / "static" / "console.css",
}
TEMPLATES = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]), trim_blocks=True
)
TEMPLATES.globals.update(words=words)
TEMPLATES.filters.update(yuan=words.yuan, when=words.when)
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
    """A page's handler, answering a `Page` raised on the way (sign-in, a refusal) with its response."""

    def run(self, request, **values):
        try:
            return fn(self, request, **values)
        except Page as stop:
            return stop.response

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
        try:
            response = getattr(self, handler)(Request(environ), **values)
        except Problem as problem:
            if problem.status == 401:
                raise Page(self._to_sign_in("expired")) from None
            return problem.status, problem.as_json()
        return response.status_code, json.loads(response.get_data() or b"null")

    def render(self, template: str, status: int = 200, session: Session | None = None, **context) -> Response:
        html = TEMPLATES.get_template(template).render(session=session, actor=session and session.actor, **context)
        return Response(html, status=status, mimetype="text/html", headers=_SECURITY_HEADERS)

    def not_found(self, session: Session | None) -> Response:
        return self.render(
            "error.html", 404, session, title="未找到", detail="没有找到该记录，或该记录不在您的辖区内。"
        )

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
        where = "/console/me" if session.actor.role == "citizen" else "/console/queues"
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
        notice = words.APPLICATION_STEPS[step] + "：已完成" if code < 400 else words.refusal(answer)
        return self.console_application(
            request, application_id=application_id, notice=notice, status=200 if code < 400 else code
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


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _https(request) -> bool:
    return request.scheme == "https" or request.headers.get("X-Forwarded-Proto") == "https"
