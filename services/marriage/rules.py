"""Marriage registration rules (婚姻登记规则) as pure functions: no I/O, no clock, no database.

Ages and day counts are never constants here: they arrive in a `MarriageLaw` resolved from the
versioned policy parameters, and callers record `law.version` with every decision.

Civil Code of the PRC: art. 1047 minimum ages; art. 1041/1042/1051 one man and one woman, neither
currently married (重婚 bigamy); art. 1048 no lineal relatives or collateral relatives within three
generations (the registrar relies on the parties' signed declaration); art. 1077 divorce by
agreement with a cooling-off period (冷静期) and a certificate window after which the application
is deemed withdrawn (视为撤回); art. 201 periods are counted from the day after the event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from contracts.person import ResidentId, age_on
from contracts.refusals import RuleRefused

__all__ = [
    "ADOPTEE_CATEGORIES",
    "CERTIFICATE_PREFIXES",
    "COOLING_OFF",
    "DEEMED_WITHDRAWN",
    "REGISTERED",
    "WITHDRAWN",
    "Adoptee",
    "Adopter",
    "AdoptionLaw",
    "Divorce",
    "MarriageLaw",
    "Party",
    "REGISTRY_EPOCH",
    "Refusal",
    "Span",
    "certificate_number",
    "check_adoption",
    "check_adoption_dissolution",
    "check_back_entered_divorce",
    "check_back_entry",
    "check_marriage",
    "effective_state",
    "exempt_from_counts",
    "lapse",
    "receive_divorce",
    "register",
    "withdraw",
]


@dataclass(frozen=True)
class MarriageLaw:
    minimum_age_male: int
    minimum_age_female: int
    cooling_off_days: int
    certificate_window_days: int
    version: str  # the policy version these values came from


@dataclass(frozen=True)
class Party:
    resident_id: ResidentId
    marital_status: str  # "unmarried" | "married" | "divorced" | "widowed"


@dataclass(frozen=True)
class Refusal:
    field: str  # the request's JSON field the refusal is about, e.g. "party_a.resident_id"
    code: str
    reason: str


# --- marriage ------------------------------------------------------------------------------------


def _reaches_age(birth: date, years: int) -> date:
    """The day someone born on `birth` turns `years` (29 February → 1 March in non-leap years)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def check_marriage(
    party_a: Party, party_b: Party, declared_not_close_relatives: bool, on: date, law: MarriageLaw
) -> list[Refusal]:
    """Every reason the couple cannot marry on `on`; an empty list means they may register.

    Reasons never contain the ID numbers themselves, so they are safe to log and audit.
    """
    refusals: list[Refusal] = []
    if party_a.resident_id.number == party_b.resident_id.number:
        refusals.append(Refusal("party_b.resident_id", "same_person", "both parties have the same resident ID number"))
    elif party_a.resident_id.sex == party_b.resident_id.sex:  # same person is same sex too: say it once
        refusals.append(
            Refusal("party_b.resident_id", "same_sex", "a marriage is registered between one man and one woman")
        )
    for key, label, party in (("party_a", "party A", party_a), ("party_b", "party B", party_b)):
        field = f"{key}.resident_id"
        person = party.resident_id
        is_man = person.sex == "male"
        minimum = law.minimum_age_male if is_man else law.minimum_age_female
        if person.age_on(on) < minimum:
            reaches = _reaches_age(person.birth_date, minimum)
            refusals.append(
                Refusal(
                    field,
                    "under_age",
                    f"a {'man' if is_man else 'woman'} must be at least {minimum} "
                    f"to marry; {label} reaches {minimum} on "
                    f"{reaches.isoformat()}",
                )
            )
        if party.marital_status == "married":  # 重婚
            refusals.append(Refusal(field, "already_married", f"{label} is currently married"))
    if not declared_not_close_relatives:
        refusals.append(
            Refusal(
                "declared_not_close_relatives",
                "close_relatives_not_declared",
                "both parties must declare that they are not lineal relatives or "
                "collateral relatives within three generations",
            )
        )
    return refusals


# --- divorce by agreement (协议离婚) -------------------------------------------------------------

COOLING_OFF = "cooling_off"  # open: 冷静期, then the certificate window
WITHDRAWN = "withdrawn"  # a party withdrew during the cooling-off period
REGISTERED = "registered"  # divorce certificate issued
DEEMED_WITHDRAWN = "deemed_withdrawn"  # 视为撤回: nobody completed it within the window


@dataclass(frozen=True)
class Divorce:
    received_on: date
    state: str
    cooling_off_ends: date  # last day a party may withdraw
    certificate_window_ends: date  # last day both may apply for the certificate
    closed_on: date | None = None


