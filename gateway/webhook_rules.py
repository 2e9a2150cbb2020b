"""The rules of signed webhooks, as pure functions (tested by tables in tests/unit/test_webhook_rules.py).

- which URLs an endpoint may have (https; http only to a loopback address, and only where allowed);
- which event types a partner may register, which are approved now and which need an administrator;
- when to try a failed delivery again (exponential backoff with full jitter, at least 24 hours);
- the Standard Webhooks signature (HMAC-SHA256 of `id.timestamp.body`, base64, `v1,` prefix).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from contracts.partners import PARTNERS

__all__ = [
    "GIVE_UP_AFTER",
    "FIRST_DELAY",
    "MAX_DELAY",
    "UrlRefused",
    "check_url",
    "EventTypeSplit",
    "split_event_types",
    "retry_delay",
    "gives_up",
    "new_secret",
    "sign",
    "signature_header",
]

GIVE_UP_AFTER = timedelta(hours=24)  # an endpoint failing this long is disabled
FIRST_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=1)
SECRET_PREFIX = "whsec_"


class UrlRefused(ValueError):
    pass


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_http_loopback: bool) -> str:
    """The URL as kept, or UrlRefused with the reason."""
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port  # both parse (a bad port or IPv6 literal raises)
    except ValueError:
        raise UrlRefused("not a URL") from None
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UrlRefused("an endpoint URL has no spaces or control characters")
    if parts.scheme not in ("https", "http") or not host:
        raise UrlRefused("an endpoint is an absolute https:// URL")
    if parts.username or parts.password:
        raise UrlRefused("credentials do not belong in the URL (the signature authenticates us)")
    if parts.fragment:
        raise UrlRefused("an endpoint URL has no fragment")
    if parts.scheme == "http" and not (allow_http_loopback and _loopback(host)):
        raise UrlRefused("https is required (http:// only to a loopback address in development)")
    return url


@dataclass(frozen=True)
class EventTypeSplit:
    approved: tuple[str, ...]  # delivered from now on
    pending: tuple[str, ...]  # within the entitlements, waiting for an administrator
    refused: tuple[str, ...]  # not entitled: never


def split_event_types(partner_code: str, wanted, granted) -> EventTypeSplit:
    """Types the partner asks for, against its entitlements and the set approved for it so far."""
    entitled = PARTNERS[partner_code].entitlements
    wanted = tuple(dict.fromkeys(wanted))  # once each, in the order asked
    return EventTypeSplit(
        tuple(t for t in wanted if t in entitled and t in granted),
        tuple(t for t in wanted if t in entitled and t not in granted),
        tuple(t for t in wanted if t not in entitled),
    )


def retry_delay(failures: int, draw: float) -> timedelta:
    """The wait after the `failures`-th failed attempt (1, 2, …): 5 s doubling up to an hour, with
    full jitter (`draw` in [0, 1) scales it between half and all of it), so endpoints coming back
    are not hit by every sender at once."""
    ceiling = min(FIRST_DELAY * (2 ** min(failures - 1, 20)), MAX_DELAY)
    return ceiling * (0.5 + draw / 2)


def gives_up(failing_since: datetime, now: datetime) -> bool:
    """Whether a delivery failing since then is abandoned (and its endpoint disabled) now."""
    return now - failing_since >= GIVE_UP_AFTER


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    content = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def signature_header(secrets_in_force, webhook_id: str, timestamp: int, body: bytes) -> str:
    """One signature per secret in force (after a rotation, the old one for a while too), space-separated."""
    return " ".join(sign(s, webhook_id, timestamp, body) for s in secrets_in_force if s)
