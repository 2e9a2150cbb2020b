"""Charity rules (慈善, 社会组织, 志愿, 福彩): an organisation's state from its annual reports,
who may hold the public-fundraising qualification and file a plan, when a campaign takes
donations, how a referral from assistance is matched, the time bank, and the lottery-fund share
for elderly care. Pure: no I/O, table-tested (tests/unit/test_charity_rules.py). Every threshold
comes in as an argument: the service reads it from policy parameters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from contracts.charity import GRADES
from contracts.refusals import InvalidRuleInput

__all__ = [
    "grade_at_least",
    "grade_valid_until",
    "years_registered",
    "OrganisationStatus",
    "organisation_status",
    "report_year_refusal",
    "QualificationFacts",
    "qualification_refusals",
    "filing_refusals",
    "donation_refusals",
    "spending_refusal",
    "Candidate",
    "Match",
    "match_referral",
    "time_credit_minutes",
    "redemption_refusal",
    "CreditsAnswer",
    "order_credits_answer",
    "order_credits_to_return",
    "LotteryShare",
    "lottery_share",
    "per_10k",
    "ratio",
]


def _whole(value, what: str, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidRuleInput(f"{what} must be a whole number ≥ {minimum}")
    return value


def grade_at_least(grade: str | None, minimum: str) -> bool:
    if minimum not in GRADES:
        raise InvalidRuleInput(f"a minimum grade is one of {', '.join(GRADES)}")
    return grade in GRADES and GRADES.index(grade) >= GRADES.index(minimum)


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year + years, day=28)


def grade_valid_until(graded_on: date, valid_years) -> date:
    """评估等级有效期: the grade counts until the day before the same date `valid_years` later."""
    years = _whole(valid_years, "a grade's validity in years", 1)
    return date.fromordinal(_add_years(graded_on, years).toordinal() - 1)


def years_registered(registered_on: date, on: date) -> int:
    """Whole years since registration (登记满N年), counted like an age."""
    years = on.year - registered_on.year - ((on.month, on.day) < (registered_on.month, registered_on.day))
    return max(years, 0)


# --- annual reports, abnormal and dormant organisations (异常, 僵尸) -----------------------------------


@dataclass(frozen=True)
class OrganisationStatus:
    state: str  # active | abnormal | dormant
    missing_years: tuple[int, ...]
    reason: str | None


def _reports_due(registered_on: date, today: date, deadline: tuple[int, int]) -> list[int]:
    """The years whose annual report is due by today: every year from the year of registration
    whose deadline (month, day of the following year) has passed."""
    month, day = deadline
    return [year for year in range(registered_on.year, today.year) if today > date(year + 1, month, day)]


def organisation_status(
    registered_on: date, report_years: Iterable[int], today: date, deadline, abnormal_after, dormant_after
) -> OrganisationStatus:
    """The state the annual reports give: dormant (僵尸) when the latest `dormant_after` reports
    due are all missing, abnormal (异常名录) when the latest `abnormal_after` are, else active.
    A late report brings the organisation back. `deadline` is "MM-DD" of the following year."""
    try:
        month, day = (int(p) for p in str(deadline).split("-"))
        date(2001, month, day)
    except ValueError:
        raise InvalidRuleInput("the annual-report deadline is a month and day, MM-DD") from None
    abnormal_after = _whole(abnormal_after, "the missing reports that make an organisation abnormal", 1)
    dormant_after = _whole(dormant_after, "the missing reports that make an organisation dormant", 1)
    if dormant_after < abnormal_after:
        raise InvalidRuleInput("an organisation is abnormal before it is dormant")
    reported = set(report_years)
    due = _reports_due(registered_on, today, (month, day))
    missing = tuple(y for y in due if y not in reported)
    run = 0  # the latest reports due, missing one after the other
    for year in reversed(due):
        if year in reported:
            break
        run += 1
    if run >= dormant_after:
        return OrganisationStatus(
            "dormant", missing, f"no annual report for {run} years ({', '.join(map(str, due[-run:]))})"
        )
    if run >= abnormal_after:
        return OrganisationStatus(
            "abnormal", missing, f"annual report for {due[-1]} missing after the deadline {month:02d}-{day:02d}"
        )
    return OrganisationStatus("active", missing, None)


def report_year_refusal(year: int, registered_on: date, today: date, reported: Iterable[int]) -> str | None:
    """An annual report is for a completed year since registration, once."""
    if year >= today.year:
        return f"{year} is not over: a report covers a completed year"
    if year < registered_on.year:
        return f"the organisation was registered in {registered_on.year}"
    if year in set(reported):
        return f"the report for {year} is in already"
    return None


# --- charity organisations and public fundraising (慈善法) ----------------------------------------------


@dataclass(frozen=True)
class QualificationFacts:
    state: str
    registration: str  # registered | filed
    registered_on: date
    charity_recognised: bool
    grade: str | None  # the grade in force (None: none, or expired)


def qualification_refusals(facts: QualificationFacts, today: date, min_years, min_grade: str | None) -> list[str]:
    """Why an organisation may not hold the public-fundraising qualification (公开募捐资格), if
    anything: a recognised charity (慈善组织), registered (not filed) for `min_years`, not in the
    abnormal list, and, where the policy asks, graded `min_grade` or better."""
    years = _whole(min_years, "the years of registration required", 0)
    reasons = []
    if facts.state != "active":
        reasons.append(
            f"the organisation is {facts.state}"
            + (" (异常名录)" if facts.state == "abnormal" else " (僵尸)" if facts.state == "dormant" else "")
        )
    if facts.registration != "registered":
        reasons.append("a filed (备案) organisation is not a registered legal person")
    if not facts.charity_recognised:
        reasons.append("not recognised as a charity organisation (慈善组织认定)")
    held = years_registered(facts.registered_on, today)
    if held < years:
        reasons.append(f"registered {held} year(s); the law asks {years} (依法登记满{years}年)")
    if min_grade is not None and not grade_at_least(facts.grade, min_grade):
        reasons.append(f"evaluation grade {facts.grade or 'none'}; {min_grade} or better is required")
    return reasons


def filing_refusals(
    *, qualified: bool, state: str, campaign_state: str, starts_on: date, ends_on: date | None, kind: str, today: date
) -> dict[str, list[str]]:
    """募捐方案备案: by a qualified, active organisation, before the campaign starts, once."""
    errors: dict[str, list[str]] = {}
    if not qualified:
        errors.setdefault("organisation_id", []).append(
            "the organisation has no public-fundraising qualification (公开募捐资格)"
        )
    if state != "active":
        errors.setdefault("organisation_id", []).append(f"the organisation is {state}")
    if campaign_state != "draft":
        errors.setdefault("campaign_id", []).append(f"the plan is {campaign_state} already")
    if starts_on < today:
        errors.setdefault("starts_on", []).append("a plan is filed before the campaign starts")
    if kind == "campaign" and ends_on is None:
        errors.setdefault("ends_on", []).append("a campaign has an end date (only a fund is standing)")
    if ends_on is not None and ends_on < starts_on:
        errors.setdefault("ends_on", []).append("before the start")
    return errors


def donation_refusals(
    *, campaign_state: str, organisation_state: str, starts_on: date, ends_on: date | None, today: date
) -> dict[str, list[str]]:
    """A campaign takes donations only once its plan is filed, while it runs, for an active
    organisation."""
    reasons = []
    if campaign_state != "filed":
        reasons.append("the fundraising plan is not filed (募捐方案未备案): no donations before it is")
    if organisation_state != "active":
        reasons.append(f"the organisation is {organisation_state}")
    if today < starts_on:
        reasons.append(f"the campaign starts on {starts_on}")
    if ends_on is not None and today > ends_on:
        reasons.append(f"the campaign ended on {ends_on}")
    return {"campaign_id": reasons} if reasons else {}


def spending_refusal(amount_fen: int, raised_fen: int, spent_fen: int) -> str | None:
    """募用分离: money is used from what was raised, never more."""
    balance = raised_fen - spent_fen
    if amount_fen > balance:
        return f"the campaign holds {balance} fen; {amount_fen} fen cannot be spent from it"
    return None


# --- the assistance–charity link ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    campaign_id: str
    organisation: str
    kind: str  # campaign | fund
    needs: tuple[str, ...]
    region_code: str  # where it aids: the household's region or one above it
    balance_fen: int


@dataclass(frozen=True)
class Match:
    outcome: str  # aided | declined
    campaign: Candidate | None
    amount_fen: int
    reason: str


def match_referral(
    need: str, region_code: str, requested_fen: int, candidates: Iterable[Candidate], aided_before: str | None = None
) -> Match:
    """One household, one chain of assistance: a need already aided (`aided_before` says when and
    by whom) is declined; otherwise the most local campaign or fund for the need that can pay the
    whole gap pays it, else the one holding most pays what it holds (partial aid). The candidates
    are the open campaigns and funds whose region covers the household's (the service knows regions)."""
    if requested_fen < 1:
        raise InvalidRuleInput("a referral asks for at least 1 fen")
    if aided_before:
        return Match("declined", None, 0, f"aided already for {need}: {aided_before}")
    usable = [c for c in candidates if need in c.needs and c.balance_fen > 0]
    if not usable:
        return Match("declined", None, 0, f"no open campaign or fund for {need} covers {region_code}")
    full = [c for c in usable if c.balance_fen >= requested_fen]
    if full:
        # the most local first, a standing fund before a campaign, then the fullest
        best = max(full, key=lambda c: (len(c.region_code.rstrip("0")), c.kind == "fund", c.balance_fen, c.campaign_id))
        return Match("aided", best, requested_fen, f"aided in full from {best.organisation}")
    best = max(usable, key=lambda c: (c.balance_fen, c.campaign_id))
    return Match(
        "aided",
        best,
        best.balance_fen,
        f"aided in part ({best.balance_fen} of {requested_fen} fen) from {best.organisation}",
    )


