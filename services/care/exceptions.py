"""How care says no: chassis Problems, rendered by the gateway as RFC 7807."""
from chassis.errors import Conflict, Forbidden, NotFound, Problem


class UnknownElder(NotFound):
    title = "No such person in the elderly registry"


class OutsideArea(Forbidden):
    title = "Outside your area"


class PolicyUnusable(Problem):
    """The care policy in force cannot be used by the rules: a data problem for the bureau."""
    status, title = 500, "Policy parameters unusable"


class OrderStepRefused(Conflict):
    """The order's state machine (rules.order_transition) does not allow the step."""
    title = "Not allowed at this point of the order"
