"""Social assistance rules (社会救助规则) as pure functions: no I/O, no clock, no database.

Every amount, ratio, threshold and period arrives in an `AssistancePolicy` resolved from the
versioned policy parameters (by region and effective date); every result names the figures it
used and carries `policy.version`, so a decision can be explained and audited.

Money is integer fen (1 yuan = 100 fen), never a float. Ratios are exact `Fraction`s: they arrive as
an integer per mille (1500 = 1.5), or as a `Fraction`, a `Decimal` or a decimal string ("1.5").
Multipliers of the standard (临时救助 grades and caps) arrive as a whole number of times (2 = 2×)
or in the same exact forms. Eligibility compares exact values; an amount is rounded once, at the
end, half up to the fen (`round_half_up_fen`), except the 特困 basic living standard, which is
rounded up (it must be *at least* the ratio times the 低保 standard).

Sources: Shaoxing (seed-000) 分类施保 groups, 特困 ≥ 1.3× 低保, 急难 under 2000 yuan by the township,
two-level approval; Fuyang (seed-001) employment-cost deduction, 单人户, 临时救助 2–10× the monthly
urban 低保 standard, 20 working days; Jiaxing (seed-002) 渐退期 one year; national rules 低保边缘
≤ 1.5× the standard and 公示.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from contracts.assistance import RECOVERY_STATES, REPAYMENT_METHODS, SELF_CARE_LEVELS
from contracts.person import AGE_OF_MAJORITY, Newborn, ResidentId
from contracts.refusals import InvalidRuleInput, RuleRefused

__all__ = [
    "in_household_for_month",
    "yearly_standard_yuan",
    "working_days_between",
    "mean_decision_working_days",
    "ACCEPTED",
    "APPROVED",
    "CHECKED",
    "IN_NOTICE",
    "OPEN_STATES",
    "REJECTED",
    "STATES",
    "SUBMITTED",
    "WITHDRAWN",
    "ACTIONS",
    "APPROVAL_LEVELS",
    "INCREMENT_CATEGORIES",
    "SELF_CARE_LEVELS",
    "TRANSITIONS",
    "AssistancePolicy",
    "DibaoBenefit",
    "DibaoUnit",
    "EdgeEligibility",
    "GradualExit",
    "HouseholdIncome",
    "Member",
    "TekunBenefit",
    "TemporaryAssistance",
    "assets_within_limits",
    "as_multiplier",
    "as_ratio",
    "decision_due",
    "dibao_benefit",
    "next_review",
    "review_check_complete",
    "dibao_edge_eligible",
    "gradual_exit",
    "household_income",
    "monthly_from_yearly_fen",
    "notice_ends",
    "round_half_up_fen",
    "split_single_person_households",
    "tekun_benefit",
    "temporary_assistance",
    "transition",
    "first_month_after",
    "Overpaid",
    "overpaid_after_death",
    "FoundAfterDeath",
    "overpaid_after_deaths",
    "BackPayMonth",
    "back_pay_after_revocation",
    "OtherDeath",
    "gone_after_revocation",
    "RECOVERY_STATES",
    "REPAYMENT_METHODS",
    "CASH_METHODS",
    "RecoveryLedger",
    "record_repayment",
    "record_refund",
    "recount_recovery",
    "cancel_recovery",
    "Benefit",
    "PolicyAmount",
    "benefit",
    "disability_benefit",
    "with_assets",
    "MEANS_TESTED",
    "DISABILITY_PARAMETERS",
    "member_from",
    "AmountAfterDeath",
    "amount_without",
    "SourceAnswer",
    "CheckTotals",
    "check_totals",
]

INCREMENT_CATEGORIES = ("aged_80_plus", "minor", "seriously_ill", "severely_disabled", "pregnant")
APPROVAL_LEVELS = ("township", "district")  # 乡镇(街道) / 区(县)民政局


# --- exact numbers ---------------------------------------------------------------------------------

Ratio = int | str | Decimal | Fraction


def _exact(value: Ratio, what: str, int_scale: int) -> Fraction:
    if isinstance(value, bool | float):
        raise InvalidRuleInput(
            f"{what} must be exact (an integer, a Fraction, a Decimal or a decimal "
            f"string), not {type(value).__name__} {value!r}"
        )
    try:
        if isinstance(value, int):
            return Fraction(value, int_scale)
        if isinstance(value, (Fraction, Decimal, str)):
            return Fraction(value)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InvalidRuleInput(f"{what} {value!r} is not a finite number") from None
    raise InvalidRuleInput(
        f"{what} must be an integer, a Fraction, a Decimal or a decimal string, not {type(value).__name__}"
    )


def as_ratio(value: Ratio, what: str = "ratio") -> Fraction:
    """An exact ratio: an int is per mille (1500 → 3/2); Fraction, Decimal or "1.5" as written."""
    return _exact(value, what, 1000)


def as_multiplier(value: Ratio, what: str = "multiplier") -> Fraction:
    """An exact multiple of the standard: an int is whole times (2 → 2×); otherwise as `as_ratio`."""
    return _exact(value, what, 1)


def round_half_up_fen(amount: Fraction | int) -> int:
    """Round an exact amount of fen to whole fen, halves away from zero (ROUND_HALF_UP: 0.5 → 1)."""
    amount = Fraction(amount)
    magnitude = abs(amount)
    rounded = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    return rounded if amount >= 0 else -rounded


def _ceil_fen(amount: Fraction) -> int:
    return -(-amount.numerator // amount.denominator)


def monthly_from_yearly_fen(yearly_fen: int) -> int:
    """A yearly standard per person as a monthly one: yearly ÷ 12, rounded half up to the fen.

    10200 yuan/year → 850.00 yuan/month; 13000 yuan/year → 1083.33 yuan/month (108333.33 fen → 108333).
    """
    return round_half_up_fen(Fraction(yearly_fen, 12))


def yuan(fen: int) -> str:
    """Fen as yuan for people to read: 110500 → "1105.00 yuan"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d} yuan"


