"""What an approval grants (审批), the 渐退期 after income rises, re-checks and time limits, and
what a benefit comes to without a deceased member."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import islice

from contracts.refusals import InvalidRuleInput

from .household import DISABILITY_PARAMETERS, Member
from .numbers import _non_negative_int, yuan
from .policy import AssistancePolicy
from .programmes import dibao_benefit, dibao_edge_eligible, tekun_benefit, temporary_assistance

# --- what an approval grants (审批) --------------------------------------------------------------

MEANS_TESTED = ("dibao", "dibao_edge", "tekun")  # the household's assets are checked against the limits


@dataclass(frozen=True)
class Benefit:
    """What an approval would grant, and why (or why not)."""

    eligible: bool
    monthly_fen: int
    reasons: tuple[str, ...]
    version: str
    ends_on: date | None = None  # a one-off (临时救助) ends in the month it starts
    decided_by: str | None = None  # 临时救助: "township" for urgent cases under the threshold


@dataclass(frozen=True)
class PolicyAmount:
    """One policy parameter's value in fen and its version (a disability subsidy's monthly amount)."""

    fen: int
    version: str


def benefit(
    programme: str,
    household: list[Member],
    on: date,
    policy: AssistancePolicy,
    *,
    self_care: str | None = None,
    grade: str | None = None,
    requested_fen: int | None = None,
    urgent: bool = False,
    disability: PolicyAmount | None = None,
) -> Benefit:
    """The benefit of `programme` for the household on `on` under `policy`, before its assets are
    checked (`with_assets`). 特困 needs the self-care ability, 临时救助 the grade and the amount
    asked for (the service makes sure they are given), the disability subsidies their amount."""
    version = policy.version
    if programme == "dibao":
        dibao = dibao_benefit(household, on, policy)
        return Benefit(dibao.eligible, dibao.monthly_fen, dibao.reasons, version)
    if programme == "dibao_edge":
        edge = dibao_edge_eligible(household, policy)
        return Benefit(edge.eligible, 0, edge.reasons, version)
    if programme == "tekun":
        tekun = tekun_benefit(str(self_care), policy)
        return Benefit(True, tekun.monthly_fen, tekun.reasons, version)
    if programme == "temporary":
        one_off = temporary_assistance(str(grade), int(requested_fen or 0), urgent, policy)
        last_day = on.replace(day=calendar.monthrange(on.year, on.month)[1])
        return Benefit(
            True, one_off.amount_fen, one_off.reasons, version, ends_on=last_day, decided_by=one_off.decided_by
        )
    if disability is None:
        raise InvalidRuleInput(f"{programme}: the disability subsidy's amount is needed")
    return disability_benefit(programme, household, version, disability)


def disability_benefit(programme: str, household: list[Member], version: str, amount: PolicyAmount) -> Benefit:
    """困难残疾人生活补贴 / 重度残疾人护理补贴: the policy's monthly amount per member recorded as
    severely disabled (the household model has no finer disability grade yet)."""
    disabled = sum(1 for m in household if m.severely_disabled)
    version = f"{version};{amount.version}"
    if not disabled:
        return Benefit(
            False, 0, ("no member of the household is recorded as severely disabled", f"policy {version}"), version
        )
    total = amount.fen * disabled
    return Benefit(
        True,
        total,
        (
            f"{programme}: {yuan(amount.fen)} per month × {disabled} severely disabled member(s) = {yuan(total)}",
            f"policy {amount.version}",
        ),
        version,
    )


def with_assets(benefit: Benefit, check_id: str | None, within_limits: bool | None, reasons: Iterable[str]) -> Benefit:
    """A means-tested benefit after the household's assets: from the latest complete check
    (`check_id`; None: none is attached), whose report says whether they are within the policy's
    limits (None: it cannot say, `reasons` why)."""
    if check_id is None:
        return Benefit(
            False, 0, (*benefit.reasons, "no complete household economic check (核对) is attached"), benefit.version
        )
    if within_limits is None:
        return Benefit(False, 0, (*benefit.reasons, *reasons), benefit.version)
    noted = (*benefit.reasons, *(f"assets (核对 {check_id}): {r}" for r in reasons))
    if not within_limits:
        return Benefit(False, 0, noted, benefit.version)
    return Benefit(benefit.eligible, benefit.monthly_fen, noted, benefit.version, benefit.ends_on, benefit.decided_by)


# --- 渐退期 ----------------------------------------------------------------------------------------


def review_check_complete(answered: Iterable[bool]) -> bool:
    """动态复核: a re-check is complete when it asked somebody (a household with no current member
    holding a resident ID has nothing to re-check: the caseworker must look) and every member ×
    source was answered, by the source now or by an earlier answer its failure policy allows."""
    answers = list(answered)
    return bool(answers) and all(answers)


def _months_later(start: date, months: int) -> date:
    """The same day `months` later; the month's last day when that month is shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def next_review(on: date, review_months: Mapping, programme: str) -> date | None:
    """复核: when an entitlement granted or re-checked `on` is next re-checked, by the programme's
    interval in months; None for a programme without periodic re-checks (temporary assistance)."""
    months = review_months.get(programme)
    if months is None:
        return None
    if not isinstance(months, int) or isinstance(months, bool) or months < 1:
        raise InvalidRuleInput(f"the re-check interval of {programme} must be a whole number of months ≥ 1")
    return _months_later(on, months)


