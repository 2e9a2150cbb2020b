"""How a matter's progress folds out of its events (gateway.progress_rules), by tables."""
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from contracts.matters import MARRIAGE_BIRTH_HUKOU, TERMINAL_STEP_STATES
from gateway.progress_rules import (ReportRefused, StepNotStarted, StepState, apply_report, check_report, is_overdue,
                                    joint_handling, matter_state, opened_steps, start_phase)

MT = MARRIAGE_BIRTH_HUKOU
OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
BORN = datetime(2026, 12, 24, 14, 0, tzinfo=timezone.utc)
LATER = BORN + timedelta(hours=5)
SECOND = timedelta(seconds=1)

PHASE_1 = ("marriage_registration", "planned_birth_registration", "hukou_update")
BIRTH_PHASE = ("newborn_hukou", "newborn_medical_insurance")


def by_name(steps):
    return {s.step: s for s in steps}


def pending(step="hukou_update", owner="police", deadline=OPENED + timedelta(days=10)):
    return StepState(step, owner, "pending", OPENED, deadline)


def in_state(state, step="hukou_update", owner="police"):
    if state == "not_started":
        return StepState(step, owner, "not_started")
    if state == "pending":
        return pending(step, owner)
    return replace(pending(step, owner), state=state, reported_at=LATER)


# --- opened_steps --------------------------------------------------------------------------------

def test_opened_steps_lists_every_step_once_in_catalogue_order():
    assert [s.step for s in opened_steps(MT, OPENED)] == [s.name for s in MT.steps]


@pytest.mark.parametrize("step, owner, days", [
    pytest.param("marriage_registration", "marriage", 30, id="marriage-registration-30d"),
    pytest.param("planned_birth_registration", "health", 5, id="planned-birth-5d"),
    pytest.param("hukou_update", "police", 10, id="hukou-update-10d"),
])
def test_opened_steps_phase_one_is_pending_with_deadline(step, owner, days):
    st = by_name(opened_steps(MT, OPENED))[step]
    assert (st.owner, st.state, st.started_at, st.deadline) == (owner, "pending", OPENED,
                                                                OPENED + timedelta(days=days))
    assert st.reported_at is None and st.reason is None


@pytest.mark.parametrize("step, owner", [
    pytest.param("newborn_hukou", "police", id="newborn-hukou"),
    pytest.param("newborn_medical_insurance", "medical_insurance", id="newborn-medical-insurance"),
])
def test_opened_steps_birth_phase_is_not_started(step, owner):
    assert by_name(opened_steps(MT, OPENED))[step] == StepState(step, owner, "not_started")


# --- start_phase ---------------------------------------------------------------------------------

def test_birth_starts_only_the_birth_phase_with_deadlines():
    after = by_name(start_phase(MT, opened_steps(MT, OPENED), "birth.notified", BORN))
    for name in BIRTH_PHASE:
        assert after[name].state == "pending", name
        assert after[name].started_at == BORN, name
        assert after[name].deadline == BORN + timedelta(days=10), name
    for name in PHASE_1:
        assert after[name].started_at == OPENED, name  # phase 1 untouched


@pytest.mark.parametrize("before", [
    pytest.param(in_state("pending", "newborn_hukou"), id="already-pending"),
    pytest.param(in_state("done", "newborn_hukou"), id="already-done"),
    pytest.param(in_state("rejected", "newborn_hukou"), id="already-rejected"),
    pytest.param(in_state("not_applicable", "newborn_hukou"), id="already-not-applicable"),
])
def test_birth_leaves_a_started_or_closed_birth_step_untouched(before):
    steps = [before, StepState("newborn_medical_insurance", "medical_insurance", "not_started")]
    after = start_phase(MT, steps, "birth.notified", BORN)
    assert after[0] == before
    assert after[1].state == "pending" and after[1].deadline == BORN + timedelta(days=10)


@pytest.mark.parametrize("event_type", [
    pytest.param("marriage.registered", id="marriage-registered"),
    pytest.param("matter.step_reported", id="step-reported"),
    pytest.param("marriage.divorce_registered", id="divorce-registered"),
    pytest.param("no.such_event", id="unknown-event"),
])
def test_unrelated_event_changes_nothing(event_type):
    steps = opened_steps(MT, OPENED)
    assert start_phase(MT, steps, event_type, BORN) == steps


def test_second_birth_event_does_not_move_deadlines():
    once = start_phase(MT, opened_steps(MT, OPENED), "birth.notified", BORN)
    assert start_phase(MT, once, "birth.notified", BORN + timedelta(days=3)) == once


# --- check_report --------------------------------------------------------------------------------