# --- volunteers and the time bank (时间银行) ---------------------------------------------------------


def time_credit_minutes(served_minutes: int, credit_percent) -> int:
    """时间银行: the minutes a service banks at the policy's whole percentage, rounded down."""
    percent = _whole(credit_percent, "the time-bank credit rate (a whole percentage)")
    return served_minutes * percent // 100


def redemption_refusal(balance_minutes: int, minutes: int) -> str | None:
    if minutes < 1:
        return "a redemption is at least one minute"
    if minutes > balance_minutes:
        return f"the time bank holds {balance_minutes} minutes; {minutes} cannot be redeemed"
    return None


@dataclass(frozen=True)
class CreditsAnswer:
    outcome: str  # "redeemed" | "refused"
    reason: str
    debit: bool  # whether to debit now (never twice for one order)


def order_credits_answer(
    volunteer: bool, balance_minutes: int, minutes: int, redeemed_already: bool, order_cancelled: bool
) -> CreditsAnswer:
    """Care asks to pay an order with the person's own credits (care.credits_requested).

    Once per order: an order redeemed already is answered again but not debited again (the
    request delivered twice; care ignores the second answer). An order whose cancellation arrived
    first is refused, so credits are never debited for an order nobody will serve. Otherwise the
    person needs a time-bank account holding the minutes."""
    if redeemed_already:
        return CreditsAnswer("redeemed", "redeemed already", debit=False)
    if order_cancelled:
        return CreditsAnswer("refused", "the order was cancelled before its credits were redeemed", debit=False)
    if not volunteer:
        return CreditsAnswer("refused", "the person has no time-bank account (not a registered volunteer)", debit=False)
    refusal = redemption_refusal(balance_minutes, minutes)
    if refusal:
        return CreditsAnswer("refused", f"insufficient credits: {refusal}", debit=False)
    return CreditsAnswer("redeemed", f"{minutes} minutes redeemed", debit=True)


