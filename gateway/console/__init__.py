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

from gateway.console import words
from gateway.console.base import _add_months, csrf_for
from gateway.console.cases import CasePages
from gateway.console.casework import CaseworkPages
from gateway.console.citizen import CitizenPages
from gateway.console.office import OfficePages
from gateway.console.sign_in import SignInPages

__all__ = ["ConsoleRoutes", "_add_months", "csrf_for", "words"]


class ConsoleRoutes(SignInPages, CaseworkPages, CasePages, CitizenPages, OfficePages):
    """Mixed into the gateway service (which provides auth, clock, db and the API's route handlers);
    the pages by group: sign_in.py, casework.py, cases.py, citizen.py, office.py, over base.py's plumbing."""
