"""Social assistance rules and the application state machine, by tables."""

import ast
import itertools
from dataclasses import FrozenInstanceError, replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from contracts.person import ResidentId, compose_resident_id
from contracts.refusals import InvalidRuleInput, RuleRefused
from services.assistance import rules
from services.assistance.rules import (
    ACTIONS,
    OPEN_STATES,
    STATES,
    TRANSITIONS,
    AssistancePolicy,
    Member,
    as_multiplier,
    as_ratio,
    assets_within_limits,
    decision_due,
    dibao_benefit,
    dibao_edge_eligible,
    gradual_exit,
    household_income,
    monthly_from_yearly_fen,
    notice_ends,
    round_half_up_fen,
    split_single_person_households,
    tekun_benefit,
    temporary_assistance,
    transition,
)

# Shaoxing 2020 (seed-000): 850 yuan/month; other figures as in the policy migration's seed values.
POLICY = AssistancePolicy(
    version="assistance@330600/2020-01-01",
    dibao_standard_monthly_fen=85000,
    edge_ratio="1.5",
    tekun_basic_ratio="1.3",
    tekun_care_monthly_fen={"full": 20000, "partial": 60000, "none": 120000},
    increments={
        "aged_80_plus": "0.1",
        "minor": "0.1",
        "seriously_ill": "0.2",
        "severely_disabled": "0.2",
        "pregnant": "0.1",
    },
    temporary_cap_multiplier_min=2,
    temporary_cap_multiplier_max=10,
    temporary_grades={"A": 2, "B": 4, "C": 6, "D": 8, "E": 10},
    township_direct_threshold_fen=200000,
    gradual_exit_months=12,
    asset_limits={"deposits": 5000000},
    decision_working_days=20,
    notice_days=7,
    approval_level="district",
)
ON = date(2026, 3, 2)
DAY = timedelta(days=1)
_sequence = itertools.count(101)


def rid(birth: date = date(1980, 5, 5)) -> ResidentId:
    return ResidentId.parse(compose_resident_id("330602", birth, next(_sequence) % 1000))


def member(income: int = 0, birth: date = date(1980, 5, 5), **flags) -> Member:
    return Member(rid(birth), income, **flags)


def joined(reasons) -> str:
    return "\n".join(reasons)


# --- money -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount, expected",
    [
        pytest.param(Fraction(1, 2), 1, id="half-rounds-up"),
        pytest.param(Fraction(3, 2), 2, id="one-and-a-half"),
        pytest.param(Fraction(5, 2), 3, id="two-and-a-half-not-bankers"),
        pytest.param(Fraction(49, 100), 0, id="just-under-half-down"),
        pytest.param(Fraction(-1, 2), -1, id="negative-half-away-from-zero"),
        pytest.param(7, 7, id="whole-fen-unchanged"),
    ],
)
def test_round_half_up_fen(amount, expected):
    assert round_half_up_fen(amount) == expected


@pytest.mark.parametrize(
    "yearly, monthly",
    [
        pytest.param(1020000, 85000, id="shaoxing-2020-10200-yuan-is-850"),
        pytest.param(1300000, 108333, id="shaoxing-2025-13000-yuan-is-1083.33"),
        pytest.param(684000, 57000, id="fuyang-rural-2020-6840-yuan"),
        pytest.param(1350000, 112500, id="changxing-2025-13500-yuan"),
        pytest.param(1000000, 83333, id="jiaxing-10000-yuan-rounds-down"),
        pytest.param(6, 1, id="half-fen-rounds-up"),
        pytest.param(5, 0, id="under-half-fen-rounds-down"),
    ],
)
def test_monthly_from_yearly_fen(yearly, monthly):
    assert monthly_from_yearly_fen(yearly) == monthly


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("1.5", id="decimal-string"),
        pytest.param("3/2", id="fraction-string"),
        pytest.param(Decimal("1.5"), id="decimal"),
        pytest.param(Fraction(3, 2), id="fraction"),
        pytest.param(1500, id="int-per-mille"),
    ],
)
def test_ratio_forms_agree(value):
    assert as_ratio(value) == Fraction(3, 2)
    assert replace(POLICY, edge_ratio=value).edge_ratio == Fraction(3, 2)


def test_int_multiplier_is_whole_times_but_int_ratio_is_per_mille():
    assert as_multiplier(2) == 2
    assert as_ratio(2) == Fraction(2, 1000)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1.5, id="float"),
        pytest.param(True, id="bool"),
        pytest.param("one and a half", id="words"),
        pytest.param("nan", id="nan"),
        pytest.param(None, id="none"),
    ],
)
def test_inexact_ratios_refused(value):
    with pytest.raises(InvalidRuleInput):
        as_ratio(value)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"version": ""}, id="no-version"),
        pytest.param({"dibao_standard_monthly_fen": 0}, id="zero-standard"),
        pytest.param({"dibao_standard_monthly_fen": 850.0}, id="float-standard"),
        pytest.param({"edge_ratio": 1.5}, id="float-edge-ratio"),
        pytest.param({"edge_ratio": "0.9"}, id="edge-line-below-standard"),
        pytest.param({"tekun_care_monthly_fen": {"full": 1, "partial": 2}}, id="care-level-missing"),
        pytest.param({"increments": {"aged_90_plus": "0.1"}}, id="unknown-increment-category"),
        pytest.param({"increments": {"minor": "-0.1"}}, id="negative-increment"),
        pytest.param({"temporary_grades": {"A": 1}}, id="grade-below-2x"),
        pytest.param({"temporary_grades": {"E": 12}}, id="grade-above-10x"),
        pytest.param({"temporary_grades": {}}, id="no-grades"),
        pytest.param({"temporary_cap_multiplier_min": 11}, id="min-above-max"),
        pytest.param({"township_direct_threshold_fen": -1}, id="negative-threshold"),
        pytest.param({"decision_working_days": 0}, id="zero-working-days"),
        pytest.param({"approval_level": "city"}, id="unknown-approval-level"),
        pytest.param({"asset_limits": {"deposits": -5}}, id="negative-asset-limit"),
    ],
)
def test_invalid_policy_refused(changes):
    with pytest.raises(InvalidRuleInput) as caught:
        replace(POLICY, **changes)
    assert caught.value.reason


def test_policy_is_immutable_and_detached_from_its_inputs():
    grades = {"A": 2, "B": 4}
    policy = replace(POLICY, temporary_grades=grades)
    grades["A"] = 10
    assert policy.temporary_grades["A"] == 2
    with pytest.raises(TypeError):
        policy.temporary_grades["A"] = 10
    with pytest.raises(FrozenInstanceError):
        policy.dibao_standard_monthly_fen = 1


