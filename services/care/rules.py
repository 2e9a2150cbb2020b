"""Elderly care (养老) rules: who is old enough for the old-age allowance (高龄津贴), from which
month, and how much by age band. Pure: no I/O, table-tested (tests/unit/test_care_rules.py).

A birthday is reached the way `contracts.person.age_on` counts age: someone born on 29 February
turns a year older on 1 March in a year without one. The payment-run SQL computes birthdays with
the same formula (`birthday_sql`), and a test holds the two together.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from contracts.person import age_on

__all__ = ["AllowancePolicy", "InvalidInput", "birthday", "latest_birth_date_qualifying", "qualifies_on", "allowance_start_month",
           "monthly_allowance_fen", "START_RULES", "birthday_sql"]

START_RULES = ("birthday_month", "next_month")  # from the month of the birthday, or the month after


class InvalidInput(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AllowancePolicy:
    version: str
    qualifying_age: int          # 80 everywhere in the source documents
    start: str                   # one of START_RULES
    bands_fen: Mapping[int, int]  # lowest age of the band -> monthly amount in fen

    def __post_init__(self):
        if not isinstance(self.qualifying_age, int) or not 60 <= self.qualifying_age <= 120:
            raise InvalidInput("the qualifying age must be a whole number of years between 60 and 120")
        if self.start not in START_RULES:
            raise InvalidInput(f"the start rule must be one of {', '.join(START_RULES)}")
        if not self.bands_fen or min(self.bands_fen) != self.qualifying_age:
            raise InvalidInput("the age bands must start at the qualifying age")
        if any(not isinstance(v, int) or isinstance(v, bool) or v < 0 for v in self.bands_fen.values()):
            raise InvalidInput("band amounts are whole fen ≥ 0")


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


def qualifies_on(birth_date: date, day: date, policy: AllowancePolicy) -> bool:
    return age_on(birth_date, day) >= policy.qualifying_age


def allowance_start_month(birth_date: date, policy: AllowancePolicy) -> date:
    """The first month paid: the qualifying birthday's month, or the month after."""
    reached = birthday(birth_date, policy.qualifying_age)
    first = reached.replace(day=1)
    if policy.start == "next_month":
        first = (first + timedelta(days=32)).replace(day=1)
    return first


def monthly_allowance_fen(birth_date: date, month: date, policy: AllowancePolicy) -> int:
    """The band's amount for the age reached by the end of `month` (a 90th birthday in the month
    moves the whole month to the higher band); 0 before the qualifying age."""
    month_end = (month.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    age = age_on(birth_date, month_end)
    bands = [low for low in policy.bands_fen if low <= age]
    return policy.bands_fen[max(bands)] if bands else 0


def birthday_sql(birth_column: str, years_param: str) -> str:
    """The same birthday as `birthday`, in PostgreSQL (for set-based jobs)."""
    return (f"(({birth_column} - 1) + make_interval(years => {years_param}))::date + 1")