def _number(value: Fraction) -> str:
    """1.5, 2, 140834.2; 255001/3 when the value has no finite decimal form."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return str(value)
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _times(ratio: Fraction) -> str:
    return f"{_number(ratio)}×"


def _exact_fen(amount: Fraction) -> str:
    """Exact amount in yuan when whole fen, else rounded with the exact fen value alongside."""
    if amount.denominator == 1:
        return yuan(amount.numerator)
    return f"about {yuan(round_half_up_fen(amount))} (exactly {_number(amount)} fen)"


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRuleInput(f"{what} must be a whole number of fen or days, not {value!r}")
    if value < 0:
        raise InvalidRuleInput(f"{what} must not be negative, got {value}")
    return value


# --- policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssistancePolicy:
    """One resolved version of the assistance parameters. Ratios and multipliers are normalised to
    `Fraction`, mappings to read-only copies, when the policy is built; bad values raise `InvalidRuleInput`.
    (The ratio fields are typed as what they hold once built; they may be given as any `Ratio`.)"""

    version: str
    dibao_standard_monthly_fen: int  # 低保标准, per person per month
    edge_ratio: Fraction  # 低保边缘: income line as a ratio of the standard (1.5)
    tekun_basic_ratio: Fraction  # 特困基本生活标准 ≥ this × 低保标准 (1.3)
    tekun_care_monthly_fen: Mapping[str, int]  # 照料护理标准 by self-care: full / partial / none
    increments: Mapping[str, Fraction]  # 分类施保: monthly increment per member, share of standard
    temporary_cap_multiplier_min: Fraction  # 临时救助: lowest cap, times the monthly standard (2)
    temporary_cap_multiplier_max: Fraction  # highest cap (10)
    temporary_grades: Mapping[str, Fraction]  # 分类分档: grade → cap as a multiple of the standard
    township_direct_threshold_fen: int  # 急难 under this is decided by the township (2000 yuan)
    gradual_exit_months: int  # 渐退期 (12 in Jiaxing)
    asset_limits: Mapping[str, int]  # per person, fen, by kind of asset (e.g. "deposits")
    decision_working_days: int  # 低保/特困 decision within this many working days (20)
    notice_days: int  # 公示期
    approval_level: str  # "district", or "township" where delegated (委托下放)
    stack_increments: bool = False  # False: a member in several groups gets the highest (就高)
    aged_from_age: int = 80  # "aged_80_plus" from this birthday on
    adult_from_age: int = AGE_OF_MAJORITY  # "minor" until this birthday

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:  # normalise a field of this frozen instance
            object.__setattr__(self, name, value)

        if not self.version:
            raise InvalidRuleInput("a policy needs a version")
        if _non_negative_int(self.dibao_standard_monthly_fen, "the 低保 standard") == 0:
            raise InvalidRuleInput("the 低保 standard must be positive")
        put("edge_ratio", as_ratio(self.edge_ratio, "edge_ratio"))
        put("tekun_basic_ratio", as_ratio(self.tekun_basic_ratio, "tekun_basic_ratio"))
        if self.edge_ratio < 1:
            raise InvalidRuleInput(
                f"edge_ratio {self.edge_ratio} is below 1: the 低保边缘 line would be under the standard"
            )
        if self.tekun_basic_ratio <= 0:
            raise InvalidRuleInput("tekun_basic_ratio must be positive")
        if set(self.tekun_care_monthly_fen) != set(SELF_CARE_LEVELS):
            raise InvalidRuleInput(f"tekun_care_monthly_fen needs exactly {', '.join(SELF_CARE_LEVELS)}")
        put(
            "tekun_care_monthly_fen",
            MappingProxyType(
                {k: _non_negative_int(v, f"care standard {k!r}") for k, v in self.tekun_care_monthly_fen.items()}
            ),
        )
        unknown = set(self.increments) - set(INCREMENT_CATEGORIES)
        if unknown:
            raise InvalidRuleInput(f"unknown increment categories: {', '.join(sorted(unknown))}")
        increments = {k: as_ratio(v, f"increment {k!r}") for k, v in self.increments.items()}
        if any(v < 0 for v in increments.values()):
            raise InvalidRuleInput("increments must not be negative")
        put("increments", MappingProxyType(increments))
        low = as_multiplier(self.temporary_cap_multiplier_min, "temporary_cap_multiplier_min")
        high = as_multiplier(self.temporary_cap_multiplier_max, "temporary_cap_multiplier_max")
        if not 0 < low <= high:
            raise InvalidRuleInput(f"temporary caps must satisfy 0 < min ({low}) ≤ max ({high})")
        put("temporary_cap_multiplier_min", low)
        put("temporary_cap_multiplier_max", high)
        if not self.temporary_grades:
            raise InvalidRuleInput("temporary_grades needs at least one grade")
        grades = {k: as_multiplier(v, f"grade {k!r}") for k, v in self.temporary_grades.items()}
        for grade, times in grades.items():
            if not low <= times <= high:
                raise InvalidRuleInput(f"grade {grade!r} caps at {times}× the standard, outside {low}×–{high}×")
        put("temporary_grades", MappingProxyType(grades))
        _non_negative_int(self.township_direct_threshold_fen, "township_direct_threshold_fen")
        _non_negative_int(self.gradual_exit_months, "gradual_exit_months")
        put(
            "asset_limits",
            MappingProxyType({k: _non_negative_int(v, f"asset limit {k!r}") for k, v in self.asset_limits.items()}),
        )
        if _non_negative_int(self.decision_working_days, "decision_working_days") == 0:
            raise InvalidRuleInput("decision_working_days must be positive")
        _non_negative_int(self.notice_days, "notice_days")
        if self.approval_level not in APPROVAL_LEVELS:
            raise InvalidRuleInput(f"approval_level must be one of {', '.join(APPROVAL_LEVELS)}")
        if not 0 < self.adult_from_age <= self.aged_from_age:
            raise InvalidRuleInput("ages must satisfy 0 < adult_from_age ≤ aged_from_age")


# --- household income ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    resident_id: ResidentId | Newborn  # a newborn counts from birth, before the hukou gives an ID
    monthly_income_fen: int
    employment_cost_fen: int = 0  # 必要的就业成本, deducted from this member's income (Fuyang)
    seriously_ill: bool = False  # 重病患者
    severely_disabled: bool = False  # 重度残疾人
    pregnant: bool = False  # 孕产妇
    single_person_listing: bool = False  # 单人户: assessed and paid as a household of one


def member_from(record: Any) -> Member:
    """A stored member, or one of a request (a dict), as the rules take it."""

    def get(name: str) -> Any:
        return record.get(name) if isinstance(record, Mapping) else getattr(record, name)

    person = (
        ResidentId.parse(get("resident_id"))
        if get("resident_id")
        else Newborn(get("birth_certificate_number"), get("birth_date"))
    )
    return Member(
        resident_id=person,
        monthly_income_fen=get("monthly_income_fen"),
        employment_cost_fen=get("employment_cost_fen") or 0,
        seriously_ill=bool(get("seriously_ill")),
        severely_disabled=bool(get("severely_disabled")),
        pregnant=bool(get("pregnant")),
        single_person_listing=bool(get("single_person_listing")),
    )


# the disability subsidies' amounts, by programme: the policy parameter (chassis.policy) of each
DISABILITY_PARAMETERS = MappingProxyType(
    {
        "disability_living": "assistance.disability_living_monthly_fen",  # 困难残疾人生活补贴
        "disability_care": "assistance.disability_care_monthly_fen",  # 重度残疾人护理补贴
    }
)


@dataclass(frozen=True)
class HouseholdIncome:
    per_capita_fen: int  # rounded half up, for display; eligibility uses `per_capita_exact`
    per_capita_exact: Fraction
    total_net_fen: int  # Σ max(income − employment costs, 0)
    members_counted: int
    reasons: tuple[str, ...]
    version: str


def _who(index: int, member: Member) -> str:
    return f"member {index} ({member.resident_id})"  # str() of a ResidentId is masked


def _check_members(members: tuple[Member, ...]) -> None:
    if not members:
        raise InvalidRuleInput("a household needs at least one member")
    seen: set[str] = set()
    for index, member in enumerate(members, 1):
        if member.resident_id.number in seen:
            raise InvalidRuleInput(f"{_who(index, member)} appears twice in the household")
        seen.add(member.resident_id.number)


def split_single_person_households(members: Iterable[Member]) -> tuple[tuple[Member, ...], ...]:
    """The units assessed separately: the household without its 单人户 members (when anyone is
    left), then each 单人户 member alone, in the order given. Only a seriously ill or severely
    disabled member may be listed alone; a person may appear only once."""
    members = tuple(members)
    return tuple(tuple(members[i - 1] for i in unit) for unit in _split(members))


def _split(members: tuple[Member, ...]) -> list[list[int]]:
    """`split_single_person_households` as lists of 1-based member numbers."""
    _check_members(members)
    for index, member in enumerate(members, 1):
        if member.single_person_listing and not (member.seriously_ill or member.severely_disabled):
            raise InvalidRuleInput(
                f"{_who(index, member)} is listed as a single-person household (单人户) "
                f"but is neither seriously ill nor severely disabled"
            )
    rest = [i for i, m in enumerate(members, 1) if not m.single_person_listing]
    alone = [[i] for i, m in enumerate(members, 1) if m.single_person_listing]
    return ([rest] if rest else []) + alone


def household_income(members: Iterable[Member], policy: AssistancePolicy) -> HouseholdIncome:
    """Per-capita monthly income of exactly the members given (every one is counted):
    Σ max(income − employment costs, 0) ÷ members. A cost larger than a member's income floors that
    member at 0 and is not set against anyone else's income. `dibao_benefit` splits off 单人户
    members first (`split_single_person_households`) and calls this once per unit."""
    members = tuple(members)
    _check_members(members)
    return _income(members, range(1, len(members) + 1), policy)


def _income(members: tuple[Member, ...], numbers: Iterable[int], policy: AssistancePolicy) -> HouseholdIncome:
    """`household_income` with the members' numbers in the whole household, for the reasons."""
    reasons: list[str] = []
    total = 0
    for index, member in zip(numbers, members):
        income = _non_negative_int(member.monthly_income_fen, f"{_who(index, member)} monthly income")
        cost = _non_negative_int(member.employment_cost_fen, f"{_who(index, member)} employment costs")
        net = max(income - cost, 0)
        total += net
        if cost:
            floored = " (floored at 0)" if cost > income else ""
            reasons.append(
                f"{_who(index, member)}: income {yuan(income)} − necessary employment costs "
                f"(就业成本) {yuan(cost)} = {yuan(net)}{floored}"
            )
        else:
            reasons.append(f"{_who(index, member)}: income {yuan(income)}")
    exact = Fraction(total, len(members))
    reasons.append(f"per-capita monthly income: {yuan(total)} ÷ {len(members)} = {_exact_fen(exact)}")
    return HouseholdIncome(
        per_capita_fen=round_half_up_fen(exact),
        per_capita_exact=exact,
        total_net_fen=total,
        members_counted=len(members),
        reasons=tuple(reasons),
        version=policy.version,
    )