def receive_divorce(received_on: date, law: MarriageLaw) -> Divorce:
    # Counted from the next day (art. 201): N days after day 0 end on day N, inclusive.
    cooling_off_ends = received_on + timedelta(days=law.cooling_off_days)
    return Divorce(
        received_on=received_on,
        state=COOLING_OFF,
        cooling_off_ends=cooling_off_ends,
        certificate_window_ends=cooling_off_ends + timedelta(days=law.certificate_window_days),
    )


def _require_open(d: Divorce, on: date) -> None:
    if d.state != COOLING_OFF:
        raise RuleRefused(f"the application was closed on {d.closed_on} ({d.state.replace('_', ' ')})")
    if on < d.received_on:
        raise RuleRefused(f"the application was only received on {d.received_on}")


def withdraw(d: Divorce, on: date) -> Divorce:
    """Either party withdraws during the cooling-off period (冷静期)."""
    _require_open(d, on)
    if on > d.cooling_off_ends:
        raise RuleRefused(
            f"the cooling-off period ended on {d.cooling_off_ends}; the application can no longer be withdrawn"
        )
    return replace(d, state=WITHDRAWN, closed_on=on)


def register(d: Divorce, on: date, both_present: bool) -> Divorce:
    """Issue the divorce certificate: after the cooling-off period, within the window, both in person."""
    _require_open(d, on)
    if on <= d.cooling_off_ends:
        raise RuleRefused(
            f"the cooling-off period ends on {d.cooling_off_ends}; the certificate "
            f"can be applied for from {d.cooling_off_ends + timedelta(days=1)}"
        )
    if on > d.certificate_window_ends:
        raise RuleRefused(
            f"the certificate could be applied for until {d.certificate_window_ends}; "
            f"the application is deemed withdrawn"
        )
    if not both_present:
        raise RuleRefused("both parties must apply for the certificate in person")
    return replace(d, state=REGISTERED, closed_on=on)


def lapse(d: Divorce, on: date) -> Divorce:
    """视为撤回: an open application past its certificate window is deemed withdrawn."""
    if d.state != COOLING_OFF or on <= d.certificate_window_ends:
        return d
    # Closed on the first day after the window, whenever the lapse happens to be applied.
    return replace(d, state=DEEMED_WITHDRAWN, closed_on=d.certificate_window_ends + timedelta(days=1))


def effective_state(d: Divorce, on: date) -> str:
    """The state as it reads on `on`, with any lapse applied."""
    return lapse(d, on).state


# --- certificates ----------------------------------------------------------------------------------

CERTIFICATE_PREFIXES = {
    "marriage": "J",
    "divorce": "L",
    "reissue": "BJ",
    "adoption": "S",  # 收养登记证
    "adoption_dissolution": "JS",  # 解除收养关系证明
}


def certificate_number(kind: str, office_code: str, year: int, serial: int) -> str:
    """E.g. `J330602-2026-000123`: kind prefix and office code, year, serial within office and year."""
    if kind not in CERTIFICATE_PREFIXES:
        raise ValueError(f"unknown certificate kind {kind!r}")
    if not re.fullmatch(r"[0-9]{6}", office_code):
        raise ValueError("office code must be 6 digits")
    if not 1 <= serial <= 999_999:
        raise ValueError("serial must be between 1 and 999999")
    return f"{CERTIFICATE_PREFIXES[kind]}{office_code}-{year:04d}-{serial:06d}"


# --- adoption registration (收养登记, Civil Code book five chapter five) ---------------------------
#
# art. 1093 who may be adopted (a minor: an orphan, one whose parents cannot be found, or a child of
# parents in special difficulty); art. 1097/1104 the consent of those giving up the child (送养人);
# art. 1098 the adopter's conditions (no children or only one; able to raise, educate and protect
# the child; no illness that makes it medically inadvisable; no criminal record unfavourable to the
# child; aged 30 or more); art. 1100 a childless adopter may adopt two, one with a child one, and
# an orphan, a disabled minor or an institution's child whose parents cannot be found neither count
# nor need the first condition; art. 1101 a married person adopts together with the spouse;
# art. 1102 a single adopter of the other sex is at least 40 years older; art. 1104 the consent of
# a child aged eight or more; art. 1105 registration; art. 1114-1116 dissolution by agreement.

ADOPTEE_CATEGORIES = ("orphan", "parents_unknown", "parents_in_difficulty")


@dataclass(frozen=True)
class AdoptionLaw:
    adopter_min_age: int  # art. 1098(5): 30
    adult_age: int  # art. 1093: a minor is under 18
    consent_age: int  # art. 1104: the child's own consent from 8
    single_opposite_sex_age_gap: int  # art. 1102: 40
    max_existing_children: int  # art. 1098(1): no children or only one
    max_adoptees_childless: int  # art. 1100: two
    max_adoptees_with_child: int  # art. 1100: one
    version: str


