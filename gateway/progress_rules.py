"""How a matter's progress folds out of its events: pure functions, table-tested.

A step is `not_started` until its phase starts (at opening, or on the event named by the step's
`starts_on`), then `pending` with a deadline, then closed by its owner's first report (`done`,
`rejected`, `not_applicable`). Later reports for a closed step are journaled but change nothing:
the first word of the owner stands, as in an append-only action log. The one exception is a
revoked matter (a death notified in error): its owners then report their steps `reversed`, and the
matter reads `revoking` until no step is left done or pending, then `revoked`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contracts.matters import REVERSED, TERMINAL_STEP_STATES, MatterType


@dataclass(frozen=True)
class StepState:
    step: str
    owner: str
    state: str
    started_at: datetime | None = None
    deadline: datetime | None = None
    reported_at: datetime | None = None
    reason: str | None = None


class ReportRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def opened_steps(matter_type: MatterType, at: datetime) -> list[StepState]:
    return [StepState(s.name, s.owner, "pending", at, at + timedelta(days=s.deadline_days))
            if s.starts_on is None else StepState(s.name, s.owner, "not_started")
            for s in matter_type.steps]


def start_phase(matter_type: MatterType, steps: list[StepState], event_type: str, at: datetime) -> list[StepState]:
    starting = {s.name: s for s in matter_type.steps_started_by(event_type)}
    return [replace(st, state="pending", started_at=at, deadline=at + timedelta(days=starting[st.step].deadline_days))
            if st.step in starting and st.state == "not_started" else st
            for st in steps]


def check_report(step: StepState, reporter: str, state: str, revoked: bool = False) -> bool:
    """Whether `reporter` may report `state` now; False means 'already said exactly that'.

    Raises ReportRefused for another owner's step or a closed step. A step not started yet is
    accepted: the partner may have received the starting event before the progress view did.
    A reversal is accepted only once the matter is revoked, for a step not yet reversed.
    """
    if reporter != step.owner:
        raise ReportRefused(f"step {step.step} belongs to {step.owner}")
    if state == REVERSED:
        if not revoked:
            raise ReportRefused(f"the matter is not revoked: step {step.step} has nothing to reverse")
        return step.state != REVERSED
    if step.state == REVERSED:
        raise ReportRefused(f"step {step.step} is already reversed")
    if step.state in TERMINAL_STEP_STATES:
        if step.state == state:
            return False
        raise ReportRefused(f"step {step.step} is already {step.state}")
    return True


class StepNotStarted(Exception):
    """A report arrived before the event that starts its step; the consumer retries it later."""


class MatterNotYetRevoked(Exception):
    """A reversal arrived before the revocation that allows it; the consumer retries it later."""


def apply_report(step: StepState, state: str, at: datetime, reason: str | None,
                 revoked: bool = False) -> tuple[StepState, bool]:
    """The step after a report, and whether the report changed it."""
    if state == REVERSED:
        if not revoked:
            raise MatterNotYetRevoked(f"step {step.step} reported reversed before its matter was revoked")
        if step.state == REVERSED:
            return step, False
        return replace(step, state=REVERSED, reported_at=at, reason=reason), True
    if step.state == REVERSED:
        return step, False  # a late outcome of a step already undone changes nothing
    if step.state == "not_started":
        raise StepNotStarted(f"step {step.step} has not started yet")
    if step.state in TERMINAL_STEP_STATES:
        return step, False
    return replace(step, state=state, reported_at=at, reason=reason), True


def matter_state(steps: list[StepState], revoked: bool = False) -> str:
    states = {s.state for s in steps}
    if revoked:  # every step that was done (or could still be) must be reversed
        return "revoking" if states & {"done", "pending"} else "revoked"
    if "rejected" in states:
        return "needs_attention"
    if "pending" in states:
        return "in_progress"
    if "not_started" in states:
        return "waiting"  # e.g. the marriage half is done and the birth has not happened yet
    return "completed"


def is_overdue(step: StepState, now: datetime) -> bool:
    return step.state == "pending" and step.deadline is not None and now > step.deadline


@dataclass(frozen=True)
class JointHandling:
    """联办率: of the matters whose every step has an outcome, the share granted entirely without a
    second application (no step rejected). Matters still open are counted apart, not as failures."""
    matters: int
    decided: int
    all_granted: int
    in_progress: int

    @property
    def rate(self) -> float | None:
        return round(self.all_granted / self.decided, 4) if self.decided else None


def joint_handling(matters: list[list[str]]) -> JointHandling:
    """`matters`: each matter's step states."""
    decided = [states for states in matters if set(states) <= TERMINAL_STEP_STATES]
    granted = sum(1 for states in decided if "rejected" not in states)
    return JointHandling(len(matters), len(decided), granted, len(matters) - len(decided))