# --- 低保 -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DibaoUnit:
    """One assessed unit: the household, or a 单人户 member alone."""

    members: tuple[Member, ...]
    single_person_listing: bool
    income: HouseholdIncome
    eligible: bool
    gap_fen: int  # (standard − per-capita income) × members = standard × members − Σ net income
    increments_fen: int  # 分类施保, only when eligible
    monthly_fen: int


@dataclass(frozen=True)
class DibaoBenefit:
    eligible: bool  # any unit eligible
    monthly_fen: int  # Σ over the units
    units: tuple[DibaoUnit, ...]
    reasons: tuple[str, ...]
    version: str


def _member_categories(member: Member, on: date, policy: AssistancePolicy) -> list[str]:
    age = member.resident_id.age_on(on)
    flags = {
        "aged_80_plus": age >= policy.aged_from_age,
        "minor": age < policy.adult_from_age,
        "seriously_ill": member.seriously_ill,
        "severely_disabled": member.severely_disabled,
        "pregnant": member.pregnant,
    }
    return [c for c in INCREMENT_CATEGORIES if flags[c]]


def _increments(
    unit: tuple[Member, ...], numbers: list[int], on: date, policy: AssistancePolicy
) -> tuple[int, list[str]]:
    standard = policy.dibao_standard_monthly_fen
    total, lines = 0, []
    for index, member in zip(numbers, unit):
        paid = [
            (c, round_half_up_fen(policy.increments[c] * standard))
            for c in _member_categories(member, on, policy)
            if policy.increments.get(c)
        ]
        if not paid:
            continue
        if not policy.stack_increments and len(paid) > 1:
            best = max(paid, key=lambda p: p[1])
            lines.append(
                f"{_who(index, member)} is in {', '.join(c for c, _ in paid)}: the highest "
                f"increment applies (就高, not cumulative)"
            )
            paid = [best]
        for category, amount in paid:
            total += amount
            lines.append(
                f"{_who(index, member)}: 分类施保 increment {category} "
                f"{_times(policy.increments[category])} standard = {yuan(amount)}"
            )
    return total, lines


