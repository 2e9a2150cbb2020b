"""Bearer tokens: who is calling, in which role, scoped to which area.

Tokens are JWTs signed with an asymmetric key (ES256 or RS256) by the bureau's identity provider
(浙里办 for citizens, the staff directory for caseworkers, a client-credentials grant for partner
departments), and verified against the provider's published keys (JWKS, config `AUTH_JWKS`: an
https URL or a file) with their issuer (`AUTH_ISSUER`) and audience (`AUTH_AUDIENCE`). Claims:
`sub` (a citizen's resident ID number, a staff id, or a partner department code), `role`, `area`
(staff: the division code they serve), `org` (partners whose organisations act apart,
contracts.partners `organisations`: which one, e.g. the home-care provider's code; required for
them, refused for anyone else). A provider such as Keycloak emits them with attribute mappers.

Keys rotate: the JWKS is read again every `AUTH_JWKS_REFRESH_SECONDS`, and at once (at most every
`AUTH_JWKS_COOLDOWN_SECONDS`) for a key id it does not know. A key that leaves the JWKS is still
trusted for `AUTH_KEY_GRACE_SECONDS` after it was last seen there, so the tokens it signed just
before the rotation run out instead of failing at once; after that, and for a key never published,
the answer is 401. Staff tokens live at most `STAFF_MAX_TTL` (15 minutes), whatever the issuer says.

`make run` keeps a local development issuer (`DevIssuer`: a key file under var/, its public JWKS
beside it); `python -m gateway.auth ROLE SUBJECT` mints a token with it, `... rotate` rotates it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider

from chassis.audit import Actor
from chassis.clock import clock_for
from chassis.errors import Unauthorized, Unavailable
from chassis.logs import get_logger
from contracts.partners import PARTNERS
from contracts.person import ResidentId
from contracts.roles import ADMIN, CITIZEN, CLERK, EMPLOYEES, FUNERAL_HOME, PARTNER, ROLES

# funeral_home: staff of a funeral home (殡仪馆), scoped to their district like a clerk, who take
# notices, bookings, burials and cremations, but neither revoke a death nor confirm its date
ALGORITHMS = ["ES256", "RS256"]  # never HS256 or none: the gateway holds no signing secret
STAFF_MAX_TTL = 15 * 60
DEFAULT_TTL = {CITIZEN: 3600, CLERK: 10 * 60, FUNERAL_HOME: 10 * 60, ADMIN: 10 * 60, PARTNER: 3600}
DEV_ISSUER = "https://tongban.example/dev-issuer"
AUDIENCE = "tongban-gateway"
ROOT = Path(__file__).resolve().parent.parent
DEV_KEY_FILE = ROOT / "var" / "dev-issuer" / "keys.json"  # private: what `make run` signs with
DEV_JWKS_FILE = ROOT / "var" / "dev-issuer" / "jwks.json"  # public: what the gateway verifies with


# --- issuing (the development issuer, tests, benchmarks) ------------------------------------------


@dataclass
class Issuer:
    """A signing key and the issuer and audience its tokens name (what an OIDC provider holds)."""

    kid: str
    key: ec.EllipticCurvePrivateKey
    issuer: str = DEV_ISSUER
    audience: str = AUDIENCE

    @classmethod
    def generate(cls, issuer: str = DEV_ISSUER, audience: str = AUDIENCE) -> Issuer:
        return cls(f"es256-{uuid.uuid4().hex[:12]}", ec.generate_private_key(ec.SECP256R1()), issuer, audience)

    def sign(self, claims: dict) -> str:
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": self.kid})

    def public_jwk(self) -> dict:
        return {**json.loads(ECAlgorithm.to_jwk(self.key.public_key())), "kid": self.kid, "use": "sig", "alg": "ES256"}

    def jwks(self) -> dict:
        return {"keys": [self.public_jwk()]}

    def gateway_config(self, jwks_file: Path) -> dict:
        """The gateway's AUTH_* config to trust this issuer, its JWKS written to `jwks_file`."""
        Path(jwks_file).write_text(json.dumps(self.jwks()))
        return {"AUTH_JWKS": str(jwks_file), "AUTH_ISSUER": self.issuer, "AUTH_AUDIENCE": self.audience}


