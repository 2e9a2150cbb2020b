"""What an approval grants, what a benefit comes to without the deceased, and an economic check's
totals: the arithmetic the assistance service hands to its rules, by tables (no broker, no database)."""

from datetime import date

import pytest

from contracts.refusals import InvalidRuleInput
from services.assistance import rules
from services.assistance.rules import AmountAfterDeath, Benefit, PolicyAmount, SourceAnswer
from tests.unit.test_assistance_rules import ON, POLICY, member

LIVING = PolicyAmount(30000, "disability@330600/2024-01-01")


# --- rules.benefit: one programme at a time ---------------------------------------------------------


@pytest.mark.parametrize(
    "programme, household, options, eligible, monthly",
    [
        pytest.param("dibao", [member(0)], {}, True, 85000, id="dibao-no-income-gets-the-standard"),
        pytest.param("dibao", [member(85000)], {}, False, 0, id="dibao-income-at-the-standard-not-eligible"),
        pytest.param("dibao_edge", [member(100000)], {}, True, 0, id="edge-eligible-pays-nothing-monthly"),
        pytest.param("tekun", [member(0)], {"self_care": "full"}, True, 110500 + 20000, id="tekun-full-self-care"),
        pytest.param(
            "temporary",
            [member(0)],
            {"grade": "A", "requested_fen": 170001, "urgent": False},
            True,
            170000,
            id="temporary-capped-at-grade-A",
        ),
        pytest.param(
            "disability_living",
            [member(0, severely_disabled=True), member(0, severely_disabled=True), member(0)],
            {"disability": LIVING},
            True,
            60000,
            id="disability-per-disabled-member",
        ),
        pytest.param("disability_care", [member(0)], {"disability": LIVING}, False, 0, id="disability-none-disabled"),
    ],
)
def test_benefit(programme, household, options, eligible, monthly):
    benefit = rules.benefit(programme, household, ON, POLICY, **options)
    assert (benefit.eligible, benefit.monthly_fen) == (eligible, monthly)
    assert benefit.version.startswith(POLICY.version)


def test_a_one_off_ends_in_its_month_and_an_urgent_small_one_is_the_townships():
    benefit = rules.benefit(
        "temporary", [member(0)], date(2026, 2, 10), POLICY, grade="E", requested_fen=199999, urgent=True
    )
    assert (benefit.ends_on, benefit.decided_by) == (date(2026, 2, 28), "township")


def test_the_disability_subsidy_names_both_versions_and_the_sum():
    benefit = rules.benefit("disability_living", [member(0, severely_disabled=True)] * 2, ON, POLICY, disability=LIVING)
    assert benefit.version == f"{POLICY.version};{LIVING.version}"
    assert "300.00 yuan per month × 2 severely disabled member(s) = 600.00 yuan" in benefit.reasons[0]


def test_a_disability_subsidy_without_its_amount_is_refused():
    with pytest.raises(InvalidRuleInput):
        rules.benefit("disability_care", [member(0)], ON, POLICY)


# --- rules.with_assets: a means-tested benefit after the check ------------------------------------------

GRANTED = Benefit(True, 85000, ("低保",), POLICY.version)


@pytest.mark.parametrize(
    "check_id, within, eligible, monthly, last_reason",
    [
        pytest.param(None, None, False, 0, "no complete household economic check (核对) is attached", id="no-check"),
        pytest.param("c1", None, False, 0, "deposits unknown", id="check-cannot-say"),
        pytest.param("c1", False, False, 0, "assets (核对 c1): deposits unknown", id="over-the-limits"),
        pytest.param("c1", True, True, 85000, "assets (核对 c1): deposits unknown", id="within-the-limits"),
    ],
)
def test_with_assets(check_id, within, eligible, monthly, last_reason):
    benefit = rules.with_assets(GRANTED, check_id, within, ["deposits unknown"])
    assert (benefit.eligible, benefit.monthly_fen, benefit.reasons[-1]) == (eligible, monthly, last_reason)
    assert benefit.reasons[0] == "低保"


# --- rules.amount_without: what survives a death --------------------------------------------------------


@pytest.mark.parametrize(
    "programme, before, survivors, extra, expected",
    [
        pytest.param("dibao", 85000, [], {}, AmountAfterDeath(0), id="nobody-left-it-ends"),
        pytest.param("temporary", 170000, [member(0)], {}, AmountAfterDeath(170000), id="one-off-as-it-was"),
        pytest.param(
            "dibao",
            170000,
            [member(0)],
            {"policy": POLICY},
            AmountAfterDeath(85000, None, POLICY.version),
            id="dibao-recomputed",
        ),
        pytest.param(
            "dibao",
            85000,
            [member(90000)],
            {"policy": POLICY},
            AmountAfterDeath(85000, "the survivors may no longer qualify for 低保: re-check them"),
            id="dibao-survivors-above-the-standard-kept-for-a-re-check",
        ),
        pytest.param(
            "disability_living",
            60000,
            [member(0, severely_disabled=True), member(0)],
            {"per_person_fen": 30000},
            AmountAfterDeath(30000),
            id="disability-per-surviving-disabled-member",
        ),
        pytest.param(
            "tekun",
            130500,
            [member(0)],
            {},
            AmountAfterDeath(130500, "tekun: re-check the survivors"),
            id="tekun-re-check",
        ),
    ],
)
def test_amount_without(programme, before, survivors, extra, expected):
    assert rules.amount_without(programme, before, survivors, ON, **extra) == expected


def test_dibao_without_its_policy_is_refused():
    with pytest.raises(InvalidRuleInput):
        rules.amount_without("dibao", 85000, [member(0)], ON)


# --- rules.check_totals: an economic check's members, deposits and notes --------------------------------


def answer(resident, source, status="ok", findings=None, stand_in_on=None):
    return SourceAnswer(resident, f"masked-{resident}", source, status, findings, stand_in_on)


@pytest.mark.parametrize(
    "answers, members, deposits, notes",
    [
        pytest.param([], 0, 0, (), id="nothing-fetched"),
        pytest.param(
            [
                answer("a", "bank_deposits", findings={"deposits_fen": 100}),
                answer("b", "bank_deposits", findings={"deposits_fen": 250}),
                answer("a", "civil_servants", findings={}),
            ],
            2,
            350,
            (),
            id="two-members-deposits-added",
        ),
        pytest.param(
            [answer("a", "bank_deposits", "timeout")],
            1,
            None,
            ("bank_deposits timeout for masked-a: not answered, the check is incomplete",),
            id="unanswered-deposits-are-unknown-not-none",
        ),
        pytest.param(
            [answer("a", "bank_deposits", "failed", {"deposits_fen": 70}, date(2026, 1, 5))],
            1,
            70,
            (
                "bank_deposits failed for masked-a: the last known answer of 2026-01-05 was used (failure policy last_known)",
            ),
            id="a-last-known-answer-stands-in",
        ),
        pytest.param(
            [answer("a", "bank_deposits", findings={"deposits_fen": "70"})],
            1,
            None,
            (),
            id="deposits-not-a-number-unknown",
        ),
    ],
)
def test_check_totals(answers, members, deposits, notes):
    assert rules.check_totals(answers) == rules.CheckTotals(members, deposits, notes)
