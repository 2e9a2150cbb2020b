"""How care says no: chassis Problems, rendered by the gateway as RFC 7807."""
from chassis.errors import Forbidden, NotFound, Problem


class UnknownElder(NotFound):
    title = "No such person in the elderly registry"


class OutsideArea(Forbidden):
    title = "Outside your area"


class PolicyUnusable(Problem):
    """The care policy in force cannot be used by the rules: a data problem for the bureau."""
    status, title = 500, "Policy parameters unusable"
