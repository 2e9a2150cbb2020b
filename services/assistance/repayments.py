"""追回 at the payments office: what comes back (repayments), what is written off, what is given
back (refunds), and reading recoveries, each entry a Repayment row and an audit row. A mixin of
the assistance service (nameko finds inherited entrypoints); recoveries.py counts what is owed."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import case, select

from chassis import Actor, Conflict, Forbidden, InvalidInput, NotFound, Refused, rpc
from chassis.errors import refusals_as
from chassis.regions import region_prefix, require_region_code
from contracts.assistance import (
    RecoveryListQuerySchema,
    RecoveryListViewSchema,
    RecoveryViewSchema,
    RefundRequestSchema,
    RepaymentRequestSchema,
)
from contracts.refusals import RuleError
from contracts.roles import ADMIN
from services.assistance import rules
from services.assistance.models import (
    AfterDeathPayment,
    Household,
    Overpayment,
    Payment,
    Recovery,
    Repayment,
)
from services.assistance.recoveries import _ledger
from services.assistance.schemas import dump, load


class RecoveryDesk:
    # --- the payments office -------------------------------------------------------------------

    @rpc
    def record_repayment(self, actor, recovery_id, request):
        """Money back on a recovery (bank_return, repayment) or an amount written off (write_off,
        with the reason); never more than is outstanding. Staff of the household's area; a
        write-off (核销) forgoes public money, so only the district bureau or the payments office
        (admin) decides one, not a township."""
        actor, data = Actor.from_dict(actor), load(RepaymentRequestSchema, request)
        recovery, overpayment, region = self._recovery(actor, recovery_id, for_update=True)
        if data["method"] == "write_off" and actor.role != ADMIN and len(actor.area or "") != 6:
            raise Forbidden(
                "a write-off is decided by the district bureau or the payments office",
                errors={"method": ["write_off: for the district bureau or the payments office"]},
            )
        self._not_in_the_future(data["received_on"], "received_on")
        subject = f"recovery-{recovery.id}"
        with refusals_as(
            Refused,
            on_conflict=Conflict,
            audit=lambda refusal: self._refused(
                refusal, actor, "recovery.repayment", subject, method=data["method"], amount_fen=data["amount_fen"]
            ),
        ):
            after = rules.record_repayment(_ledger(recovery), data["method"], data["amount_fen"], data["reason"])
        self._enter(
            actor, recovery, data["method"], data["amount_fen"], data["received_on"], data["reference"], data["reason"]
        )
        note = None
        if after.state == "recovered":
            note = f"recovered in full: {rules.yuan(after.recovered_fen)} came back" + (
                f", {rules.yuan(after.written_off_fen)} written off" if after.written_off_fen else ""
            )
        self._apply(recovery, after, note)
        self.db.flush()
        self.audit.record(
            actor,
            "recovery.repayment",
            subject,
            after.state,
            reason=data["reason"],
            method=data["method"],
            amount_fen=data["amount_fen"],
            received_on=data["received_on"],
            reference=data["reference"],
            outstanding_fen=after.outstanding_fen,
        )
        return self._recovery_view(recovery, overpayment, region)

    @rpc
    def record_refund(self, actor, recovery_id, request):
        """Money recovered that is owed back (the death was revoked, or the bank never paid what was
        recovered), given back to the household; never more than is owed back."""
        actor, data = Actor.from_dict(actor), load(RefundRequestSchema, request)
        recovery, overpayment, region = self._recovery(actor, recovery_id, for_update=True)
        self._not_in_the_future(data["paid_on"], "paid_on")
        subject = f"recovery-{recovery.id}"
        with refusals_as(
            Refused,
            on_conflict=Conflict,
            audit=lambda refusal: self._refused(
                refusal, actor, "recovery.refund", subject, amount_fen=data["amount_fen"]
            ),
        ):
            after = rules.record_refund(_ledger(recovery), data["amount_fen"])
        self._enter(actor, recovery, "refund", data["amount_fen"], data["paid_on"], data["reference"])
        self._apply(recovery, after, None)
        self.db.flush()
        self.audit.record(
            actor,
            "recovery.refund",
            subject,
            recovery.state,
            amount_fen=data["amount_fen"],
            paid_on=data["paid_on"],
            reference=data["reference"],
            refund_due_fen=after.refund_due_fen,
        )
        return self._recovery_view(recovery, overpayment, region)

    def _enter(self, actor, recovery, method: str, amount_fen: int, on, reference, reason=None) -> None:
        """One entry of the payments office's ledger of the recovery (a Repayment row)."""
        self.db.add(
            Repayment(
                id=str(uuid.uuid4()),
                recovery_id=recovery.id,
                method=method,
                amount_fen=amount_fen,
                received_on=on,
                reference=reference,
                reason=reason,
                recorded_by=actor.id,
                recorded_at=self.clock.now(),
            )
        )

    @rpc
    def get_recovery(self, actor, recovery_id):
        actor = Actor.from_dict(actor)
        return self._recovery_view(*self._recovery(actor, recovery_id))

    @rpc
    def list_recoveries(self, actor, query=None):
        """The area's recoveries for the payments office, oldest first, in a state (open by
        default; `refund_due`: those owing money back), with what is outstanding and owed back."""
        actor, data = Actor.from_dict(actor), load(RecoveryListQuerySchema, query or {})
        statement = (
            select(Recovery, Overpayment, Household.region_code)
            .join(Overpayment, Overpayment.id == Recovery.overpayment_id)
            .join(Household, Household.id == Overpayment.household_id)
            .where(actor.in_area(Household.region_code, "recoveries"))
        )
        if data["region_code"]:
            narrowed = require_region_code(data["region_code"])
            if not actor.covers(narrowed):
                raise Forbidden(f"{narrowed} is outside your area {actor.area}")
            statement = statement.where(Household.region_code.startswith(region_prefix(narrowed), autoescape=True))
        if data["state"] == "refund_due":
            owed = case((Recovery.state == "cancelled", 0), else_=Recovery.amount_fen)
            statement = statement.where(Recovery.recovered_fen - Recovery.refunded_fen > owed)
        elif data["state"] != "all":
            statement = statement.where(Recovery.state == data["state"])
        rows = self.db.execute(statement.order_by(Recovery.opened_on, Recovery.id)).all()
        views = [self._recovery_view(r, o, region, entries=False) for r, o, region in rows]
        return dump(
            RecoveryListViewSchema,
            {
                "recoveries": views,
                "outstanding_fen": sum(v["outstanding_fen"] for v in views),
                "refund_due_fen": sum(v["refund_due_fen"] for v in views),
            },
        )

    def _recovery(self, actor: Actor, recovery_id, for_update: bool = False) -> tuple[Recovery, Overpayment, str]:
        statement = select(Recovery).where(Recovery.id == str(recovery_id))
        if for_update:
            statement = statement.with_for_update().execution_options(populate_existing=True)
        recovery = self.db.execute(statement).scalar_one_or_none()
        if recovery is None:
            raise NotFound(f"no recovery {recovery_id}")
        overpayment = self.db.get(Overpayment, recovery.overpayment_id)
        region = self.db.get(Household, overpayment.household_id).region_code
        actor.require_staff_in(region)
        return recovery, overpayment, region

    def _not_in_the_future(self, day: date, field: str) -> None:
        if day > self.clock.today():
            raise InvalidInput(f"{field} is in the future", errors={field: ["not after today"]})

    def _refused(self, refusal: RuleError, actor: Actor, action: str, subject: str, **details):
        self.audit.record_refusal(actor, action, subject, refusal.reason, field=refusal.field, **details)

    def _recovery_view(self, recovery: Recovery, overpayment: Overpayment, region: str, entries: bool = True) -> dict:
        ledger = _ledger(recovery)
        view = {
            "recovery_id": recovery.id,
            "case_id": overpayment.case_id,
            "household_id": overpayment.household_id,
            "region_code": region,
            "entitlement_id": overpayment.entitlement_id,
            "programme": overpayment.programme,
            "months": overpayment.months,
            "state": recovery.state,
            "amount_fen": recovery.amount_fen,
            "recovered_fen": recovery.recovered_fen,
            "written_off_fen": recovery.written_off_fen,
            "refunded_fen": recovery.refunded_fen,
            "outstanding_fen": ledger.outstanding_fen,
            "refund_due_fen": ledger.refund_due_fen,
            "opened_on": recovery.opened_on,
            "closed_on": recovery.closed_on,
            "note": recovery.note,
        }
        if not entries:
            return view
        view["repayments"] = [
            {
                "repayment_id": r.id,
                "method": r.method,
                "amount_fen": r.amount_fen,
                "received_on": r.received_on,
                "reference": r.reference,
                "reason": r.reason,
                "recorded_by": r.recorded_by,
                "recorded_at": r.recorded_at,
            }
            for r in self.db.execute(
                select(Repayment)
                .where(Repayment.recovery_id == recovery.id)
                .order_by(Repayment.recorded_at, Repayment.id)
            ).scalars()
        ]
        return dump(RecoveryViewSchema, view)

    def _recovery_summary(self, recovery: Recovery) -> dict:
        """A recovery as the after-death view shows it."""
        ledger = _ledger(recovery)
        return {
            "recovery_id": recovery.id,
            "state": recovery.state,
            "amount_fen": recovery.amount_fen,
            "recovered_fen": recovery.recovered_fen,
            "written_off_fen": recovery.written_off_fen,
            "refunded_fen": recovery.refunded_fen,
            "outstanding_fen": ledger.outstanding_fen,
            "refund_due_fen": ledger.refund_due_fen,
            "note": recovery.note,
        }

    def _after_death_payments_view(self, case_id: str, entitlement_id: int) -> list[dict]:
        """The payments a death counted for months after it, with their state now."""
        return [
            {
                "payment_id": link.payment_id,
                "cycle_id": link.cycle_id,
                "for_month": link.for_month.isoformat(),
                "amount_fen": link.amount_fen,
                "state": state,
                "due_fen": link.due_fen,
            }
            for link, state in self.db.execute(
                select(AfterDeathPayment, Payment.state)
                .join(Payment, Payment.id == AfterDeathPayment.payment_id)
                .where(AfterDeathPayment.case_id == case_id, AfterDeathPayment.entitlement_id == entitlement_id)
                .order_by(AfterDeathPayment.for_month, AfterDeathPayment.payment_id)
            ).all()
        ]
