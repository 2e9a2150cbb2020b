"""Elderly care (养老) rules: who is old enough for the old-age allowance (高龄津贴), from which
month, and how much by age band. Pure: no I/O, table-tested (tests/unit/test_care_rules.py).

A birthday is reached the way `contracts.person.age_on` counts age: someone born on 29 February
turns a year older on 1 March in a year without one. The payment-run SQL computes birthdays with
the same formula (`birthday_sql`), and a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Protocol, TypeVar

from contracts.person import AGE_OF_MAJORITY, age_on
from contracts.refusals import InvalidRuleInput, RuleRefused

__all__ = [
    "VoucherGrant",
    "budget_grant",
    "voucher_in_force",
    "RegionFigures",
    "region_figures",
    "DISABLED_LEVELS",
    "CALL_TRANSITIONS",
    "call_transition",
    "response_seconds",
    "Registration",
    "CallRefusal",
    "call_refusal",
    "registration_conflict",
    "retirement_refusal",
    "child_allowance_fen",
    "follow_up_due",
    "Indicators",
    "indicators",
    "assessment_valid_until",
    "ORDER_TRANSITIONS",
    "order_transition",
    "VoucherSplit",
    "split_voucher",
    "CreditsMove",
    "credits_answered",
    "order_credit_minutes",
    "voucher_monthly_fen",
    "ended_by",
    "closed_by",
    "end_stands",
    "resumption_finds_its_end",
    "AllowancePolicy",
    "birthday",
    "latest_birth_date_qualifying",
    "allowance_start_month",
    "monthly_allowance_fen",
    "START_RULES",
    "birthday_sql",
    "allowance_paid_in",
    "paying_district",
]

START_RULES = ("birthday_month", "next_month")  # from the month of the birthday, or the month after


@dataclass(frozen=True)
class AllowancePolicy:
    version: str
    qualifying_age: int  # 80 everywhere in the source documents
    start: str  # one of START_RULES
    bands_fen: Mapping[int, int]  # lowest age of the band -> monthly amount in fen
    in_force_from: date | None = None  # when the scheme began: nobody is paid for months before it

    def __post_init__(self):
        if not isinstance(self.qualifying_age, int) or not 60 <= self.qualifying_age <= 120:
            raise InvalidRuleInput("the qualifying age must be a whole number of years between 60 and 120")
        if self.start not in START_RULES:
            raise InvalidRuleInput(f"the start rule must be one of {', '.join(START_RULES)}")
        if not self.bands_fen or min(self.bands_fen) != self.qualifying_age:
            raise InvalidRuleInput("the age bands must start at the qualifying age")
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in self.bands_fen.values()):
            raise InvalidRuleInput("band amounts are whole fen ≥ 0")


def birthday(birth_date: date, years: int) -> date:
    """The day someone born on `birth_date` turns `years` old: the day after the eve of the
    birthday `years` later (so 29 February turns on 1 March in a common year)."""
    eve = birth_date - timedelta(days=1)
    try:
        later_eve = eve.replace(year=eve.year + years)
    except ValueError:  # the eve itself was 29 February (born 1 March after a leap day)
        later_eve = eve.replace(year=eve.year + years, day=28)
    return later_eve + timedelta(days=1)


def latest_birth_date_qualifying(today: date, years: int) -> date:
    """The latest birth date of someone who is `years` old by `today` (everyone born on or before
    it is): the birthday is monotonic in the birth date, so step back from just after the answer."""
    guess = birthday(today, -years) + timedelta(days=2)
    while birthday(guess, years) > today:
        guess -= timedelta(days=1)
    return guess


def allowance_start_month(birth_date: date, policy: AllowancePolicy) -> date:
    """The first month paid: the qualifying birthday's month, or the month after; never before
    the scheme began. (The job also starts nobody before the month they joined the registry.)"""
    reached = birthday(birth_date, policy.qualifying_age)
    first = reached.replace(day=1)
    if policy.start == "next_month":
        first = (first + timedelta(days=32)).replace(day=1)
    if policy.in_force_from is not None:
        first = max(first, policy.in_force_from.replace(day=1))
    return first


def monthly_allowance_fen(birth_date: date, month: date, policy: AllowancePolicy) -> int:
    """The band's amount for the age reached by the end of `month` (a 90th birthday in the month
    moves the whole month to the higher band); 0 before the qualifying age."""
    month_end = (month.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    age = age_on(birth_date, month_end)
    bands = [low for low in policy.bands_fen if low <= age]
    return policy.bands_fen[max(bands)] if bands else 0


def allowance_paid_in(starts_month: date, ended_on: date | None, month: date) -> bool:
    """Whether an enrolment is paid for `month`: from its first month through the month of its
    last day of entitlement (`ended_on`: a death on 3 May leaves May paid, June not). The payment
    run's SQL (services/care/payments.py) says the same; a test holds the two together."""
    first = month.replace(day=1)
    return starts_month <= first and (ended_on is None or ended_on >= first)


