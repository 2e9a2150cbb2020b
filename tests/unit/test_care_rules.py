"""The old-age allowance rules, in memory, by tables of cases."""

from dataclasses import dataclass
from datetime import UTC, date, timedelta

import pytest

from contracts.person import age_on
from contracts.refusals import InvalidRuleInput, RuleRefused
from services.care import rules

POLICY = rules.AllowancePolicy(
    version="test", qualifying_age=80, start="birthday_month", bands_fen={80: 5000, 90: 10000, 100: 50000}
)


@pytest.mark.parametrize(
    "born, years, reached",
    [
        (date(1946, 6, 15), 80, date(2026, 6, 15)),
        (date(1944, 2, 29), 80, date(2024, 2, 29)),  # leap year to leap year
        (date(1944, 2, 29), 81, date(2025, 3, 1)),  # 29 February turns on 1 March in a common year
        (date(1944, 3, 1), 81, date(2025, 3, 1)),
        (date(1946, 1, 1), 80, date(2026, 1, 1)),
        (date(1945, 12, 31), 80, date(2025, 12, 31)),
    ],
)
def test_birthday(born, years, reached):
    assert rules.birthday(born, years) == reached
    # the same day the age count of the resident ID says it
    assert age_on(born, reached) == years and age_on(born, reached - timedelta(days=1)) == years - 1


@pytest.mark.parametrize(
    "today",
    [date(2026, 6, 15), date(2025, 3, 1), date(2025, 2, 28), date(2024, 2, 29), date(2026, 1, 1), date(2026, 12, 31)],
)
def test_latest_birth_date_qualifying_is_the_exact_boundary(today):
    cutoff = rules.latest_birth_date_qualifying(today, 80)
    assert age_on(cutoff, today) >= 80
    assert age_on(cutoff + timedelta(days=1), today) < 80


@pytest.mark.parametrize(
    "born, start, first_month",
    [
        (date(1946, 6, 15), "birthday_month", date(2026, 6, 1)),
        (date(1946, 6, 1), "birthday_month", date(2026, 6, 1)),
        (date(1946, 6, 30), "next_month", date(2026, 7, 1)),
        (date(1946, 12, 5), "next_month", date(2027, 1, 1)),
        (date(1948, 2, 29), "birthday_month", date(2028, 2, 1)),
        (date(1944, 2, 29), "birthday_month", date(2024, 2, 1)),
    ],
)
def test_start_month(born, start, first_month):
    policy = rules.AllowancePolicy("test", 80, start, {80: 5000})
    assert rules.allowance_start_month(born, policy) == first_month


def test_nobody_is_paid_for_months_before_the_scheme():
    policy = rules.AllowancePolicy("test", 80, "birthday_month", {80: 5000}, in_force_from=date(2021, 1, 15))
    assert rules.allowance_start_month(date(1930, 5, 5), policy) == date(2021, 1, 1)
    assert rules.allowance_start_month(date(1946, 6, 15), policy) == date(2026, 6, 1)


@pytest.mark.parametrize(
    "born, month, fen",
    [
        (date(1946, 6, 15), date(2026, 5, 1), 0),  # 79 all May
        (date(1946, 6, 15), date(2026, 6, 1), 5000),  # turns 80 in June: June is paid
        (date(1936, 6, 30), date(2026, 6, 1), 10000),  # turns 90 on the month's last day
        (date(1936, 7, 1), date(2026, 6, 1), 5000),  # still 89 at the end of June
        (date(1926, 1, 1), date(2026, 1, 1), 50000),  # 100
        (date(1920, 5, 5), date(2026, 1, 1), 50000),  # 105: the highest band
    ],
)
def test_monthly_amount_by_age_band(born, month, fen):
    assert rules.monthly_allowance_fen(born, month, POLICY) == fen


