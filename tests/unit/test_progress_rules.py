"""How a matter's progress folds out of its events (gateway.progress_rules), by tables."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import permutations

import pytest

from contracts.matters import MARRIAGE_BIRTH_HUKOU, REPORTABLE_STEP_STATES, REVERSED, TERMINAL_STEP_STATES
from contracts.refusals import RuleRefused
from gateway.progress_rules import (
    MatterNotYetRevoked,
    Report,
    StepNotStarted,
    StepState,
    apply_report,
    check_report,
    completed_at,
    fold_reports,
    history,
    is_overdue,
    joint_handling,
    matter_state,
    opened_steps,
    start_phase,
)

MT = MARRIAGE_BIRTH_HUKOU
OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BORN = datetime(2026, 12, 24, 14, 0, tzinfo=UTC)
LATER = BORN + timedelta(hours=5)
SECOND = timedelta(seconds=1)

PHASE_1 = ("marriage_registration", "planned_birth_registration", "hukou_update")
BIRTH_PHASE = ("newborn_hukou", "newborn_medical_insurance")


def by_name(steps):
    return {s.step: s for s in steps}


def pending(step="hukou_update", owner="police", deadline=OPENED + timedelta(days=10)):
    return StepState(step, owner, "pending", OPENED, deadline)


def in_state(state, step="hukou_update", owner="police", reason=None):
    if state == "not_started":
        return StepState(step, owner, "not_started")
    if state == "pending":
        return pending(step, owner)
    return replace(pending(step, owner), state=state, reported_at=LATER, reason=reason)


# --- opened_steps --------------------------------------------------------------------------------


def test_opened_steps_lists_every_step_once_in_catalogue_order():
    assert [s.step for s in opened_steps(MT, OPENED)] == [s.name for s in MT.steps]


@pytest.mark.parametrize(
    "step, owner, days",
    [
        pytest.param("marriage_registration", "marriage", 30, id="marriage-registration-30d"),
        pytest.param("planned_birth_registration", "health", 5, id="planned-birth-5d"),
        pytest.param("hukou_update", "police", 10, id="hukou-update-10d"),
    ],
)
def test_opened_steps_phase_one_is_pending_with_deadline(step, owner, days):
    st = by_name(opened_steps(MT, OPENED))[step]
    assert (st.owner, st.state, st.started_at, st.deadline) == (owner, "pending", OPENED, OPENED + timedelta(days=days))
    assert st.reported_at is None and st.reason is None


@pytest.mark.parametrize(
    "step, owner",
    [
        pytest.param("newborn_hukou", "police", id="newborn-hukou"),
        pytest.param("newborn_medical_insurance", "medical_insurance", id="newborn-medical-insurance"),
    ],
)
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


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(in_state("pending", "newborn_hukou"), id="already-pending"),
        pytest.param(in_state("done", "newborn_hukou"), id="already-done"),
        pytest.param(in_state("rejected", "newborn_hukou"), id="already-rejected"),
        pytest.param(in_state("not_applicable", "newborn_hukou"), id="already-not-applicable"),
    ],
)
def test_birth_leaves_a_started_or_closed_birth_step_untouched(before):
    steps = [before, StepState("newborn_medical_insurance", "medical_insurance", "not_started")]
    after = start_phase(MT, steps, "birth.notified", BORN)
    assert after[0] == before
    assert after[1].state == "pending" and after[1].deadline == BORN + timedelta(days=10)


@pytest.mark.parametrize(
    "event_type",
    [
        pytest.param("marriage.registered", id="marriage-registered"),
        pytest.param("matter.step_reported", id="step-reported"),
        pytest.param("marriage.divorce_registered", id="divorce-registered"),
        pytest.param("no.such_event", id="unknown-event"),
    ],
)
def test_unrelated_event_changes_nothing(event_type):
    steps = opened_steps(MT, OPENED)
    assert start_phase(MT, steps, event_type, BORN) == steps


def test_second_birth_event_does_not_move_deadlines():
    once = start_phase(MT, opened_steps(MT, OPENED), "birth.notified", BORN)
    assert start_phase(MT, once, "birth.notified", BORN + timedelta(days=3)) == once


# --- check_report --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "step, reporter, state, expected",
    [
        pytest.param(in_state("pending"), "police", "done", True, id="pending-done"),
        pytest.param(in_state("pending"), "police", "rejected", True, id="pending-rejected"),
        pytest.param(in_state("pending"), "police", "not_applicable", True, id="pending-not-applicable"),
        pytest.param(in_state("done"), "police", "done", False, id="done-again"),
        pytest.param(in_state("rejected"), "police", "rejected", False, id="rejected-again"),
        pytest.param(in_state("not_applicable"), "police", "not_applicable", False, id="not-applicable-again"),
        # said again with something new to say (a corrected date of death): a report of its own
        pytest.param(in_state("done", reason="as of 2026-06-02"), "police", "done", True, id="done-again-new-reason"),
        pytest.param(in_state("done"), "police", "not_applicable", True, id="done-then-not-applicable"),
        pytest.param(in_state("not_applicable"), "police", "done", True, id="not-applicable-then-done"),
        # the partner may be ahead of the progress view (it got the starting event first): accepted,
        # and the projection applies it once the phase has started
        pytest.param(in_state("not_started", "newborn_hukou"), "police", "done", True, id="not-started-yet"),
    ],
)
def test_check_report_allowed(step, reporter, state, expected):
    reason = "as of 2026-05-20" if expected and step.state == state else None
    assert check_report(step, reporter, state, reason=reason) is expected


@pytest.mark.parametrize(
    "step, reason, expected",
    [
        pytest.param(in_state("done", reason="as of 2026-06-02"), "as of 2026-06-02", False, id="same-reason"),
        pytest.param(in_state("done", reason="as of 2026-06-02"), "as of 2026-05-20", True, id="new-reason"),
        pytest.param(in_state("done", reason="as of 2026-06-02"), None, True, id="reason-dropped"),
        pytest.param(in_state("done"), "as of 2026-05-20", True, id="reason-given"),
    ],
)
def test_check_report_the_same_outcome_again_is_fresh_only_with_another_reason(step, reason, expected):
    assert check_report(step, "police", "done", reason=reason) is expected


@pytest.mark.parametrize(
    "step, reporter, state, fragment",
    [
        pytest.param(in_state("pending"), "health", "done", "belongs to police", id="other-owner"),
        pytest.param(in_state("pending"), "marriage", "done", "belongs to police", id="internal-service-not-owner"),
        pytest.param(in_state("done"), "health", "done", "belongs to police", id="other-owner-on-closed-step"),
        pytest.param(in_state("done"), "police", "rejected", "already done", id="done-then-rejected"),
        pytest.param(
            in_state("not_applicable"),
            "police",
            "rejected",
            "already not_applicable",
            id="not-applicable-then-rejected",
        ),
        pytest.param(in_state("rejected"), "police", "done", "already rejected", id="rejected-then-done"),
        pytest.param(
            in_state("rejected"), "police", "not_applicable", "already rejected", id="rejected-then-not-applicable"
        ),
        pytest.param(in_state("pending"), "police", "reversed", "not revoked", id="reversal-before-revocation"),
    ],
)
def test_check_report_refused(step, reporter, state, fragment):
    with pytest.raises(RuleRefused) as caught:
        check_report(step, reporter, state)
    assert fragment in caught.value.reason


def test_a_report_waits_for_its_phase():
    with pytest.raises(StepNotStarted):
        apply_report(in_state("not_started", "newborn_hukou"), "done", LATER, None)


# --- apply_report --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "state, reason",
    [
        pytest.param("done", None, id="done"),
        pytest.param("rejected", "documents missing", id="rejected-with-reason"),
        pytest.param("not_applicable", "already registered elsewhere", id="not-applicable"),
    ],
)
def test_first_report_closes_the_step(state, reason):
    step, changed = apply_report(in_state("pending"), state, LATER, reason)
    assert changed is True
    assert (step.state, step.reported_at, step.reason) == (state, LATER, reason)
    assert (step.started_at, step.deadline) == (in_state("pending").started_at, in_state("pending").deadline)


# Which word of a step's owner may follow which (a newer report, in a revoked matter so that a
# reversal may be reported at all): True takes the place of the current word, False is set aside.
FOLLOWS_TABLE = {
    # current            done   rejected  not_applicable  reversed
    "pending": (True, True, True, True),
    "done": (True, False, True, True),
    "not_applicable": (True, False, True, True),
    "rejected": (False, True, False, True),
    "reversed": (False, False, False, True),
}
REPORTED = ("done", "rejected", "not_applicable", "reversed")


@pytest.mark.parametrize(
    "current, reported, follows",
    [
        pytest.param(current, reported, row[i], id=f"{current}-then-{reported}")
        for current, row in FOLLOWS_TABLE.items()
        for i, reported in enumerate(REPORTED)
    ],
)
def test_which_report_may_follow_which(current, reported, follows):
    before = in_state(current, reason="first word")
    after, changed = apply_report(before, reported, LATER + timedelta(days=1), "second word", revoked=True)
    assert changed is follows
    if follows:
        assert (after.state, after.reason, after.reported_at) == (reported, "second word", LATER + timedelta(days=1))
        assert (after.started_at, after.deadline) == (before.started_at, before.deadline)
    else:
        assert after == before


def test_the_follows_table_covers_every_reportable_state():
    from gateway.progress_rules import FOLLOWS

    assert set(FOLLOWS) == set(FOLLOWS_TABLE) and set(REPORTED) == set(REPORTABLE_STEP_STATES)


@pytest.mark.parametrize(
    "first, second",
    [
        pytest.param("done", "done", id="done-restated"),
        pytest.param("not_applicable", "done", id="not-applicable-then-done"),
        pytest.param("done", "not_applicable", id="done-then-not-applicable"),
        pytest.param("rejected", "rejected", id="rejected-restated"),
    ],
)
def test_an_outcome_reported_again_replaces_the_first(first, second):
    closed, _ = apply_report(in_state("pending"), first, LATER, "as of 2026-06-02")
    again, changed = apply_report(closed, second, LATER + timedelta(days=1), "corrected to 2026-05-20")
    assert changed is True
    assert (again.state, again.reason, again.reported_at) == (
        second,
        "corrected to 2026-05-20",
        LATER + timedelta(days=1),
    )


@pytest.mark.parametrize(
    "first, second",
    [
        pytest.param("done", "rejected", id="done-then-rejected"),
        pytest.param("rejected", "done", id="rejected-then-done"),
        pytest.param("not_applicable", "rejected", id="not-applicable-then-rejected"),
    ],
)
def test_a_report_that_may_not_follow_is_set_aside(first, second):
    closed, _ = apply_report(in_state("pending"), first, LATER, "first word")
    again, changed = apply_report(closed, second, LATER + timedelta(days=1), "second word")
    assert changed is False
    assert (again.state, again.reason, again.reported_at) == (first, "first word", LATER)


# --- fold_reports: every report of a step, by event time, whatever order they arrive in -----------

T1, T2, T3 = LATER, LATER + timedelta(days=1), LATER + timedelta(days=2)
FIRST = Report("done", T1, "stopped as of 2026-06-02", seq=1)
CORRECTED = Report("done", T2, "date of death corrected from 2026-06-02 to 2026-05-20: stopped as of 2026-05-20", seq=2)
REVERSAL = Report("reversed", T3, "resumed", seq=3)


def fold(*reports, revoked=False, step=None):
    return fold_reports(step or pending(), list(reports), revoked=revoked)


def test_no_report_leaves_the_step_pending():
    assert fold() == (pending(), ())


def test_a_step_reads_as_its_latest_report():
    step, applied = fold(FIRST, CORRECTED)
    assert (step.state, step.reason, step.reported_at) == ("done", CORRECTED.reason, T2)
    assert applied == (True, True)


def test_an_older_report_arriving_late_does_not_overwrite_a_newer_one():
    late = replace(FIRST, seq=9)  # arrived after the correction's report
    step, applied = fold(CORRECTED, late)
    assert (step.state, step.reason, step.reported_at) == ("done", CORRECTED.reason, T2)
    assert applied == (True, True)  # in its place, before the correction


@pytest.mark.parametrize("arrival", list(permutations(range(3))), ids=lambda a: "-".join(map(str, a)))
def test_every_arrival_order_folds_to_the_same_step(arrival):
    reports = [FIRST, CORRECTED, REVERSAL]
    arrived = [replace(reports[i], seq=n) for n, i in enumerate(arrival)]
    step, applied = fold(*arrived, revoked=True)
    assert (step.state, step.reason, step.reported_at) == ("reversed", "resumed", T3)
    assert applied == (True, True, True)


def test_a_late_older_report_can_set_aside_a_newer_one_it_may_not_precede():
    """done at T1 (arriving late) and rejected at T2: in event order the rejection follows a done
    step, which it may not, so the step reads done, however the reports arrived."""
    rejected = Report("rejected", T2, "documents missing", seq=1)
    step, applied = fold(rejected, replace(FIRST, seq=2))
    assert (step.state, step.reported_at) == ("done", T1)
    assert applied == (False, True)


def test_an_outcome_after_the_reversal_is_set_aside():
    late_outcome = Report("done", T3 + SECOND, "restated", seq=4)
    step, applied = fold(FIRST, REVERSAL, late_outcome, revoked=True)
    assert (step.state, step.reason) == (REVERSED, "resumed")
    assert applied == (True, True, False)


def test_reports_of_the_same_time_follow_their_arrival():
    a, b = Report("done", T1, "a", seq=1), Report("done", T1, "b", seq=2)
    assert fold(b, a)[0].reason == "b"
    assert fold(replace(a, seq=3), b)[0].reason == "a"


def test_a_fold_starts_afresh_from_the_started_step():
    """Whatever the step said before, the fold takes it as its phase started it."""
    stale = replace(pending(), state="done", reported_at=T1, reason="stale")
    step, _ = fold(CORRECTED, step=stale)
    assert (step.state, step.reason, step.started_at, step.deadline) == (
        "done",
        CORRECTED.reason,
        pending().started_at,
        pending().deadline,
    )
    assert fold(step=stale)[0] == pending()


def test_a_fold_of_a_step_not_started_waits():
    with pytest.raises(StepNotStarted):
        fold(FIRST, step=in_state("not_started", "newborn_hukou"))
    assert fold(step=in_state("not_started", "newborn_hukou")) == (in_state("not_started", "newborn_hukou"), ())


def test_a_fold_with_a_reversal_before_the_revocation_waits():
    with pytest.raises(MatterNotYetRevoked):
        fold(FIRST, REVERSAL, revoked=False)


@pytest.mark.parametrize(
    "reports, applied, expected",
    [
        pytest.param([], [], [], id="no-report"),
        pytest.param([FIRST], [True], [], id="only-the-current"),
        pytest.param([FIRST, CORRECTED], [True, True], [(FIRST, True)], id="the-replaced-first"),
        pytest.param([CORRECTED, FIRST], [True, True], [(FIRST, True)], id="by-event-time-not-arrival"),
        pytest.param(
            [FIRST, REVERSAL, Report("done", T3 + SECOND, "late", seq=4)],
            [True, True, False],
            [(FIRST, True), (Report("done", T3 + SECOND, "late", seq=4), False)],
            id="set-aside-after-current",
        ),
        pytest.param(
            [Report("rejected", T1, "x", seq=1)],
            [False],
            [(Report("rejected", T1, "x", seq=1), False)],
            id="nothing-took-effect",
        ),
    ],
)
def test_history_is_every_report_but_the_current_one(reports, applied, expected):
    earlier, took_effect = history(reports, applied)
    assert list(zip(earlier, took_effect)) == expected


# --- completed_at ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "previous, state, expected",
    [
        pytest.param(None, "completed", T2, id="completes-now"),
        pytest.param(T1, "completed", T1, id="stays-completed-since"),
        pytest.param(T1, "in_progress", None, id="no-longer-completed"),
        pytest.param(T1, "revoked", None, id="revoked"),
        pytest.param(None, "waiting", None, id="not-yet"),
    ],
)
def test_completed_at_follows_the_matter_state(previous, state, expected):
    assert completed_at(previous, state, T2) == expected


# --- matter_state --------------------------------------------------------------------------------


def _steps(*states):
    return [in_state(s, step=f"step_{i}") for i, s in enumerate(states)]


@pytest.mark.parametrize(
    "states, expected",
    [
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
    ],
)
def test_matter_state(states, expected):
    assert matter_state(_steps(*states)) == expected


def test_matter_state_of_a_freshly_opened_matter_is_in_progress():
    assert matter_state(opened_steps(MT, OPENED)) == "in_progress"


# --- is_overdue ----------------------------------------------------------------------------------

DEADLINE = OPENED + timedelta(days=10)


@pytest.mark.parametrize(
    "step, now, expected",
    [
        pytest.param(pending(deadline=DEADLINE), DEADLINE - SECOND, False, id="pending-before-deadline"),
        pytest.param(pending(deadline=DEADLINE), DEADLINE, False, id="pending-at-deadline-exactly"),
        pytest.param(pending(deadline=DEADLINE), DEADLINE + SECOND, True, id="pending-one-second-after"),
        pytest.param(pending(deadline=DEADLINE), DEADLINE + timedelta(days=30), True, id="pending-long-after"),
        pytest.param(pending(deadline=None), DEADLINE + timedelta(days=30), False, id="pending-without-deadline"),
        pytest.param(in_state("not_started", "newborn_hukou"), DEADLINE + timedelta(days=30), False, id="not-started"),
        *[
            pytest.param(
                replace(pending(deadline=DEADLINE), state=s), DEADLINE + SECOND, False, id=f"{s}-after-deadline"
            )
            for s in sorted(TERMINAL_STEP_STATES)
        ],
    ],
)
def test_is_overdue(step, now, expected):
    assert is_overdue(step, now) is expected


@pytest.mark.parametrize(
    "matters, expected",
    [
        ([], (0, 0, 0, 0, None)),
        ([["done", "done"]], (1, 1, 1, 0, 1.0)),
        ([["done", "not_applicable"], ["done", "rejected"]], (2, 2, 1, 0, 0.5)),
        ([["done", "pending"], ["done", "done"], ["not_started", "done"]], (3, 1, 1, 2, 1.0)),
        ([["rejected"], ["rejected"], ["done"]], (3, 3, 1, 0, 0.3333)),
    ],
)
def test_joint_handling_rate_counts_only_decided_matters(matters, expected):
    result = joint_handling(matters)
    assert (result.matters, result.decided, result.all_granted, result.in_progress, result.rate) == expected


# --- revocation (身后一件事 made in error): steps reported reversed --------------------------------

from contracts.matters import AFTER_DEATH  # noqa: E402


def test_after_death_opens_every_step_pending_and_names_its_revocation():
    steps = opened_steps(AFTER_DEATH, OPENED)
    assert {s.state for s in steps} == {"pending"} and len(steps) == 7
    assert AFTER_DEATH.revoked_on == "death.revoked"
    assert {s.owner for s in AFTER_DEATH.steps} == {
        "funeral",
        "assistance",
        "care",
        "marriage",
        "police",
        "human_resources",
        "medical_insurance",
    }


@pytest.mark.parametrize("before", ["done", "pending", "not_applicable"])
def test_a_revoked_matter_takes_reversals(before):
    step, changed = apply_report(in_state(before), REVERSED, LATER, "undone", revoked=True)
    assert (step.state, step.reason, changed) == (REVERSED, "undone", True)


def test_a_reversal_before_the_revocation_waits():
    with pytest.raises(MatterNotYetRevoked):
        apply_report(in_state("done"), REVERSED, LATER, None, revoked=False)


def test_a_late_outcome_of_a_reversed_step_changes_nothing_and_a_second_reversal_restates_it():
    reversed_ = in_state(REVERSED)
    assert apply_report(reversed_, "done", LATER + SECOND, None, revoked=True) == (reversed_, False)
    assert apply_report(reversed_, REVERSED, LATER + SECOND, "again", revoked=True) == (
        replace(reversed_, reported_at=LATER + SECOND, reason="again"),
        True,
    )


@pytest.mark.parametrize(
    "states, state",
    [
        (["done", "done"], "revoking"),
        (["reversed", "pending"], "revoking"),
        (["reversed", "not_applicable"], "revoked"),
        (["reversed", "reversed"], "revoked"),
        (["rejected", "reversed"], "revoked"),
    ],
)
def test_matter_state_once_revoked(states, state):
    assert matter_state([in_state(s, step=f"s{i}") for i, s in enumerate(states)], revoked=True) == state


def test_matter_state_unrevoked_is_unchanged():
    assert matter_state([in_state("done"), in_state("not_applicable", step="x")]) == "completed"


@pytest.mark.parametrize(
    "state, revoked, fresh, refused",
    [
        ("done", True, True, False),
        (REVERSED, True, False, False),  # said already
        ("done", False, None, True),  # nothing to reverse before the revocation
    ],
)
def test_check_report_of_a_reversal(state, revoked, fresh, refused):
    if refused:
        with pytest.raises(RuleRefused):
            check_report(in_state(state), "police", REVERSED, revoked)
    else:
        assert check_report(in_state(state), "police", REVERSED, revoked) is fresh


def test_check_report_refuses_an_outcome_for_a_reversed_step():
    with pytest.raises(RuleRefused):
        check_report(in_state(REVERSED), "police", "done", True)