def paying_district(region_code: str) -> str:
    """The district (county) whose bureau pays the allowance: payment cycles are per district, so
    no two cycles of a month can pay the same person. A city or province is not one."""
    if not (isinstance(region_code, str) and region_code.isdigit() and len(region_code) == 6) or region_code.endswith(
        "00"
    ):
        raise InvalidRuleInput("the allowance is paid by a district (6-digit code not ending in 00)")
    return region_code


def birthday_sql(birth_column: str, years_param: str) -> str:
    """The same birthday as `birthday`, in PostgreSQL (for set-based jobs)."""
    return f"(({birth_column} - 1) + make_interval(years => {years_param}))::date + 1"


# --- home-care orders and government vouchers -----------------------------------------------------


class VoucherGrant(Protocol):
    """A home-care voucher grant as the rules read it (the care service's VoucherEligibility)."""

    @property
    def starts_on(self) -> date: ...
    @property
    def ends_on(self) -> date | None: ...
    @property
    def monthly_fen(self) -> int: ...


Grant = TypeVar("Grant", bound=VoucherGrant)


def voucher_in_force(held: VoucherGrant, month: date) -> bool:
    """Whether a grant is in force in `month` (its first day): from its start's month to its end."""
    return held.starts_on.replace(day=1) <= month and (held.ends_on is None or held.ends_on >= month)


def budget_grant(grants: Sequence[Grant], month: date) -> Grant | None:
    """The grant that sets the month's budget: the largest of those in force."""
    active = [g for g in grants if voucher_in_force(g, month)]
    return max(active, key=lambda g: g.monthly_fen) if active else None


ORDER_TRANSITIONS = MappingProxyType(
    {
        # (state, action) -> (new state, who may)
        ("requested", "accept"): ("accepted", "provider"),
        ("accepted", "deliver"): ("delivered", "provider"),
        ("delivered", "confirm"): ("confirmed", "person"),  # the person served, family or caseworker
        ("requested", "cancel"): ("cancelled", "either"),
        ("accepted", "cancel"): ("cancelled", "either"),
    }
)


def order_transition(state: str, action: str, by: str, credits_state: str | None = None) -> str:
    """The order's state after `action` by `by` ("provider" or "person"), or RuleRefused.

    An order paid with time-bank credits (`credits_state` not None) is accepted only once the
    time bank has redeemed them: the provider serves funded orders only."""
    move = ORDER_TRANSITIONS.get((state, action))
    if move is None:
        raise RuleRefused(
            f"an order that is {state} cannot be {action}ed"
            if action != "cancel"
            else f"an order that is {state} can no longer be cancelled"
        )
    new_state, who = move
    if who not in ("either", by):
        raise RuleRefused(f"only the {who} may {action} an order")
    if action == "accept" and credits_state not in (None, "redeemed"):
        raise RuleRefused(
            f"the order is paid with time-bank credits, which the time bank has not redeemed (credits {credits_state})"
        )
    return new_state


@dataclass(frozen=True)
class CreditsMove:
    credits_state: str  # what the order's credits are now
    order_state: str  # what the order is now
    cancel_reason: str | None  # set when the answer cancels the order
    ask_return: bool = False  # credits redeemed for an order cancelled meanwhile: say the cancellation again


