"""What each programme grants: 低保 and its increments, 低保边缘, assets, 特困 and 临时救助."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from contracts.assistance import SELF_CARE_LEVELS
from contracts.refusals import InvalidRuleInput

from .household import HouseholdIncome, Member, _income, _split, _who, household_income
from .numbers import _ceil_fen, _exact_fen, _non_negative_int, _number, _times, round_half_up_fen, yuan
from .policy import INCREMENT_CATEGORIES, AssistancePolicy

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
