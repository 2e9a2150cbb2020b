"""The old-age allowance rules, in memory, by tables of cases."""
from datetime import date, timedelta

import pytest

from contracts.person import age_on
from services.care import rules

POLICY = rules.AllowancePolicy(version="test", qualifying_age=80, start="birthday_month",
                               bands_fen={80: 5000, 90: 10000, 100: 50000})


@pytest.mark.parametrize("born, years, reached", [
    (date(1946, 6, 15), 80, date(2026, 6, 15)),
    (date(1944, 2, 29), 80, date(2024, 2, 29)),   # leap year to leap year
    (date(1944, 2, 29), 81, date(2025, 3, 1)),    # 29 February turns on 1 March in a common year
    (date(1944, 3, 1), 81, date(2025, 3, 1)),
    (date(1946, 1, 1), 80, date(2026, 1, 1)),
    (date(1945, 12, 31), 80, date(2025, 12, 31)),
])
def test_birthday(born, years, reached):
    assert rules.birthday(born, years) == reached
    # the same day the age count of the resident ID says it
    assert age_on(born, reached) == years and age_on(born, reached - timedelta(days=1)) == years - 1


@pytest.mark.parametrize("today", [date(2026, 6, 15), date(2025, 3, 1), date(2025, 2, 28), date(2024, 2, 29),
                                   date(2026, 1, 1), date(2026, 12, 31)])
def test_latest_birth_date_qualifying_is_the_exact_boundary(today):
    cutoff = rules.latest_birth_date_qualifying(today, 80)
    assert age_on(cutoff, today) >= 80
    assert age_on(cutoff + timedelta(days=1), today) < 80


@pytest.mark.parametrize("born, start, first_month", [
    (date(1946, 6, 15), "birthday_month", date(2026, 6, 1)),
    (date(1946, 6, 1), "birthday_month", date(2026, 6, 1)),
    (date(1946, 6, 30), "next_month", date(2026, 7, 1)),
    (date(1946, 12, 5), "next_month", date(2027, 1, 1)),
    (date(1948, 2, 29), "birthday_month", date(2028, 2, 1)),
    (date(1944, 2, 29), "birthday_month", date(2024, 2, 1)),
])
def test_start_month(born, start, first_month):
    policy = rules.AllowancePolicy("test", 80, start, {80: 5000})
    assert rules.allowance_start_month(born, policy) == first_month


@pytest.mark.parametrize("born, month, fen", [
    (date(1946, 6, 15), date(2026, 5, 1), 0),        # 79 all May
    (date(1946, 6, 15), date(2026, 6, 1), 5000),     # turns 80 in June: June is paid
    (date(1936, 6, 30), date(2026, 6, 1), 10000),    # turns 90 on the month's last day
    (date(1936, 7, 1), date(2026, 6, 1), 5000),      # still 89 at the end of June
    (date(1926, 1, 1), date(2026, 1, 1), 50000),     # 100
    (date(1920, 5, 5), date(2026, 1, 1), 50000),     # 105: the highest band
])
def test_monthly_amount_by_age_band(born, month, fen):
    assert rules.monthly_allowance_fen(born, month, POLICY) == fen


@pytest.mark.parametrize("kwargs, reason", [
    ({"qualifying_age": 59}, "between 60 and 120"),
    ({"start": "whenever"}, "start rule"),
    ({"bands_fen": {90: 10000}}, "start at the qualifying age"),
    ({"bands_fen": {80: -1}}, "whole fen"),
    ({"bands_fen": {80: 50.5}}, "whole fen"),
])
def test_unusable_policies_are_refused(kwargs, reason):
    values = {"version": "x", "qualifying_age": 80, "start": "birthday_month", "bands_fen": {80: 5000}, **kwargs}
    with pytest.raises(rules.InvalidInput, match=reason):
        rules.AllowancePolicy(**values)
