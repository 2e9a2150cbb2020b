"""The matter-progress projection (一件事进度): folds every step report into one view per matter.

Not an orchestrator: it commands nobody, it only listens. The gateway reads its tables to answer
"where is my matter"; a timer counts overdue steps for the operations team.
"""

from __future__ import annotations

from sqlalchemy import func, select

from chassis import Clock, Database, Logger, WorkerMetrics, handle_event
from chassis.metrics import MATTER_COMPLETION, MATTERS_COMPLETED, MATTERS_OPENED, STEPS_OVERDUE
from chassis.ops import OpsWatch
from contracts.matters import MatterType, Step, matter_type
from gateway import progress_rules as rules
from gateway.models import Matter, MatterStep, MatterSubject, StepReport


def count_overdue(conn, now) -> None:
    """Pending steps past their deadline, by matter type and owner (every pair known, 0 included)."""
    pairs = select(Matter.matter_type, MatterStep.owner).join(Matter, Matter.id == MatterStep.matter_id)
    counts = {
        (t, o): n
        for t, o, n in conn.execute(
            pairs.add_columns(func.count())
            .where(MatterStep.state == "pending", MatterStep.deadline < now)
            .group_by(Matter.matter_type, MatterStep.owner)
        ).all()
    }
    for matter_type_, owner in conn.execute(pairs.distinct()).all():
        STEPS_OVERDUE.labels(matter_type_, owner).set(counts.get((matter_type_, owner), 0))


def step_state(row: MatterStep) -> rules.StepState:
    return rules.StepState(row.step, row.owner, row.state, row.started_at, row.deadline, row.reported_at, row.reason)


def kind_of(matter: Matter, rows: list[MatterStep]) -> MatterType:
    """The matter's type with the steps it was opened with (fixed, or data from its event)."""
    base = matter_type(matter.matter_type)
    steps = tuple(
        Step(r.step, r.owner, r.title, r.deadline_days, r.starts_on) for r in sorted(rows, key=lambda r: r.position)
    )
    return MatterType(base.name, base.title, base.opened_by, steps)


def as_report(row: StepReport) -> rules.Report:
    return rules.Report(row.state, row.reported_at, row.reason, row.id)


def save_step(row: MatterStep, state: rules.StepState) -> None:
    row.state, row.started_at, row.deadline = state.state, state.started_at, state.deadline
    row.reported_at, row.reason = state.reported_at, state.reason


class MatterNotYetKnown(Exception):
    """A report overtook the matter's opening; the chassis retries it after a delay."""


class ProgressService:
    name = "progress"

    db = Database()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()
    # the queue watch of the whole system, and the overdue steps: one gateway replica exports them
    ops_watch = OpsWatch(counts=(count_overdue,), gauges=(STEPS_OVERDUE,))

    @handle_event("matter.opened", "matter.step_reported", "birth.notified", "death.revoked")
    def on_matter_event(self, event):
        if event.type == "matter.opened":
            self._open(event)
            return
        if event.matter_id is None:
            self.log.info("progress.event_without_matter", event_type=event.type)
            return
        matter = self.db.get(Matter, event.matter_id)
        if matter is None:
            raise MatterNotYetKnown(f"matter {event.matter_id} not opened yet")
        rows = list(
            self.db.execute(
                select(MatterStep)
                .where(MatterStep.matter_id == matter.id)
                .order_by(MatterStep.position)
                .with_for_update()
            ).scalars()
        )
        kind = kind_of(matter, rows)
        if event.type == matter_type(matter.matter_type).revoked_on:
            if matter.revoked_at is None:
                matter.revoked_at = event.time
            return
        if event.type == "birth.notified":
            started = rules.start_phase(kind, [step_state(r) for r in rows], event.type, event.time)
            for row, state in zip(rows, started):
                save_step(row, state)
        else:
            self._report(matter, rows, event)
        # complete (or not) by the steps' current words: a step reported again may change them
        was_completed = matter.completed_at
        matter.completed_at = rules.completed_at(
            matter.completed_at,
            rules.matter_state([step_state(r) for r in rows], matter.revoked_at is not None),
            event.time,
        )
        if was_completed is None and matter.completed_at is not None:
            MATTERS_COMPLETED.labels(matter.matter_type).inc()
            MATTER_COMPLETION.labels(matter.matter_type).observe(
                max(0.0, (matter.completed_at - matter.opened_at).total_seconds())
            )

    def _open(self, event):
        if self.db.get(Matter, event.matter_id) is not None:
            return
        kind = matter_type(event.data["matter_type"])
        if kind.steps_from_event:
            kind = MatterType(
                kind.name,
                kind.title,
                kind.opened_by,
                tuple(
                    Step(s["name"], s["owner"], s["title"], s["deadline_days"], s.get("starts_on"))
                    for s in event.data["steps"]
                ),
            )
        self.db.add(
            Matter(
                id=event.matter_id,
                matter_type=kind.name,
                region_code=event.data["region_code"],
                opened_at=event.time,
                opened_by=event.source,
            )
        )
        self.db.flush()
        MATTERS_OPENED.labels(kind.name).inc()
        self.db.add_all([MatterSubject(matter_id=event.matter_id, resident_id=r) for r in set(event.data["subjects"])])
        for position, (spec, state) in enumerate(zip(kind.steps, rules.opened_steps(kind, event.time))):
            row = MatterStep(
                matter_id=event.matter_id,
                step=spec.name,
                position=position,
                owner=spec.owner,
                title=spec.title,
                deadline_days=spec.deadline_days,
                starts_on=spec.starts_on,
            )
            save_step(row, state)
            self.db.add(row)

    def _report(self, matter, rows, event):
        data = event.data
        row = next((r for r in rows if r.step == data["step"]), None)
        if row is None:
            self.log.warning("progress.unknown_step", step=data["step"])
            return
        report = StepReport(
            event_id=event.id,
            matter_id=matter.id,
            step=data["step"],
            state=data["state"],
            reported_by=data["reported_by"],
            reported_at=event.time,
            reason=data.get("reason"),
            applied="refused",
        )
        self.db.add(report)
        # Only the step's owner closes it: a service for itself, the gateway for a partner.
        if not (data["reported_by"] == row.owner and event.source in (row.owner, "gateway")):
            self.log.warning(
                "progress.report_not_entitled",
                step=row.step,
                owner=row.owner,
                source=event.source,
                reported_by=data["reported_by"],
            )
            return
        report.applied = "yes"
        self.db.flush()
        # The step is folded afresh from every report of its owner, by event time: a report that
        # arrives late takes its place in the history and does not overwrite a newer one. A report
        # ahead of its phase raises StepNotStarted, a reversal ahead of the revocation
        # MatterNotYetRevoked: the chassis retries either later (nothing of it is kept meanwhile).
        reports = list(
            self.db.execute(
                select(StepReport)
                .where(StepReport.matter_id == matter.id, StepReport.step == row.step, StepReport.applied != "refused")
                .order_by(StepReport.reported_at, StepReport.id)
            ).scalars()
        )
        current, applied = rules.fold_reports(
            step_state(row), [as_report(r) for r in reports], revoked=matter.revoked_at is not None
        )
        save_step(row, current)
        for stored, took_effect in zip(reports, applied):
            stored.applied = "yes" if took_effect else "ignored"
