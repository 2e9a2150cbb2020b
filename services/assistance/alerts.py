"""Proactive discovery (主动发现): what a signal means for a recipient household, and the life of
the risk alert it raises. Pure: no I/O; the service moves data in and out.

An alert is a caseworker's task to visit and review a household: open → acknowledged (someone took
it) → resolved (with what was done); an open alert may also be resolved at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType

from contracts.refusals import RuleRefused

__all__ = ["ALERT_STATES", "ALERT_TRANSITIONS", "alert_transition", "Signal", "SIGNALS", "visit_due"]

ALERT_STATES = ("open", "acknowledged", "resolved")
ALERT_TRANSITIONS = MappingProxyType(
    {
        ("open", "acknowledge"): "acknowledged",
        ("open", "resolve"): "resolved",
        ("acknowledged", "resolve"): "resolved",
    }
)


def alert_transition(state: str, action: str) -> str:
    try:
        return ALERT_TRANSITIONS[(state, action)]
    except KeyError:
        if state == "resolved":
            raise RuleRefused("the alert is already resolved") from None
        if (state, action) == ("acknowledged", "acknowledge"):
            raise RuleRefused("the alert is already acknowledged") from None
        raise RuleRefused(f"cannot {action} an alert that is {state}") from None


@dataclass(frozen=True)
class Signal:
    kind: str  # the alert's kind
    what: str  # what the caseworker is asked to do


# Which event raises which alert for a household that receives assistance.
SIGNALS = MappingProxyType(
    {
        "birth.notified": Signal(
            "birth_in_household",
            "a child was born to a member: visit, and record the child's resident ID once the hukou is registered",
        ),
        "marriage.divorce_registered": Signal(
            "household_changed",
            "a member's divorce changed the household: check the recomputed entitlement and the departing "
            "member's own situation",
        ),
    }
)


def visit_due(raised_on: date, visit_days: int) -> date:
    """The visit is due `visit_days` calendar days after the signal (a policy parameter)."""
    if visit_days < 0:
        raise ValueError("visit_days must not be negative")
    return raised_on + timedelta(days=visit_days)
