"""The monthly payment run (社会化发放): freezing a cycle, the bank batch, reconciliation. A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date

from sqlalchemy import func, select

from chassis import (
    Actor,
    Forbidden,
    rpc,
)
from contracts.partners import BANKS
from contracts.payments import (
    BankBatchViewSchema,
    BankResultsRequestSchema,
    PaymentCycleRequestSchema,
    PaymentCycleViewSchema,
    ReconcileViewSchema,
)
from contracts.roles import CITIZEN, PARTNER
from services.assistance import payments
from services.assistance.models import (
    Entitlement,
    Member,
    Payment,
)
from services.assistance.schemas import (
    dump,
    load,
)
from services.assistance.shared import (
    _require_payments_office,
)


class PaymentRun:
    """Mixed into the assistance service; uses its db, clock, desk."""

    # --- the monthly payment run (社会化发放) --------------------------------------------------
    # Set-based SQL in chassis.payment_runs, what is paid in payments.py; here only who may, the audit row, and moving data in and out.

    @rpc
    def freeze_payment_cycle(self, actor, request):
        """Freeze the month's cycle: every active entitlement's payment with the amount, bank
        account and policy version of today (the snapshot), plus failed payments as arrears.
        Idempotent: a month already frozen is returned as it is."""
        actor, data = Actor.from_dict(actor), load(PaymentCycleRequestSchema, request)
        _require_payments_office(actor)
        return dump(PaymentCycleViewSchema, asdict(self.desk.freeze(actor, data["month"], self.clock.now())))

    @rpc
    def get_payment_cycle(self, actor, cycle_id):
        _require_payments_office(Actor.from_dict(actor))
        return dump(PaymentCycleViewSchema, asdict(self.desk.summary(cycle_id)))

    @rpc
    def send_bank_batch(self, actor, cycle_id):
        """Write the cycle's pending payments for the bank, with control totals; frozen -> sent."""
        actor = Actor.from_dict(actor)
        _require_payments_office(actor)
        return dump(BankBatchViewSchema, self.desk.send(actor, cycle_id))

    @rpc
    def reconcile_bank_results(self, actor, cycle_id, request):
        """The bank's answers (paid / failed with reason), from the bank itself (partner `banks`)
        or uploaded by the payments office. Re-applying an answer changes nothing; contradictions
        are refused and listed; failed payments are paid again as arrears next cycle (a month after
        a death only for what it is still due). A payment a death counted as overpaid that the bank
        did not make is taken off the overpayment and its recovery (recoveries.py)."""
        actor, data = Actor.from_dict(actor), load(BankResultsRequestSchema, request)
        if not (actor.role == PARTNER and actor.id == BANKS):
            _require_payments_office(actor)

        def settle(summary):
            if summary.paid:  # a paid top-up may settle a revoked death's back pay
                self.db.connection().execute(payments.MARK_BACK_PAY_PAID)
            if summary.paid or summary.failed:  # a payment a death counted may not have been made
                self._recount_after_bank_results(actor, cycle_id)

        return dump(ReconcileViewSchema, self.desk.reconcile(actor, cycle_id, data["results"], then=settle).view())

    @rpc
    def household_payments(self, actor, household_id):
        """A household's payments, newest month first: for the household itself and its caseworkers."""
        actor = Actor.from_dict(actor)
        household = self._household_by_id(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        rows = self.db.execute(
            select(Payment)
            .where(Payment.household_id == household_id)
            .order_by(Payment.for_month.desc(), Payment.id.desc())
        ).scalars()
        return [self.desk.payment_view(p) for p in rows]

    def _paid_by_month(self, entitlement_id: int, with_arrears_due: bool = False) -> dict:
        """What each month's payments of the entitlement paid out (handed to the bank or paid).
        `with_arrears_due`: a month whose only payment failed counts as paid too, since the next
        cycle pays it again as arrears now that the entitlement covers the month again."""
        paid = {
            month: int(fen)
            for month, fen in self.db.execute(
                select(Payment.for_month, func.sum(Payment.amount_fen))
                .where(Payment.entitlement_id == entitlement_id, Payment.state.in_(("pending", "paid")))
                .group_by(Payment.for_month)
            ).all()
        }
        if with_arrears_due:
            for month, fen in self.db.execute(
                select(Payment.for_month, func.max(Payment.amount_fen))
                .where(Payment.entitlement_id == entitlement_id, Payment.state == "failed")
                .group_by(Payment.for_month)
            ).all():
                paid.setdefault(month, int(fen))
        return paid

    def _require_household_reader(self, actor: Actor, household_id: str, region_code: str) -> None:
        """A household's records are shown to its members and to the caseworkers of its area."""
        if actor.role == CITIZEN:  # a current member: someone who left no longer reads the others' data
            if (
                self.db.execute(
                    select(Member.id).where(
                        Member.household_id == household_id, Member.resident_id == actor.id, Member.left_on.is_(None)
                    )
                ).first()
                is None
            ):
                raise Forbidden("not your household")
        else:
            actor.require_staff_in(region_code)


def last_paid_day(entitlement: Entitlement) -> date | None:
    """The last day the payment run pays the entitlement for (None: open-ended)."""
    if entitlement.ends_on is None:
        return None
    return max(entitlement.ends_on, entitlement.gradual_exit_until or entitlement.ends_on)