# --- household income ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "members, per_capita, exact, total",
    [
        pytest.param([Member(rid(), 50000)], 50000, Fraction(50000), 50000, id="one-member"),
        pytest.param([Member(rid(), 60000), Member(rid(), 0)], 30000, Fraction(30000), 60000, id="two-members"),
        pytest.param(
            [Member(rid(), 60000, 20000), Member(rid(), 0)],
            20000,
            Fraction(20000),
            40000,
            id="employment-cost-deducted",
        ),
        pytest.param(
            [Member(rid(), 30000, 50000), Member(rid(), 40000)],
            20000,
            Fraction(20000),
            40000,
            id="cost-above-income-floors-member-at-zero",
        ),
        pytest.param([Member(rid(), 30000, 30000)], 0, Fraction(0), 0, id="cost-equal-to-income"),
        pytest.param([Member(rid(), 1), Member(rid(), 0)], 1, Fraction(1, 2), 1, id="half-fen-shown-half-up"),
        pytest.param(
            [Member(rid(), 100), Member(rid(), 0, single_person_listing=True, seriously_ill=True)],
            50,
            Fraction(50),
            100,
            id="counts-every-member-given",
        ),
    ],
)
def test_household_income(members, per_capita, exact, total):
    income = household_income(members, POLICY)
    assert (income.per_capita_fen, income.per_capita_exact, income.total_net_fen) == (per_capita, exact, total)
    assert income.members_counted == len(members)
    assert income.version == POLICY.version


def test_income_reasons_name_the_figures_and_mask_the_ids():
    first = Member(rid(), 100000, 20000)
    income = household_income([first, Member(rid(), 0)], POLICY)
    text = joined(income.reasons)
    assert "1000.00 yuan" in text and "200.00 yuan" in text and "就业成本" in text
    assert "400.00 yuan" in text  # (1000 − 200 + 0) / 2
    assert str(first.resident_id) in text
    assert first.resident_id.number not in text


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([], id="empty"),
        pytest.param([Member(rid(), -1)], id="negative-income"),
        pytest.param([Member(rid(), 100, -1)], id="negative-cost"),
        pytest.param([Member(rid(), 100.5)], id="float-income"),
        pytest.param([Member(rid(), 100)] * 2, id="same-person-twice"),
    ],
)
def test_invalid_household_refused(members):
    with pytest.raises(InvalidRuleInput):
        household_income(members, POLICY)


# --- 单人户 ------------------------------------------------------------------------------------------

PLAIN = {}
ILL_ALONE = {"seriously_ill": True, "single_person_listing": True}
DISABLED_ALONE = {"severely_disabled": True, "single_person_listing": True}


@pytest.mark.parametrize(
    "flags, expected",
    [
        pytest.param([PLAIN, PLAIN, PLAIN], [[0, 1, 2]], id="no-listing-one-unit"),
        pytest.param([PLAIN, {"seriously_ill": True}], [[0, 1]], id="ill-but-not-listed"),
        pytest.param([PLAIN, PLAIN, ILL_ALONE], [[0, 1], [2]], id="ill-member-listed-alone"),
        pytest.param([ILL_ALONE, PLAIN, DISABLED_ALONE], [[1], [0], [2]], id="household-first-then-listed"),
        pytest.param([DISABLED_ALONE], [[0]], id="only-a-listed-member"),
    ],
)
def test_split_single_person_households(flags, expected):
    members = [member(**f) for f in flags]
    units = split_single_person_households(members)
    assert [[members.index(m) for m in unit] for unit in units] == expected


def test_same_person_twice_refused():
    twin = member()
    with pytest.raises(InvalidRuleInput) as caught:
        split_single_person_households([twin, member(), twin])
    assert "member 3" in caught.value.reason
    with pytest.raises(InvalidRuleInput):
        dibao_benefit([twin, twin], ON, POLICY)


def test_single_person_listing_needs_illness_or_disability():
    with pytest.raises(InvalidRuleInput) as caught:
        split_single_person_households([member(), member(single_person_listing=True, pregnant=True)])
    assert "单人户" in caught.value.reason


# --- 低保 -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "incomes, eligible, monthly",
    [
        pytest.param([85000], False, 0, id="exactly-at-standard-not-eligible"),
        pytest.param([84999], True, 1, id="one-fen-below-standard"),
        pytest.param([85001], False, 0, id="one-fen-above-standard"),
        pytest.param([0], True, 85000, id="no-income-full-standard"),
        pytest.param([169999, 0], True, 1, id="per-capita-half-fen-below-exact-gap"),
        pytest.param([170000, 0], False, 0, id="two-members-at-standard"),
        pytest.param([60000, 20000, 0], True, 175000, id="three-members-gap-times-members"),
    ],
)
def test_dibao_boundaries(incomes, eligible, monthly):
    benefit = dibao_benefit([member(i) for i in incomes], ON, POLICY)
    assert (benefit.eligible, benefit.monthly_fen) == (eligible, monthly)
    assert benefit.version == POLICY.version


# ON is 2026-03-02: someone born 1946-03-02 turns 80 today; born 2008-03-02 turns 18 today.
@pytest.mark.parametrize(
    "priority, increment",
    [
        pytest.param(member(birth=date(1946, 3, 2)), 8500, id="80th-birthday-today"),
        pytest.param(member(birth=date(1946, 3, 3)), 0, id="80th-birthday-tomorrow"),
        pytest.param(member(birth=date(1930, 1, 1)), 8500, id="aged-96"),
        pytest.param(member(birth=date(2008, 3, 3)), 8500, id="minor-turns-18-tomorrow"),
        pytest.param(member(birth=date(2008, 3, 2)), 0, id="turns-18-today-no-longer-minor"),
        pytest.param(member(birth=date(2026, 1, 1)), 8500, id="infant"),
        pytest.param(member(seriously_ill=True), 17000, id="seriously-ill"),
        pytest.param(member(severely_disabled=True), 17000, id="severely-disabled"),
        pytest.param(member(pregnant=True), 8500, id="pregnant"),
        pytest.param(
            member(birth=date(2010, 1, 1), severely_disabled=True), 17000, id="minor-and-disabled-highest-only"
        ),
        pytest.param(
            member(birth=date(1940, 1, 1), seriously_ill=True, severely_disabled=True),
            17000,
            id="three-groups-highest-only",
        ),
    ],
)
def test_dibao_increments(priority, increment):
    benefit = dibao_benefit([member(), priority], ON, POLICY)
    assert benefit.units[0].gap_fen == 170000
    assert benefit.units[0].increments_fen == increment
    assert benefit.monthly_fen == 170000 + increment


def test_stacked_increments_when_the_policy_says_so():
    policy = replace(POLICY, stack_increments=True)
    benefit = dibao_benefit([member(birth=date(2010, 1, 1), severely_disabled=True)], ON, policy)
    assert benefit.monthly_fen == 85000 + 8500 + 17000


def test_no_increment_when_the_household_is_not_eligible():
    benefit = dibao_benefit([member(85000, birth=date(1930, 1, 1), seriously_ill=True)], ON, POLICY)
    assert (benefit.eligible, benefit.monthly_fen, benefit.units[0].increments_fen) == (False, 0, 0)


