"""The arithmetic of assistance's indicators (BRIEF §5): yearly standards, working days."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from itertools import takewhile

from contracts.refusals import InvalidRuleInput

from .grants import working_days_after
from .numbers import _non_negative_int

# --- indicators (BRIEF §5): the arithmetic of assistance's figures ---------------------------------


def yearly_standard_yuan(monthly_fen: int) -> float:
    """The 低保 standard as the documents state it (元/人.年) from the monthly figure kept in fen:
    630元/月 is 7,560元/人.年."""
    return _non_negative_int(monthly_fen, "the 低保 standard") * 12 / 100


def working_days_between(start: date, end: date, holidays: frozenset[date], makeup_workdays: frozenset[date]) -> int:
    """Working days after `start` up to and including `end` (decided the day after a Friday
    application: 0 on a Saturday, 1 on Monday), on the calendar decision_due counts with."""
    if end < start:
        raise InvalidRuleInput(f"a decision on {end.isoformat()} comes before its application on {start.isoformat()}")
    return sum(1 for _ in takewhile(lambda day: day <= end, working_days_after(start, holidays, makeup_workdays)))


def mean_decision_working_days(
    pairs: Iterable[tuple[date, date]], holidays: frozenset[date], makeup_workdays: frozenset[date]
) -> float | None:
    """Application to decision (申请 → 审批) in working days, the mean over the decisions, to two
    places; None when nothing was decided."""
    days = [working_days_between(applied, decided, holidays, makeup_workdays) for applied, decided in pairs]
    return round(sum(days) / len(days), 2) if days else None