def dibao_benefit(members: Iterable[Member], on: date, policy: AssistancePolicy) -> DibaoBenefit:
    """低保 per month, with ages taken on `on`: each unit (see `split_single_person_households`) is eligible
    when its per-capita income is below the standard (at the standard: not eligible, gap 0). An
    eligible unit gets the gap, (standard − per-capita income) × members, plus 分类施保 increments
    for its members aged 80+ or minors on `on` (from the ID's birth date), seriously ill, severely
    disabled or pregnant. The gap is exact (standard × members − Σ net income): no rounding."""
    members = tuple(members)
    standard = policy.dibao_standard_monthly_fen
    reasons = [f"低保 standard {yuan(standard)} per person per month (policy {policy.version})"]
    results: list[DibaoUnit] = []
    for numbers in _split(members):
        unit = tuple(members[i - 1] for i in numbers)
        single = unit[0].single_person_listing
        label = f"single-person household (单人户) of member {numbers[0]}" if single else f"household of {len(unit)}"
        income = _income(unit, numbers, policy)
        reasons.append(f"{label}:")
        reasons.extend(f"  {line}" for line in income.reasons)
        eligible = income.per_capita_exact < standard
        if eligible:
            gap = standard * len(unit) - income.total_net_fen
            reasons.append(
                f"  eligible: per-capita income {_exact_fen(income.per_capita_exact)} is below "
                f"the standard {yuan(standard)}; gap ({yuan(standard)} − per-capita income) × "
                f"{len(unit)} = {yuan(gap)}"
            )
            increments, lines = _increments(unit, numbers, on, policy)
            reasons.extend(f"  {line}" for line in lines)
        else:
            gap, increments = 0, 0
            reasons.append(
                f"  not eligible: per-capita income {_exact_fen(income.per_capita_exact)} is not "
                f"below the standard {yuan(standard)}"
            )
        results.append(
            DibaoUnit(
                members=unit,
                single_person_listing=single,
                income=income,
                eligible=eligible,
                gap_fen=gap,
                increments_fen=increments,
                monthly_fen=gap + increments,
            )
        )
    total = sum(u.monthly_fen for u in results)
    reasons.append(f"monthly 低保 benefit: {yuan(total)}")
    return DibaoBenefit(
        eligible=any(u.eligible for u in results),
        monthly_fen=total,
        units=tuple(results),
        reasons=tuple(reasons),
        version=policy.version,
    )