def test_increment_rounds_half_up_to_the_fen():
    policy = replace(POLICY, dibao_standard_monthly_fen=85005)  # 10% = 8500.5 fen
    benefit = dibao_benefit([member(birth=date(1930, 1, 1))], ON, policy)
    assert benefit.monthly_fen == 85005 + 8501


def test_increment_ages_are_policy():
    policy = replace(POLICY, aged_from_age=70)
    assert dibao_benefit([member(birth=date(1950, 1, 1))], ON, policy).monthly_fen == 85000 + 8500
    assert dibao_benefit([member(birth=date(1950, 1, 1))], ON, POLICY).monthly_fen == 85000


@pytest.mark.parametrize(
    "members, monthly",
    [
        pytest.param([member(100000, employment_cost_fen=20000), member(0)], 90000, id="cost-deducted"),
        pytest.param(
            [member(30000, employment_cost_fen=50000), member(40000)], 130000, id="cost-above-income-not-negative"
        ),
    ],
)
def test_dibao_with_employment_costs(members, monthly):
    assert dibao_benefit(members, ON, POLICY).monthly_fen == monthly


def test_single_person_listing_gets_dibao_alone_when_the_household_does_not():
    earner, ill = member(200000), member(0, **ILL_ALONE)
    assert dibao_benefit([earner, member(0, seriously_ill=True)], ON, POLICY).eligible is False
    benefit = dibao_benefit([earner, ill], ON, POLICY)
    household, alone = benefit.units
    assert (household.eligible, household.monthly_fen) == (False, 0)
    assert (alone.single_person_listing, alone.eligible, alone.gap_fen, alone.increments_fen) == (
        True,
        True,
        85000,
        17000,
    )
    assert (benefit.eligible, benefit.monthly_fen) == (True, 102000)
    text = joined(benefit.reasons)
    assert "单人户" in text
    assert f"member 2 ({ill.resident_id}): income 0.00 yuan" in text  # numbered as in the household


def test_single_person_listing_with_an_eligible_household():
    benefit = dibao_benefit([member(0), member(10000, **DISABLED_ALONE)], ON, POLICY)
    assert [u.monthly_fen for u in benefit.units] == [85000, 75000 + 17000]
    assert benefit.monthly_fen == 177000


def test_dibao_reasons_name_standard_gap_increment_and_version():
    benefit = dibao_benefit([member(50000), member(0, birth=date(1940, 1, 1))], ON, POLICY)
    text = joined(benefit.reasons)
    for figure in (
        "850.00 yuan",
        "250.00 yuan",
        "1200.00 yuan",
        "85.00 yuan",
        "aged_80_plus",
        "1285.00 yuan",
        POLICY.version,
    ):
        assert figure in text


# --- 低保边缘 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "incomes, eligible",
    [
        pytest.param([127500], True, id="exactly-1.5x-eligible"),
        pytest.param([127501], False, id="one-fen-above-1.5x"),
        pytest.param([85000], True, id="at-standard-not-dibao-so-edge"),
        pytest.param([84999], False, id="one-fen-below-standard-is-dibao-not-edge"),
        pytest.param([100000], True, id="between"),
        pytest.param([255000, 0], True, id="two-members-exactly-1.5x"),
        pytest.param([255001, 0], False, id="two-members-half-fen-above-exact"),
    ],
)
def test_dibao_edge(incomes, eligible):
    result = dibao_edge_eligible([member(i) for i in incomes], POLICY)
    assert result.eligible is eligible
    assert result.line_fen == 127500


@pytest.mark.parametrize("ratio", [pytest.param(1500, id="per-mille"), pytest.param(Fraction(3, 2), id="fraction")])
def test_edge_line_same_for_every_ratio_form(ratio):
    policy = replace(POLICY, edge_ratio=ratio)
    assert dibao_edge_eligible([member(127500)], policy).eligible is True
    assert dibao_edge_eligible([member(127501)], policy).eligible is False


def test_edge_counts_single_person_members_with_the_household():
    result = dibao_edge_eligible([member(200000), member(0, **ILL_ALONE)], POLICY)
    assert (result.eligible, result.per_capita_fen) == (True, 100000)
    assert "1275.00 yuan" in joined(result.reasons)


# --- assets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "held, members, within",
    [
        pytest.param(10000000, 2, True, id="exactly-at-limit-times-members"),
        pytest.param(10000001, 2, False, id="one-fen-above"),
        pytest.param(5000001, 1, False, id="single-member-above"),
    ],
)
def test_assets_within_limits(held, members, within):
    ok, reasons = assets_within_limits({"deposits": held}, members, POLICY)
    assert ok is within
    assert POLICY.version in joined(reasons)


def test_asset_kind_without_a_limit_refused():
    with pytest.raises(InvalidRuleInput):
        assets_within_limits({"vehicles": 1}, 1, POLICY)


# --- 特困 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "standard, ratio, self_care, basic, care",
    [
        pytest.param(85000, "1.3", "full", 110500, 20000, id="shaoxing-2020-full-self-care"),
        pytest.param(85000, "1.3", "partial", 110500, 60000, id="partial-self-care"),
        pytest.param(85000, "1.3", "none", 110500, 120000, id="no-self-care"),
        pytest.param(85000, 1300, "full", 110500, 20000, id="ratio-per-mille"),
        pytest.param(108333, "1.3", "full", 140833, 20000, id="shaoxing-2025-rounded-up-from-.9"),
        pytest.param(108334, "1.3", "full", 140835, 20000, id="rounded-up-from-.2-not-half-up"),
    ],
)
def test_tekun_benefit(standard, ratio, self_care, basic, care):
    policy = replace(POLICY, dibao_standard_monthly_fen=standard, tekun_basic_ratio=ratio)
    benefit = tekun_benefit(self_care, policy)
    assert (benefit.basic_fen, benefit.care_fen, benefit.monthly_fen) == (basic, care, basic + care)
    assert benefit.basic_fen >= Fraction("1.3") * standard
    assert policy.version in joined(benefit.reasons)


def test_tekun_unknown_self_care_refused():
    with pytest.raises(InvalidRuleInput):
        tekun_benefit("mostly", POLICY)


# --- 临时救助 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "grade, requested, urgent, amount, cap, decided_by",
    [
        pytest.param("A", 100000, False, 100000, 170000, "district", id="grade-A-within-2x"),
        pytest.param("A", 170000, False, 170000, 170000, "district", id="exactly-at-2x-cap"),
        pytest.param("A", 170001, False, 170000, 170000, "district", id="one-fen-above-2x-capped"),
        pytest.param("B", 400000, False, 340000, 340000, "district", id="grade-B-4x"),
        pytest.param("C", 600000, False, 510000, 510000, "district", id="grade-C-6x"),
        pytest.param("D", 700000, False, 680000, 680000, "district", id="grade-D-8x"),
        pytest.param("E", 10000000, False, 850000, 850000, "district", id="far-above-capped-at-10x"),
        pytest.param("E", 200000, True, 200000, 850000, "district", id="urgent-exactly-2000-yuan-district"),
        pytest.param("E", 199999, True, 199999, 850000, "township", id="urgent-1999.99-yuan-township"),
        pytest.param("A", 300000, True, 170000, 170000, "township", id="urgent-capped-below-2000-township"),
        pytest.param("E", 199999, False, 199999, 850000, "district", id="not-urgent-small-district"),
    ],
)
def test_temporary_assistance(grade, requested, urgent, amount, cap, decided_by):
    result = temporary_assistance(grade, requested, urgent, POLICY)
    assert (result.amount_fen, result.cap_fen, result.decided_by) == (amount, cap, decided_by)
    assert result.capped is (requested > cap)
    assert POLICY.version in joined(result.reasons)


