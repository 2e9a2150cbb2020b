"""How social assistance says no: each a chassis Problem, so the gateway renders RFC 7807."""

from chassis.errors import Conflict, NotFound, OutsideArea, PolicyUnusable, Refused  # noqa: F401  (re-exported)


class StepRefused(Conflict):
    """The application's state machine (rules.transition) does not allow the move."""

    title = "Not allowed at this point of the application"


class AlreadyApplying(Conflict):
    title = "An application for this programme is already open"


class AlreadyMember(Conflict):
    title = "Already a member of the household"


class ApprovalRefused(Refused):
    """Well-formed, but the entitlement rules say the household does not qualify."""

    title = "Approval refused by the entitlement rules"


class UnknownApplication(NotFound):
    title = "No such application"