@dataclass(frozen=True)
class EdgeEligibility:
    eligible: bool
    per_capita_fen: int
    line_fen: int  # edge_ratio × standard, rounded half up, for display; the test is exact
    reasons: tuple[str, ...]
    version: str


def dibao_edge_eligible(members: Iterable[Member], policy: AssistancePolicy) -> EdgeEligibility:
    """低保边缘: the whole household's per-capita income (every member counted, 单人户 or not) is at
    least the 低保 standard (so not 低保-eligible) and at most edge_ratio × the standard."""
    income = household_income(members, policy)
    standard = policy.dibao_standard_monthly_fen
    line = policy.edge_ratio * standard
    per_capita = income.per_capita_exact
    reasons = list(income.reasons)
    if per_capita < standard:
        eligible = False
        reasons.append(
            f"not 低保边缘: per-capita income {_exact_fen(per_capita)} is below the 低保 "
            f"standard {yuan(standard)} (低保-eligible instead)"
        )
    elif per_capita <= line:
        eligible = True
        reasons.append(
            f"低保边缘: per-capita income {_exact_fen(per_capita)} is at most "
            f"{_times(policy.edge_ratio)} the standard {yuan(standard)} = {_exact_fen(line)}"
        )
    else:
        eligible = False
        reasons.append(
            f"not 低保边缘: per-capita income {_exact_fen(per_capita)} is above "
            f"{_times(policy.edge_ratio)} the standard {yuan(standard)} = {_exact_fen(line)}"
        )
    reasons.append(f"policy {policy.version}")
    return EdgeEligibility(
        eligible=eligible,
        per_capita_fen=income.per_capita_fen,
        line_fen=round_half_up_fen(line),
        reasons=tuple(reasons),
        version=policy.version,
    )


def assets_within_limits(
    holdings_fen: Mapping[str, int], members_counted: int, policy: AssistancePolicy
) -> tuple[bool, tuple[str, ...]]:
    """Household assets against the per-person limits: holding ≤ limit × members (at the limit is
    within). A kind of asset without a limit in the policy is refused, not ignored."""
    if members_counted < 1:
        raise InvalidRuleInput("a household needs at least one member")
    within, reasons = True, []
    for kind, held in holdings_fen.items():
        if kind not in policy.asset_limits:
            raise InvalidRuleInput(f"the policy has no limit for assets of kind {kind!r}")
        held = _non_negative_int(held, f"holding {kind!r}")
        limit = policy.asset_limits[kind] * members_counted
        ok = held <= limit
        within = within and ok
        reasons.append(
            f"{kind}: {yuan(held)} {'within' if ok else 'above'} the limit "
            f"{yuan(policy.asset_limits[kind])} × {members_counted} = {yuan(limit)} "
            f"(policy {policy.version})"
        )
    return within, tuple(reasons)


# --- 特困 ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TekunBenefit:
    basic_fen: int  # 基本生活标准
    care_fen: int  # 照料护理标准
    monthly_fen: int
    reasons: tuple[str, ...]
    version: str


def tekun_benefit(self_care: str, policy: AssistancePolicy) -> TekunBenefit:
    """特困供养: basic living = tekun_basic_ratio × the 低保 standard, rounded *up* to the fen (it must
    not fall below the ratio), plus the care standard for the person's self-care ability."""
    if self_care not in SELF_CARE_LEVELS:
        raise InvalidRuleInput(f"self-care ability must be one of {', '.join(SELF_CARE_LEVELS)}, not {self_care!r}")
    standard = policy.dibao_standard_monthly_fen
    exact = policy.tekun_basic_ratio * standard
    basic = _ceil_fen(exact)
    care = policy.tekun_care_monthly_fen[self_care]
    rounded = "" if exact.denominator == 1 else f" (rounded up from {_number(exact)} fen)"
    reasons = (
        f"basic living (基本生活标准): {_times(policy.tekun_basic_ratio)} the 低保 standard "
        f"{yuan(standard)} = {yuan(basic)}{rounded}",
        f"care (照料护理标准) for self-care ability {self_care!r}: {yuan(care)}",
        f"monthly 特困 support: {yuan(basic + care)} (policy {policy.version})",
    )
    return TekunBenefit(
        basic_fen=basic, care_fen=care, monthly_fen=basic + care, reasons=reasons, version=policy.version
    )