def test_temporary_caps_span_2x_to_10x():
    caps = [temporary_assistance(g, 10**9, False, POLICY).cap_fen for g in sorted(POLICY.temporary_grades)]
    assert caps == [170000, 340000, 510000, 680000, 850000]


def test_fractional_grade_cap_rounds_half_up():
    policy = replace(POLICY, dibao_standard_monthly_fen=85001, temporary_grades={"A2.5": "2.5"})
    assert temporary_assistance("A2.5", 10**9, False, policy).cap_fen == 212503  # 212502.5


@pytest.mark.parametrize(
    "grade, requested",
    [
        pytest.param("F", 1000, id="unknown-grade"),
        pytest.param("A", 0, id="nothing-requested"),
        pytest.param("A", -100, id="negative"),
        pytest.param("A", 1000.0, id="float"),
    ],
)
def test_temporary_assistance_invalid(grade, requested):
    with pytest.raises(InvalidRuleInput):
        temporary_assistance(grade, requested, True, POLICY)


# --- 渐退期 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "starts, months, ends",
    [
        pytest.param(date(2026, 3, 1), 12, date(2027, 2, 28), id="one-year-jiaxing"),
        pytest.param(date(2026, 1, 15), 1, date(2026, 2, 14), id="one-month-mid-month"),
        pytest.param(date(2026, 1, 31), 1, date(2026, 2, 28), id="from-31st-ends-end-of-february"),
        pytest.param(date(2026, 12, 1), 1, date(2026, 12, 31), id="december"),
        pytest.param(date(2027, 3, 1), 12, date(2028, 2, 29), id="ends-on-leap-day"),
    ],
)
def test_gradual_exit_period(starts, months, ends):
    exit_ = gradual_exit(95000, True, starts, replace(POLICY, gradual_exit_months=months))
    assert (exit_.applies, exit_.monthly_fen, exit_.starts, exit_.ends) == (True, 95000, starts, ends)
    assert exit_.is_in_gradual_exit(starts) and exit_.is_in_gradual_exit(ends)
    assert not exit_.is_in_gradual_exit(starts - DAY)
    assert not exit_.is_in_gradual_exit(ends + DAY)


@pytest.mark.parametrize(
    "above, months",
    [
        pytest.param(False, 12, id="not-leaving-for-income"),
        pytest.param(True, 0, id="policy-without-gradual-exit"),
    ],
)
def test_no_gradual_exit(above, months):
    exit_ = gradual_exit(95000, above, date(2026, 3, 1), replace(POLICY, gradual_exit_months=months))
    assert (exit_.applies, exit_.monthly_fen) == (False, 0)
    assert not exit_.is_in_gradual_exit(date(2026, 3, 1))


def test_gradual_exit_reasons_and_validation():
    exit_ = gradual_exit(95000, True, date(2026, 3, 1), POLICY)
    assert "950.00 yuan" in joined(exit_.reasons) and "2027-02-28" in joined(exit_.reasons)
    with pytest.raises(InvalidRuleInput):
        gradual_exit(-1, True, date(2026, 3, 1), POLICY)


# --- 20 working days -------------------------------------------------------------------------------

NATIONAL_DAY = frozenset(date(2026, 10, d) for d in range(1, 8))  # test data: Thu 10-01 .. Wed 10-07
MAKEUP = frozenset({date(2026, 10, 10)})  # a make-up working Saturday
NONE = frozenset()


@pytest.mark.parametrize(
    "accepted, days, holidays, makeups, due",
    [
        pytest.param(date(2026, 3, 5), 1, NONE, NONE, date(2026, 3, 6), id="acceptance-day-not-counted"),
        pytest.param(date(2026, 3, 6), 1, NONE, NONE, date(2026, 3, 9), id="friday-plus-one-skips-weekend"),
        pytest.param(date(2026, 3, 7), 1, NONE, NONE, date(2026, 3, 9), id="accepted-on-saturday"),
        pytest.param(date(2026, 3, 2), 5, NONE, NONE, date(2026, 3, 9), id="five-days-across-a-weekend"),
        pytest.param(date(2026, 3, 2), 20, NONE, NONE, date(2026, 3, 30), id="twenty-days-is-four-weeks"),
        pytest.param(date(2026, 9, 30), 1, NATIONAL_DAY, MAKEUP, date(2026, 10, 8), id="national-day-skipped"),
        pytest.param(date(2026, 9, 30), 3, NATIONAL_DAY, MAKEUP, date(2026, 10, 10), id="makeup-saturday-counts"),
        pytest.param(date(2026, 9, 30), 3, NATIONAL_DAY, NONE, date(2026, 10, 12), id="without-makeup-monday"),
        pytest.param(date(2026, 9, 30), 20, NATIONAL_DAY, MAKEUP, date(2026, 11, 3), id="twenty-over-national-day"),
        pytest.param(date(2026, 9, 30), 20, NATIONAL_DAY, NONE, date(2026, 11, 4), id="twenty-without-makeup"),
        pytest.param(date(2026, 9, 29), 20, NATIONAL_DAY, MAKEUP, date(2026, 11, 2), id="accepted-before-holiday"),
        pytest.param(date(2026, 10, 3), 1, NATIONAL_DAY, MAKEUP, date(2026, 10, 8), id="accepted-during-holiday"),
    ],
)
def test_decision_due(accepted, days, holidays, makeups, due):
    assert decision_due(accepted, days, holidays, makeups) == due


@pytest.mark.parametrize(
    "days, holidays, makeups",
    [
        pytest.param(0, NONE, NONE, id="zero-days"),
        pytest.param(20, frozenset({date(2026, 10, 10)}), MAKEUP, id="holiday-and-makeup-same-day"),
        pytest.param(20, NONE, frozenset({date(2026, 10, 9)}), id="makeup-on-a-friday"),
    ],
)
def test_decision_due_invalid(days, holidays, makeups):
    with pytest.raises(InvalidRuleInput):
        decision_due(date(2026, 9, 30), days, holidays, makeups)


def test_notice_ends_counted_from_the_next_day():
    assert notice_ends(date(2026, 3, 1), 7) == date(2026, 3, 8)


# --- the application -------------------------------------------------------------------------------

NOTICE_END = date(2026, 3, 20)
DECIDE = {
    "on": NOTICE_END + DAY,
    "notice_ends_on": NOTICE_END,
    "acting_level": "district",
    "approval_level": "district",
}


