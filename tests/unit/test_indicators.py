"""Indicators in one place (BRIEF §5): a figure against its target, and each owner's arithmetic,
table-tested at the boundaries."""

from __future__ import annotations

from datetime import date

import pytest

from chassis.errors import InvalidInput
from chassis.indicators import Target, indicator, judge, year_to_date
from chassis.policy import PolicyValue
from contracts.refusals import InvalidRuleInput
from services.assistance import rules as assistance
from services.care import rules as care
from services.funeral import rules as funeral

AT_LEAST_58 = Target(0.58, "at_least", "330600/indicator.nursing_bed_ratio@2021-01-01", "seed-000 表1 row 1")
AT_MOST_20 = Target(20.0, "at_most", "000000/assistance.decision_working_days@2021-01-01", "seed-001")


@pytest.mark.parametrize(
    ("value", "target", "met"),
    [
        (0.58, AT_LEAST_58, True),  # exactly the target meets it
        (0.5799, AT_LEAST_58, False),
        (1.0, AT_LEAST_58, True),
        (20, AT_MOST_20, True),
        (20.01, AT_MOST_20, False),
        (0, AT_MOST_20, True),
        (None, AT_LEAST_58, None),  # nothing to divide by: not judged
        (0.9, None, None),  # no target in force: not judged, never against a default
    ],
)
def test_a_figure_against_its_target(value, target, met):
    assert judge(value, target) is met


def policy(value) -> PolicyValue:
    return PolicyValue("indicator.x", value, "330600", date(2021, 1, 1), "seed")


@pytest.mark.parametrize(
    ("value", "comparison", "expected"),
    [
        ({"target": 0.7, "comparison": "at_least"}, None, (0.7, "at_least")),
        ({"target": 20, "comparison": "at_most"}, "at_least", (20.0, "at_most")),  # the row's own wins
        (20, "at_most", (20.0, "at_most")),  # a bare limit, its comparison from the owner
    ],
)
def test_a_target_from_a_policy_row(value, comparison, expected):
    target = Target.of(policy(value), comparison)
    assert (target.value, target.comparison) == expected
    assert (target.version, target.source) == ("330600/indicator.x@2021-01-01", "seed")


@pytest.mark.parametrize(
    ("value", "comparison"),
    [
        ({"target": 0.7}, None),  # no comparison
        ({"target": "70%", "comparison": "at_least"}, None),
        ({"target": True, "comparison": "at_least"}, None),
        (20, None),
        (20, "about"),
    ],
)
def test_an_unusable_target_is_refused(value, comparison):
    with pytest.raises(InvalidInput):
        Target.of(policy(value), comparison)


def test_a_figure_names_its_target_and_source():
    figure = indicator("nursing_bed_ratio", "护理型床位占比", "ratio", 0.6, AT_LEAST_58, {"beds": 10})
    assert figure["met"] is True and figure["target"] == 0.58 and figure["comparison"] == "at_least"
    assert figure["target_source"] == "seed-000 表1 row 1" and figure["counts"] == {"beds": 10}
    bare = indicator("x", "x", "ratio", 0.6, None)
    assert (bare["target"], bare["met"], bare["target_source"]) == (None, None, None)
    # an owner's exact judgement (in whole fen) stands over the rounded figure's
    assert indicator("x", "x", "ratio", 0.55, AT_LEAST_58, met=True)["met"] is True
    assert indicator("x", "x", "ratio", 0.55, None, met=True)["met"] is None


def test_flows_count_from_the_first_of_january():
    assert year_to_date(date(2026, 6, 30)) == (date(2026, 1, 1), date(2026, 6, 30))
    assert year_to_date(date(2026, 1, 1)) == (date(2026, 1, 1), date(2026, 1, 1))


# --- assistance ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("monthly_fen", "yearly_yuan"), [(63000, 7560.0), (108334, 13000.08), (0, 0.0)])
def test_the_standard_as_the_documents_state_it(monthly_fen, yearly_yuan):
    assert assistance.yearly_standard_yuan(monthly_fen) == yearly_yuan


MAY_DAY = frozenset({date(2026, 5, 1), date(2026, 5, 4), date(2026, 5, 5)})
MAKEUP = frozenset({date(2026, 5, 9)})  # a Saturday worked


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        (date(2026, 3, 2), date(2026, 3, 2), 0),  # decided the day it was made
        (date(2026, 3, 6), date(2026, 3, 7), 0),  # Friday → Saturday
        (date(2026, 3, 6), date(2026, 3, 9), 1),  # Friday → Monday
        (date(2026, 3, 2), date(2026, 3, 30), 20),  # four weeks
        (date(2026, 4, 30), date(2026, 5, 6), 1),  # the May holidays do not count
        (date(2026, 5, 8), date(2026, 5, 9), 1),  # the make-up Saturday does
    ],
)
def test_working_days_from_application_to_decision(start, end, days):
    assert assistance.working_days_between(start, end, MAY_DAY, MAKEUP) == days


def test_the_mean_decision_time():
    pairs = [(date(2026, 3, 2), date(2026, 3, 30)), (date(2026, 3, 6), date(2026, 3, 9))]
    assert assistance.mean_decision_working_days(pairs, frozenset(), frozenset()) == 10.5
    assert assistance.mean_decision_working_days([], frozenset(), frozenset()) is None
    with pytest.raises(InvalidRuleInput):
        assistance.working_days_between(date(2026, 3, 9), date(2026, 3, 6), frozenset(), frozenset())


# --- care ------------------------------------------------------------------------------------------

COUNTS = ("elderly", "aged_70_plus", "assessed_70_plus", "beds", "nursing_beds", "dementia_beds")


def counts(*values: int) -> dict:
    return dict(zip(COUNTS, values, strict=True))


@pytest.mark.parametrize(
    ("figures", "expected"),
    [
        (counts(6, 4, 2, 200, 80, 30),
         (0.5, 0.4, 50000.0)),
        (counts(10_000, 3, 0, 100, 58, 20),
         (0.0, 0.58, 20.0)),
        (counts(0, 0, 0, 0, 0, 0),
         (None, None, None)),  # nothing to divide by is not a ratio of 0
        (counts(3, 3, 3, 3, 1, 0),
         (1.0, 0.3333, 0.0)),
    ],
)  # fmt: skip
def test_care_figures(figures, expected):
    figures = care.region_figures(**figures)
    assert (
        figures.assessment_coverage_70_plus,
        figures.nursing_bed_ratio,
        figures.dementia_beds_per_10k_elderly,
    ) == expected


@pytest.mark.parametrize(
    "contradicting",
    [
        counts(5, 6, 0, 0, 0, 0),
        counts(5, 2, 3, 0, 0, 0),
        counts(5, 2, 1, 10, 6, 5),
        counts(-1, 0, 0, 0, 0, 0),
    ],
)
def test_care_counts_that_contradict_each_other(contradicting):
    with pytest.raises(InvalidRuleInput):
        care.region_figures(**contradicting)


# --- funeral ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("burials", "eco", "rate"), [(10, 7, 0.7), (3, 2, 0.6667), (0, 0, None), (4, 4, 1.0), (4, 0, 0.0)]
)
def test_the_eco_burial_rate(burials, eco, rate):
    assert funeral.eco_burial_rate(burials, eco) == rate


@pytest.mark.parametrize(("burials", "eco"), [(3, 4), (-1, 0), (2, -1)])
def test_burial_counts_that_contradict_each_other(burials, eco):
    with pytest.raises(InvalidRuleInput):
        funeral.eco_burial_rate(burials, eco)