@pytest.mark.parametrize(
    "starts, ended, month, paid",
    [
        (date(2026, 6, 1), None, date(2026, 5, 1), False),  # before the first month
        (date(2026, 6, 1), None, date(2026, 6, 1), True),
        (date(2026, 6, 1), None, date(2026, 6, 20), True),  # any day names the month
        (date(2026, 6, 1), date(2026, 8, 3), date(2026, 8, 1), True),  # the month of the end is paid
        (date(2026, 6, 1), date(2026, 8, 3), date(2026, 9, 1), False),
        (date(2026, 6, 1), date(2026, 8, 31), date(2026, 9, 1), False),
        (date(2026, 6, 1), date(2026, 9, 1), date(2026, 9, 1), True),  # ended on the first: that month paid
        (date(2026, 6, 1), date(2026, 6, 1), date(2026, 6, 1), True),
    ],
)
def test_the_months_an_enrolment_is_paid(starts, ended, month, paid):
    assert rules.allowance_paid_in(starts, ended, month) is paid


@pytest.mark.parametrize(
    "code, ok",
    [
        ("330602", True),
        ("330183", True),
        ("330600", False),
        ("330000", False),
        ("330602001", False),
        ("33060", False),
        ("abcdef", False),
    ],
)
def test_the_allowance_is_paid_by_a_district(code, ok):
    if ok:
        assert rules.paying_district(code) == code
    else:
        with pytest.raises(InvalidRuleInput, match="district"):
            rules.paying_district(code)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"qualifying_age": 59}, "between 60 and 120"),
        ({"start": "whenever"}, "start rule"),
        ({"bands_fen": {90: 10000}}, "start at the qualifying age"),
        ({"bands_fen": {80: -1}}, "whole fen"),
        ({"bands_fen": {80: 50.5}}, "whole fen"),
    ],
)
def test_unusable_policies_are_refused(kwargs, reason):
    values = {"version": "x", "qualifying_age": 80, "start": "birthday_month", "bands_fen": {80: 5000}, **kwargs}
    with pytest.raises(InvalidRuleInput, match=reason):
        rules.AllowancePolicy(**values)


# --- orders and vouchers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, action, by, expected",
    [
        ("requested", "accept", "provider", "accepted"),
        ("accepted", "deliver", "provider", "delivered"),
        ("delivered", "confirm", "person", "confirmed"),
        ("requested", "cancel", "person", "cancelled"),
        ("accepted", "cancel", "provider", "cancelled"),
    ],
)
def test_order_moves(state, action, by, expected):
    assert rules.order_transition(state, action, by) == expected


@pytest.mark.parametrize(
    "state, action, by, reason",
    [
        ("requested", "accept", "person", "only the provider"),
        ("delivered", "confirm", "provider", "only the person"),
        ("accepted", "confirm", "person", "accepted cannot be confirmed"),
        ("confirmed", "confirm", "person", "confirmed cannot be confirmed"),
        ("delivered", "cancel", "person", "can no longer be cancelled"),
        ("cancelled", "accept", "provider", "cancelled cannot be accepted"),
    ],
)
def test_order_refusals_say_why(state, action, by, reason):
    with pytest.raises(RuleRefused, match=reason):
        rules.order_transition(state, action, by)


@pytest.mark.parametrize(
    "credits, accepted",
    [
        (None, True),  # paid by voucher
        ("redeemed", True),  # funded by time-bank credits
        ("pending", False),  # the time bank has not answered
        ("refused", False),
        ("returned", False),
    ],
)
def test_a_provider_accepts_only_funded_credit_orders(credits, accepted):
    if accepted:
        assert rules.order_transition("requested", "accept", "provider", credits) == "accepted"
    else:
        with pytest.raises(RuleRefused, match="not redeemed"):
            rules.order_transition("requested", "accept", "provider", credits)


def test_a_pending_credit_order_can_still_be_cancelled():
    assert rules.order_transition("requested", "cancel", "person", "pending") == "cancelled"


@pytest.mark.parametrize(
    "order, credits, outcome, expected",
    [
        # the answer funds or cancels an open order
        ("requested", "pending", "redeemed", ("redeemed", "requested", None)),
        ("requested", "pending", "refused", ("refused", "cancelled", "time-bank credits refused: too few")),
        # the person cancelled while the time bank was answering
        ("cancelled", "pending", "redeemed", ("redeemed", "cancelled", None, True)),  # asked back
        ("cancelled", "pending", "refused", ("refused", "cancelled", None)),
        ("cancelled", "redeemed", "returned", ("returned", "cancelled", None)),
        ("cancelled", "pending", "returned", ("returned", "cancelled", None)),  # the return overtook the redemption
        # answered already: a late copy changes nothing
        ("requested", "redeemed", "redeemed", ("redeemed", "requested", None)),
        ("accepted", "redeemed", "refused", ("redeemed", "accepted", None)),
        ("cancelled", "returned", "redeemed", ("returned", "cancelled", None)),
        ("cancelled", "refused", "refused", ("refused", "cancelled", None)),
    ],
)
def test_the_time_banks_answer(order, credits, outcome, expected):
    assert rules.credits_answered(order, credits, outcome, "too few") == rules.CreditsMove(*expected)


