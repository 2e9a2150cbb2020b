"""Charity rules, in memory, by tables of cases."""

from datetime import date

import pytest

from contracts.refusals import InvalidRuleInput
from services.charity import rules

DEADLINE = "05-31"


@pytest.mark.parametrize(
    "registered, reports, today, state, missing",
    [
        # registered mid-2022: reports for 2022, 2023, 2024 due by 31 May of the following year
        (date(2022, 6, 1), {2022, 2023, 2024}, date(2025, 6, 10), "active", ()),
        (date(2022, 6, 1), {2022, 2023}, date(2025, 5, 31), "active", ()),  # 2024's not yet late
        (date(2022, 6, 1), {2022, 2023}, date(2025, 6, 1), "abnormal", (2024,)),  # one day after the deadline
        (date(2022, 6, 1), {2022}, date(2025, 6, 1), "dormant", (2023, 2024)),  # two years without a report
        (date(2022, 6, 1), {2022, 2024}, date(2025, 6, 1), "active", (2023,)),  # a late report brings it back
        (date(2022, 6, 1), set(), date(2023, 6, 1), "abnormal", (2022,)),
        (date(2022, 6, 1), set(), date(2023, 5, 1), "active", ()),  # nothing due yet
        (date(2020, 1, 1), {2020, 2021, 2022}, date(2026, 6, 10), "dormant", (2023, 2024, 2025)),
    ],
)
def test_organisation_status_from_annual_reports(registered, reports, today, state, missing):
    status = rules.organisation_status(registered, reports, today, DEADLINE, 1, 2)
    assert (status.state, status.missing_years) == (state, missing)
    assert (status.reason is None) == (state == "active")


@pytest.mark.parametrize(
    "args, reason",
    [
        (("5-32", 1, 2), "MM-DD"),
        (("xx", 1, 2), "MM-DD"),
        ((DEADLINE, 0, 2), "whole number ≥ 1"),
        ((DEADLINE, 2, 1), "abnormal before it is dormant"),
        ((DEADLINE, 1, True), "whole number"),
    ],
)
def test_unusable_detection_policy_is_refused(args, reason):
    with pytest.raises(InvalidRuleInput, match=reason):
        rules.organisation_status(date(2020, 1, 1), set(), date(2026, 1, 1), *args)


@pytest.mark.parametrize(
    "year, reported, refusal",
    [
        (2025, set(), None),
        (2026, set(), "not over"),
        (2019, set(), "registered in 2020"),
        (2024, {2024}, "in already"),
    ],
)
def test_report_year(year, reported, refusal):
    result = rules.report_year_refusal(year, date(2020, 3, 1), date(2026, 6, 10), reported)
    assert (result is None) if refusal is None else (refusal in result)


@pytest.mark.parametrize(
    "registered, on, years",
    [
        (date(2024, 6, 10), date(2026, 6, 10), 2),
        (date(2024, 6, 11), date(2026, 6, 10), 1),
        (date(2024, 2, 29), date(2026, 2, 28), 1),
        (date(2024, 2, 29), date(2026, 3, 1), 2),
        (date(2027, 1, 1), date(2026, 1, 1), 0),
    ],
)
def test_years_registered(registered, on, years):
    assert rules.years_registered(registered, on) == years


def test_grade_validity_and_order():
    assert rules.grade_valid_until(date(2024, 2, 29), 5) == date(2029, 2, 27)
    assert rules.grade_valid_until(date(2021, 7, 1), 5) == date(2026, 6, 30)
    assert rules.grade_at_least("4A", "3A") and rules.grade_at_least("3A", "3A")
    assert not rules.grade_at_least("2A", "3A") and not rules.grade_at_least(None, "1A")
    with pytest.raises(InvalidRuleInput):
        rules.grade_at_least("3A", "6A")
    with pytest.raises(InvalidRuleInput):
        rules.grade_valid_until(date(2021, 1, 1), 0)


def facts(**changes):
    values = {
        "state": "active",
        "registration": "registered",
        "registered_on": date(2023, 1, 1),
        "charity_recognised": True,
        "grade": "3A",
    }
    return rules.QualificationFacts(**{**values, **changes})


@pytest.mark.parametrize(
    "changes, reasons",
    [
        ({}, []),
        ({"registered_on": date(2024, 6, 11)}, ["registered 1 year(s); the law asks 2"]),
        ({"charity_recognised": False}, ["not recognised as a charity"]),
        ({"state": "abnormal"}, ["abnormal (异常名录)"]),
        ({"registration": "filed"}, ["filed (备案)"]),
        ({"grade": "2A"}, ["grade 2A; 3A or better"]),
        ({"grade": None, "charity_recognised": False}, ["not recognised", "grade none"]),
    ],
)
def test_public_fundraising_qualification(changes, reasons):
    got = rules.qualification_refusals(facts(**changes), date(2026, 6, 10), 2, "3A")
    assert len(got) == len(reasons) and all(any(r in g for g in got) for r in reasons)