def credits_answered(order_state: str, credits_state: str, outcome: str, reason: str) -> CreditsMove:
    """What the time bank's answer does to an order paid with credits (charity.credits_answered).

    Answers may arrive late, twice, or after the person cancelled: "redeemed" funds a pending
    order (the provider may then accept it); "refused" cancels a still-open order with the reason
    (nothing was debited); "returned" (the credits given back after a cancellation) is final. Any
    other answer changes nothing. Credits redeemed for an order cancelled meanwhile are asked back."""
    if outcome not in ("redeemed", "refused", "returned"):
        raise InvalidRuleInput(f"unknown time-bank answer {outcome!r}")
    if outcome == "returned":
        return CreditsMove("returned", order_state, None)
    if credits_state != "pending":
        return CreditsMove(credits_state, order_state, None)  # answered already (or returned since)
    if outcome == "redeemed":
        # the time bank normally returns them on the cancellation it has seen; saying it again
        # covers one it could not act on (no account yet then), and a second is returned once
        return CreditsMove("redeemed", order_state, None, ask_return=order_state == "cancelled")
    if order_state in ("requested", "accepted"):
        return CreditsMove("refused", "cancelled", f"time-bank credits refused: {reason}")
    return CreditsMove("refused", order_state, None)  # cancelled already, by a party


def order_credit_minutes(service: str, minutes_by_service: Mapping[str, int]) -> int:
    """The time-bank minutes a service costs (policy: care.time_bank_minutes, by service type)."""
    minutes = minutes_by_service.get(service)
    if minutes is None:
        raise InvalidRuleInput(f"the policy sets no time-bank minutes for {service}")
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
        raise InvalidRuleInput("time-bank minutes are whole minutes ≥ 1")
    return minutes


@dataclass(frozen=True)
class VoucherSplit:
    voucher_fen: int  # drawn on the month's government voucher budget
    copay_fen: int  # paid by the person


def split_voucher(price_fen: int, left_fen: int) -> VoucherSplit:
    """The budget pays what it still can; the rest is the person's."""
    if price_fen < 1 or left_fen < 0:
        raise InvalidRuleInput("a price is at least 1 fen and a budget never below 0")
    voucher = min(price_fen, left_fen)
    return VoucherSplit(voucher, price_fen - voucher)


def voucher_monthly_fen(
    programme: str, age: int, min_age: int, by_programme: Mapping[str, int], severely_disabled: bool = False
) -> int:
    """The monthly voucher budget of a person whose household a programme supports: the elderly
    (`min_age` and over) and the severely disabled of any age; 0 for anyone else, or a programme
    without vouchers."""
    if age < min_age and not severely_disabled:
        return 0
    amount = by_programme.get(programme, 0)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidRuleInput(f"the voucher amount of {programme} must be whole fen ≥ 0")
    return amount


def ended_by(event_type: str, event_id: str, case_id: str | None = None) -> str:
    """What a voucher's or a support's end records as its cause: the event that ended it, and the
    funeral case when it ended by a death (so that case's revocation, and only it, undoes it)."""
    return f"{event_type} {event_id}" + (f" death-case-{case_id}" if case_id else "")


def ended_by_death_case(cause: str | None, case_id: str) -> bool:
    return cause is not None and cause.endswith(f" death-case-{case_id}")


def closed_by(cause: str | None, event_type: str) -> bool:
    """Was this end made by an event of this type (`assistance.entitlement_ended`: the household's
    benefit ended), and not by something since (a member leaving, the person's own death step, a
    new approval reopening it)?"""
    return cause is not None and cause.split(" ", 1)[0] == event_type


def end_stands(ended: int, resumed: int) -> bool:
    """An end of a benefit on a day, counted with the others of that household, programme and day
    (`ended`, itself included) and their resumptions so far (`resumed`): it closes what it ends
    unless a resumption already came for it (it overtook the end, which waited in retry)."""
    _counts(ended, resumed)
    return ended > resumed


def resumption_finds_its_end(ended: int, resumed: int) -> bool:
    """A resumption (counted in `resumed`) reopens what its end closed when that end has come;
    otherwise the end, when it comes, finds the resumption ahead of it and closes nothing."""
    _counts(ended, resumed)
    return resumed <= ended


def _counts(ended: int, resumed: int) -> None:
    if min(ended, resumed) < 0 or max(ended, resumed) < 1:
        raise InvalidRuleInput("ends and resumptions are counted from 0, and the one being handled is counted")


# --- ability assessments and indicators -------------------------------------------------------------

DISABLED_LEVELS = ("moderate", "severe", "complete")  # 中度, 重度, 完全失能: who a family care bed is for