def test_an_unknown_answer_is_refused():
    with pytest.raises(InvalidRuleInput):
        rules.credits_answered("requested", "pending", "maybe", "")


@pytest.mark.parametrize(
    "service, table, minutes",
    [
        ("bathing", {"bathing": 60, "meals": 30}, 60),
        ("meals", {"bathing": 60, "meals": 30}, 30),
        ("cleaning", {"bathing": 60}, "sets no time-bank minutes"),
        ("bathing", {"bathing": 0}, "≥ 1"),
        ("bathing", {"bathing": 1.5}, "whole minutes"),
        ("bathing", {"bathing": True}, "whole minutes"),
    ],
)
def test_the_minutes_a_service_costs(service, table, minutes):
    if isinstance(minutes, int):
        assert rules.order_credit_minutes(service, table) == minutes
    else:
        with pytest.raises(InvalidRuleInput, match=minutes):
            rules.order_credit_minutes(service, table)


@pytest.mark.parametrize(
    "price, left, voucher, copay",
    [
        (4000, 60000, 4000, 0),
        (4000, 4000, 4000, 0),  # exactly the rest of the budget
        (4000, 3999, 3999, 1),
        (4000, 0, 0, 4000),
    ],
)
def test_split_voucher(price, left, voucher, copay):
    assert rules.split_voucher(price, left) == rules.VoucherSplit(voucher, copay)


@pytest.mark.parametrize(
    "programme, age, expected",
    [
        ("tekun", 60, 60000),
        ("tekun", 59, 0),
        ("dibao", 75, 30000),
        ("temporary", 80, 0),
    ],
)
def test_voucher_monthly_amount(programme, age, expected):
    assert rules.voucher_monthly_fen(programme, age, 60, {"tekun": 60000, "dibao": 30000}) == expected


# --- a benefit's end and its resumption (a revoked death) ----------------------------------------------


@pytest.mark.parametrize(
    "ended, resumed, stands",
    [
        (1, 0, True),  # the usual: the end comes first and closes what it ends
        (1, 1, False),  # its resumption overtook it (the end waited in retry): it closes nothing
        (2, 1, True),  # a second end of the same day after the first was resumed
        (2, 2, False),
    ],
)
def test_an_end_stands_unless_its_resumption_came_first(ended, resumed, stands):
    assert rules.end_stands(ended, resumed) is stands


@pytest.mark.parametrize(
    "ended, resumed, finds",
    [
        (1, 1, True),  # the usual: the end came first
        (0, 1, False),  # ahead of its end: counted, and the end will close nothing
        (1, 2, False),  # a second resumption before the second end
        (2, 1, True),
    ],
)
def test_a_resumption_finds_its_end_when_it_came(ended, resumed, finds):
    assert rules.resumption_finds_its_end(ended, resumed) is finds


@pytest.mark.parametrize("ended, resumed", [(0, 0), (-1, 1), (1, -1)])
def test_counts_of_ends_include_the_one_handled(ended, resumed):
    with pytest.raises(InvalidRuleInput):
        rules.end_stands(ended, resumed)
    with pytest.raises(InvalidRuleInput):
        rules.resumption_finds_its_end(ended, resumed)


@pytest.mark.parametrize(
    "cause, event_type, closed",
    [
        (rules.ended_by("assistance.entitlement_ended", "e-1"), "assistance.entitlement_ended", True),
        (rules.ended_by("assistance.member_left", "e-2"), "assistance.entitlement_ended", False),
        (rules.ended_by("assistance.member_left", "e-2"), "assistance.member_left", True),
        ("death (funeral case c-1)", "assistance.entitlement_ended", False),
        ("assistance.entitlement_ended_x e-3", "assistance.entitlement_ended", False),
        (None, "assistance.entitlement_ended", False),
        ("", "assistance.entitlement_ended", False),
    ],
)
def test_an_end_is_undone_only_by_what_undoes_its_own_cause(cause, event_type, closed):
    assert rules.closed_by(cause, event_type) is closed


