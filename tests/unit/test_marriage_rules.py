"""Marriage registration rules and the divorce-by-agreement state machine, by tables."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from contracts.person import ResidentId, compose_resident_id
from contracts.refusals import RuleRefused
from services.marriage.rules import (
    Divorce,
    MarriageLaw,
    Party,
    Refusal,
    certificate_number,
    check_marriage,
    effective_state,
    lapse,
    receive_divorce,
    register,
    withdraw,
)

LAW = MarriageLaw(
    minimum_age_male=22,
    minimum_age_female=20,
    cooling_off_days=30,
    certificate_window_days=30,
    version="marriage-law@2021-01-01",
)
ON = date(2026, 3, 2)
DAY = timedelta(days=1)


def person(birth: date, sex: str, division: str = "330602") -> ResidentId:
    return ResidentId.parse(compose_resident_id(division, birth, 101 if sex == "male" else 102))


def man(status: str = "unmarried", birth: date = date(1995, 6, 1)) -> Party:
    return Party(person(birth, "male"), status)


def woman(status: str = "unmarried", birth: date = date(1997, 8, 9)) -> Party:
    return Party(person(birth, "female"), status)


def codes(refusals: list[Refusal]) -> list[tuple[str, str]]:
    return [(r.field, r.code) for r in refusals]


# --- marriage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "party_a, party_b",
    [
        pytest.param(man(), woman(), id="man-and-woman"),
        pytest.param(woman(), man(), id="woman-as-party-a"),
        pytest.param(man(birth=date(2004, 3, 2)), woman(), id="man-22-today"),
        pytest.param(man(), woman(birth=date(2006, 3, 2)), id="woman-20-today"),
        pytest.param(man("divorced"), woman(), id="man-divorced"),
        pytest.param(man(), woman("widowed"), id="woman-widowed"),
        pytest.param(man("widowed"), woman("divorced"), id="both-previously-married"),
    ],
)
def test_may_register(party_a, party_b):
    assert check_marriage(party_a, party_b, True, ON, LAW) == []


@pytest.mark.parametrize(
    "party_a, party_b, expected",
    [
        pytest.param(
            man(birth=date(2004, 3, 3)), woman(), [("party_a.resident_id", "under_age")], id="man-one-day-short-of-22"
        ),
        pytest.param(
            man(), woman(birth=date(2006, 3, 3)), [("party_b.resident_id", "under_age")], id="woman-one-day-short-of-20"
        ),
        pytest.param(
            woman(birth=date(2006, 3, 3)),
            man(),
            [("party_a.resident_id", "under_age")],
            id="under-age-woman-as-party-a",
        ),
        pytest.param(man("married"), woman(), [("party_a.resident_id", "already_married")], id="man-married"),
        pytest.param(man(), woman("married"), [("party_b.resident_id", "already_married")], id="woman-married"),
        pytest.param(man(), man(), [("party_b.resident_id", "same_person")], id="same-person"),
        pytest.param(
            man(),
            Party(person(date(1996, 1, 1), "male"), "unmarried"),
            [("party_b.resident_id", "same_sex")],
            id="two-men",
        ),
        pytest.param(
            woman(),
            Party(person(date(1996, 1, 1), "female"), "unmarried"),
            [("party_b.resident_id", "same_sex")],
            id="two-women",
        ),
        pytest.param(
            man("married", birth=date(2010, 1, 1)),
            woman("married", birth=date(2010, 1, 1)),
            [
                ("party_a.resident_id", "under_age"),
                ("party_a.resident_id", "already_married"),
                ("party_b.resident_id", "under_age"),
                ("party_b.resident_id", "already_married"),
            ],
            id="both-under-age-and-married",
        ),
    ],
)
def test_refusals(party_a, party_b, expected):
    assert codes(check_marriage(party_a, party_b, True, ON, LAW)) == expected


def test_undeclared_relatives_are_refused():
    refusals = check_marriage(man(), woman(), False, ON, LAW)
    assert codes(refusals) == [("declared_not_close_relatives", "close_relatives_not_declared")]
    assert "three generations" in refusals[0].reason


def test_all_refusals_are_returned_at_once():
    young_married_man = Party(person(date(2010, 1, 1), "male", "330781"), "married")
    refusals = check_marriage(young_married_man, man(), False, ON, LAW)
    assert codes(refusals) == [
        ("party_b.resident_id", "same_sex"),
        ("party_a.resident_id", "under_age"),
        ("party_a.resident_id", "already_married"),
        ("declared_not_close_relatives", "close_relatives_not_declared"),
    ]


@pytest.mark.parametrize(
    "party_a, party_b, reason",
    [
        pytest.param(
            man(birth=date(2004, 3, 3)),
            woman(),
            "a man must be at least 22 to marry; party A reaches 22 on 2026-03-03",
            id="man",
        ),
        pytest.param(
            man(),
            woman(birth=date(2008, 2, 29)),
            "a woman must be at least 20 to marry; party B reaches 20 on 2028-02-29",
            id="woman-leap-day-in-leap-year",
        ),
        pytest.param(
            man(birth=date(2004, 2, 29)),
            woman(),
            "a man must be at least 22 to marry; party A reaches 22 on 2026-03-01",
            id="man-leap-day-non-leap-year",
        ),
    ],
)
def test_under_age_reason_names_the_minimum_and_the_day_it_is_reached(party_a, party_b, reason):
    on = date(2026, 2, 28)
    (refusal,) = check_marriage(party_a, party_b, True, on, LAW)
    assert refusal.reason == reason


def test_minimum_ages_come_from_the_law_parameters():
    # on ON the man (born 1995-06-01) is 30 and the woman (born 1997-08-09) is 28
    law = replace(LAW, minimum_age_male=30, minimum_age_female=29, version="v2")
    (refusal,) = check_marriage(man(), woman(), True, ON, law)
    assert (refusal.field, refusal.code) == ("party_b.resident_id", "under_age")
    assert refusal.reason == "a woman must be at least 29 to marry; party B reaches 29 on 2026-08-09"


# --- divorce by agreement ----------------------------------------------------------------------

RECEIVED = date(2026, 1, 31)
OPEN = receive_divorce(RECEIVED, LAW)
COOLING_OFF_ENDS = date(2026, 3, 2)  # 30 days counted from 1 February
WINDOW_ENDS = date(2026, 4, 1)  # 30 more days counted from 3 March


def test_receive_counts_the_periods_from_the_next_day():
    assert (
        Divorce(
            received_on=RECEIVED,
            state="cooling_off",
            cooling_off_ends=COOLING_OFF_ENDS,
            certificate_window_ends=WINDOW_ENDS,
            closed_on=None,
        )
        == OPEN
    )


def test_periods_come_from_the_law_parameters():
    d = receive_divorce(RECEIVED, replace(LAW, cooling_off_days=10, certificate_window_days=5))
    assert (d.cooling_off_ends, d.certificate_window_ends) == (date(2026, 2, 10), date(2026, 2, 15))


@pytest.mark.parametrize(
    "on",
    [
        pytest.param(RECEIVED, id="day-0"),
        pytest.param(RECEIVED + DAY, id="day-1"),
        pytest.param(COOLING_OFF_ENDS, id="last-day-of-cooling-off"),
    ],
)
def test_withdraw_during_cooling_off(on):
    assert withdraw(OPEN, on) == replace(OPEN, state="withdrawn", closed_on=on)


@pytest.mark.parametrize(
    "on",
    [
        pytest.param(COOLING_OFF_ENDS + DAY, id="day-after-cooling-off"),
        pytest.param(WINDOW_ENDS, id="last-day-of-window"),
        pytest.param(WINDOW_ENDS + DAY, id="after-window"),
    ],
)
def test_withdraw_after_cooling_off_is_refused(on):
    with pytest.raises(RuleRefused) as caught:
        withdraw(OPEN, on)
    assert (
        caught.value.reason == "the cooling-off period ended on 2026-03-02; the application can no longer be withdrawn"
    )


@pytest.mark.parametrize(
    "on",
    [
        pytest.param(COOLING_OFF_ENDS + DAY, id="first-day-of-window"),
        pytest.param(date(2026, 3, 15), id="mid-window"),
        pytest.param(WINDOW_ENDS, id="last-day-of-window"),
    ],
)
def test_register_in_the_certificate_window(on):
    assert register(OPEN, on, both_present=True) == replace(OPEN, state="registered", closed_on=on)


@pytest.mark.parametrize(
    "on, reason",
    [
        pytest.param(
            RECEIVED,
            "the cooling-off period ends on 2026-03-02; the certificate can be applied for from 2026-03-03",
            id="day-0",
        ),
        pytest.param(
            COOLING_OFF_ENDS,
            "the cooling-off period ends on 2026-03-02; the certificate can be applied for from 2026-03-03",
            id="last-day-of-cooling-off",
        ),
        pytest.param(
            WINDOW_ENDS + DAY,
            "the certificate could be applied for until 2026-04-01; the application is deemed withdrawn",
            id="day-after-window",
        ),
    ],
)
def test_register_outside_the_window_is_refused(on, reason):
    with pytest.raises(RuleRefused) as caught:
        register(OPEN, on, both_present=True)
    assert caught.value.reason == reason


def test_register_needs_both_parties_in_person():
    with pytest.raises(RuleRefused) as caught:
        register(OPEN, COOLING_OFF_ENDS + DAY, both_present=False)
    assert caught.value.reason == "both parties must apply for the certificate in person"


def test_nothing_happens_before_the_application_was_received():
    with pytest.raises(RuleRefused) as caught:
        withdraw(OPEN, RECEIVED - DAY)
    assert caught.value.reason == "the application was only received on 2026-01-31"


@pytest.mark.parametrize(
    "on, state, closed_on",
    [
        pytest.param(RECEIVED, "cooling_off", None, id="day-0"),
        pytest.param(COOLING_OFF_ENDS + DAY, "cooling_off", None, id="in-window"),
        pytest.param(WINDOW_ENDS, "cooling_off", None, id="last-day-of-window"),
        pytest.param(WINDOW_ENDS + DAY, "deemed_withdrawn", WINDOW_ENDS + DAY, id="day-after-window"),
        pytest.param(WINDOW_ENDS + 100 * DAY, "deemed_withdrawn", WINDOW_ENDS + DAY, id="applied-late"),
    ],
)
def test_lapse(on, state, closed_on):
    lapsed = lapse(OPEN, on)
    assert (lapsed.state, lapsed.closed_on) == (state, closed_on)
    assert effective_state(OPEN, on) == state


WITHDRAWN = withdraw(OPEN, RECEIVED + DAY)
REGISTERED = register(OPEN, COOLING_OFF_ENDS + DAY, both_present=True)
DEEMED_WITHDRAWN = lapse(OPEN, WINDOW_ENDS + DAY)
CLOSED = [
    pytest.param(WITHDRAWN, "the application was closed on 2026-02-01 (withdrawn)", id="withdrawn"),
    pytest.param(REGISTERED, "the application was closed on 2026-03-03 (registered)", id="registered"),
    pytest.param(
        DEEMED_WITHDRAWN, "the application was closed on 2026-04-02 (deemed withdrawn)", id="deemed-withdrawn"
    ),
]


@pytest.mark.parametrize("closed, reason", CLOSED)
@pytest.mark.parametrize(
    "move",
    [
        pytest.param(lambda d: withdraw(d, RECEIVED + 2 * DAY), id="withdraw"),
        pytest.param(lambda d: register(d, COOLING_OFF_ENDS + 2 * DAY, both_present=True), id="register"),
    ],
)
def test_closed_applications_cannot_move(move, closed, reason):
    with pytest.raises(RuleRefused) as caught:
        move(closed)
    assert caught.value.reason == reason


@pytest.mark.parametrize("closed", [WITHDRAWN, REGISTERED, DEEMED_WITHDRAWN], ids=lambda d: d.state)
def test_closed_applications_do_not_lapse(closed):
    assert lapse(closed, WINDOW_ENDS + 10 * DAY) is closed
    assert effective_state(closed, WINDOW_ENDS + 10 * DAY) == closed.state


# --- certificate numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, office, year, serial, number",
    [
        pytest.param("marriage", "330602", 2026, 123, "J330602-2026-000123", id="marriage"),
        pytest.param("divorce", "330602", 2026, 1, "L330602-2026-000001", id="divorce"),
        pytest.param("reissue", "330781", 2025, 999_999, "BJ330781-2025-999999", id="reissue-max-serial"),
    ],
)
def test_certificate_number(kind, office, year, serial, number):
    assert certificate_number(kind, office, year, serial) == number


@pytest.mark.parametrize(
    "kind, office, serial, message",
    [
        pytest.param("marriage", "33060", 1, "office code must be 6 digits", id="office-5-digits"),
        pytest.param("marriage", "3306021", 1, "office code must be 6 digits", id="office-7-digits"),
        pytest.param("marriage", "33O602", 1, "office code must be 6 digits", id="office-letter"),
        pytest.param("guardianship", "330602", 1, "unknown certificate kind 'guardianship'", id="unknown-kind"),
        pytest.param("marriage", "330602", 0, "serial must be between 1 and 999999", id="serial-0"),
        pytest.param("marriage", "330602", 1_000_000, "serial must be between 1 and 999999", id="serial-too-big"),
    ],
)
def test_certificate_number_rejects_bad_parts(kind, office, serial, message):
    with pytest.raises(ValueError) as caught:
        certificate_number(kind, office, 2026, serial)
    assert str(caught.value) == message
