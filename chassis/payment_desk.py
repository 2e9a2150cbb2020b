"""The payments office's desk (发放台): freeze a month, read a cycle, send its bank batch, take the
bank's answers, each with its audit row, the same for every service that pays through a
chassis.payment_runs.PaymentRun (assistance's benefits, care's old-age allowance). The service
says only who may act and what else an answer changes; the set-based SQL is the run's.

    desk = PaymentDesk(payments.RUN, "payment_cycle")   # audit actions payment_cycle.freeze …

The desk works with the worker's own `db`, `audit` and `bank_files` (read when it acts), so a
step and its audit row commit together in the worker's transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from nameko.extensions import DependencyProvider

from chassis.payment_runs import CycleSummary, PaymentRun, ReconcileSummary, as_problems
from chassis.schemas import dump
from contracts.payments import PaymentViewSchema


class Desk:
    def __init__(self, run: PaymentRun, cycle: str, service):
        self.run, self.cycle, self._service = run, cycle, service
        self._subject = cycle.replace("_", "-")

    def _audit(self, actor, step: str, cycle_id: str, state: str, **details) -> None:
        self._service.audit.record(actor, f"{self.cycle}.{step}", f"{self._subject}-{cycle_id}", state, **details)

    def freeze(self, actor, month: date, now: datetime, **run_args) -> CycleSummary:
        """The month's cycle frozen (or the one frozen already, as it is)."""
        with as_problems():
            summary = self.run.freeze(self._service.db.connection(), month, now, **run_args)
        self._audit(
            actor,
            "freeze",
            summary.cycle_id,
            "frozen" if summary.created else "already_frozen",
            payments=summary.payments,
            total_fen=summary.total_fen,
        )
        return summary

    def summary(self, cycle_id: str) -> CycleSummary:
        with as_problems():
            return self.run.summary(self._service.db.connection(), cycle_id)

    def send(self, actor, cycle_id: str) -> dict:
        """The cycle's pending payments written for the bank with control totals; frozen -> sent."""
        conn = self._service.db.connection()
        with as_problems():
            self.run.claim_for_sending(conn, cycle_id)
            path, (rows, total) = self._service.bank_files(
                self.run.file_name(cycle_id), lambda out: self.run.write_bank_file(conn, cycle_id, out)
            )
            state = self.run.mark_sent(conn, cycle_id)
        self._audit(actor, "send", cycle_id, state, rows=rows, total_fen=total, file=path.name)
        return {"cycle_id": cycle_id, "file": str(path), "rows": rows, "total_fen": total, "state": state}

    def reconcile(
        self, actor, cycle_id: str, results: list[dict], then: Callable[[ReconcileSummary], None] | None = None
    ) -> ReconcileSummary:
        """The bank's answers (paid / failed with reason). Re-applying one changes nothing;
        contradictions are refused and listed; failures are paid again as arrears. `then`: what
        else the answers change in the service (recoveries recounted), before the audit row."""
        with as_problems():
            summary = self.run.reconcile(
                self._service.db.connection(), cycle_id, [(r["payment_id"], r["status"], r["reason"]) for r in results]
            )
        if then is not None:
            then(summary)
        self._audit(
            actor,
            "reconcile",
            cycle_id,
            summary.state,
            paid=summary.paid,
            failed=summary.failed,
            conflicts=len(summary.conflicts),
        )
        return summary

    @staticmethod
    def payment_view(payment) -> dict:
        """One payment of the run's ledger as the household or elder and their caseworkers see it."""
        return dump(
            PaymentViewSchema,
            {
                "payment_id": payment.id,
                "cycle_id": payment.cycle_id,
                "for_month": payment.for_month,
                "kind": payment.kind,
                "amount_fen": payment.amount_fen,
                "state": payment.state,
                "failure_reason": payment.failure_reason,
            },
        )

    def scope_of(self, cycle_id: str) -> str:
        with as_problems():
            return self.run.scope_of(self._service.db.connection(), cycle_id)


class PaymentDesk(DependencyProvider):
    """Gives the worker the desk of one payment run."""

    def __init__(self, run: PaymentRun, cycle: str):
        self.run, self.cycle = run, cycle

    def get_dependency(self, worker_ctx):
        return Desk(self.run, self.cycle, worker_ctx.service)
