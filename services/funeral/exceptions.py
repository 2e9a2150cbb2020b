"""How funeral says no: chassis Problems, rendered by the gateway as RFC 7807."""

from chassis.errors import Conflict, NotFound, OutsideArea, PolicyUnusable  # noqa: F401  (re-exported)


class UnknownCase(NotFound):
    title = "No such funeral case"


class CaseStepRefused(Conflict):
    """The case's state (rules.may_cremate, rules.may_revoke) does not allow the step."""

    title = "Not allowed at this point of the case"