def issue_token(
    issuer: Issuer,
    subject: str,
    role: str,
    area: str | None = None,
    ttl_seconds: int | None = None,
    now: float | None = None,
    org: str | None = None,
) -> str:
    """A token as the identity provider would issue it."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == CITIZEN:
        subject = ResidentId.parse(subject).number
    if role == PARTNER and subject not in PARTNERS:
        raise ValueError(f"unknown partner {subject!r}; known: {sorted(PARTNERS)}")
    _check_org(role, subject, org, ValueError)
    issued = int(now if now is not None else time.time())
    ttl = DEFAULT_TTL[role] if ttl_seconds is None else ttl_seconds
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": subject,
        "role": role,
        "iat": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
    }
    if area:
        claims["area"] = area
    if org:
        claims["org"] = org
    return issuer.sign(claims)


def _check_org(role: str, subject: str, org, error) -> None:
    """A partner whose organisations act apart names one; nobody else names any."""
    needed = role == PARTNER and subject in PARTNERS and PARTNERS[subject].organisations
    if needed and not (isinstance(org, str) and 2 <= len(org) <= 60):
        raise error(f"a {subject} token names the organisation acting (claim 'org')")
    if not needed and org is not None:
        raise error("only partners whose organisations act apart carry an 'org' claim")


@dataclass
class DevIssuer:
    """The local issuer `make run` keeps: its keys in one file (the current one signs), the public
    JWKS in another, which the gateway reads like any provider's."""

    key_file: Path = DEV_KEY_FILE
    jwks_file: Path = DEV_JWKS_FILE

    def current(self) -> Issuer:
        if not self.key_file.exists():
            return self.rotate()
        stored = json.loads(self.key_file.read_text())
        jwk = stored["keys"][0]
        key = ECAlgorithm.from_jwk(json.dumps(jwk))
        issuer = Issuer(jwk["kid"], key, stored["issuer"], stored["audience"])
        if not self.jwks_file.exists():  # published again, or the gateway would trust nothing
            self.jwks_file.write_text(json.dumps(issuer.jwks()))
        return issuer

    def rotate(self) -> Issuer:
        """A new signing key; the old one leaves the JWKS at once (the gateway's grace period lets
        the tokens it signed run out)."""
        fresh = Issuer.generate()
        private = {**json.loads(ECAlgorithm.to_jwk(fresh.key)), "kid": fresh.kid, "alg": "ES256"}
        self.key_file.parent.mkdir(parents=True, exist_ok=True)
        self.key_file.touch(mode=0o600)
        self.key_file.write_text(json.dumps({"issuer": fresh.issuer, "audience": fresh.audience, "keys": [private]}))
        self.jwks_file.write_text(json.dumps(fresh.jwks()))
        return fresh


def dev_issuer() -> Issuer:
    """The development issuer's current key (made on first use)."""
    return DevIssuer().current()


# --- verifying (the gateway) ---------------------------------------------------------------------


@dataclass
class KeySet:
    """The identity provider's published keys, read again when they may have changed.

    `source`: an http(s) URL or a file path; `now`: seconds (the service's clock)."""

    source: str
    now: object = time.time
    refresh_seconds: float = 300
    cooldown_seconds: float = 10
    grace_seconds: float = 3600
    keys: dict = field(default_factory=dict)  # kid -> PyJWK, as last published
    gone: dict = field(default_factory=dict)  # kid -> (PyJWK, last seen), keys rotated out
    fetched_at: float | None = None

    def _read(self) -> dict:
        if self.source.startswith(("http://", "https://")):
            response = requests.get(self.source, timeout=5)
            response.raise_for_status()
            return response.json()
        return json.loads(Path(self.source.removeprefix("file://")).read_text())

    def refresh(self) -> None:
        now = self.now()
        try:
            published = jwt.PyJWKSet.from_dict(self._read())
        except (OSError, ValueError, requests.RequestException, jwt.PyJWKSetError) as exc:
            self.fetched_at = now  # try again after the cooldown, not on every request
            get_logger(component="auth").warning("auth.jwks_unreadable", source=self.source, error=repr(exc))
            if not self.keys and not self.gone:
                raise Unavailable("the identity provider's keys cannot be read") from None
            return
        fresh = {key.key_id: key for key in published.keys if key.key_id}
        for kid, key in self.keys.items():
            if kid not in fresh:
                self.gone[kid] = (key, self.fetched_at if self.fetched_at is not None else now)
        for kid in fresh:
            self.gone.pop(kid, None)
        self.keys, self.fetched_at = fresh, now

    def key(self, kid: str | None):
        now = self.now()
        if self.fetched_at is None or now - self.fetched_at >= self.refresh_seconds:
            self.refresh()
        elif kid not in self.keys and kid not in self.gone and now - self.fetched_at >= self.cooldown_seconds:
            self.refresh()  # a key published since: a rotation
        if kid in self.keys:
            return self.keys[kid].key
        if kid in self.gone:
            key, last_seen = self.gone[kid]
            if now - last_seen <= self.grace_seconds:
                return key.key
            raise Unauthorized("the token is signed by a key rotated out of the identity provider's keys")
        raise Unauthorized("the token is signed by a key the identity provider does not publish")


def authenticate(authorization: str | None, keys: KeySet, issuer: str, audience: str) -> Actor:
    return verify(bearer_token(authorization), keys, issuer, audience)[0]


