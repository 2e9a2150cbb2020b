"""After a death (身后一件事): the months overpaid, back pay after a revocation, who is gone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contracts.refusals import InvalidRuleInput

# --- after a death (身后一件事) ----------------------------------------------------------------------
# Benefits stop as of the date of death. The payment run pays a month active for any part in full,
# so the month of death is the deceased's last; anything paid for a later month was paid too much.


def first_month_after(day: date) -> date:
    """The first day of the month after `day`'s month."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def in_household_for_month(joined_on: date, left_on: date | None, month: date) -> bool:
    """Whether a member counts for `month` (its first day): in the household for any part of it,
    which the run pays in full (born by its last day, gone on its first day or later)."""
    return joined_on < first_month_after(month) and (left_on is None or left_on >= month)


@dataclass(frozen=True)
class Overpaid:
    months: tuple[date, ...]  # the months after the death paid beyond what was due
    amount_fen: int


def overpaid_after_death(
    died_on: date,
    paid_by_month: Mapping[date, int],
    due_after_fen: int,
    due_before_by_month: Mapping[date, int] | None = None,
    due_after_by_month: Mapping[date, int] | None = None,
) -> Overpaid:
    """What was paid for months after the month of death beyond what the household was still due
    (0 when the benefit ended with the death; the recomputed amount when others remain).
    `due_before_by_month`: what a month was still due before this death, where another death of the
    household left less than was paid (overpaid_after_deaths): the month counts only up to that, since
    the rest is the other death's overpayment, not to be asked back twice. A month it does not name
    counts what was paid. `due_after_by_month`: a month due another amount after the death than
    `due_after_fen` (a member still in the household for it, gone since by a death dated later)."""
    due_before, due_after = due_before_by_month or {}, due_after_by_month or {}
    if due_after_fen < 0 or any(fen < 0 for fen in (*due_before.values(), *due_after.values())):
        raise InvalidRuleInput("the amount due after the death is whole fen ≥ 0")
    first = first_month_after(died_on)
    counted = {m: min(paid, due_before.get(m, paid)) for m, paid in paid_by_month.items() if m >= first}
    owed = {m: due_after.get(m, due_after_fen) for m in counted}
    months = tuple(sorted(m for m, fen in counted.items() if fen > owed[m]))
    return Overpaid(months, sum(counted[m] - owed[m] for m in months))


@dataclass(frozen=True)
class FoundAfterDeath:
    """What one death found of a benefit: the months after it with a payment (`months`: paid,
    handed to the bank or failed), what the live ones pay (`paid_by_month`), and what the benefit is
    still due a month after the death (`due_after_fen`)."""

    died_on: date
    due_after_fen: int
    paid_by_month: Mapping[date, int]
    months: frozenset[date] = frozenset()  # besides those of paid_by_month
    due_after_by_month: Mapping[date, int] = field(default_factory=dict)  # months due otherwise

    def due_in(self, month: date) -> int:
        return self.due_after_by_month.get(month, self.due_after_fen)


def overpaid_after_deaths(deaths: Iterable[FoundAfterDeath]) -> tuple[Overpaid, ...]:
    """The overpayments of the deaths of one household's benefit that stand, in the order they were
    recorded: each counts a month only up to the lowest amount the deaths before it left due for the
    month (overpaid_after_death's `due_before_by_month`). What the household owes for a month in all
    is then what was paid beyond the lowest amount any of them left due, in whatever order they come
    (for the payments they all found): the first death asks back its share, the next what is left
    beyond its own due, and so on; no payment is counted twice."""
    left_due: dict[date, int] = {}
    overpaid = []
    for death in deaths:
        overpaid.append(
            overpaid_after_death(
                death.died_on, death.paid_by_month, death.due_after_fen, left_due, death.due_after_by_month
            )
        )
        first = first_month_after(death.died_on)
        for month in set(death.months) | set(death.paid_by_month):
            if month >= first:
                left_due[month] = min(death.due_in(month), left_due.get(month, death.due_in(month)))
    return tuple(overpaid)


@dataclass(frozen=True)
class BackPayMonth:
    month: date
    owed_fen: int
    paid_fen: int

    @property
    def back_fen(self) -> int:
        return self.owed_fen - self.paid_fen