def assessment_valid_until(assessed_on: date, valid_months: int) -> date:
    """The last day an assessment counts: re-assessment is due the same day `valid_months` later."""
    if not isinstance(valid_months, int) or isinstance(valid_months, bool) or valid_months < 1:
        raise InvalidRuleInput("an assessment's validity is a whole number of months ≥ 1")
    index = assessed_on.month - 1 + valid_months
    year, month = assessed_on.year + index // 12, index % 12 + 1
    days_in_month = ((date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)).day
    return date(year, month, min(assessed_on.day, days_in_month)) - timedelta(days=1)


@dataclass(frozen=True)
class Indicators:
    assessment_coverage_70_plus: float | None
    nursing_bed_ratio: float | None
    public_dementia_bed_ratio: float | None
    beds_per_10k_elderly: float | None


def _ratio(numerator: int, denominator: int, scale: int = 1) -> float | None:
    """None when there is nothing to divide by: "no beds" is not a ratio of 0."""
    return round(numerator * scale / denominator, 4) if denominator else None


def indicators(
    *,
    aged_70_plus: int,
    assessed_70_plus: int,
    elderly: int,
    beds: int,
    nursing_beds: int,
    public_beds: int,
    public_dementia_beds: int,
) -> Indicators:
    counts = (aged_70_plus, assessed_70_plus, elderly, beds, nursing_beds, public_beds, public_dementia_beds)
    if (
        any(c < 0 for c in counts)
        or assessed_70_plus > aged_70_plus
        or nursing_beds > beds
        or public_dementia_beds > public_beds
        or public_beds > beds
    ):
        raise InvalidRuleInput("the counts contradict each other")
    return Indicators(
        _ratio(assessed_70_plus, aged_70_plus),
        _ratio(nursing_beds, beds),
        _ratio(public_dementia_beds, public_beds),
        _ratio(beds, elderly, 10_000),
    )


@dataclass(frozen=True)
class RegionFigures:
    """care's figures for the indicators in one place (BRIEF §5, seed-000 表1 rows 1 and 2)."""

    assessment_coverage_70_plus: float | None  # assessed in validity / living people aged 70+
    nursing_bed_ratio: float | None  # 护理型床位占比: nursing beds / all institutional beds
    dementia_beds_per_10k_elderly: float | None  # 每万老年人口认知障碍床位: per 10,000 people aged 60+


def region_figures(
    *, elderly: int, aged_70_plus: int, assessed_70_plus: int, beds: int, nursing_beds: int, dementia_beds: int
) -> RegionFigures:
    counts = (elderly, aged_70_plus, assessed_70_plus, beds, nursing_beds, dementia_beds)
    if (
        any(c < 0 for c in counts)
        or assessed_70_plus > aged_70_plus
        or aged_70_plus > elderly
        or nursing_beds + dementia_beds > beds
    ):
        raise InvalidRuleInput("the counts contradict each other")
    return RegionFigures(
        _ratio(assessed_70_plus, aged_70_plus),
        _ratio(nursing_beds, beds),
        _ratio(dementia_beds, elderly, 10_000),
    )


# --- child welfare ------------------------------------------------------------------------------------

ALLOWANCE_CATEGORIES = ("orphan", "de_facto_unsupported")  # 基本生活保障: orphans and de-facto-unsupported


def child_allowance_fen(category: str, placement: str, age: int, by_placement: Mapping[str, int]) -> int:
    """The monthly basic living allowance: by placement (institution / community) for orphans and
    de-facto-unsupported children under 18; 0 for other children."""
    if category not in ALLOWANCE_CATEGORIES or age >= AGE_OF_MAJORITY:
        return 0
    amount = by_placement.get(placement)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidRuleInput(f"the child allowance for {placement} must be whole fen ≥ 0")
    return amount


def first_month_after(day: date) -> date:
    """The first day of the month after `day`'s month: the first month an allowance ended on
    `day` does not pay (its own month is paid in full)."""
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class AllowanceOverpaid:
    months: tuple[date, ...]
    amount_fen: int


def allowance_paid_after_death(died_on: date, payments) -> AllowanceOverpaid:
    """What the allowance paid (or has with the bank) for months after the month of death: the
    live payments (pending or paid; not failed, withheld or never sent) of later months, as
    (for_month, amount_fen, state). The month of death is the deceased's in full."""
    first = first_month_after(died_on)
    live = [(m, a) for m, a, state in payments if m >= first and state != "failed"]
    return AllowanceOverpaid(tuple(sorted({m for m, _ in live})), sum(int(a) for _, a in live))


