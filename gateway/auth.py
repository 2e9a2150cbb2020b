"""Bearer tokens: who is calling, in which role, scoped to which area.

Tokens are HS256 JWTs signed with the gateway's secret (config `AUTH_SECRET`); in production the
bureau's identity provider issues them (浙里办 for citizens, the staff directory for caseworkers,
a client-credentials grant for partner departments). Claims: `sub` (a citizen's resident ID number,
a staff id, or a partner department code), `role`, `area` (staff: the division code they serve),
`org` (partners whose organisations act apart, contracts.partners `organisations`: which one, e.g.
the home-care provider's code; required for them, refused for anyone else).
"""

from __future__ import annotations

import argparse
import os
import time

import jwt
from nameko.exceptions import ConfigurationError
from nameko.extensions import DependencyProvider

from chassis.audit import Actor
from chassis.errors import Unauthorized
from contracts.partners import PARTNERS
from contracts.person import ResidentId

ROLES = ("citizen", "clerk", "partner", "admin")
DEV_SECRET = "dev-only-secret-change-me"  # what `make run` uses when AUTH_SECRET is not set
ALGORITHM = "HS256"


def issue_token(
    secret: str,
    subject: str,
    role: str,
    area: str | None = None,
    ttl_seconds: int = 3600,
    now: float | None = None,
    org: str | None = None,
) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    if role == "citizen":
        subject = ResidentId.parse(subject).number
    if role == "partner" and subject not in PARTNERS:
        raise ValueError(f"unknown partner {subject!r}; known: {sorted(PARTNERS)}")
    _check_org(role, subject, org, ValueError)
    issued = int(now if now is not None else time.time())
    claims = {"sub": subject, "role": role, "iat": issued, "exp": issued + ttl_seconds}
    if area:
        claims["area"] = area
    if org:
        claims["org"] = org
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _check_org(role: str, subject: str, org, error) -> None:
    """A partner whose organisations act apart names one; nobody else names any."""
    needed = role == "partner" and subject in PARTNERS and PARTNERS[subject].organisations
    if needed and not (isinstance(org, str) and 2 <= len(org) <= 60):
        raise error(f"a {subject} token names the organisation acting (claim 'org')")
    if not needed and org is not None:
        raise error("only partners whose organisations act apart carry an 'org' claim")


def authenticate(authorization: str | None, secret: str) -> Actor:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:  # the scheme is case-insensitive (RFC 7235)
        raise Unauthorized("send 'Authorization: Bearer <token>'")
    try:
        claims = jwt.decode(token.strip(), secret, algorithms=[ALGORITHM], options={"require": ["sub", "role", "exp"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the token has expired") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"invalid token: {exc}") from None
    if claims["role"] not in ROLES:
        raise Unauthorized(f"unknown role {claims['role']!r}")
    _check_org(claims["role"], claims["sub"], claims.get("org"), Unauthorized)
    return Actor(id=claims["sub"], role=claims["role"], area=claims.get("area"), org=claims.get("org"))


MIN_SECRET_LENGTH = 16


class Authenticator(DependencyProvider):
    """`auth = Authenticator()`: the worker gets `auth(authorization_header) -> Actor`.

    Refuses to start without a real secret, so a deployment that forgot AUTH_SECRET fails closed
    instead of accepting tokens signed with a well-known default."""

    def setup(self):
        secret = self.container.config.get("AUTH_SECRET") or ""
        if len(secret) < MIN_SECRET_LENGTH:
            raise ConfigurationError(f"AUTH_SECRET must be set to at least {MIN_SECRET_LENGTH} characters")
        self.secret = secret

    def get_dependency(self, worker_ctx):
        return lambda authorization: authenticate(authorization, self.secret)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Mint a bearer token for the tongban gateway (dev and demos).")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("subject", help="resident ID number, staff id, or partner code")
    parser.add_argument("--area", help="division code a clerk serves")
    parser.add_argument(
        "--org",
        help="the organisation acting under a partner code (a home-care provider's or a "
        "wearable-device platform's code)",
    )
    parser.add_argument("--ttl", type=int, default=8 * 3600)
    args = parser.parse_args(argv)
    secret = os.environ.get("AUTH_SECRET", DEV_SECRET)
    print(issue_token(secret, args.subject, args.role, args.area, args.ttl, org=args.org))


if __name__ == "__main__":
    main()