# --- 临时救助 --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemporaryAssistance:
    amount_fen: int
    cap_fen: int
    capped: bool
    decided_by: str  # "township" | "district"
    reasons: tuple[str, ...]
    version: str


def temporary_assistance(grade: str, requested_fen: int, urgent: bool, policy: AssistancePolicy) -> TemporaryAssistance:
    """临时救助 (分类分档): the amount requested, capped at the grade's multiple of the monthly 低保
    standard (and never above the maximum multiple). An urgent case (急难) whose amount is below the
    township threshold is decided by the township directly; at the threshold or above, or when not
    urgent, by the district. The standard is the policy's (urban) 低保 standard."""
    if grade not in policy.temporary_grades:
        raise InvalidRuleInput(
            f"unknown temporary-assistance grade {grade!r}; the policy has {', '.join(sorted(policy.temporary_grades))}"
        )
    if _non_negative_int(requested_fen, "the amount requested") == 0:
        raise InvalidRuleInput("the amount requested must be positive")
    standard = policy.dibao_standard_monthly_fen
    times = min(policy.temporary_grades[grade], policy.temporary_cap_multiplier_max)
    cap = round_half_up_fen(times * standard)
    amount = min(requested_fen, cap)
    threshold = policy.township_direct_threshold_fen
    township = urgent and amount < threshold
    reasons = [
        f"grade {grade}: cap {_times(times)} the monthly 低保 standard {yuan(standard)} = {yuan(cap)} "
        f"(caps range {_times(policy.temporary_cap_multiplier_min)}–"
        f"{_times(policy.temporary_cap_multiplier_max)})"
    ]
    if requested_fen > cap:
        reasons.append(f"requested {yuan(requested_fen)} is above the cap: {yuan(amount)} granted")
    else:
        reasons.append(f"requested {yuan(requested_fen)} is within the cap: granted in full")
    if township:
        reasons.append(f"urgent (急难) and below {yuan(threshold)}: decided by the township directly")
    elif urgent:
        reasons.append(f"urgent (急难) but not below {yuan(threshold)}: decided by the district")
    else:
        reasons.append("not urgent: decided by the district")
    reasons.append(f"policy {policy.version}")
    return TemporaryAssistance(
        amount_fen=amount,
        cap_fen=cap,
        capped=requested_fen > cap,
        decided_by="township" if township else "district",
        reasons=tuple(reasons),
        version=policy.version,
    )


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
    day, counted = accepted_on, 0
    while counted < working_days:
        day += timedelta(days=1)
        if day in makeup_workdays or (day.weekday() < 5 and day not in holidays):
            counted += 1
    return day


def notice_ends(published_on: date, notice_days: int) -> date:
    """Last day of the public notice (公示), counted from the day after publication (Civil Code
    art. 201): 7 days published on 1 March end on 8 March; a decision may follow from 9 March."""
    return published_on + timedelta(days=_non_negative_int(notice_days, "notice_days"))


# --- the application ------------------------------------------------------------------------------

SUBMITTED = "submitted"  # 申请
ACCEPTED = "accepted"  # 受理 by the township
CHECKED = "checked"  # 审核: home visit done, household economic check (核对) report attached
IN_NOTICE = "in_notice"  # 公示
APPROVED = "approved"  # 审批/确认 granted (payment is the payment side's business)
REJECTED = "rejected"  # 不予批准
WITHDRAWN = "withdrawn"  # 撤回 by the applicant

STATES = (SUBMITTED, ACCEPTED, CHECKED, IN_NOTICE, APPROVED, REJECTED, WITHDRAWN)
OPEN_STATES = (SUBMITTED, ACCEPTED, CHECKED, IN_NOTICE)
ACTIONS = ("accept", "attach_check", "publish_notice", "objection", "approve", "reject", "withdraw")

TRANSITIONS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        (SUBMITTED, "accept"): ACCEPTED,
        (ACCEPTED, "attach_check"): CHECKED,
        (CHECKED, "attach_check"): CHECKED,  # re-review: a fresh check report replaces the old one
        (CHECKED, "publish_notice"): IN_NOTICE,
        (CHECKED, "reject"): REJECTED,  # review finds the household ineligible: no notice needed
        (IN_NOTICE, "objection"): CHECKED,  # 异议: back to review
        (IN_NOTICE, "approve"): APPROVED,
        (IN_NOTICE, "reject"): REJECTED,
        **{(state, "withdraw"): WITHDRAWN for state in OPEN_STATES},
    }
)

_DECISIONS = ("approve", "reject")


