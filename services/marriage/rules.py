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

from contracts.person import ResidentId

__all__ = [
    "CERTIFICATE_PREFIXES",
    "COOLING_OFF",
    "DEEMED_WITHDRAWN",
    "REGISTERED",
    "WITHDRAWN",
    "Divorce",
    "IllegalTransition",
    "MarriageLaw",
    "Party",
    "Refusal",
    "certificate_number",
    "check_marriage",
    "effective_state",
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


class IllegalTransition(Exception):
    """The requested move is not allowed on that day; `reason` says why, in a sentence."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        raise IllegalTransition(f"the application was closed on {d.closed_on} ({d.state.replace('_', ' ')})")
    if on < d.received_on:
        raise IllegalTransition(f"the application was only received on {d.received_on}")


def withdraw(d: Divorce, on: date) -> Divorce:
    """Either party withdraws during the cooling-off period (冷静期)."""
    _require_open(d, on)
    if on > d.cooling_off_ends:
        raise IllegalTransition(
            f"the cooling-off period ended on {d.cooling_off_ends}; the application can no longer be withdrawn"
        )
    return replace(d, state=WITHDRAWN, closed_on=on)


def register(d: Divorce, on: date, both_present: bool) -> Divorce:
    """Issue the divorce certificate: after the cooling-off period, within the window, both in person."""
    _require_open(d, on)
    if on <= d.cooling_off_ends:
        raise IllegalTransition(
            f"the cooling-off period ends on {d.cooling_off_ends}; the certificate "
            f"can be applied for from {d.cooling_off_ends + timedelta(days=1)}"
        )
    if on > d.certificate_window_ends:
        raise IllegalTransition(
            f"the certificate could be applied for until {d.certificate_window_ends}; "
            f"the application is deemed withdrawn"
        )
    if not both_present:
        raise IllegalTransition("both parties must apply for the certificate in person")
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

CERTIFICATE_PREFIXES = {"marriage": "J", "divorce": "L", "reissue": "BJ"}


def certificate_number(kind: str, office_code: str, year: int, serial: int) -> str:
    """E.g. `J330602-2026-000123`: kind prefix and office code, year, serial within office and year."""
    if kind not in CERTIFICATE_PREFIXES:
        raise ValueError(f"unknown certificate kind {kind!r}")
    if not re.fullmatch(r"[0-9]{6}", office_code):
        raise ValueError("office code must be 6 digits")
    if not 1 <= serial <= 999_999:
        raise ValueError("serial must be between 1 and 999999")
    return f"{CERTIFICATE_PREFIXES[kind]}{office_code}-{year:04d}-{serial:06d}"