def kwargs_for(state: str, action: str) -> dict:
    if action in ("approve", "reject"):
        return dict(DECIDE) if state == "in_notice" else {k: DECIDE[k] for k in ("acting_level", "approval_level")}
    if action == "objection":
        return {"on": NOTICE_END, "notice_ends_on": NOTICE_END}
    return {}


@pytest.mark.parametrize(
    "state, action, expected", [pytest.param(s, a, new, id=f"{s}-{a}") for (s, a), new in TRANSITIONS.items()]
)
def test_legal_transitions(state, action, expected):
    assert transition(state, action, **kwargs_for(state, action)) == expected


@pytest.mark.parametrize(
    "state, action", [pytest.param(s, a, id=f"{s}-{a}") for s in STATES for a in ACTIONS if (s, a) not in TRANSITIONS]
)
def test_illegal_transitions(state, action):
    with pytest.raises(RuleRefused) as caught:
        transition(state, action, **kwargs_for(state, action))
    assert state.replace("_", " ") in caught.value.reason


def test_happy_path_with_an_objection():
    state = "submitted"
    for action in (
        "accept",
        "attach_check",
        "publish_notice",
        "objection",
        "attach_check",
        "publish_notice",
        "approve",
    ):
        state = transition(state, action, **kwargs_for(state, action))
    assert state == "approved"


@pytest.mark.parametrize("state", [pytest.param(s, id=s) for s in OPEN_STATES])
def test_withdraw_from_every_open_state(state):
    assert transition(state, "withdraw") == "withdrawn"


@pytest.mark.parametrize(
    "action, kwargs, message",
    [
        pytest.param("approve", {**DECIDE, "on": NOTICE_END}, "runs until", id="approve-on-last-notice-day"),
        pytest.param("reject", {**DECIDE, "on": NOTICE_END - DAY}, "runs until", id="reject-during-notice"),
        pytest.param(
            "objection", {"on": NOTICE_END + DAY, "notice_ends_on": NOTICE_END}, "ended", id="objection-after-notice"
        ),
        pytest.param(
            "approve", {**DECIDE, "acting_level": "township"}, "not delegated", id="township-approves-undelegated"
        ),
        pytest.param(
            "approve",
            {**DECIDE, "approval_level": "township"},
            "is delegated",
            id="district-approves-when-delegated-to-township",
        ),
        pytest.param(
            "reject", {**DECIDE, "acting_level": "township"}, "not delegated", id="township-rejects-undelegated"
        ),
    ],
)
def test_guarded_transitions_in_notice(action, kwargs, message):
    with pytest.raises(RuleRefused) as caught:
        transition("in_notice", action, **kwargs)
    assert message in caught.value.reason


def test_township_approves_where_delegated():
    delegated = {**DECIDE, "acting_level": "township", "approval_level": "township"}
    assert transition("in_notice", "approve", **delegated) == "approved"
    assert transition("checked", "reject", acting_level="township", approval_level="township") == "rejected"
    with pytest.raises(RuleRefused):
        transition("checked", "reject", acting_level="township", approval_level="district")


@pytest.mark.parametrize(
    "state, action, kwargs",
    [
        pytest.param("limbo", "accept", {}, id="unknown-state"),
        pytest.param("submitted", "pay", {}, id="unknown-action"),
        pytest.param(
            "in_notice", "approve", {"on": NOTICE_END + DAY, "notice_ends_on": NOTICE_END}, id="decision-without-levels"
        ),
        pytest.param(
            "in_notice",
            "approve",
            {"acting_level": "district", "approval_level": "district"},
            id="decision-without-dates",
        ),
        pytest.param("in_notice", "objection", {}, id="objection-without-dates"),
    ],
)
def test_transition_programming_errors(state, action, kwargs):
    with pytest.raises(InvalidRuleInput):
        transition(state, action, **kwargs)


def test_transition_table_is_read_only_and_never_activates():
    with pytest.raises(TypeError):
        TRANSITIONS[("approved", "activate")] = "active"
    assert "active" not in TRANSITIONS.values()
    assert set(TRANSITIONS.values()) <= set(STATES)


# --- purity ----------------------------------------------------------------------------------------


def test_rules_import_only_the_standard_library_and_the_contracts():
    imported = set()
    for module in Path(rules.__file__).parent.glob("*.py"):  # the package's modules, each
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0:  # not its own siblings
                imported.add(node.module)
    assert imported <= {
        "__future__",
        "calendar",
        "collections.abc",
        "dataclasses",
        "datetime",
        "decimal",
        "fractions",
        "itertools",
        "types",
        "typing",
        "contracts.person",
        "contracts.assistance",
        "contracts.refusals",
    }, imported


# --- re-checks (复核) ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "on, months, expected",
    [
        (date(2026, 5, 14), 12, date(2027, 5, 14)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no 31 February: the month's last day
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # a leap year
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
    ],
)
def test_next_review_is_the_interval_later(on, months, expected):
    assert rules.next_review(on, {"dibao": months}, "dibao") == expected


def test_a_programme_without_an_interval_has_no_review():
    assert rules.next_review(date(2026, 5, 14), {"dibao": 12}, "temporary") is None


@pytest.mark.parametrize("bad", [0, -1, 1.5, "12", True])
def test_a_bad_interval_is_refused(bad):
    with pytest.raises(InvalidRuleInput, match="whole number of months"):
        rules.next_review(date(2026, 5, 14), {"dibao": bad}, "dibao")


# --- after a death (身后一件事) -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "died, first",
    [
        (date(2026, 5, 20), date(2026, 6, 1)),
        (date(2026, 5, 1), date(2026, 6, 1)),
        (date(2026, 12, 31), date(2027, 1, 1)),
        (date(2028, 2, 29), date(2028, 3, 1)),
    ],
)
def test_first_month_after_the_death(died, first):
    assert rules.first_month_after(died) == first


MAY, JUNE, JULY, AUGUST = date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)


@pytest.mark.parametrize(
    "died, paid, due_after, months, amount",
    [
        # the benefit ended with the death: every month after it was paid too much, the month of death not
        (date(2026, 5, 20), {MAY: 80000, JUNE: 80000, JULY: 80000}, 0, (JUNE, JULY), 160000),
        # the survivors are still due the recomputed amount: only the difference was paid too much
        (date(2026, 5, 20), {MAY: 180000, JUNE: 180000}, 110000, (JUNE,), 70000),
        # nothing paid after the month of death
        (date(2026, 5, 20), {MAY: 80000}, 0, (), 0),
        # already paid at the new amount (the cycle froze after the recompute)
        (date(2026, 5, 20), {JUNE: 110000}, 110000, (), 0),
        # died on the last day of a month: the next is already after
        (date(2026, 5, 31), {JUNE: 50000}, 0, (JUNE,), 50000),
    ],
)
def test_overpaid_after_death(died, paid, due_after, months, amount):
    assert rules.overpaid_after_death(died, paid, due_after) == rules.Overpaid(months, amount)