@pytest.mark.parametrize("step, reporter, state, expected", [
    pytest.param(in_state("pending"), "police", "done", True, id="pending-done"),
    pytest.param(in_state("pending"), "police", "rejected", True, id="pending-rejected"),
    pytest.param(in_state("pending"), "police", "not_applicable", True, id="pending-not-applicable"),
    pytest.param(in_state("done"), "police", "done", False, id="done-again"),
    pytest.param(in_state("rejected"), "police", "rejected", False, id="rejected-again"),
    pytest.param(in_state("not_applicable"), "police", "not_applicable", False, id="not-applicable-again"),
    # the partner may be ahead of the progress view (it got the starting event first): accepted,
    # and the projection applies it once the phase has started
    pytest.param(in_state("not_started", "newborn_hukou"), "police", "done", True, id="not-started-yet"),
])
def test_check_report_allowed(step, reporter, state, expected):
    assert check_report(step, reporter, state) is expected


@pytest.mark.parametrize("step, reporter, state, fragment", [
    pytest.param(in_state("pending"), "health", "done", "belongs to police", id="other-owner"),
    pytest.param(in_state("pending"), "marriage", "done", "belongs to police", id="internal-service-not-owner"),
    pytest.param(in_state("done"), "health", "done", "belongs to police", id="other-owner-on-closed-step"),
    pytest.param(in_state("done"), "police", "rejected", "already done", id="done-then-rejected"),
    pytest.param(in_state("done"), "police", "not_applicable", "already done", id="done-then-not-applicable"),
    pytest.param(in_state("rejected"), "police", "done", "already rejected", id="rejected-then-done"),
    pytest.param(in_state("not_applicable"), "police", "done", "already not_applicable",
                 id="not-applicable-then-done"),
])
def test_check_report_refused(step, reporter, state, fragment):
    with pytest.raises(ReportRefused) as caught:
        check_report(step, reporter, state)
    assert fragment in caught.value.reason


def test_a_report_waits_for_its_phase():
    with pytest.raises(StepNotStarted):
        apply_report(in_state("not_started", "newborn_hukou"), "done", LATER, None)


# --- apply_report --------------------------------------------------------------------------------

@pytest.mark.parametrize("state, reason", [
    pytest.param("done", None, id="done"),
    pytest.param("rejected", "documents missing", id="rejected-with-reason"),
    pytest.param("not_applicable", "already registered elsewhere", id="not-applicable"),
])
def test_first_report_closes_the_step(state, reason):
    step, changed = apply_report(in_state("pending"), state, LATER, reason)
    assert changed is True
    assert (step.state, step.reported_at, step.reason) == (state, LATER, reason)
    assert (step.started_at, step.deadline) == (in_state("pending").started_at, in_state("pending").deadline)


@pytest.mark.parametrize("first, second", [
    pytest.param("done", "rejected", id="done-then-rejected"),
    pytest.param("done", "done", id="done-then-done"),
    pytest.param("rejected", "done", id="rejected-then-done"),
    pytest.param("not_applicable", "done", id="not-applicable-then-done"),
])
def test_later_reports_are_ignored(first, second):
    closed, _ = apply_report(in_state("pending"), first, LATER, "first word")
    again, changed = apply_report(closed, second, LATER + timedelta(days=1), "second word")
    assert changed is False
    assert again == closed
    assert (again.state, again.reason, again.reported_at) == (first, "first word", LATER)


# --- matter_state --------------------------------------------------------------------------------

def _steps(*states):
    return [in_state(s, step=f"step_{i}") for i, s in enumerate(states)]


@pytest.mark.parametrize("states, expected", [
    pytest.param(("rejected", "done", "done"), "needs_attention", id="one-rejected-rest-done"),
    pytest.param(("rejected", "pending", "not_started"), "needs_attention", id="rejected-beats-pending"),
    pytest.param(("pending", "rejected"), "needs_attention", id="rejected-after-pending"),
    pytest.param(("pending", "pending", "pending"), "in_progress", id="all-pending"),
    pytest.param(("done", "pending", "not_started"), "in_progress", id="pending-beats-not-started"),
    pytest.param(("done", "not_applicable", "pending"), "in_progress", id="one-pending-left"),
    pytest.param(("done", "done", "not_started", "not_started"), "waiting", id="phase1-done-awaiting-birth"),
    pytest.param(("not_applicable", "not_started"), "waiting", id="not-applicable-and-not-started"),
    pytest.param(("done", "done", "done"), "completed", id="all-done"),
    pytest.param(("done", "not_applicable"), "completed", id="done-and-not-applicable"),
    pytest.param(("not_applicable", "not_applicable"), "completed", id="all-not-applicable"),
])
def test_matter_state(states, expected):
    assert matter_state(_steps(*states)) == expected


def test_matter_state_of_a_freshly_opened_matter_is_in_progress():
    assert matter_state(opened_steps(MT, OPENED)) == "in_progress"


