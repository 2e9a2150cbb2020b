"""Signing in and out: `make run`'s local identity provider, or OIDC with PKCE in production."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import requests
from werkzeug.wrappers import Response

from chassis.entrypoints import http
from chassis.errors import Problem
from gateway.auth import DevIssuer, issue_token
from gateway.console import words
from gateway.console.base import CSRF_FIELD, OIDC_STATE, SESSION, SIGN_IN_NONCE, ConsoleBase, _https, page


class SignInPages(ConsoleBase):
    """The home redirect, sign-in (local issuer or OIDC) and sign-out."""

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