@dataclass(frozen=True)
class Adopter:
    resident_id: ResidentId
    children: int  # children the adopter has now, adopted ones included
    adopted: int  # of them, adopted under a registration that stands
    able_to_raise: bool  # art. 1098(2)
    medically_unfit: bool  # art. 1098(3)
    unfavourable_record: bool  # art. 1098(4)
    married: bool  # currently married (the registry's status)


@dataclass(frozen=True)
class Adoptee:
    resident_id: ResidentId
    category: str  # ADOPTEE_CATEGORIES
    disabled: bool
    from_institution: bool  # 儿童福利机构 raises the child
    consents: bool | None  # the child's own consent; asked from consent_age


def exempt_from_counts(adoptee: Adoptee) -> bool:
    """art. 1100 para. 2: an orphan, a disabled minor, or an institution's child whose parents
    cannot be found is adopted outside art. 1098(1) and the counts of art. 1100."""
    return (
        adoptee.category == "orphan"
        or adoptee.disabled
        or (adoptee.from_institution and adoptee.category == "parents_unknown")
    )


def check_adoption(
    adopters: list[Adopter],
    married_to_each_other: bool,
    adoptee: Adoptee,
    placer_consents: bool,
    on: date,
    law: AdoptionLaw,
) -> list[Refusal]:
    """Every reason the adoption cannot be registered on `on`; empty: it may."""
    refusals: list[Refusal] = []
    child = adoptee.resident_id
    if not 1 <= len(adopters) <= 2:
        return [Refusal("adopters", "adopters_count", "one adopter, or a married couple together")]
    if len({a.resident_id.number for a in adopters} | {child.number}) != len(adopters) + 1:
        refusals.append(Refusal("adoptee.resident_id", "same_person", "the adoptee is also named as an adopter"))
    if len(adopters) == 2 and not married_to_each_other:
        refusals.append(
            Refusal("adopters", "not_spouses", "two people adopt together only as a married couple (art. 1101)")
        )
    if len(adopters) == 1 and adopters[0].married:
        refusals.append(
            Refusal("adopters", "spouse_must_join", "a married person adopts together with the spouse (art. 1101)")
        )
    # the adoptee (art. 1093, 1104)
    age = child.age_on(on)
    if age >= law.adult_age:
        refusals.append(
            Refusal("adoptee.resident_id", "not_a_minor", f"only a minor (under {law.adult_age}) is adopted")
        )
    if adoptee.category not in ADOPTEE_CATEGORIES:
        refusals.append(Refusal("adoptee.category", "not_adoptable", "not a category of art. 1093"))
    if age >= law.consent_age and adoptee.consents is not True:
        refusals.append(
            Refusal(
                "adoptee.consents",
                "adoptee_consent_missing",
                f"a child aged {law.consent_age} or more must consent to the adoption",
            )
        )
    if not placer_consents:
        refusals.append(
            Refusal("placer.consents", "placer_consent_missing", "those giving up the child must consent (art. 1104)")
        )
    exempt = exempt_from_counts(adoptee)
    for index, adopter in enumerate(adopters):
        field = f"adopters[{index}]"
        person = adopter.resident_id
        if person.age_on(on) < law.adopter_min_age:
            reaches = _reaches_age(person.birth_date, law.adopter_min_age)
            refusals.append(
                Refusal(
                    f"{field}.resident_id",
                    "adopter_under_age",
                    f"an adopter must be at least {law.adopter_min_age}; reaches it on {reaches.isoformat()}",
                )
            )
        if not adopter.able_to_raise:
            refusals.append(
                Refusal(f"{field}.able_to_raise", "unable_to_raise", "must be able to raise, educate and protect")
            )
        if adopter.medically_unfit:
            refusals.append(
                Refusal(f"{field}.medically_unfit", "medically_unfit", "an illness makes adoption inadvisable")
            )
        if adopter.unfavourable_record:
            refusals.append(
                Refusal(
                    f"{field}.unfavourable_record",
                    "unfavourable_record",
                    "a criminal record unfavourable to the child's upbringing",
                )
            )
        if not exempt:
            if adopter.children > law.max_existing_children:
                refusals.append(
                    Refusal(
                        f"{field}.children",
                        "too_many_children",
                        f"an adopter has at most {law.max_existing_children} child(ren) already",
                    )
                )
            else:
                own = adopter.children - adopter.adopted
                allowed = law.max_adoptees_childless if own <= 0 else law.max_adoptees_with_child
                if adopter.adopted + 1 > allowed:
                    refusals.append(
                        Refusal(
                            f"{field}.children",
                            "adoption_count_reached",
                            f"an adopter {'without' if own <= 0 else 'with'} children of their own adopts "
                            f"at most {allowed}",
                        )
                    )
    if len(adopters) == 1 and adopters[0].resident_id.sex != child.sex:
        single = adopters[0].resident_id
        if child.birth_date < _reaches_age(single.birth_date, law.single_opposite_sex_age_gap):
            refusals.append(
                Refusal(
                    "adopters[0].resident_id",
                    "age_gap",
                    f"a single adopter of the other sex is at least {law.single_opposite_sex_age_gap} "
                    "years older than the child (art. 1102)",
                )
            )
    return refusals


