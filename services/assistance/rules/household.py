"""Household income (家庭收入): members, the 单人户 split, and the monthly income per head."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from contracts.person import Newborn, ResidentId
from contracts.refusals import InvalidRuleInput

from .numbers import _exact_fen, _non_negative_int, round_half_up_fen, yuan
from .policy import AssistancePolicy

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
