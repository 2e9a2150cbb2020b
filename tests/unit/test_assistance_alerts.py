"""The risk alert's life and the signals that raise one, in memory."""

from datetime import date

import pytest

from contracts.refusals import RuleRefused
from services.assistance.alerts import (
    ALERT_STATES,
    ALERT_TRANSITIONS,
    SIGNALS,
    alert_transition,
    visit_due,
)


@pytest.mark.parametrize(
    "state, action, expected",
    [
        ("open", "acknowledge", "acknowledged"),
        ("open", "resolve", "resolved"),
        ("acknowledged", "resolve", "resolved"),
    ],
)
def test_allowed_moves(state, action, expected):
    assert alert_transition(state, action) == expected


@pytest.mark.parametrize(
    "state, action, reason",
    [
        ("acknowledged", "acknowledge", "already acknowledged"),
        ("resolved", "acknowledge", "already resolved"),
        ("resolved", "resolve", "already resolved"),
        ("open", "reopen", "cannot reopen an alert that is open"),
    ],
)
def test_refused_moves_say_why(state, action, reason):
    with pytest.raises(RuleRefused, match=reason):
        alert_transition(state, action)


def test_every_move_stays_within_the_states_and_the_table_is_frozen():
    assert {s for s, _ in ALERT_TRANSITIONS} | set(ALERT_TRANSITIONS.values()) <= set(ALERT_STATES)
    with pytest.raises(TypeError):
        ALERT_TRANSITIONS[("resolved", "reopen")] = "open"


def test_signals_name_a_kind_and_a_task():
    assert {s.kind for s in SIGNALS.values()} == {"birth_in_household", "household_changed"}
    assert all(s.what for s in SIGNALS.values())


@pytest.mark.parametrize(
    "raised, days, due",
    [
        (date(2026, 5, 30), 7, date(2026, 6, 6)),
        (date(2026, 12, 28), 7, date(2027, 1, 4)),
        (date(2026, 5, 1), 0, date(2026, 5, 1)),
    ],
)
def test_visit_due(raised, days, due):
    assert visit_due(raised, days) == due


def test_visit_days_cannot_be_negative():
    with pytest.raises(ValueError):
        visit_due(date(2026, 5, 1), -1)