@pytest.mark.parametrize(
    "cause, case_id, by_that_death",
    [
        (rules.ended_by("assistance.member_left", "e-2", "c-1"), "c-1", True),
        (rules.ended_by("assistance.member_left", "e-2", "c-1"), "c-2", False),  # another death's revocation
        (rules.ended_by("assistance.member_left", "e-2", "c-12"), "c-1", False),
        (rules.ended_by("assistance.member_left", "e-2"), "c-1", False),  # a move out, not a death
        (None, "c-1", False),
    ],
)
def test_a_leaving_is_undone_only_by_its_own_death_revoked(cause, case_id, by_that_death):
    assert rules.ended_by_death_case(cause, case_id) is by_that_death


# --- assessments and indicators -------------------------------------------------------------------


@pytest.mark.parametrize(
    "assessed, months, until",
    [
        (date(2026, 3, 10), 12, date(2027, 3, 9)),
        (date(2026, 8, 31), 6, date(2027, 2, 27)),  # due 28 February: valid to the day before
        (date(2026, 1, 1), 1, date(2026, 1, 31)),
    ],
)
def test_assessment_validity(assessed, months, until):
    assert rules.assessment_valid_until(assessed, months) == until


def test_indicators_from_counts():
    result = rules.indicators(
        aged_70_plus=8,
        assessed_70_plus=6,
        elderly=20_000,
        beds=300,
        nursing_beds=180,
        public_beds=200,
        public_dementia_beds=30,
    )
    assert result == rules.Indicators(0.75, 0.6, 0.15, 150.0)


def test_nothing_to_divide_by_is_no_ratio_not_zero():
    result = rules.indicators(
        aged_70_plus=0, assessed_70_plus=0, elderly=0, beds=0, nursing_beds=0, public_beds=0, public_dementia_beds=0
    )
    assert result == rules.Indicators(None, None, None, None)


@pytest.mark.parametrize(
    "bad",
    [
        {"assessed_70_plus": 9},
        {"nursing_beds": 301},
        {"public_beds": 301},
        {"public_dementia_beds": 201},
        {"elderly": -1},
    ],
)
def test_contradicting_counts_are_refused(bad):
    counts = {
        "aged_70_plus": 8,
        "assessed_70_plus": 6,
        "elderly": 20_000,
        "beds": 300,
        "nursing_beds": 180,
        "public_beds": 200,
        "public_dementia_beds": 30,
        **bad,
    }
    with pytest.raises(InvalidRuleInput):
        rules.indicators(**counts)


# --- child welfare --------------------------------------------------------------------------------

SHAOXING = {"institution": 204000, "community": 163500}


@pytest.mark.parametrize(
    "category, placement, age, fen",
    [
        ("orphan", "institution", 10, 204000),
        ("orphan", "community", 17, 163500),
        ("de_facto_unsupported", "community", 5, 163500),
        ("orphan", "community", 18, 0),  # an adult
        ("left_behind", "community", 8, 0),  # cared for, not allowance-entitled
        ("distressed", "institution", 8, 0),
    ],
)
def test_child_allowance(category, placement, age, fen):
    assert rules.child_allowance_fen(category, placement, age, SHAOXING) == fen


@pytest.mark.parametrize(
    "level, due",
    [
        ("red", date(2026, 6, 11)),
        ("orange", date(2026, 6, 13)),
        ("yellow", date(2026, 6, 17)),
        ("green", date(2026, 7, 10)),
    ],
)
def test_follow_up_by_colour(level, due):
    days = {"red": 1, "orange": 3, "yellow": 7, "green": 30}
    assert rules.follow_up_due(date(2026, 6, 10), level, days) == due


def test_unusable_child_policies_are_refused():
    with pytest.raises(InvalidRuleInput):
        rules.child_allowance_fen("orphan", "institution", 5, {"community": 1})
    with pytest.raises(InvalidRuleInput):
        rules.follow_up_due(date(2026, 6, 10), "red", {"red": -1})