def child_review_reason(died_on: date) -> str:
    """The text of the review raised when a child's caregiver dies; restated when the date of
    death is corrected, so it never names a date the record no longer holds."""
    return f"the child's caregiver died on {died_on.isoformat()}: review who cares for the child"


def follow_up_due(screened_on: date, level: str, days_by_level: Mapping[str, int]) -> date:
    """四色管理: the more urgent the colour, the sooner someone follows up."""
    days = days_by_level.get(level)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise InvalidRuleInput(f"the follow-up time of {level} must be whole days ≥ 0")
    return screened_on + timedelta(days=days)


# --- emergency calls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Registration:
    """A device registered to a person, operated by a platform, in service from `registered_on`
    until the day before `retired_on`."""

    platform: str
    resident_id: str
    registered_on: date
    retired_on: date | None = None

    def in_force_on(self, day: date) -> bool:
        return self.registered_on <= day and (self.retired_on is None or day < self.retired_on)


@dataclass(frozen=True)
class CallRefusal:
    """Why a device platform may not raise this call: the problem's detail, and the field at fault."""

    detail: str
    field: str
    reason: str


def call_refusal(
    registrations: Iterable[Registration], platform: str | None, resident_id: str, raised_on: date
) -> CallRefusal | None:
    """A call is taken only from the platform operating the device, for the person it is registered
    to, on the day the call was raised; None when it is. Another platform learns no more than that
    the device is not one of its own."""
    if not platform:
        return CallRefusal(
            "a device platform's token names the platform (claim 'org')", "platform", "no platform named"
        )
    own = [r for r in registrations if r.platform == platform]
    in_force = next((r for r in own if r.in_force_on(raised_on)), None)
    if in_force is None:
        if not own:
            return CallRefusal(
                "the device is not registered to your platform", "device_id", "not a registered device of your platform"
            )
        return CallRefusal(
            f"the device was not in service on {raised_on}",
            "device_id",
            f"not in service on {raised_on} (registered from, or retired on, another day)",
        )
    if in_force.resident_id != resident_id:
        return CallRefusal(
            "the device is registered to another person", "resident_id", "not the person the device is registered to"
        )
    return None


def registration_conflict(
    registrations: Iterable[Registration], wanted: Registration, dated: bool = True
) -> str | None:
    """Whether a device may be registered as `wanted`: None, "same" (it is already, as wanted: the
    registration sent again), or why not (a device serves one person at a time, and another only
    from the day it was retired). `dated`: the request named its day; one that did not (it took
    today's) is the same as a registration in service to that person on that platform from any day."""
    for existing in registrations:
        if existing.retired_on is None:
            if (existing.resident_id, existing.platform) == (wanted.resident_id, wanted.platform) and (
                not dated or existing.registered_on == wanted.registered_on
            ):
                return "same"
            return "the device is registered and in service: retire it first"
        if existing.retired_on > wanted.registered_on:
            return f"the device was in service until {existing.retired_on}: register it from that day"
    return None


def retirement_refusal(registered_on: date, retired_on: date | None, retire_on: date, today: date) -> str | None:
    """Whether a registration may be retired on `retire_on`: None, "same" (retired so already), or why not."""
    if retired_on is not None:
        return "same" if retired_on == retire_on else f"retired on {retired_on} already"
    if retire_on < registered_on:
        return f"before its registration on {registered_on}"
    if retire_on > today:
        return "in the future"
    return None


CALL_TRANSITIONS = MappingProxyType(
    {
        ("received", "dispatch"): "dispatched",
        ("dispatched", "arrive"): "arrived",
        ("arrived", "close"): "closed",
        ("received", "close"): "closed",  # a false alarm, cleared by phone
    }
)


def call_transition(state: str, action: str) -> str:
    try:
        return CALL_TRANSITIONS[(state, action)]
    except KeyError:
        raise RuleRefused(f"a call that is {state} cannot take '{action}'") from None


def response_seconds(raised_at, arrived_at) -> int | None:
    """From the device's call to the responder's arrival, in whole seconds."""
    if arrived_at is None:
        return None
    seconds = int((arrived_at - raised_at).total_seconds())
    if seconds < 0:
        raise InvalidRuleInput("an arrival cannot come before the call")
    return seconds