def order_credits_to_return(redeemed_minutes: int | None, returned_already: bool) -> int | None:
    """What an order's cancellation gives back (care.order_cancelled): the minutes redeemed for
    it, once; 0 when nothing was redeemed (recorded all the same, so a redemption request that
    arrives after the cancellation is refused); None once returned."""
    if returned_already:
        return None
    if redeemed_minutes is not None and (not isinstance(redeemed_minutes, int) or redeemed_minutes < 1):
        raise InvalidRuleInput("a redemption is whole minutes ≥ 1")
    return redeemed_minutes or 0


# --- welfare-lottery funds and indicators -----------------------------------------------------------


@dataclass(frozen=True)
class LotteryShare:
    total_fen: int
    elderly_care_fen: int
    ratio: float | None
    met: bool | None


def lottery_share(by_purpose: Mapping[str, int], minimum_ratio) -> LotteryShare:
    """福彩公益金: the share allocated to elderly care against the minimum (55% in the documents).
    Nothing allocated yet, or no minimum in force: not judged (None)."""
    for amount in by_purpose.values():
        _whole(amount, "an allocation in fen")
    total = sum(by_purpose.values())
    elderly = by_purpose.get("elderly_care", 0)
    if minimum_ratio is not None and (isinstance(minimum_ratio, bool) or not 0 <= minimum_ratio <= 1):
        raise InvalidRuleInput("the minimum ratio is between 0 and 1")
    if not total:
        return LotteryShare(0, 0, None, None)
    share = elderly / total
    # the comparison in whole fen: 55% of 1,000,000 fen is met by 550,000 fen exactly
    met = None if minimum_ratio is None else elderly * 10_000 >= round(minimum_ratio * 10_000) * total
    return LotteryShare(total, elderly, round(share, 4), met)


def per_10k(count: int, residents: int | None) -> float | None:
    return round(count * 10_000 / residents, 2) if residents else None


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def campaign_region_refusal(organisation_region: str, campaign_region: str) -> str | None:
    """Where a campaign may aid: within the area of the organisation (the division of the bureau it
    is registered with, 慈善法 art. 23: 在其登记的民政部门管辖区域内); None when it is."""
    area = organisation_region
    if len(area) == 6:  # a city (XXXX00) or province (XX0000) covers every code that starts like it
        area = area[:4] if area.endswith("00") else area
        area = area[:2] if area.endswith("00") else area
        area = "" if area == "00" else area  # 000000: an organisation registered with the ministry
    if campaign_region.startswith(area):
        return None
    return (
        f"the organisation is registered in {organisation_region}; a campaign aids within that area, "
        f"not in {campaign_region}"
    )