def check_adoption_dissolution(
    adoptee_birth: date,
    adopters_agree: bool,
    placer_agrees: bool | None,
    adoptee_consents: bool | None,
    on: date,
    law: AdoptionLaw,
) -> list[Refusal]:
    """解除收养关系 by agreement (art. 1114-1116): before the child is of age, the adopters and those
    who gave the child up agree, with the child's own consent from `consent_age`; once of age, the
    adopters and the adoptee agree."""
    age = age_on(adoptee_birth, on)
    refusals: list[Refusal] = []
    if not adopters_agree:
        refusals.append(Refusal("adopters_agree", "adopters_disagree", "the adopters must agree to dissolve"))
    if age < law.adult_age and placer_agrees is not True:
        refusals.append(
            Refusal("placer_agrees", "placer_disagrees", "before the child is of age, those who gave it up must agree")
        )
    if age >= law.consent_age and adoptee_consents is not True:
        refusals.append(
            Refusal(
                "adoptee_consents",
                "adoptee_consent_missing",
                f"an adoptee aged {law.consent_age} or more must agree to the dissolution",
            )
        )
    return refusals


# --- back-entry of historical records (婚姻历史数据补录) ------------------------------------------
#
# A registrar enters a marriage registered before the registry existed, or its divorce, from the
# evidence (the archive file, the old certificate, a court's judgment). The law of the day is not
# re-applied (the minimum ages were 20 and 18 until 1981); what is checked is that the record can
# be true, and that it does not make anyone married twice at once (重婚): a back-entered marriage
# counts in the bigamy check like any other.

REGISTRY_EPOCH = date(1949, 10, 1)  # 新中国成立以来: the earliest record entered


@dataclass(frozen=True)
class Span:
    """A marriage of a party already in the registry: from `start`, until `end` (None: standing)."""

    field: str  # the request field of the party it belongs to
    start: date
    end: date | None


def _overlaps(start: date, end: date | None, other: Span) -> bool:
    # a marriage ended on day D and another registered on D do not overlap (divorced, then married)
    return (end is None or other.start < end) and (other.end is None or start < other.end)


def check_back_entry(
    party_a: ResidentId,
    party_b: ResidentId,
    married_on: date,
    divorced_on: date | None,
    today: date,
    others: list[Span],
) -> list[Refusal]:
    """Every reason the historical marriage (and its divorce, if given) cannot be entered."""
    refusals: list[Refusal] = []
    if party_a.number == party_b.number:
        refusals.append(Refusal("party_b.resident_id", "same_person", "both parties have the same resident ID number"))
    elif party_a.sex == party_b.sex:
        refusals.append(
            Refusal("party_b.resident_id", "same_sex", "a marriage is registered between one man and one woman")
        )
    if married_on < REGISTRY_EPOCH:
        refusals.append(Refusal("married_on", "before_epoch", f"records are entered from {REGISTRY_EPOCH}"))
    if married_on > today:
        refusals.append(Refusal("married_on", "in_future", "a historical record cannot be dated after today"))
    for key, person in (("party_a", party_a), ("party_b", party_b)):
        if married_on <= person.birth_date:
            refusals.append(Refusal(f"{key}.resident_id", "born_after", "born after the marriage date"))
    if divorced_on is not None:
        if divorced_on <= married_on:
            refusals.append(Refusal("divorced_on", "before_marriage", "the divorce must follow the marriage"))
        elif divorced_on > today:
            refusals.append(Refusal("divorced_on", "in_future", "a historical record cannot be dated after today"))
    for other in others:
        if _overlaps(married_on, divorced_on, other):
            until = f"until {other.end}" if other.end else "and still is"
            refusals.append(
                Refusal(
                    other.field,
                    "already_married",
                    f"married to someone else from {other.start} {until}: the record would make a bigamous marriage",
                )
            )
    return refusals


def check_back_entered_divorce(married_on: date, state: str, divorced_on: date, today: date) -> list[Refusal]:
    """A historical divorce of a marriage the registry holds as standing."""
    if state != "registered":
        return [Refusal("registration_id", "not_standing", f"the marriage is {state.replace('_', ' ')}")]
    if divorced_on <= married_on:
        return [Refusal("divorced_on", "before_marriage", "the divorce must follow the marriage")]
    if divorced_on > today:
        return [Refusal("divorced_on", "in_future", "a historical record cannot be dated after today")]
    return []
