"""How care says no: chassis Problems, rendered by the gateway as RFC 7807."""

from chassis.errors import Conflict, Forbidden, NotFound, OutsideArea, PolicyUnusable  # noqa: F401  (re-exported)


class UnknownElder(NotFound):
    title = "No such person in the elderly registry"


class OrderStepRefused(Conflict):
    """The order's state machine (rules.order_transition) does not allow the step."""

    title = "Not allowed at this point of the order"


class CallRefused(Forbidden):
    """An emergency call from a device the calling platform does not operate, or for a person the
    device is not registered to (rules.call_refusal)."""

    title = "Not a call this platform may raise"