# --- is_overdue ----------------------------------------------------------------------------------

DEADLINE = OPENED + timedelta(days=10)


@pytest.mark.parametrize("step, now, expected", [
    pytest.param(pending(deadline=DEADLINE), DEADLINE - SECOND, False, id="pending-before-deadline"),
    pytest.param(pending(deadline=DEADLINE), DEADLINE, False, id="pending-at-deadline-exactly"),
    pytest.param(pending(deadline=DEADLINE), DEADLINE + SECOND, True, id="pending-one-second-after"),
    pytest.param(pending(deadline=DEADLINE), DEADLINE + timedelta(days=30), True, id="pending-long-after"),
    pytest.param(pending(deadline=None), DEADLINE + timedelta(days=30), False, id="pending-without-deadline"),
    pytest.param(in_state("not_started", "newborn_hukou"), DEADLINE + timedelta(days=30), False,
                 id="not-started"),
    *[pytest.param(replace(pending(deadline=DEADLINE), state=s), DEADLINE + SECOND, False,
                   id=f"{s}-after-deadline") for s in sorted(TERMINAL_STEP_STATES)],
])
def test_is_overdue(step, now, expected):
    assert is_overdue(step, now) is expected


@pytest.mark.parametrize("matters, expected", [
    ([], (0, 0, 0, 0, None)),
    ([["done", "done"]], (1, 1, 1, 0, 1.0)),
    ([["done", "not_applicable"], ["done", "rejected"]], (2, 2, 1, 0, 0.5)),
    ([["done", "pending"], ["done", "done"], ["not_started", "done"]], (3, 1, 1, 2, 1.0)),
    ([["rejected"], ["rejected"], ["done"]], (3, 3, 1, 0, 0.3333)),
])
def test_joint_handling_rate_counts_only_decided_matters(matters, expected):
    result = joint_handling(matters)
    assert (result.matters, result.decided, result.all_granted, result.in_progress, result.rate) == expected


# --- revocation (身后一件事 made in error): steps reported reversed --------------------------------

from contracts.matters import AFTER_DEATH, REVERSED  # noqa: E402
from gateway.progress_rules import MatterNotYetRevoked  # noqa: E402


def test_after_death_opens_every_step_pending_and_names_its_revocation():
    steps = opened_steps(AFTER_DEATH, OPENED)
    assert {s.state for s in steps} == {"pending"} and len(steps) == 7
    assert AFTER_DEATH.revoked_on == "death.revoked"
    assert {s.owner for s in AFTER_DEATH.steps} == {"funeral", "assistance", "care", "marriage", "police",
                                                     "human_resources", "medical_insurance"}


@pytest.mark.parametrize("before", ["done", "pending", "not_applicable"])
def test_a_revoked_matter_takes_reversals(before):
    step, changed = apply_report(in_state(before), REVERSED, LATER, "undone", revoked=True)
    assert (step.state, step.reason, changed) == (REVERSED, "undone", True)


def test_a_reversal_before_the_revocation_waits():
    with pytest.raises(MatterNotYetRevoked):
        apply_report(in_state("done"), REVERSED, LATER, None, revoked=False)


def test_a_second_reversal_or_a_late_outcome_changes_nothing():
    reversed_ = in_state(REVERSED)
    assert apply_report(reversed_, REVERSED, LATER + SECOND, "again", revoked=True) == (reversed_, False)
    assert apply_report(reversed_, "done", LATER + SECOND, None, revoked=True) == (reversed_, False)


@pytest.mark.parametrize("states, state", [
    (["done", "done"], "revoking"),
    (["reversed", "pending"], "revoking"),
    (["reversed", "not_applicable"], "revoked"),
    (["reversed", "reversed"], "revoked"),
    (["rejected", "reversed"], "revoked"),
])
def test_matter_state_once_revoked(states, state):
    assert matter_state([in_state(s, step=f"s{i}") for i, s in enumerate(states)], revoked=True) == state


def test_matter_state_unrevoked_is_unchanged():
    assert matter_state([in_state("done"), in_state("not_applicable", step="x")]) == "completed"


@pytest.mark.parametrize("state, revoked, fresh, refused", [
    ("done", True, True, False),
    (REVERSED, True, False, False),      # said already
    ("done", False, None, True),         # nothing to reverse before the revocation
])
def test_check_report_of_a_reversal(state, revoked, fresh, refused):
    if refused:
        with pytest.raises(ReportRefused):
            check_report(in_state(state), "police", REVERSED, revoked)
    else:
        assert check_report(in_state(state), "police", REVERSED, revoked) is fresh


def test_check_report_refuses_an_outcome_for_a_reversed_step():
    with pytest.raises(ReportRefused):
        check_report(in_state(REVERSED), "police", "done", True)
