"""Problems a client can act on (RFC 7807), raised anywhere and rendered once at the HTTP edge.

A service raises a `Problem` subclass; the chassis RPC entrypoint sends it to the caller as a
`Problem` (registered for deserialisation, so the gateway receives the same class back) and the
chassis HTTP entrypoint renders it as `application/problem+json` with the field errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from nameko.exceptions import deserialize_to_instance

from contracts.refusals import RuleError

__all__ = [
    "Problem",
    "InvalidInput",
    "MalformedRequest",
    "Refused",
    "NotFound",
    "Conflict",
    "Forbidden",
    "OutsideArea",
    "PolicyUnusable",
    "Unauthorized",
    "Unavailable",
    "refusals_as",
]


@deserialize_to_instance
class Problem(Exception):
    status = 500
    title = "Internal error"

    def __init__(
        self,
        detail: str,
        errors: dict | None = None,
        status: int | None = None,
        title: str | None = None,
        code: str | None = None,
    ):
        self.detail = detail
        self.errors = errors or {}
        self.status = int(status or type(self).status)  # nameko sends exception args as strings
        self.title = title or type(self).title
        self.code = code or type(self).__name__
        # nameko serialises exc.args; keep them in the constructor's order so it can rebuild us.
        super().__init__(detail, self.errors, self.status, self.title, self.code)

    def canonical(self) -> Problem:
        """The base class with the same content: what travels over RPC."""
        return Problem(self.detail, self.errors, self.status, self.title, self.code)

    def as_json(self, instance: str | None = None) -> dict:
        body = {
            "type": f"https://tongban.example/problems/{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        if instance:
            body["instance"] = instance
        return body

    def __str__(self) -> str:
        return f"{self.status} {self.title}: {self.detail}"


class InvalidInput(Problem):
    """Well-formed by the published schema, but its content cannot be acted on (a slot already
    begun, a matter that is not this couple's, a division that does not exist): 422. What the
    schema itself refuses is a `MalformedRequest`, so a 400 always means "outside the document"."""

    status, title = 422, "Invalid input"


class MalformedRequest(InvalidInput):
    """The request does not match the published schema (a missing or unknown field, a wrong type,
    a bound or pattern broken, a body that is not JSON)."""

    status, title = 400, "Malformed request"


class Refused(Problem):
    """Well-formed, but the rules say no (under age, already married …)."""

    status, title = 422, "Refused by the rules"


class NotFound(Problem):
    status, title = 404, "Not found"


class Conflict(Problem):
    status, title = 409, "Conflict with the current state"


class NotYet(Conflict):
    """What the request needs has not happened yet where it is checked (a view behind its events):
    the same request, retried later, may succeed. So its answer is not kept as the answer to the
    request's Idempotency-Key (gateway.idempotency), as other refusals are."""

    title = "Not yet"


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"


class Unavailable(Problem):
    status, title = 503, "Temporarily unavailable"


class OutsideArea(Forbidden):
    """Staff act only in the region they are scoped to (and below it)."""

    title = "Outside your area"


class PolicyUnusable(Problem):
    """The policy parameters in force cannot be used by the rules: a data problem for the bureau."""

    status, title = 500, "Policy parameters unusable"


@contextmanager
def refusals_as(
    problem: type[Problem],
    *,
    field: str | None = None,
    detail: str = "{reason}",
    also: tuple[type[Exception], ...] = (),
    audit: Callable[[RuleError], None] | None = None,
    on_conflict: type[Problem] | None = None,
    kind: type[RuleError] = RuleError,
    **kwargs,
) -> Iterator[None]:
    """The one place a rule's error (`contracts.refusals.RuleError`) becomes a Problem:

        with refusals_as(OrderStepRefused, audit=lambda refusal: self.audit.record_refusal(...)):
            order.state = rules.order_transition(order.state, action, by)

    `problem` is raised with `detail` (`{reason}` is the rule's sentence) and, when a field is named
    (`field=`, or the rule's own `field`), the reason as that field's error; `audit` is told first;
    `on_conflict`, when given, is raised instead for a refusal the state of a record caused
    (`RuleError.conflict`); `also` are other exceptions to treat alike (a policy value of the wrong
    type); `kind` narrows it to one member of the family (the others pass through); `kwargs` go to
    the Problem (`code=`)."""
    try:
        yield
    except (kind, *also) as exc:
        refusal = exc if isinstance(exc, RuleError) else RuleError(str(exc))
        if audit is not None:
            audit(refusal)
        name = field or refusal.field
        errors = {name: [refusal.reason]} if name else None
        raised = on_conflict if on_conflict is not None and refusal.conflict else problem
        raise raised(detail.format(reason=refusal.reason), errors=errors, **kwargs) from None
