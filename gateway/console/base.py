"""The console's plumbing: its templates and assets, the session from the cookie, CSRF, and `api()`,
the call of an API route's own handler as the session's holder, which every page makes instead of
a rule of its own (gateway/console/__init__.py says why)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

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


class ConsoleBase:
    """What every page group uses; the gateway service provides auth, clock, db and the API's handlers."""

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