def bearer_token(authorization: str | None) -> str:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 7235)
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    return token.strip()


def verify(token: str, keys: KeySet, issuer: str, audience: str) -> tuple[Actor, float, str | None]:
    """The token's actor, when it expires (seconds) and the id of the key that signed it."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(f"tokens are signed with {' or '.join(ALGORITHMS)}")
        claims = jwt.decode(
            token,
            keys.key(header.get("kid")),
            algorithms=ALGORITHMS,
            audience=audience,
            issuer=issuer,
            options={"require": ["iss", "aud", "sub", "role", "iat", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    if claims["role"] not in ROLES:
        raise Unauthorized(f"unknown role {claims['role']!r}")
    if claims["role"] in EMPLOYEES and claims["exp"] - claims["iat"] > STAFF_MAX_TTL:
        raise Unauthorized(f"staff tokens live at most {STAFF_MAX_TTL // 60} minutes")
    _check_org(claims["role"], claims["sub"], claims.get("org"), Unauthorized)
    actor = Actor(id=claims["sub"], role=claims["role"], area=claims.get("area"), org=claims.get("org"))
    return actor, float(claims["exp"]), header.get("kid")


class VerifiedTokens:
    """Tokens already verified, by their exact text, so a client's next request with the same token
    costs a dictionary look-up instead of a signature check. A hit still answers only while the
    token has not expired (by the real time, as PyJWT checks it) and its key is still trusted (`KeySet.key`: a key
    rotated out past its grace, or never published, refuses it as before); nothing else in a
    verification depends on the time. At most `size` tokens are kept, the oldest dropped first."""

    def __init__(self, keys: KeySet, issuer: str, audience: str, size: int = 10_000, now=time.time):
        """`now`: the time PyJWT checks `exp` against (the real time), in seconds."""
        self.keys, self.issuer, self.audience, self.size, self.now = keys, issuer, audience, size, now
        self._verified: dict[str, tuple[Actor, float, str | None]] = {}

    def __call__(self, authorization: str | None) -> Actor:
        token = bearer_token(authorization)
        hit = self._verified.get(token)
        if hit is not None:
            actor, expires, kid = hit
            if self.now() < expires:  # PyJWT's own test: expired once now >= exp
                self.keys.key(kid)  # raises Unauthorized for a key no longer trusted
                return actor
            del self._verified[token]
        actor, expires, kid = verify(token, self.keys, self.issuer, self.audience)
        if len(self._verified) >= self.size:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (actor, expires, kid)
        return actor


class Authenticator(DependencyProvider):
    """`auth = Authenticator()`: the worker gets `auth(authorization_header) -> Actor`.

    Refuses to start without `AUTH_JWKS`, so a deployment that forgot it fails closed."""

    def setup(self):
        config = self.container.config
        source = config.get("AUTH_JWKS") or ""
        if not source:
            raise ConfigurationError("AUTH_JWKS must name the identity provider's keys (an https URL or a file)")
        clock = clock_for(config)
        self.keys = KeySet(
            source,
            now=lambda: clock.now().timestamp(),
            refresh_seconds=float(config.get("AUTH_JWKS_REFRESH_SECONDS", 300)),
            cooldown_seconds=float(config.get("AUTH_JWKS_COOLDOWN_SECONDS", 10)),
            grace_seconds=float(config.get("AUTH_KEY_GRACE_SECONDS", 3600)),
        )
        self.issuer = config.get("AUTH_ISSUER") or DEV_ISSUER
        self.audience = config.get("AUTH_AUDIENCE") or AUDIENCE
        self.verified = VerifiedTokens(self.keys, self.issuer, self.audience)

    def get_dependency(self, worker_ctx):
        return self.verified


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Mint a bearer token with the local development issuer (dev and demos), or rotate its key."
    )
    parser.add_argument("role", choices=(*ROLES, "rotate"))
    parser.add_argument("subject", nargs="?", help="resident ID number, staff id, or partner code")
    parser.add_argument("--area", help="division code a clerk (or funeral-home staff) serves")
    parser.add_argument(
        "--org",
        help="the organisation acting under a partner code (a home-care provider's or a "
        "wearable-device platform's code)",
    )
    parser.add_argument("--ttl", type=int, help="seconds (default by role; staff at most 900)")
    args = parser.parse_args(argv)
    issuer = DevIssuer(
        Path(os.environ.get("AUTH_DEV_KEYS", DEV_KEY_FILE)), Path(os.environ.get("AUTH_DEV_JWKS", DEV_JWKS_FILE))
    )
    if args.role == "rotate":
        print(issuer.rotate().kid)
        return
    if not args.subject:
        parser.error("the subject is required")
    print(issue_token(issuer.current(), args.subject, args.role, args.area, args.ttl, org=args.org))


if __name__ == "__main__":
    main()