def test_overpaid_refuses_a_negative_due():
    with pytest.raises(InvalidRuleInput):
        rules.overpaid_after_death(date(2026, 5, 20), {}, -1)
    with pytest.raises(InvalidRuleInput):
        rules.overpaid_after_death(date(2026, 5, 20), {JUNE: 100}, 0, {JUNE: -1})


@pytest.mark.parametrize(
    "paid, due_after, due_before, months, amount",
    [
        # another death left July due at 1300 yuan: July counts only that, June (before it) all it paid
        ({JUNE: 180000, JULY: 180000}, 70000, {JULY: 130000}, (JUNE, JULY), 110000 + 60000),
        # the other death left no more due than this one does: nothing of the month is this death's
        ({JUNE: 180000}, 70000, {JUNE: 70000}, (), 0),
        ({JUNE: 180000}, 70000, {JUNE: 50000}, (), 0),
        # the other death left more due than was paid (the survivors are due more): what was paid counts
        ({JUNE: 100000}, 70000, {JUNE: 150000}, (JUNE,), 30000),
        # a month before this death is none of its business, whatever another left due
        ({MAY: 180000, JUNE: 180000}, 0, {MAY: 0, JUNE: 130000}, (JUNE,), 130000),
    ],
)
def test_overpaid_counts_a_month_only_up_to_what_it_was_still_due(paid, due_after, due_before, months, amount):
    assert rules.overpaid_after_death(date(2026, 5, 20), paid, due_after, due_before) == rules.Overpaid(months, amount)


P3, P2, P1 = 180000, 130000, 70000  # a household of three, two, one (低保, the same standard)
F = rules.FoundAfterDeath


@pytest.mark.parametrize(
    "deaths, expected",
    [
        # two of three die in June, July paid for three before either was notified: the first death asks
        # back P3 - P2, the second P2 - P1 (not P3 - P1 again): P3 - P1 in all
        (
            [F(date(2026, 6, 10), P2, {JULY: P3}), F(date(2026, 6, 20), P1, {JULY: P3})],
            [((JULY,), P3 - P2), ((JULY,), P2 - P1)],
        ),
        # one of them stands alone (the other revoked): it asks back all of it
        ([F(date(2026, 6, 20), P1, {JULY: P3})], [((JULY,), P3 - P1)]),
        # the second to be recorded left more due than the first (its due was counted with the first
        # gone already): the first asks back all, the second nothing; still P3 - P1 in all
        ([F(date(2026, 6, 20), P1, {JULY: P3}), F(date(2026, 6, 10), P2, {JULY: P3})], [((JULY,), P3 - P1), ((), 0)]),
        # the first died in May: June is its own (P3 - P2); July both share
        (
            [F(date(2026, 5, 20), P2, {JUNE: P3, JULY: P3}), F(date(2026, 6, 20), P1, {JULY: P3})],
            [((JUNE, JULY), 2 * (P3 - P2)), ((JULY,), P2 - P1)],
        ),
        # the second death ended the benefit: it asks back all the first left due
        (
            [F(date(2026, 6, 10), P2, {JULY: P3}), F(date(2026, 6, 20), 0, {JULY: P3})],
            [((JULY,), P3 - P2), ((JULY,), P2)],
        ),
        # the bank did not pay July's payment the first found (failed); the second found July paid again
        # as arrears at what the first left due: only the second's share was overpaid
        (
            [F(date(2026, 6, 10), P2, {}, frozenset({JULY})), F(date(2026, 6, 20), P1, {JULY: P2})],
            [((), 0), ((JULY,), P2 - P1)],
        ),
        # August, frozen after the first death at the amount it left, was found by the second alone
        (
            [F(date(2026, 6, 10), P2, {JULY: P3}), F(date(2026, 6, 20), P1, {JULY: P3, AUGUST: P2})],
            [((JULY,), P3 - P2), ((JULY, AUGUST), 2 * (P2 - P1))],
        ),
        # June is the month of the second death, due in full for it: only the first asks June back
        ([F(date(2026, 5, 20), P2, {JUNE: P3}), F(date(2026, 6, 20), P1, {JUNE: P3})], [((JUNE,), P3 - P2), ((), 0)]),
    ],
)
def test_overpaid_after_deaths_of_one_household(deaths, expected):
    assert rules.overpaid_after_deaths(deaths) == tuple(rules.Overpaid(m, a) for m, a in expected)


@pytest.mark.parametrize(
    "deaths, expected",
    [
        # handled out of date order: the wife (10 June) first, the head (20 May) second. June was due
        # for the wife and the son (her month paid in full: P2W), July for the son: June is the
        # head's P3 - P2W, July shared, P3 - P1 in all
        (
            [
                F(date(2026, 6, 10), P2, {JULY: P3}),
                F(date(2026, 5, 20), P1, {JUNE: P3, JULY: P3}, due_after_by_month={JUNE: 140000}),
            ],
            [((JULY,), P3 - P2), ((JUNE, JULY), (P3 - 140000) + (P2 - P1))],
        ),
        # a month due more than was paid owes nothing for it
        ([F(date(2026, 5, 20), P1, {JUNE: P2, JULY: P3}, due_after_by_month={JUNE: P3})], [((JULY,), P3 - P1)]),
    ],
)
def test_a_month_is_due_for_whoever_was_in_the_household_then(deaths, expected):
    assert rules.overpaid_after_deaths(deaths) == tuple(rules.Overpaid(m, a) for m, a in expected)


@pytest.mark.parametrize(
    "joined, left, month, counted",
    [
        (date(2020, 1, 1), None, JUNE, True),
        (date(2020, 1, 1), date(2026, 6, 10), JUNE, True),  # died in June: June is paid in full
        (date(2020, 1, 1), date(2026, 6, 1), JUNE, True),  # gone on its first day: still in it
        (date(2020, 1, 1), date(2026, 5, 31), JUNE, False),
        (date(2026, 6, 30), None, JUNE, True),  # born on its last day
        (date(2026, 7, 1), None, JUNE, False),  # born after it
    ],
)
def test_who_counts_for_a_month(joined, left, month, counted):
    assert rules.in_household_for_month(joined, left, month) is counted


@pytest.mark.parametrize("dues", [(P2, P1, 0), (P1, P2, 30000), (P2, P2, P2), (200000, P1, P2)])
def test_overpaid_after_deaths_asks_back_each_fen_once_in_any_order(dues):
    """Whatever order the deaths are counted in, a month's overpayments come to what was paid
    beyond the lowest amount any of them left due (each month is counted on its own)."""
    paid = {JUNE: P3, JULY: P3, AUGUST: P2}
    for order in itertools.permutations(dues):
        whole = rules.overpaid_after_deaths([F(date(2026, 5, 31), due, paid) for due in order])
        assert sum(o.amount_fen for o in whole) == sum(max(0, fen - min(dues)) for fen in paid.values()), order
        for month, fen in paid.items():
            alone = rules.overpaid_after_deaths([F(date(2026, 5, 31), due, {month: fen}) for due in order])
            assert sum(o.amount_fen for o in alone) == max(0, fen - min(dues)), (order, month)


