"""How a matter's progress folds out of its events: pure functions, table-tested.

A step is `not_started` until its phase starts (at opening, or on the event named by the step's
`starts_on`), then `pending` with a deadline, then closed by its owner's report (`done`,
`rejected`, `not_applicable`). Its owner may report it again: a corrected date of death has
assistance, care and marriage take their steps again and say so, and a revoked matter (a death
notified in error) has its owners report their steps `reversed`. Every report is kept; the step
reads as its owner's latest word, by the time of the report's event, whatever order the reports
arrive in (`fold_reports`): an older report arriving late goes into the step's history and
changes nothing. Not every word may follow every other (`FOLLOWS`): a report that may not is kept
in the history but set aside. A revoked matter reads `revoking` until no step is left done or
pending, then `revoked`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from contracts.matters import REVERSED, TERMINAL_STEP_STATES, MatterType
from contracts.refusals import RuleRefused

# The words a newer report of a step's owner may bring after the step's current one.
# - pending: any outcome; a reversal too (nothing done, nothing left to do) once the matter is revoked.
# - done and not applicable: said again (with a new reason: what a corrected date of death changed),
#   or changed into each other (the corrected date finds something to do where the old one found
#   nothing, or the other way round), or reversed once the matter is revoked.
# - rejected: said again only. A refusal is answered by a new application, not by a later `done`
#   of the same step (联办率 counts a rejected step as a second application); a finished step is
#   never refused afterwards either.
# - reversed: said again only. The matter was made in error; nothing it did stands any more.
FOLLOWS: dict[str, frozenset[str]] = {
    "pending": frozenset({"done", "rejected", "not_applicable", REVERSED}),
    "done": frozenset({"done", "not_applicable", REVERSED}),
    "not_applicable": frozenset({"done", "not_applicable", REVERSED}),
    "rejected": frozenset({"rejected", REVERSED}),
    REVERSED: frozenset({REVERSED}),
}


@dataclass(frozen=True)
class StepState:
    step: str
    owner: str
    state: str
    started_at: datetime | None = None
    deadline: datetime | None = None
    reported_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Report:
    """One report of a step by its owner: `at` is its event's time; `seq` the order it arrived in,
    which decides only between reports of the same time."""

    state: str
    at: datetime
    reason: str | None = None
    seq: int = 0


def opened_steps(matter_type: MatterType, at: datetime) -> list[StepState]:
    return [
        StepState(s.name, s.owner, "pending", at, at + timedelta(days=s.deadline_days))
        if s.starts_on is None
        else StepState(s.name, s.owner, "not_started")
        for s in matter_type.steps
    ]


def start_phase(matter_type: MatterType, steps: list[StepState], event_type: str, at: datetime) -> list[StepState]:
    starting = {s.name: s for s in matter_type.steps_started_by(event_type)}
    return [
        replace(st, state="pending", started_at=at, deadline=at + timedelta(days=starting[st.step].deadline_days))
        if st.step in starting and st.state == "not_started"
        else st
        for st in steps
    ]


def may_follow(current: str, reported: str) -> bool:
    """Whether a newer report of `reported` may take the place of a step's `current` word."""
    return reported in FOLLOWS.get(current, frozenset())


class NotRevokedYet(RuleRefused):
    """A reversal reported before the progress view has the revocation: it may just be behind."""


def check_report(step: StepState, reporter: str, state: str, revoked: bool = False, reason: str | None = None) -> bool:
    """Whether `reporter` may report `state` (with `reason`) now; False means 'already said exactly that'.

    Raises RuleRefused for another owner's step, a reversal before the revocation, or a word that
    may not follow the step's current one (`FOLLOWS`). A step not started yet is accepted: the
    partner may have received the starting event before the progress view did.
    """
    if reporter != step.owner:
        raise RuleRefused(f"step {step.step} belongs to {step.owner}")
    if state == REVERSED and not revoked:
        raise NotRevokedYet(f"the matter is not revoked: step {step.step} has nothing to reverse")
    if step.state == "not_started":
        return True
    if (step.state, step.reason) == (state, reason):
        return False
    if not may_follow(step.state, state):
        raise RuleRefused(f"step {step.step} is already {step.state}")
    return True


class StepNotStarted(Exception):
    """A report arrived before the event that starts its step; the consumer retries it later."""


class MatterNotYetRevoked(Exception):
    """A reversal arrived before the revocation that allows it; the consumer retries it later."""


def apply_report(
    step: StepState, state: str, at: datetime, reason: str | None, revoked: bool = False
) -> tuple[StepState, bool]:
    """The step after one newer report of its owner, and whether the report took effect (False:
    set aside, as a word that may not follow the step's current one)."""
    if state == REVERSED and not revoked:
        raise MatterNotYetRevoked(f"step {step.step} reported reversed before its matter was revoked")
    if step.state == "not_started":
        raise StepNotStarted(f"step {step.step} has not started yet")
    if not may_follow(step.state, state):
        return step, False
    return replace(step, state=state, reported_at=at, reason=reason), True


def fold_reports(step: StepState, reports: list[Report], revoked: bool = False) -> tuple[StepState, tuple[bool, ...]]:
    """The step as every report of its owner leaves it, and for each report (in the order given)
    whether it took effect. `step`: the step as its phase started it (its reports are folded
    afresh, so whatever it says of them is ignored). The reports are taken by event time (then by
    arrival), so the latest report that may follow the one before stands, however late it arrived.
    """
    if step.state == "not_started":
        if reports:
            raise StepNotStarted(f"step {step.step} has not started yet")
        return step, ()
    current = replace(step, state="pending", reported_at=None, reason=None)
    applied = [False] * len(reports)
    for i in sorted(range(len(reports)), key=lambda i: (reports[i].at, reports[i].seq)):
        report = reports[i]
        current, applied[i] = apply_report(current, report.state, report.at, report.reason, revoked)
    return current, tuple(applied)


def history(reports: list[Report], applied: list[bool]) -> tuple[list[Report], list[bool]]:
    """A step's reports other than the one it reads as now (the last that took effect), in order of
    event time, with whether each took effect."""
    order = sorted(range(len(reports)), key=lambda i: (reports[i].at, reports[i].seq))
    current = next((i for i in reversed(order) if applied[i]), None)
    kept = [i for i in order if i != current]
    return [reports[i] for i in kept], [applied[i] for i in kept]


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


def completed_at(previous: datetime | None, state: str, at: datetime) -> datetime | None:
    """When the matter completed: the first time it read `completed` since it last did not; None
    while it does not (a matter's state follows its steps' current words)."""
    if state != "completed":
        return None
    return previous or at


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


def differing_facts(first: dict | None, again: dict, first_hospital: str) -> list[str]:
    """Which facts of a birth notice differ from the first notice of the same certificate number,
    as the request's field names (`child.name`, `mother_resident_id` …), the number itself first
    when any do. A notice kept before its facts were (`first` None) is compared by hospital."""
    if first is None:
        first = {**again, "hospital": first_hospital} if again.get("hospital") == first_hospital else {}

    def flat(facts: dict, prefix: str = "") -> dict:
        out = {}
        for key, value in facts.items():
            if isinstance(value, dict):
                out.update(flat(value, f"{prefix}{key}."))
            else:
                out[f"{prefix}{key}"] = value
        return out

    before, now = flat(first), flat(again)
    differing = sorted(key for key in before.keys() | now.keys() if before.get(key) != now.get(key))
    return ["child.birth_certificate_number", *differing] if differing else []
