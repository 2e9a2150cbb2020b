"""Funeral affairs (殡葬) rules: which source a notice comes from, whether notices of one death
agree, the basic-services fee waiver (惠民殡葬), the eco-burial reward, the cremation certificate's
number, revocation, and the region's indicators. Pure: no I/O, table-tested
(tests/unit/test_funeral_rules.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.refusals import InvalidRuleInput, RuleRefused
from contracts.roles import CITIZEN, EMPLOYEES, PARTNER

__all__ = [
    "ECO_FORMS",
    "REQUIRES_REFERENCE",
    "source_of",
    "check_date_of_death",
    "dates_agree",
    "FeeWaiver",
    "fee_waiver",
    "eco_burial_reward",
    "certificate_number",
    "may_revoke",
    "may_cremate",
    "Indicators",
    "indicators",
    "eco_burial_rate",
]

ECO_FORMS = frozenset({"tree", "lawn", "flower_bed", "sea", "niche"})  # 节地生态安葬
REQUIRES_REFERENCE = frozenset({"hospital", "police"})  # a certificate or report always has a number


def source_of(role: str, subject: str) -> str:
    """Who a notice comes from, by the caller: the health department reports hospitals' death
    certificates (死亡医学证明), the police their death reports, staff (funeral homes, civil
    affairs) what they learn, a citizen their family member's death."""
    if role == PARTNER:
        if subject == "health":
            return "hospital"
        if subject == "police":
            return "police"
        raise RuleRefused(f"partner {subject} does not notify deaths")
    if role in EMPLOYEES:
        return "funeral_home"
    if role == CITIZEN:
        return "family"
    raise RuleRefused(f"role {role} does not notify deaths")


def check_date_of_death(date_of_death: date, birth_date: date, today: date) -> None:
    if date_of_death > today:
        raise InvalidRuleInput("the date of death is in the future")
    if date_of_death < birth_date:
        raise InvalidRuleInput("the date of death is before the person's birth")


def dates_agree(case_date: date, reported: date) -> bool:
    """Notices of one death must agree on its date; if not, a clerk decides (never a guess)."""
    return case_date == reported


@dataclass(frozen=True)
class FeeWaiver:
    fee_fen: int
    waived_fen: int

    @property
    def payable_fen(self) -> int:
        return self.fee_fen - self.waived_fen


def fee_waiver(kind: str, fees_fen: Mapping[str, int], waived_kinds) -> FeeWaiver:
    """惠民殡葬: a basic service the region's policy lists is free; the rest is paid at its fee."""
    if kind not in fees_fen:
        raise InvalidRuleInput(f"the region's policy has no fee for {kind}")
    fee = fees_fen[kind]
    if not isinstance(fee, int) or isinstance(fee, bool) or fee < 0:
        raise InvalidRuleInput(f"the fee for {kind} must be whole fen ≥ 0")
    return FeeWaiver(fee, fee if kind in set(waived_kinds) else 0)


def eco_burial_reward(form: str, rewards_fen: Mapping[str, int], cap_fen: int) -> int:
    """生态安葬奖励: the region's amount for the form, never above the per-case cap (Shaoxing:
    up to 10,000 yuan a case); a traditional grave earns nothing."""
    if not isinstance(cap_fen, int) or isinstance(cap_fen, bool) or cap_fen < 0:
        raise InvalidRuleInput("the reward cap must be whole fen ≥ 0")
    if form not in ECO_FORMS:
        return 0
    amount = rewards_fen.get(form, 0)
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise InvalidRuleInput(f"the reward for {form} must be whole fen ≥ 0")
    return min(amount, cap_fen)


def certificate_number(region_code: str, year: int, serial: int) -> str:
    """火化证明 number: H<district>-<year>-<serial>."""
    if serial < 1 or serial > 999_999:
        raise InvalidRuleInput("the serial must be between 1 and 999999")
    return f"H{region_code[:6]}-{year:04d}-{serial:06d}"


def may_cremate(
    state: str, has_cremation_booking: bool, date_conflict: bool, cremated_on: date, date_of_death: date
) -> None:
    if state != "open":
        raise RuleRefused(f"the case is {state}")
    if date_conflict:
        raise RuleRefused("the notices disagree on the date of death: a clerk must confirm it first")
    if not has_cremation_booking:
        raise RuleRefused("book the cremation first")
    if cremated_on < date_of_death:
        raise InvalidRuleInput("a cremation cannot come before the death")


def may_revoke(state: str) -> None:
    """A notification made in error can be revoked while nothing irreversible happened: not after
    the cremation (the death was real), not twice."""
    if state == "cremated":
        raise RuleRefused("the deceased was cremated: the death cannot be revoked")
    if state == "revoked":
        raise RuleRefused("the case is revoked already")


@dataclass(frozen=True)
class Indicators:
    cremation_rate: float | None
    eco_burial_rate: float | None


def indicators(deaths: int, cremated: int, burials: int, eco_burials: int) -> Indicators:
    """火化率 = cremated / deaths; 节地生态安葬率 = eco-burials / burials chosen (None without data)."""
    return Indicators(round(cremated / deaths, 4) if deaths else None, eco_burial_rate(burials, eco_burials))


def eco_burial_rate(burials: int, eco_burials: int) -> float | None:
    """节地生态安葬率: eco-burials among the burials chosen, to four places; None without any."""
    if burials < 0 or not 0 <= eco_burials <= burials:
        raise InvalidRuleInput("the burial counts contradict each other")
    return round(eco_burials / burials, 4) if burials else None


# --- a family's notice: acted on at once, or held for confirmation (policy funeral.family_notice) ---

OFFICIAL_SOURCES = frozenset({"hospital", "police"})  # a notice that verifies a held family notice
FAMILY_NOTICE_MODES = ("at_once", "hold")


def family_notice_hold(source: str, policy: Mapping, today: date) -> date | None:
    """The day by which a family's notice must be confirmed (by a hospital or police notice, or a
    clerk) before anything is done on it; None when it is acted on at once (any other source, or
    the policy's mode `at_once`)."""
    mode = policy.get("mode")
    if mode not in FAMILY_NOTICE_MODES:
        raise InvalidRuleInput(f"funeral.family_notice mode must be one of {', '.join(FAMILY_NOTICE_MODES)}")
    if source != "family" or mode == "at_once":
        return None
    days = policy.get("confirm_within_days")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        raise InvalidRuleInput("funeral.family_notice confirm_within_days must be whole days ≥ 1 when held")
    return today + timedelta(days=days)


def verification_after(verification: str, verify_by: date | None, by: str, today: date) -> str:
    """What a held case becomes when `by` (a source: hospital, police; or "clerk") confirms it on
    `today`: "verified", or RuleRefused. A hospital or police notice verifies it whenever it comes (the
    death is certified); a clerk only by the deadline, after which it has lapsed."""
    if verification == "verified":
        raise RuleRefused("the death is verified already")
    if by in OFFICIAL_SOURCES:
        return "verified"
    if by != "clerk":
        raise RuleRefused(f"a {by} notice does not verify a family's notice")
    if verification == "lapsed" or (verify_by is not None and today > verify_by):
        raise RuleRefused(
            f"the family's notice was not confirmed by {verify_by}: a hospital or police notice is needed"
        )
    return "verified"


def lapses(verification: str, verify_by: date | None, today: date) -> bool:
    """A held family notice not confirmed by its day has lapsed."""
    return verification == "awaiting" and verify_by is not None and today > verify_by