@pytest.mark.parametrize(
    "cycles, paid, owed, expected",
    [
        # June paid in full before the notice, July at the survivor's amount: July's difference is owed
        ([MAY, JUNE, JULY], {MAY: 180000, JUNE: 180000, JULY: 110000}, 180000, [(JULY, 180000, 110000)]),
        # the benefit ended: July's cycle paid nothing, all of it is owed
        ([MAY, JUNE, JULY], {MAY: 80000, JUNE: 80000}, 80000, [(JULY, 80000, 0)]),
        # no cycle ran while it was stopped: nothing owed
        ([MAY, JUNE], {MAY: 80000, JUNE: 80000}, 80000, []),
    ],
)
def test_back_pay_after_revocation(cycles, paid, owed, expected):
    months = rules.back_pay_after_revocation(date(2026, 5, 20), cycles, paid, owed)
    assert [(m.month, m.owed_fen, m.paid_fen) for m in months] == expected
    assert sum(m.back_fen for m in months) == sum(o - p for _, o, p in expected)


@pytest.mark.parametrize(
    "paid_until, expected",
    [
        (None, [(JULY, 80000, 0), (AUGUST, 80000, 0)]),
        # it would have ended (or its 渐退 run out) in July anyway: August is not owed
        (date(2026, 7, 31), [(JULY, 80000, 0)]),
        (date(2026, 7, 1), [(JULY, 80000, 0)]),  # a month active for any part is paid in full
        (date(2026, 6, 30), []),
    ],
)
def test_back_pay_stops_where_the_benefit_would_have_ended(paid_until, expected):
    months = rules.back_pay_after_revocation(
        date(2026, 5, 20), [JUNE, JULY, AUGUST], {JUNE: 80000}, 80000, paid_until=paid_until
    )
    assert [(m.month, m.owed_fen, m.paid_fen) for m in months] == expected


def test_back_pay_owes_another_amount_for_the_months_another_death_reaches():
    months = rules.back_pay_after_revocation(
        date(2026, 5, 20), [JUNE, JULY, AUGUST], {JUNE: P2, JULY: P1}, P3, owed_by_month={JULY: P2, AUGUST: P2}
    )
    assert [(m.month, m.owed_fen, m.paid_fen) for m in months] == [(JUNE, P3, P2), (JULY, P2, P1), (AUGUST, P2, 0)]


D = rules.OtherDeath
SEPTEMBER = date(2026, 9, 1)


@pytest.mark.parametrize(
    "others, by_month, from_now_on",
    [
        # alone in its household: the amount before the death, every month and from now on
        ([], {JUNE: None, JULY: None}, None),
        # the other death was revoked before this one was recorded: nothing changes either
        ([D(2, date(2026, 5, 25), stands=False, counted_before=False)], {JUNE: None, JULY: None}, None),
        # A (revoked, recorded first, died 20 May) and B (died 10 June, recorded later, stands):
        # June at A's amount before (three alive), July on without B
        (
            [D(2, date(2026, 6, 10), stands=True, counted_before=False)],
            {JUNE: None, JULY: frozenset({2}), AUGUST: frozenset({2})},
            frozenset({2}),
        ),
        # B revoked, A recorded before it stands and died earlier: B's own amount before (without A)
        ([D(1, date(2026, 5, 1), stands=True, counted_before=True)], {JUNE: None, JULY: None}, None),
        # ... A recorded before B but died after B: the months before A's death are due with A too
        ([D(1, date(2026, 6, 15), stands=True, counted_before=True)], {JUNE: frozenset(), JULY: None}, None),
        # A was recorded before B and revoked since: B's amount before counted A gone, A is back now
        (
            [D(1, date(2026, 5, 1), stands=False, counted_before=True)],
            {JUNE: frozenset(), JULY: frozenset()},
            frozenset(),
        ),
        # three deaths: one counted before (died 1 May), one after (died 10 July)
        (
            [
                D(1, date(2026, 5, 1), stands=True, counted_before=True),
                D(3, date(2026, 7, 10), stands=True, counted_before=False),
            ],
            {JUNE: None, JULY: None, AUGUST: frozenset({1, 3}), SEPTEMBER: frozenset({1, 3})},
            frozenset({1, 3}),
        ),
    ],
)
def test_gone_after_revocation(others, by_month, from_now_on):
    """A revoked death's benefit is owed, for a month, what the household is due with the members
    alive in it given the deaths that stand; None: the revoked death's amount before it."""
    for month, gone in by_month.items():
        assert rules.gone_after_revocation(others, month) == gone, month
    assert rules.gone_after_revocation(others) == from_now_on


# --- 追回: a recovery's ledger ------------------------------------------------------------------------

L = rules.RecoveryLedger


@pytest.mark.parametrize(
    "ledger, outstanding, refund_due",
    [
        (L("open", 10000), 10000, 0),
        (L("open", 10000, recovered_fen=4000), 6000, 0),
        (L("open", 10000, recovered_fen=4000, written_off_fen=1000), 5000, 0),
        (L("recovered", 10000, recovered_fen=10000), 0, 0),
        # the amount came down below what came back: the difference is owed back
        (L("recovered", 3000, recovered_fen=5000), 0, 2000),
        (L("recovered", 3000, recovered_fen=5000, refunded_fen=2000), 0, 0),
        # a write-off is never given back: it was no money
        (L("recovered", 3000, recovered_fen=2000, written_off_fen=5000), 0, 0),
        # cancelled (the death revoked): nothing owed, every fen kept is owed back
        (L("cancelled", 10000, recovered_fen=4000), 0, 4000),
        (L("cancelled", 10000, recovered_fen=4000, refunded_fen=1500), 0, 2500),
        (L("cancelled", 10000, written_off_fen=4000), 0, 0),
    ],
)
def test_a_recovery_ledger_knows_what_is_outstanding_and_owed_back(ledger, outstanding, refund_due):
    assert (ledger.outstanding_fen, ledger.refund_due_fen) == (outstanding, refund_due)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"state": "closed", "amount_fen": 1},
        {"state": "open", "amount_fen": -1},
        {"state": "open", "amount_fen": 1, "recovered_fen": 1.5},
        {"state": "open", "amount_fen": True},
        {"state": "open", "amount_fen": 100, "recovered_fen": 10, "refunded_fen": 11},
    ],
)
def test_a_recovery_ledger_refuses_nonsense(kwargs):
    with pytest.raises(InvalidRuleInput):
        L(**kwargs)