@dataclass(frozen=True)
class GradualExit:
    applies: bool
    monthly_fen: int  # the previous benefit, continued
    months: int
    starts: date | None  # first day of the period
    ends: date | None  # last day of the period, inclusive
    reasons: tuple[str, ...]
    version: str

    def is_in_gradual_exit(self, on: date) -> bool:
        return self.applies and self.starts is not None and self.ends is not None and self.starts <= on <= self.ends


def gradual_exit(
    previous_benefit_fen: int, income_now_above_standard: bool, exit_starts: date, policy: AssistancePolicy
) -> GradualExit:
    """渐退期: a household leaving 低保 because its income rose above the standard keeps its previous
    benefit for `gradual_exit_months`, from `exit_starts` up to the day before the same day N months
    later (the last day of that month when it has no such day). Leaving for any other reason, or a
    policy of 0 months, gives no gradual exit."""
    previous = _non_negative_int(previous_benefit_fen, "the previous benefit")
    months = policy.gradual_exit_months
    if not income_now_above_standard:
        return GradualExit(
            False,
            0,
            0,
            None,
            None,
            (
                "no gradual exit (渐退期): the household is not leaving because its income rose above the standard",
                f"policy {policy.version}",
            ),
            policy.version,
        )
    if months == 0:
        return GradualExit(
            False,
            0,
            0,
            None,
            None,
            (f"no gradual exit (渐退期): the policy {policy.version} sets 0 months",),
            policy.version,
        )
    later = _months_later(exit_starts, months)
    ends = later - timedelta(days=1) if later.day == exit_starts.day else later
    return GradualExit(
        True,
        previous,
        months,
        exit_starts,
        ends,
        (
            f"income rose above the standard: the previous benefit {yuan(previous)} continues for the "
            f"gradual-exit period (渐退期) of {months} months, {exit_starts.isoformat()} to {ends.isoformat()}",
            f"policy {policy.version}",
        ),
        policy.version,
    )


# --- time limits ---------------------------------------------------------------------------------


def is_working_day(day: date, holidays: frozenset[date], makeup_workdays: frozenset[date]) -> bool:
    """Monday to Friday, except listed public holidays, plus listed make-up weekend days (调休)."""
    return day in makeup_workdays or (day.weekday() < 5 and day not in holidays)


def working_days_after(start: date, holidays: frozenset[date], makeup_workdays: frozenset[date]) -> Iterator[date]:
    """The working days after `start` (not counting it), in order, without end."""
    day = start
    while True:
        day += timedelta(days=1)
        if is_working_day(day, holidays, makeup_workdays):
            yield day


def decision_due(
    accepted_on: date, working_days: int, holidays: frozenset[date], makeup_workdays: frozenset[date]
) -> date:
    """The last day for the decision: the `working_days`-th working day after acceptance (the day
    of acceptance is not counted). Working days are Monday to Friday, except listed public
    holidays, plus listed make-up working weekend days (调休)."""
    if isinstance(working_days, bool) or not isinstance(working_days, int) or working_days < 1:
        raise InvalidRuleInput(f"working_days must be a positive whole number, not {working_days!r}")
    clash = holidays & makeup_workdays
    if clash:
        raise InvalidRuleInput(f"{min(clash).isoformat()} is listed both as a holiday and as a make-up working day")
    weekday_makeups = sorted(d for d in makeup_workdays if d.weekday() < 5)
    if weekday_makeups:
        raise InvalidRuleInput(f"make-up working day {weekday_makeups[0].isoformat()} is not a Saturday or Sunday")
    return next(islice(working_days_after(accepted_on, holidays, makeup_workdays), working_days - 1, None))


def notice_ends(published_on: date, notice_days: int) -> date:
    """Last day of the public notice (公示), counted from the day after publication (Civil Code
    art. 201): 7 days published on 1 March end on 8 March; a decision may follow from 9 March."""
    return published_on + timedelta(days=_non_negative_int(notice_days, "notice_days"))


# --- what a benefit comes to without the deceased (身后一件事) -----------------------------------------


@dataclass(frozen=True)
class AmountAfterDeath:
    monthly_fen: int  # 0: the benefit ends with the death
    note: str | None = None  # when the survivors' standing needs a caseworker's re-check instead
    policy_version: str | None = None  # the policy a recomputed amount (低保) stands on


def amount_without(
    programme: str,
    amount_before_fen: int,
    survivors: list[Member],
    on: date,
    policy: AssistancePolicy | None = None,
    per_person_fen: int | None = None,
) -> AmountAfterDeath:
    """A benefit's monthly amount for the members who survive a death: nothing left with nobody;
    低保 recomputed for the survivors under `policy` (kept, with a re-check asked for, if they no
    longer qualify on their own figures); a disability subsidy `per_person_fen` for each severely
    disabled survivor; a one-off as it was; 特困 and 低保边缘, the person's own standing, as they
    were until a re-check decides."""
    if not survivors:
        return AmountAfterDeath(0)
    if programme == "temporary":
        return AmountAfterDeath(amount_before_fen)
    if programme == "dibao":
        if policy is None:
            raise InvalidRuleInput("低保 without the deceased needs the policy in force")
        recomputed = dibao_benefit(survivors, on, policy)
        if not recomputed.eligible:
            return AmountAfterDeath(amount_before_fen, "the survivors may no longer qualify for 低保: re-check them")
        return AmountAfterDeath(recomputed.monthly_fen, None, policy.version)
    if programme in DISABILITY_PARAMETERS:
        if per_person_fen is None:
            raise InvalidRuleInput(f"{programme} without the deceased needs its amount per person")
        return AmountAfterDeath(per_person_fen * sum(1 for m in survivors if m.severely_disabled))
    return AmountAfterDeath(amount_before_fen, f"{programme}: re-check the survivors")