# --- emergency calls ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, action, expected",
    [
        ("received", "dispatch", "dispatched"),
        ("dispatched", "arrive", "arrived"),
        ("arrived", "close", "closed"),
        ("received", "close", "closed"),
    ],
)
def test_call_moves(state, action, expected):
    assert rules.call_transition(state, action) == expected


@pytest.mark.parametrize("state, action", [("received", "arrive"), ("closed", "dispatch"), ("dispatched", "close")])
def test_call_refusals(state, action):
    with pytest.raises(RuleRefused, match=f"{state} cannot take"):
        rules.call_transition(state, action)


WATCH = rules.Registration("yc-watch", "A", date(2026, 6, 1), date(2026, 9, 1))  # June to August
SINCE = rules.Registration("yc-watch", "B", date(2026, 9, 1))  # then B's


@pytest.mark.parametrize(
    "registrations, platform, person, raised_on, refused_field",
    [
        ([WATCH], "yc-watch", "A", date(2026, 6, 1), None),  # the day it was handed over
        ([WATCH], "yc-watch", "A", date(2026, 8, 31), None),  # its last day in service
        ([WATCH, SINCE], "yc-watch", "B", date(2026, 9, 1), None),  # the next holder, from the day
        ([WATCH, SINCE], "yc-watch", "A", date(2026, 7, 1), None),  # a late call of A's, raised in time
        ([WATCH], "yc-watch", "A", date(2026, 5, 31), "device_id"),  # before it was registered
        ([WATCH], "yc-watch", "A", date(2026, 9, 1), "device_id"),  # retired
        ([WATCH, SINCE], "yc-watch", "A", date(2026, 9, 2), "resident_id"),  # now B's device
        ([WATCH], "yc-watch", "B", date(2026, 7, 1), "resident_id"),  # for someone else
        ([WATCH], "other-platform", "A", date(2026, 7, 1), "device_id"),  # another platform's device
        ([], "yc-watch", "A", date(2026, 7, 1), "device_id"),  # never registered
        ([WATCH], None, "A", date(2026, 7, 1), "platform"),  # a token naming no platform
    ],
)
def test_a_call_is_taken_only_from_the_operating_platform_for_the_registered_person(
    registrations, platform, person, raised_on, refused_field
):
    refusal = rules.call_refusal(registrations, platform, person, raised_on)
    assert (refusal.field if refusal else None) == refused_field
    if refusal:
        assert refusal.detail and refusal.reason


def test_another_platform_learns_only_that_the_device_is_not_its_own():
    other = rules.call_refusal([WATCH], "other-platform", "A", date(2026, 7, 1))
    never = rules.call_refusal([], "other-platform", "A", date(2026, 7, 1))
    assert (other.detail, other.reason) == (never.detail, never.reason)


@pytest.mark.parametrize(
    "registrations, wanted, conflict",
    [
        ([], rules.Registration("p", "A", date(2026, 6, 1)), None),
        ([rules.Registration("p", "A", date(2026, 6, 1))], rules.Registration("p", "A", date(2026, 6, 1)), "same"),
        ([rules.Registration("p", "A", date(2026, 6, 1))], rules.Registration("p", "B", date(2026, 6, 1)), "retire"),
        ([rules.Registration("p", "A", date(2026, 6, 1))], rules.Registration("q", "A", date(2026, 6, 1)), "retire"),
        ([WATCH], rules.Registration("p", "B", date(2026, 8, 31)), "until 2026-09-01"),
        ([WATCH], rules.Registration("p", "B", date(2026, 9, 1)), None),
    ],
)
def test_a_device_serves_one_person_at_a_time(registrations, wanted, conflict):
    found = rules.registration_conflict(registrations, wanted)
    assert found == conflict if conflict in (None, "same") else conflict in found


@pytest.mark.parametrize(
    "wanted, conflict",
    [
        (rules.Registration("p", "A", date(2026, 6, 2)), "same"),  # sent again the next day, no day named
        (rules.Registration("p", "B", date(2026, 6, 2)), "retire"),
        (rules.Registration("q", "A", date(2026, 6, 2)), "retire"),
    ],
)
def test_a_registration_sent_again_without_its_day_is_the_same(wanted, conflict):
    found = rules.registration_conflict([rules.Registration("p", "A", date(2026, 6, 1))], wanted, dated=False)
    assert found == conflict if conflict == "same" else conflict in found