@pytest.mark.parametrize(
    "ledger, method, amount, reason, expected",
    [
        (L("open", 10000), "repayment", 4000, None, L("open", 10000, recovered_fen=4000)),
        (L("open", 10000), "bank_return", 10000, None, L("recovered", 10000, recovered_fen=10000)),
        (
            L("open", 10000, recovered_fen=6000),
            "write_off",
            4000,
            "the estate has nothing",
            L("recovered", 10000, recovered_fen=6000, written_off_fen=4000),
        ),
        (
            L("open", 10000, recovered_fen=6000),
            "write_off",
            1000,
            "hardship",
            L("open", 10000, recovered_fen=6000, written_off_fen=1000),
        ),
        # what was given back comes off what was kept
        (
            L("open", 10000, recovered_fen=6000, refunded_fen=2000),
            "repayment",
            6000,
            None,
            L("recovered", 10000, recovered_fen=12000, refunded_fen=2000),
        ),
    ],
)
def test_a_repayment_moves_the_ledger_and_closes_it_when_nothing_is_outstanding(
    ledger, method, amount, reason, expected
):
    assert rules.record_repayment(ledger, method, amount, reason) == expected


@pytest.mark.parametrize(
    "ledger, method, amount, reason, field, conflict",
    [
        (L("open", 10000), "repayment", 10001, None, "amount_fen", False),
        (L("open", 10000, recovered_fen=9000), "bank_return", 1001, None, "amount_fen", False),
        (L("open", 10000, written_off_fen=9000), "write_off", 1001, "x", "amount_fen", False),
        (L("open", 10000), "repayment", 0, None, "amount_fen", False),
        (L("open", 10000), "repayment", -5, None, "amount_fen", False),
        (L("open", 10000), "repayment", 10.0, None, "amount_fen", False),
        (L("open", 10000), "write_off", 100, None, "reason", False),
        (L("open", 10000), "write_off", 100, "  ", "reason", False),
        (L("open", 10000), "cash", 100, None, "method", False),
        (L("recovered", 10000, recovered_fen=10000), "repayment", 1, None, "recovery", True),
        (L("cancelled", 10000), "repayment", 1, None, "recovery", True),
    ],
)
def test_a_repayment_is_refused_with_the_field_and_the_reason(ledger, method, amount, reason, field, conflict):
    with pytest.raises(RuleRefused) as refused:
        rules.record_repayment(ledger, method, amount, reason)
    assert (refused.value.field, refused.value.conflict) == (field, conflict)
    assert refused.value.reason


@pytest.mark.parametrize(
    "ledger, amount, expected",
    [
        # a counted payment the bank did not make: the amount comes down, the recovery stays open
        (L("open", 20000, recovered_fen=5000), 15000, L("open", 15000, recovered_fen=5000)),
        # down to what came back already: recovered
        (L("open", 20000, recovered_fen=10000), 10000, L("recovered", 10000, recovered_fen=10000)),
        (
            L("open", 20000, recovered_fen=6000, written_off_fen=4000),
            10000,
            L("recovered", 10000, recovered_fen=6000, written_off_fen=4000),
        ),
        # below it: recovered, and the difference is owed back
        (L("open", 20000, recovered_fen=10000), 7000, L("recovered", 7000, recovered_fen=10000)),
        # to nothing: cancelled (what came back is owed back)
        (L("open", 10000), 0, L("cancelled", 0)),
        (L("open", 10000, recovered_fen=3000), 0, L("cancelled", 0, recovered_fen=3000)),
        # the bank paid after all: the amount grows, a closed recovery opens again
        (L("recovered", 10000, recovered_fen=10000), 15000, L("open", 15000, recovered_fen=10000)),
        (L("cancelled", 0, recovered_fen=3000), 10000, L("open", 10000, recovered_fen=3000)),
        (L("open", 10000), 10000, L("open", 10000)),
    ],
)
def test_a_recount_follows_the_bank(ledger, amount, expected):
    recounted = rules.recount_recovery(ledger, amount)
    assert recounted == expected
    if amount < ledger.amount_fen and expected.state != "open":
        assert recounted.refund_due_fen == max(0, ledger.kept_fen - amount)


def test_a_recount_refuses_a_negative_amount():
    with pytest.raises(InvalidRuleInput):
        rules.recount_recovery(L("open", 100), -1)


@pytest.mark.parametrize(
    "ledger, refund_due",
    [
        (L("open", 10000), 0),
        (L("open", 10000, recovered_fen=4000), 4000),
        (L("recovered", 10000, recovered_fen=10000), 10000),
        (L("recovered", 10000, recovered_fen=6000, written_off_fen=4000), 6000),
        (L("cancelled", 0, recovered_fen=3000), 3000),
    ],
)
def test_a_revoked_death_cancels_whatever_the_state_and_owes_back_what_came_back(ledger, refund_due):
    cancelled = rules.cancel_recovery(ledger)
    assert (cancelled.state, cancelled.outstanding_fen, cancelled.refund_due_fen) == ("cancelled", 0, refund_due)
    assert cancelled.amount_fen == ledger.amount_fen  # what was claimed stays on record


@pytest.mark.parametrize(
    "ledger, amount, expected, field",
    [
        (
            L("cancelled", 10000, recovered_fen=4000),
            4000,
            L("cancelled", 10000, recovered_fen=4000, refunded_fen=4000),
            None,
        ),
        (
            L("cancelled", 10000, recovered_fen=4000),
            1000,
            L("cancelled", 10000, recovered_fen=4000, refunded_fen=1000),
            None,
        ),
        (
            L("recovered", 3000, recovered_fen=5000),
            2000,
            L("recovered", 3000, recovered_fen=5000, refunded_fen=2000),
            None,
        ),
        (L("cancelled", 10000, recovered_fen=4000), 4001, None, "amount_fen"),
        (L("cancelled", 10000, recovered_fen=4000), 0, None, "amount_fen"),
        (L("open", 10000, recovered_fen=4000), 1, None, "recovery"),
        (L("cancelled", 10000, recovered_fen=4000, refunded_fen=4000), 1, None, "recovery"),
    ],
)
def test_a_refund_gives_back_no_more_than_is_owed_back(ledger, amount, expected, field):
    if field is None:
        assert rules.record_refund(ledger, amount) == expected
    else:
        with pytest.raises(RuleRefused) as refused:
            rules.record_refund(ledger, amount)
        assert refused.value.field == field
        assert refused.value.conflict is (field == "recovery")


@pytest.mark.parametrize(
    "answered, complete",
    [
        ([True] * 18, True),  # two members × nine sources, every one answered
        ([True] * 17 + [False], False),  # one source did not answer and nothing stood in
        ([], False),  # nobody to ask (no member with an ID): the caseworker must look
        (iter([True, True]), True),  # any iterable, read once
    ],
)
def test_a_re_check_is_complete_only_when_somebody_was_asked_and_every_fetch_answered(answered, complete):
    assert rules.review_check_complete(answered) is complete


def test_the_package_gives_every_public_rule_of_its_modules():
    """Callers say rules.X: a name one of the modules defines but the package leaves out would fail
    only when a handler first reaches it."""
    for path in Path(rules.__file__).parent.glob("[!_]*.py"):
        own = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                own.add(node.name)
            elif isinstance(node, ast.Assign):
                own.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                own.add(node.target.id)
        public = {name for name in own if not name.startswith("_")}
        assert public <= set(rules.__all__), (path.name, public - set(rules.__all__))