def test_no_grade_rule_when_the_policy_sets_none():
    assert rules.qualification_refusals(facts(grade=None), date(2026, 6, 10), 2, None) == []


TODAY = date(2026, 6, 10)


@pytest.mark.parametrize(
    "kwargs, fields",
    [
        ({}, set()),
        ({"qualified": False}, {"organisation_id"}),
        ({"state": "dormant"}, {"organisation_id"}),
        ({"campaign_state": "filed"}, {"campaign_id"}),
        ({"starts_on": date(2026, 6, 9)}, {"starts_on"}),
        ({"ends_on": None}, {"ends_on"}),
        ({"ends_on": None, "kind": "fund"}, set()),
        ({"ends_on": date(2026, 6, 1)}, {"ends_on"}),
    ],
)
def test_filing_a_plan(kwargs, fields):
    values = {
        "qualified": True,
        "state": "active",
        "campaign_state": "draft",
        "starts_on": TODAY,
        "ends_on": date(2026, 12, 31),
        "kind": "campaign",
        "today": TODAY,
    }
    assert set(rules.filing_refusals(**{**values, **kwargs})) == fields


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({}, None),
        ({"campaign_state": "draft"}, "not filed"),
        ({"organisation_state": "cancelled"}, "cancelled"),
        ({"starts_on": date(2026, 6, 11)}, "starts on"),
        ({"ends_on": date(2026, 6, 9)}, "ended"),
        ({"ends_on": None}, None),
    ],
)
def test_donations(kwargs, reason):
    values = {
        "campaign_state": "filed",
        "organisation_state": "active",
        "starts_on": TODAY,
        "ends_on": date(2026, 12, 31),
        "today": TODAY,
    }
    errors = rules.donation_refusals(**{**values, **kwargs})
    assert errors == {} if reason is None else reason in " ".join(errors["campaign_id"])


@pytest.mark.parametrize(
    "amount, raised, spent, refused",
    [(100, 100, 0, False), (101, 100, 0, True), (50, 100, 50, False), (1, 100, 100, True)],
)
def test_spending_never_beyond_what_was_raised(amount, raised, spent, refused):
    assert (rules.spending_refusal(amount, raised, spent) is not None) == refused


def candidate(cid, balance, region="330602", needs=("medical",), kind="campaign"):
    return rules.Candidate(cid, f"org-{cid}", kind, needs, region, balance)


@pytest.mark.parametrize(
    "candidates, outcome, chosen, amount",
    [
        ([], "declined", None, 0),
        ([candidate("a", 10_000, needs=("education",))], "declined", None, 0),  # another need
        ([candidate("n", 90_000, region="000000"), candidate("d", 6_000)], "aided", "d", 5_000),  # national last
        ([candidate("a", 0)], "declined", None, 0),  # empty
        ([candidate("a", 10_000)], "aided", "a", 5_000),
        ([candidate("a", 3_000)], "aided", "a", 3_000),  # in part
        ([candidate("a", 8_000), candidate("b", 9_000)], "aided", "b", 5_000),  # the fullest
        ([candidate("a", 90_000, region="330600"), candidate("b", 6_000, region="330602001")], "aided", "b", 5_000),
        ([candidate("a", 9_000), candidate("f", 6_000, kind="fund")], "aided", "f", 5_000),  # a fund first
        ([candidate("a", 2_000), candidate("b", 4_000)], "aided", "b", 4_000),  # neither covers: the fullest
    ],
)
def test_match_referral(candidates, outcome, chosen, amount):
    match = rules.match_referral("medical", "330602001001", 5_000, candidates)
    assert match.outcome == outcome and match.amount_fen == amount
    assert (match.campaign.campaign_id if match.campaign else None) == chosen


def test_a_need_aided_before_is_declined_whatever_money_there_is():
    match = rules.match_referral(
        "medical", "330602001", 5_000, [candidate("a", 10_000)], aided_before="on 2026-03-01 (referral r-1)"
    )
    assert (match.outcome, match.amount_fen) == ("declined", 0) and "aided already" in match.reason


@pytest.mark.parametrize(
    "served, percent, credit", [(150, 100, 150), (90, 50, 45), (7, 50, 3), (60, 0, 0), (60, 150, 90)]
)
def test_time_credit_at_the_policy_rate(served, percent, credit):
    assert rules.time_credit_minutes(served, percent) == credit