def transition(
    state: str,
    action: str,
    *,
    on: date | None = None,
    notice_ends_on: date | None = None,
    acting_level: str | None = None,
    approval_level: str | None = None,
) -> str:
    """The state after `action`, or `RuleRefused` saying why not.

    Besides the table: an objection needs `on` within the notice (on ≤ `notice_ends_on`); approving
    or rejecting needs `acting_level` equal to the policy's `approval_level` (the township decides
    only where approval is delegated to it, and then the district does not), and, from the notice,
    `on` after the notice has ended. Unknown states or actions, and missing arguments, are
    programming errors (`InvalidRuleInput`)."""
    if state not in STATES:
        raise InvalidRuleInput(f"unknown application state {state!r}")
    if action not in ACTIONS:
        raise InvalidRuleInput(f"unknown action {action!r}")
    if state not in OPEN_STATES:
        raise RuleRefused(f"the application is already {state}; it cannot be {_past(action)}")
    new_state = TRANSITIONS.get((state, action))
    if new_state is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        raise RuleRefused(
            f"an application that is {state.replace('_', ' ')} cannot be {_past(action)}; allowed: {', '.join(allowed)}"
        )
    if action in _DECISIONS:
        if acting_level not in APPROVAL_LEVELS or approval_level not in APPROVAL_LEVELS:
            raise InvalidRuleInput(
                f"{action} needs acting_level and approval_level, each one of {', '.join(APPROVAL_LEVELS)}"
            )
        if acting_level != approval_level:
            delegated = (
                "is delegated to the township" if approval_level == "township" else "is not delegated to the township"
            )
            raise RuleRefused(f"approval {delegated}: the {acting_level} cannot {action}; the {approval_level} decides")
    if state == IN_NOTICE and action in _DECISIONS + ("objection",):
        if on is None or notice_ends_on is None:
            raise InvalidRuleInput(f"{action} during or after the notice needs on and notice_ends_on")
        if action == "objection" and on > notice_ends_on:
            raise RuleRefused(
                f"the notice (公示) ended on {notice_ends_on.isoformat()}; objections were possible until then"
            )
        if action in _DECISIONS and on <= notice_ends_on:
            raise RuleRefused(
                f"the notice (公示) runs until {notice_ends_on.isoformat()}; a decision "
                f"can be made from {(notice_ends_on + timedelta(days=1)).isoformat()}"
            )
    return new_state


def _past(action: str) -> str:
    return {
        "accept": "accepted",
        "attach_check": "given a check report",
        "publish_notice": "put on notice",
        "objection": "objected to",
        "approve": "approved",
        "reject": "rejected",
        "withdraw": "withdrawn",
    }[action]


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


# --- 追回: recovering an overpayment ----------------------------------------------------------------
# A recovery is owed the overpayment's amount. Money comes back (a bank return, a repayment) or an
# amount is written off (核销) until nothing is outstanding: the recovery is then `recovered`. The
# amount itself follows the bank: a payment the overpayment counted that the bank did not make
# (failed) is no overpayment, so the amount is recounted (`recount_recovery`), and it may drop to
# what came back already (recovered) or to nothing (cancelled). A revoked death cancels the
# recovery: nothing is owed. Money received beyond what is owed is owed back to the household
# (`refund_due_fen`) until a refund is recorded. A write-off is never given back: it was no money.

CASH_METHODS = ("bank_return", "repayment")


@dataclass(frozen=True)
class RecoveryLedger:
    state: str  # open | recovered | cancelled
    amount_fen: int  # what the overpayment comes to now
    recovered_fen: int = 0  # money received back, all time
    written_off_fen: int = 0
    refunded_fen: int = 0  # money given back, all time

    def __post_init__(self) -> None:
        if self.state not in RECOVERY_STATES:
            raise InvalidRuleInput(f"a recovery is {', '.join(RECOVERY_STATES)}, not {self.state!r}")
        for name in ("amount_fen", "recovered_fen", "written_off_fen", "refunded_fen"):
            _non_negative_int(getattr(self, name), name)
        if self.refunded_fen > self.recovered_fen:
            raise InvalidRuleInput("more was given back than was ever received")

    @property
    def owed_fen(self) -> int:
        """What the household owes in all: nothing once cancelled."""
        return 0 if self.state == "cancelled" else self.amount_fen

    @property
    def kept_fen(self) -> int:
        """Money received and not given back."""
        return self.recovered_fen - self.refunded_fen

    @property
    def outstanding_fen(self) -> int:
        return max(0, self.owed_fen - self.kept_fen - self.written_off_fen)

    @property
    def refund_due_fen(self) -> int:
        return max(0, self.kept_fen - self.owed_fen)


def _amount(amount_fen: object, field: str = "amount_fen") -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RuleRefused("a whole number of fen greater than 0", field=field)
    return amount_fen


def _settled(ledger: RecoveryLedger) -> RecoveryLedger:
    """The state the balance leads to, for a recovery that is not cancelled by a revocation:
    nothing owed → cancelled; nothing outstanding → recovered; otherwise open."""
    if ledger.amount_fen == 0:
        state = "cancelled"
    elif ledger.amount_fen <= ledger.kept_fen + ledger.written_off_fen:
        state = "recovered"
    else:
        state = "open"
    return RecoveryLedger(state, ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen)


