"""Back-entry of historical marriage records (补录), by tables: the record can be true, and it makes
nobody married twice at once (a back-entered marriage counts in the bigamy check)."""

from datetime import date

import pytest

from contracts.person import ResidentId, compose_resident_id
from services.marriage.rules import REGISTRY_EPOCH, Span, check_back_entered_divorce, check_back_entry

TODAY = date(2026, 5, 11)
HUSBAND = ResidentId.parse(compose_resident_id("330602", date(1960, 2, 1), 101))
WIFE = ResidentId.parse(compose_resident_id("330602", date(1962, 7, 1), 102))


def codes(refusals):
    return sorted(r.code for r in refusals)


@pytest.mark.parametrize(
    "married_on, divorced_on, expected",
    [
        (date(1985, 10, 1), None, []),
        (date(1985, 10, 1), date(1999, 1, 1), []),
        (REGISTRY_EPOCH, None, ["born_after", "born_after"]),  # the epoch itself is allowed; they were not born
        (date(1949, 9, 30), None, ["before_epoch", "born_after", "born_after"]),
        (TODAY, None, []),  # entered the same day: not in the future
        (date(2026, 5, 12), None, ["in_future"]),
        (date(1985, 10, 1), date(1985, 10, 1), ["before_marriage"]),
        (date(1985, 10, 1), date(1985, 10, 2), []),
        (date(1985, 10, 1), date(2026, 5, 12), ["in_future"]),
        (date(1962, 7, 1), None, ["born_after"]),  # the wife's birth day
        (date(1962, 7, 2), None, []),
    ],
)
def test_the_record_can_be_true(married_on, divorced_on, expected):
    assert codes(check_back_entry(HUSBAND, WIFE, married_on, divorced_on, TODAY, [])) == expected


def test_one_man_and_one_woman():
    assert codes(check_back_entry(HUSBAND, HUSBAND, date(1985, 1, 1), None, TODAY, [])) == ["same_person"]
    other_man = ResidentId.parse(compose_resident_id("330602", date(1961, 1, 1), 103))
    assert codes(check_back_entry(HUSBAND, other_man, date(1985, 1, 1), None, TODAY, [])) == ["same_sex"]


@pytest.mark.parametrize(
    "married_on, divorced_on, other, overlaps",
    [
        # the husband's other marriage, standing since 2010
        (date(1985, 1, 1), date(2009, 12, 31), Span("party_a.resident_id", date(2010, 1, 1), None), False),
        (date(1985, 1, 1), date(2010, 1, 1), Span("party_a.resident_id", date(2010, 1, 1), None), False),  # same day
        (date(1985, 1, 1), date(2010, 1, 2), Span("party_a.resident_id", date(2010, 1, 1), None), True),
        (date(1985, 1, 1), None, Span("party_a.resident_id", date(2010, 1, 1), None), True),  # still married
        # an earlier marriage of the wife, 1980-1984
        (date(1985, 1, 1), None, Span("party_b.resident_id", date(1980, 1, 1), date(1984, 12, 31)), False),
        (date(1985, 1, 1), None, Span("party_b.resident_id", date(1980, 1, 1), date(1985, 1, 1)), False),
        (date(1985, 1, 1), None, Span("party_b.resident_id", date(1980, 1, 1), date(1985, 1, 2)), True),
        (date(1985, 1, 1), date(1990, 1, 1), Span("party_b.resident_id", date(1986, 1, 1), date(1987, 1, 1)), True),
    ],
)
def test_a_back_entered_marriage_counts_in_the_bigamy_check(married_on, divorced_on, other, overlaps):
    refusals = check_back_entry(HUSBAND, WIFE, married_on, divorced_on, TODAY, [other])
    assert [(r.field, r.code) for r in refusals] == ([(other.field, "already_married")] if overlaps else [])


@pytest.mark.parametrize(
    "state, divorced_on, expected",
    [
        ("registered", date(1990, 1, 2), []),
        ("registered", date(1990, 1, 1), ["before_marriage"]),
        ("registered", date(2026, 5, 12), ["in_future"]),
        ("registered", TODAY, []),
        ("divorced", date(1995, 1, 1), ["not_standing"]),
        ("ended_by_death", date(1995, 1, 1), ["not_standing"]),
    ],
)
def test_a_historical_divorce(state, divorced_on, expected):
    assert codes(check_back_entered_divorce(date(1990, 1, 1), state, divorced_on, TODAY)) == expected