def back_pay_after_revocation(
    died_on: date,
    cycle_months: Iterable[date],
    paid_by_month: Mapping[date, int],
    owed_fen: int,
    paid_until: date | None = None,
    owed_by_month: Mapping[date, int] | None = None,
) -> tuple[BackPayMonth, ...]:
    """A death revoked as made in error: for every month after the month of death whose payment
    cycle ran, what the benefit would have paid (`owed_fen`, the amount before the death) less what
    was paid; months paid in full (before the notice stopped them) owe nothing, nor months after
    the benefit would have ended anyway (`paid_until`, its end or 渐退; None: open-ended).
    `owed_by_month`: months the household was due another amount for (another death of the
    household that stands: gone_after_revocation); the others are owed `owed_fen`."""
    first = first_month_after(died_on)
    owed = {m: (owed_by_month or {}).get(m, owed_fen) for m in set(cycle_months)}
    return tuple(
        BackPayMonth(m, owed[m], paid_by_month.get(m, 0))
        for m in sorted(owed)
        if m >= first and (paid_until is None or paid_until >= m) and paid_by_month.get(m, 0) < owed[m]
    )


@dataclass(frozen=True)
class OtherDeath:
    """Another death in the household that touched a benefit whose death is being revoked."""

    member_id: int
    died_on: date
    stands: bool  # not revoked: the member is gone from the month after the death
    counted_before: bool  # the member was gone when the revoked death was recorded: its before amount is without them


def gone_after_revocation(others: Iterable[OtherDeath], month: date | None = None) -> frozenset[int] | None:
    """Once a death is revoked, which members the benefit is due without for `month` (None: from now
    on, every death that stands): the members of the other deaths that stand and reach the month.
    None when they are exactly those the revoked death's amount before it was counted without:
    that amount (and its policy version) is then what is owed, as with a death alone in its
    household. Otherwise the benefit is due for the members alive in the month, recomputed."""
    others = tuple(others)
    gone = frozenset(
        d.member_id for d in others if d.stands and (month is None or first_month_after(d.died_on) <= month)
    )
    return None if gone == frozenset(d.member_id for d in others if d.counted_before) else gone


# --- what a death overwrote, to undo it -------------------------------------------------------------


@dataclass(frozen=True)
class BenefitUndo:
    """What a death overwrote of one benefit, as its death record keeps it to undo it (an entry of
    DeathRecord.changes' "benefits"). Version 1, recorded before the undo kept more than the end
    date; version 2 also keeps the gradual exit, the exit reason and the next review."""

    entitlement_id: int
    ended: bool
    before_fen: int
    ends_on_before: date | None
    policy_version_before: str | None
    gradual_exit_until_before: date | None = None
    exit_reason_before: str | None = None
    next_review_on_before: date | None = None
    version: int = 2

    @classmethod
    def of(cls, entitlement: Any, ended: bool) -> BenefitUndo:
        """The entitlement (the model, or anything with its fields) as it stands before the death
        changes it."""
        return cls(
            entitlement.id,
            ended,
            entitlement.monthly_amount_fen,
            entitlement.ends_on,
            entitlement.policy_version,
            entitlement.gradual_exit_until,
            entitlement.exit_reason,
            entitlement.next_review_on,
        )

    def to_json(self) -> dict:
        return {
            "entitlement_id": self.entitlement_id,
            "before_fen": self.before_fen,
            "ended": self.ended,
            "ends_on_before": _iso(self.ends_on_before),
            "gradual_exit_until_before": _iso(self.gradual_exit_until_before),
            "exit_reason_before": self.exit_reason_before,
            "next_review_on_before": _iso(self.next_review_on_before),
            "policy_version_before": self.policy_version_before,
        }

    @classmethod
    def from_json(cls, data: dict) -> BenefitUndo:
        return cls(
            data["entitlement_id"],
            data["ended"],
            data["before_fen"],
            _date(data["ends_on_before"]),
            data.get("policy_version_before"),
            _date(data.get("gradual_exit_until_before")),
            data.get("exit_reason_before"),
            _date(data.get("next_review_on_before")),
            version=2 if "gradual_exit_until_before" in data else 1,
        )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