def record_repayment(ledger: RecoveryLedger, method: str, amount_fen: int, reason: str | None = None) -> RecoveryLedger:
    """Money back (bank_return, repayment) or an amount written off (write_off, with a reason), on
    an open recovery, never more than is outstanding; the recovery is `recovered` once nothing is."""
    if method not in REPAYMENT_METHODS:
        raise RuleRefused(f"one of {', '.join(REPAYMENT_METHODS)}", field="method")
    amount_fen = _amount(amount_fen)
    if method == "write_off" and not (reason or "").strip():
        raise RuleRefused("a write-off says why the amount is given up", field="reason")
    if ledger.state != "open":
        raise RuleRefused(f"the recovery is {ledger.state}: nothing is outstanding", field="recovery", conflict=True)
    if amount_fen > ledger.outstanding_fen:
        raise RuleRefused(
            f"{yuan(amount_fen)} is more than the {yuan(ledger.outstanding_fen)} outstanding", field="amount_fen"
        )
    if method == "write_off":
        after = RecoveryLedger(
            ledger.state,
            ledger.amount_fen,
            ledger.recovered_fen,
            ledger.written_off_fen + amount_fen,
            ledger.refunded_fen,
        )
    else:
        after = RecoveryLedger(
            ledger.state,
            ledger.amount_fen,
            ledger.recovered_fen + amount_fen,
            ledger.written_off_fen,
            ledger.refunded_fen,
        )
    return _settled(after)


def record_refund(ledger: RecoveryLedger, amount_fen: int) -> RecoveryLedger:
    """Money given back to the household, never more than is owed back; the state stays."""
    amount_fen = _amount(amount_fen)
    if ledger.refund_due_fen == 0:
        raise RuleRefused("nothing recovered is owed back", field="recovery", conflict=True)
    if amount_fen > ledger.refund_due_fen:
        raise RuleRefused(
            f"{yuan(amount_fen)} is more than the {yuan(ledger.refund_due_fen)} owed back", field="amount_fen"
        )
    return RecoveryLedger(
        ledger.state, ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen + amount_fen
    )


def recount_recovery(ledger: RecoveryLedger, amount_fen: int) -> RecoveryLedger:
    """The overpayment recounted from what the bank says was paid: the recovery is owed the new
    amount; it closes as recovered when that is no more than came back (and written off), as
    cancelled when it is nothing, and opens again when the amount grows past what came back (the
    bank paid after all). Anything received beyond the new amount is owed back (refund_due_fen)."""
    _non_negative_int(amount_fen, "amount_fen")
    return _settled(
        RecoveryLedger(ledger.state, amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen)
    )


def cancel_recovery(ledger: RecoveryLedger) -> RecoveryLedger:
    """The death was revoked: nothing is owed, whatever the state; what came back is owed back."""
    return RecoveryLedger(
        "cancelled", ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen
    )


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
    day, counted = start, 0
    while day < end:
        day += timedelta(days=1)
        if day in makeup_workdays or (day.weekday() < 5 and day not in holidays):
            counted += 1
    return counted


def mean_decision_working_days(
    pairs: Iterable[tuple[date, date]], holidays: frozenset[date], makeup_workdays: frozenset[date]
) -> float | None:
    """Application to decision (申请 → 审批) in working days, the mean over the decisions, to two
    places; None when nothing was decided."""
    days = [working_days_between(applied, decided, holidays, makeup_workdays) for applied, decided in pairs]
    return round(sum(days) / len(days), 2) if days else None


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


# --- the household economic check's totals (核对) -----------------------------------------------------


@dataclass(frozen=True)
class SourceAnswer:
    """One fetch of a check as the rules count it: whose (`subject`: the masked ID the notes name),
    which source, how it went, and the findings it stands on: its own, or those of the earlier
    answer standing in for it (`stand_in_on`: that answer's day; failure policy last_known)."""

    resident_id: str
    subject: str
    source: str
    status: str  # ok | failed | timeout
    findings: Mapping | None
    stand_in_on: date | None = None


@dataclass(frozen=True)
class CheckTotals:
    members: int
    deposits_fen: int | None  # None: a bank_deposits fetch has no answer to stand on
    notes: tuple[str, ...]


def check_totals(answers: Iterable[SourceAnswer]) -> CheckTotals:
    """The members checked, their deposits together (never an unanswered source read as none),
    and a note for each fetch that did not answer."""
    members: set[str] = set()
    notes: list[str] = []
    deposits, known = 0, True
    for answer in answers:
        members.add(answer.resident_id)
        if answer.status != "ok":
            if answer.stand_in_on is not None:
                notes.append(
                    f"{answer.source} {answer.status} for {answer.subject}: the last known answer "
                    f"of {answer.stand_in_on.isoformat()} was used (failure policy last_known)"
                )
            else:
                notes.append(
                    f"{answer.source} {answer.status} for {answer.subject}: not answered, the check is incomplete"
                )
        if answer.source == "bank_deposits":
            found = answer.findings.get("deposits_fen") if answer.findings is not None else None
            if isinstance(found, int):
                deposits += found
            else:
                known = False
    return CheckTotals(len(members), deposits if known else None, tuple(notes))