@pytest.mark.parametrize(
    "registered, retired, retire_on, refusal",
    [
        (date(2026, 6, 1), None, date(2026, 6, 10), None),
        (date(2026, 6, 1), None, date(2026, 6, 1), None),  # returned the day it was handed over
        (date(2026, 6, 1), None, date(2026, 5, 31), "before its registration"),
        (date(2026, 6, 1), None, date(2026, 6, 11), "in the future"),
        (date(2026, 6, 1), date(2026, 6, 5), date(2026, 6, 5), "same"),
        (date(2026, 6, 1), date(2026, 6, 5), date(2026, 6, 6), "already"),
    ],
)
def test_retiring_a_device(registered, retired, retire_on, refusal):
    found = rules.retirement_refusal(registered, retired, retire_on, today=date(2026, 6, 10))
    assert found == refusal if refusal in (None, "same") else refusal in found


def test_response_seconds():
    from datetime import datetime

    called = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
    assert rules.response_seconds(called, None) is None
    assert rules.response_seconds(called, called + timedelta(minutes=12, seconds=5)) == 725
    with pytest.raises(InvalidRuleInput):
        rules.response_seconds(called, called - timedelta(seconds=1))


def test_the_severely_disabled_get_vouchers_at_any_age():
    assert rules.voucher_monthly_fen("dibao", 35, 60, {"dibao": 30000}, severely_disabled=True) == 30000
    assert rules.voucher_monthly_fen("dibao", 35, 60, {"dibao": 30000}) == 0


@pytest.mark.parametrize(
    "day, first",
    [
        (date(2026, 6, 2), date(2026, 7, 1)),
        (date(2026, 6, 30), date(2026, 7, 1)),
        (date(2026, 12, 31), date(2027, 1, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
    ],
)
def test_the_first_month_an_end_does_not_pay(day, first):
    assert rules.first_month_after(day) == first


JUNE, JULY, AUGUST = date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)


@pytest.mark.parametrize(
    "payments, months, amount",
    [
        ([(JUNE, 20000, "paid")], (), 0),  # the month of death is the deceased's in full
        ([(JULY, 20000, "paid"), (AUGUST, 20000, "pending")], (JULY, AUGUST), 40000),
        ([(JULY, 20000, "failed")], (), 0),  # withheld or not made by the bank
        ([(JULY, 20000, "paid"), (JULY, 5000, "pending")], (JULY,), 25000),  # a back pay beside it
        ([], (), 0),
    ],
)
def test_what_the_allowance_paid_after_a_death(payments, months, amount):
    assert rules.allowance_paid_after_death(date(2026, 6, 2), payments) == rules.AllowanceOverpaid(months, amount)


# --- the month's voucher budget (moved from the service) -------------------------------------------


@dataclass(frozen=True)
class Grant:
    starts_on: date
    ends_on: date | None
    monthly_fen: int


@pytest.mark.parametrize(
    "grant, month, in_force",
    [
        pytest.param(Grant(date(2026, 3, 15), None, 1), date(2026, 3, 1), True, id="from-its-start-month"),
        pytest.param(Grant(date(2026, 3, 15), None, 1), date(2026, 2, 1), False, id="not-before"),
        pytest.param(Grant(date(2026, 1, 1), date(2026, 3, 1), 1), date(2026, 3, 1), True, id="to-its-end"),
        pytest.param(Grant(date(2026, 1, 1), date(2026, 2, 28), 1), date(2026, 3, 1), False, id="not-after"),
    ],
)
def test_a_voucher_is_in_force_from_its_start_month_to_its_end(grant, month, in_force):
    assert rules.voucher_in_force(grant, month) is in_force


def test_the_budget_is_the_largest_grant_in_force():
    small, large, ended = (
        Grant(date(2026, 1, 1), None, 20000),
        Grant(date(2026, 2, 1), None, 40000),
        Grant(date(2025, 1, 1), date(2025, 12, 31), 90000),
    )
    assert rules.budget_grant([small, large, ended], date(2026, 3, 1)) is large
    assert rules.budget_grant([small, large, ended], date(2026, 1, 1)) is small
    assert rules.budget_grant([ended], date(2026, 3, 1)) is None