@pytest.mark.parametrize("percent", [-1, 1.5, True, "100", None])
def test_an_unusable_time_credit_rate_is_refused(percent):
    with pytest.raises(InvalidRuleInput):
        rules.time_credit_minutes(60, percent)


@pytest.mark.parametrize(
    "balance, minutes, refused", [(120, 60, False), (60, 60, False), (59, 60, True), (0, 1, True), (10, 0, True)]
)
def test_time_bank_redemption(balance, minutes, refused):
    assert (rules.redemption_refusal(balance, minutes) is not None) == refused


@pytest.mark.parametrize(
    "volunteer, balance, minutes, redeemed, cancelled, outcome, debit, reason",
    [
        (True, 120, 60, False, False, "redeemed", True, "60 minutes redeemed"),
        (True, 60, 60, False, False, "redeemed", True, "60 minutes redeemed"),
        (True, 59, 60, False, False, "refused", False, "insufficient credits: the time bank holds 59 minutes"),
        (False, 0, 60, False, False, "refused", False, "not a registered volunteer"),
        (True, 120, 60, False, True, "refused", False, "cancelled before its credits were redeemed"),
        (True, 0, 60, True, False, "redeemed", False, "redeemed already"),  # the request again: debited once
        (True, 0, 60, True, True, "redeemed", False, "redeemed already"),  # redeemed, then returned on cancellation
    ],
)
def test_order_credits_answer(volunteer, balance, minutes, redeemed, cancelled, outcome, debit, reason):
    answer = rules.order_credits_answer(volunteer, balance, minutes, redeemed, cancelled)
    assert (answer.outcome, answer.debit) == (outcome, debit) and reason in answer.reason


@pytest.mark.parametrize(
    "redeemed, returned, back",
    [
        (60, False, 60),  # the minutes redeemed go back
        (None, False, 0),  # nothing redeemed (yet): a marker, so a late request is refused
        (60, True, None),  # the cancellation again: once
        (None, True, None),
    ],
)
def test_order_credits_to_return(redeemed, returned, back):
    assert rules.order_credits_to_return(redeemed, returned) == back


@pytest.mark.parametrize(
    "by_purpose, minimum, ratio, met",
    [
        ({"elderly_care": 550_000, "orphans": 450_000}, 0.55, 0.55, True),  # exactly 55%
        ({"elderly_care": 549_999, "orphans": 450_001}, 0.55, 0.55, False),  # one fen short
        ({"elderly_care": 600_000, "disability": 400_000}, 0.55, 0.6, True),
        ({"disability": 100}, 0.55, 0.0, False),
        ({}, 0.55, None, None),  # nothing allocated: not judged
        ({"elderly_care": 10}, None, 1.0, None),  # no rule in force
    ],
)
def test_lottery_share_for_elderly_care(by_purpose, minimum, ratio, met):
    share = rules.lottery_share(by_purpose, minimum)
    assert (share.ratio, share.met) == (ratio, met)


def test_lottery_policy_and_amounts_must_be_usable():
    with pytest.raises(InvalidRuleInput):
        rules.lottery_share({"elderly_care": 1.5}, 0.55)
    with pytest.raises(InvalidRuleInput):
        rules.lottery_share({"elderly_care": 1}, 55)


def test_per_10k_and_ratio():
    assert rules.per_10k(46, 10_000) == 46.0 and rules.per_10k(23, 5_000_000) == 0.05
    assert rules.per_10k(5, None) is None and rules.ratio(1, 3) == 0.3333 and rules.ratio(1, 0) is None


@pytest.mark.parametrize(
    "organisation, campaign, inside",
    [
        ("330602", "330602", True),
        ("330602", "330602001", True),
        ("330602", "330602001002", True),
        ("330602", "330603", False),  # the next district
        ("330602", "330600", False),  # the whole city is wider than a district's organisation
        ("330600", "330603001", True),  # a city's organisation aids in any of its districts
        ("330600", "330100", False),
        ("330000", "330602", True),  # the province's
        ("330000", "320100", False),
        ("330602001", "330602001001", True),
        ("330602001", "330602002", False),
        ("000000", "330603", True),  # registered with the ministry: the whole country
        ("000000", "000000", True),
        ("330602", "000000", False),
    ],
)
def test_a_campaign_aids_within_its_organisations_area(organisation, campaign, inside):
    from services.charity.rules import campaign_region_refusal

    refusal = campaign_region_refusal(organisation, campaign)
    assert (refusal is None) == inside
    if not inside:
        assert organisation in refusal and campaign in refusal
