"""追回: recovering what was paid for months after a death. A mixin of the assistance service
(nameko finds inherited entrypoints), kept apart from the death handling that opens recoveries
and from the payment run whose answers recount them. The rules are rules.RecoveryLedger & co.

- A death links every payment it finds for a month after it (AfterDeathPayment, whatever the
  payment's state), with what the month is still due after the death; the overpayment is what
  the live ones (pending or paid) come to beyond that (rules.overpaid_after_death).
- Two deaths (or more) of one household's benefit share its payments: the deaths that stand are
  counted together, in the order they were recorded, each month only up to what the deaths before
  it left due (rules.overpaid_after_deaths), so the household never repays a share twice. What a
  month is due after a death is counted for the members in the household for it
  (rules.in_household_for_month): one gone by a death recorded earlier but dated later is due for
  the month they died in, whatever order the deaths are handled or corrected in. Whatever
  moves one of them (a death recorded, its date corrected, its revocation, the bank's answers)
  counts them all again, and the others' recoveries follow (`_recount_other_deaths`).
- The bank's answers recount it (`_recount_after_bank_results`, after a reconciliation that
  changed something): a counted payment the bank did not make (failed) is no overpayment; one
  it paid after all (failed → paid) is one again. The recovery follows (rules.recount_recovery).
  The count is made from the payments' states, so the same answers twice change nothing.
- The payments office records what comes back, what is written off, and what is given back;
  each entry is a Repayment row and an audit row.
- A revoked death cancels its recoveries, open or recovered: what came back is owed back
  (`refund_due_fen`), visible in the list (`state=refund_due`) until a refund is recorded.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date

from sqlalchemy import delete, select

from chassis import SYSTEM, Actor, Forbidden, rpc
from contracts.roles import ADMIN
from services.assistance import rules
from services.assistance.models import (
    AfterDeathPayment,
    DeathRecord,
    Entitlement,
    Overpayment,
    Payment,
    Recovery,
)


class Recoveries:
    """追回, mixed into the assistance service (which declares db, audit, clock)."""

    # --- what a death finds, and what the bank's answers change ------------------------------

    def _link_after_death_payments(
        self, case_id: str, entitlement_id: int, died_on: date, due_in: Callable[[date], int]
    ) -> None:
        """Every payment of the entitlement for a month after the month of death, as the death
        finds it, kept with what its month is still due (`due_in(month)`)."""
        # FOR SHARE: a reconciliation changing these payments now is waited for, so the count below
        # reads the states it leaves (and one that comes after waits for this death, then
        # recounts it with its links: `_recount_after_bank_results`)
        payments = (
            self.db.execute(
                select(Payment)
                .where(Payment.entitlement_id == entitlement_id, Payment.for_month >= rules.first_month_after(died_on))
                .order_by(Payment.id)
                .with_for_update(read=True)
                .execution_options(populate_existing=True)
            )
            .scalars()
            .all()
        )
        for p in payments:
            self.db.add(
                AfterDeathPayment(
                    case_id=case_id,
                    entitlement_id=entitlement_id,
                    payment_id=p.id,
                    cycle_id=p.cycle_id,
                    for_month=p.for_month,
                    amount_fen=p.amount_fen,
                    due_fen=due_in(p.for_month),
                )
            )

    def _counted_overpayments(self, entitlement_id: int) -> list[tuple[str, rules.Overpaid, list]]:
        """The overpayment of every death that stands (applied) and found payments of the
        entitlement, in the order the deaths were recorded, from the payments' states now
        (rules.overpaid_after_deaths: a month counts for each death only up to what the deaths
        before it left due); each with the payments it found, as (link, state)."""
        found: dict[str, list] = {}
        died: dict[str, date] = {}
        for link, state, died_on in self.db.execute(
            select(AfterDeathPayment, Payment.state, DeathRecord.date_of_death)
            .join(Payment, Payment.id == AfterDeathPayment.payment_id)
            .join(DeathRecord, DeathRecord.case_id == AfterDeathPayment.case_id)
            .where(AfterDeathPayment.entitlement_id == entitlement_id, DeathRecord.state == "applied")
            .order_by(DeathRecord.recorded_at, DeathRecord.case_id, AfterDeathPayment.payment_id)
        ).all():
            found.setdefault(link.case_id, []).append((link, state))
            died[link.case_id] = died_on
        overpaid = rules.overpaid_after_deaths(
            rules.FoundAfterDeath(
                died[case_id],
                min(link.due_fen for link, _ in links),
                _live_by_month((link.for_month, link.amount_fen, state) for link, state in links),
                frozenset(link.for_month for link, _ in links),
                _due_by_month(links),
            )
            for case_id, links in found.items()
        )
        return [(case_id, over, links) for (case_id, links), over in zip(found.items(), overpaid)]

    def _overpaid(self, case_id: str, entitlement_id: int) -> rules.Overpaid:
        """What the death in `case_id` (applied) finds overpaid of the entitlement, beside the others."""
        return next(
            (over for case, over, _ in self._counted_overpayments(entitlement_id) if case == case_id),
            rules.Overpaid((), 0),
        )

    def _record_overpayment(
        self, case_id: str, household_id: str, entitlement: Entitlement, over: rules.Overpaid
    ) -> list[str]:
        """What a death finds paid for months after it: an overpayment with its recovery. Found
        again after a corrected date of death (death.date_corrected): the one recorded with the old
        date is recounted instead, so a case has one recovery per benefit, and what came back,
        was written off or given back counts against the new amount (never recovered twice)."""
        months = [m.isoformat() for m in over.months]
        row = self._overpayment_row(case_id, entitlement.id)
        if row is not None:
            return self._recount_with_cause(*row, over.amount_fen, months, "the date of death was corrected")
        if over.amount_fen:
            self._new_overpayment(case_id, household_id, entitlement, over)
            return [f"overpayment of {rules.yuan(over.amount_fen)} for {_months(months)} recorded for recovery"]
        return []

    def _recount_other_deaths(self, case_id: str, entitlement_ids, cause: str) -> list[str]:
        """The death in `case_id` was recorded, its date corrected, or it was revoked: the other
        deaths of the same benefits that stand are counted again beside it (what a month was still
        due before each depends on the deaths before it), and their recoveries follow; `cause`
        says why, in their notes. What it did."""
        notes: list[str] = []
        for entitlement_id in sorted(entitlement_ids):
            for other, over, _ in self._counted_overpayments(entitlement_id):
                if other == case_id:
                    continue
                months = [m.isoformat() for m in over.months]
                row = self._overpayment_row(other, entitlement_id)
                if row is not None:
                    notes += self._recount_with_cause(
                        *row, over.amount_fen, months, cause, whose=f"the overpayment of funeral case {other}"
                    )
                elif over.amount_fen:
                    note = f"{cause}: {rules.yuan(over.amount_fen)} for {_months(months)} was overpaid after this death"
                    self._overpayment_found(SYSTEM, other, entitlement_id, over, note, case_id=other)
                    notes.append(
                        f"overpayment of {rules.yuan(over.amount_fen)} for {_months(months)} recorded for "
                        f"funeral case {other}"
                    )
        return notes

    def _overpayment_row(self, case_id: str, entitlement_id: int):
        """The case's overpayment of the entitlement with its recovery, locked (or None)."""
        return self.db.execute(
            select(Overpayment, Recovery)
            .join(Recovery, Recovery.overpayment_id == Overpayment.id)
            .where(Overpayment.case_id == case_id, Overpayment.entitlement_id == entitlement_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).first()

    def _overpayment_found(
        self, actor: Actor, case_id: str, entitlement_id: int, over: rules.Overpaid, note: str, **context
    ) -> None:
        """A recount found an overpayment where the case had none: recorded with its recovery, and
        audited with what prompted it (`context`)."""
        entitlement = self.db.get(Entitlement, entitlement_id)
        _, recovery = self._new_overpayment(case_id, entitlement.household_id, entitlement, over, note)
        self.audit.record(
            actor,
            "recovery.recount",
            f"recovery-{recovery.id}",
            "open",
            reason=note,
            before_fen=0,
            after_fen=over.amount_fen,
            months=[m.isoformat() for m in over.months],
            **context,
        )

    def _new_overpayment(
        self, case_id: str, household_id: str, entitlement: Entitlement, over: rules.Overpaid, note: str | None = None
    ) -> tuple[Overpayment, Recovery]:
        overpayment = Overpayment(
            id=str(uuid.uuid4()),
            case_id=case_id,
            household_id=household_id,
            entitlement_id=entitlement.id,
            programme=entitlement.programme,
            months=[m.isoformat() for m in over.months],
            amount_fen=over.amount_fen,
            recorded_at=self.clock.now(),
        )
        self.db.add(overpayment)
        self.db.flush()
        recovery = self._open_recovery(overpayment, note)
        self.db.flush()
        return overpayment, recovery

    def _recount_unreached(self, case_id: str, reached: set) -> list[str]:
        """After a corrected date of death: the overpayments of benefits the new date does not stop
        (paid for no day after it) come to nothing. What it did."""
        notes: list[str] = []
        for overpayment, recovery in self.db.execute(
            select(Overpayment, Recovery)
            .join(Recovery, Recovery.overpayment_id == Overpayment.id)
            .where(Overpayment.case_id == case_id, Overpayment.entitlement_id.not_in(reached))
            .order_by(Overpayment.id)
            .with_for_update()
        ).all():
            notes += self._recount_with_cause(overpayment, recovery, 0, [], "the date of death was corrected")
        return notes

    def _recount_with_cause(
        self,
        overpayment: Overpayment,
        recovery: Recovery,
        amount_fen: int,
        months: list[str],
        cause: str,
        whose: str = "overpayment",
    ) -> list[str]:
        """The overpayment comes to `amount_fen` for `months` now, because of `cause` (a corrected
        date, another death of the household): the recovery follows, and what came back beyond the
        new amount is owed back."""
        if overpayment.amount_fen == amount_fen and list(overpayment.months) == months:
            return []
        before = _ledger(recovery)
        after = rules.recount_recovery(before, amount_fen)
        note = (
            f"{cause}: the overpayment came to {rules.yuan(amount_fen)} for "
            f"{_months(months)}, not {rules.yuan(overpayment.amount_fen)} for {_months(overpayment.months)}"
        )
        if after.refund_due_fen > before.refund_due_fen:
            note += f"; {rules.yuan(after.refund_due_fen)} received is owed back to the household"
        self.audit.record(
            SYSTEM,
            "recovery.recount",
            f"recovery-{recovery.id}",
            after.state,
            reason=note,
            case_id=overpayment.case_id,
            before_fen=overpayment.amount_fen,
            after_fen=amount_fen,
            months=months,
            refund_due_fen=after.refund_due_fen,
        )
        overpayment.amount_fen, overpayment.months = amount_fen, months
        self._apply(recovery, after, note)
        return [
            f"{whose} recounted: {rules.yuan(amount_fen)} for {_months(months)}, recovery {after.state}"
            + (f", {rules.yuan(after.refund_due_fen)} to be given back" if after.refund_due_fen else "")
        ]

    def _unlink_after_death_payments(self, case_id: str) -> None:
        """A corrected date of death: the payments the old date found are let go; the stop with the
        new date finds those after it (and arrears follow the new links, payments.py)."""
        self.db.execute(delete(AfterDeathPayment).where(AfterDeathPayment.case_id == case_id))

    def _open_recovery(self, overpayment: Overpayment, note: str | None = None) -> Recovery:
        recovery = Recovery(
            id=str(uuid.uuid4()),
            overpayment_id=overpayment.id,
            amount_fen=overpayment.amount_fen,
            recovered_fen=0,
            written_off_fen=0,
            refunded_fen=0,
            state="open",
            opened_on=self.clock.today(),
            note=note,
        )
        self.db.add(recovery)
        return recovery

    def _recount_after_bank_results(self, actor: Actor, cycle_id: str) -> None:
        """After the bank's answers for `cycle_id` changed something: the overpayments of every
        benefit a payment of the cycle was counted for, of the deaths that stand, are counted again
        from the payments' states now (all of a benefit's deaths together: each counts a month only
        up to what the deaths before it left due). A count that comes out as recorded changes
        nothing (a re-sent file)."""
        entitlement_ids = sorted(
            set(
                self.db.execute(
                    select(AfterDeathPayment.entitlement_id).where(AfterDeathPayment.cycle_id == cycle_id)
                ).scalars()
            )
        )
        if not entitlement_ids:
            return
        # every death that counted a payment of these benefits, in one order: a revocation waits, or wins
        self.db.execute(
            select(DeathRecord.case_id)
            .where(
                DeathRecord.case_id.in_(
                    select(AfterDeathPayment.case_id).where(AfterDeathPayment.entitlement_id.in_(entitlement_ids))
                )
            )
            .order_by(DeathRecord.case_id)
            .with_for_update()
        ).all()
        for entitlement_id in entitlement_ids:
            for case_id, over, links in self._counted_overpayments(entitlement_id):
                self._recount_overpayment(actor, case_id, entitlement_id, cycle_id, over, links)

    def _recount_overpayment(
        self, actor: Actor, case_id: str, entitlement_id: int, cycle_id: str, over: rules.Overpaid, links: list
    ) -> None:
        months = [m.isoformat() for m in over.months]
        failed = sorted({link.for_month.strftime("%Y-%m") for link, s in links if s == "failed"})
        paid = sorted(
            {link.for_month.strftime("%Y-%m") for link, s in links if s != "failed" and link.cycle_id == cycle_id}
        )
        row = self._overpayment_row(case_id, entitlement_id)
        if row is None:
            if not over.amount_fen:
                return
            note = f"the bank paid {', '.join(paid)} after all: overpaid after the death"
            self._overpayment_found(actor, case_id, entitlement_id, over, note, cycle_id=cycle_id)
            return
        overpayment, recovery = row
        if overpayment.amount_fen == over.amount_fen and list(overpayment.months) == months:
            return
        before = _ledger(recovery)
        after = rules.recount_recovery(before, over.amount_fen)
        if over.amount_fen < overpayment.amount_fen:
            why = f"the bank did not make the payments for {', '.join(failed)}"
        else:
            why = f"the bank paid {', '.join(paid)} after all"
        note = f"{why}: the overpayment came to {rules.yuan(over.amount_fen)}, not {rules.yuan(overpayment.amount_fen)}"
        if after.state == "cancelled":
            note = f"nothing to recover: {note}"
        elif after.state == "recovered":
            note = f"recovered: {note}, which came back already"
        if after.refund_due_fen > before.refund_due_fen:
            note += f"; {rules.yuan(after.refund_due_fen)} received is owed back to the household"
        overpayment.amount_fen, overpayment.months = over.amount_fen, months
        self._apply(recovery, after, note)
        self.audit.record(
            actor,
            "recovery.recount",
            f"recovery-{recovery.id}",
            after.state,
            reason=note,
            cycle_id=cycle_id,
            before_fen=before.amount_fen,
            after_fen=after.amount_fen,
            months=months,
            refund_due_fen=after.refund_due_fen,
        )

    def _cancel_recoveries_for_revocation(self, record: DeathRecord, reason: str) -> list[str]:
        """The death was revoked: its recoveries, open or recovered, are cancelled; what came back
        is owed back to the household (a recovery cancelled before, by its count, keeps what it owes
        back). What it did."""
        notes: list[str] = []
        for recovery in self.db.execute(
            select(Recovery)
            .join(Overpayment, Overpayment.id == Recovery.overpayment_id)
            .where(Overpayment.case_id == record.case_id, Recovery.state.in_(("open", "recovered")))
            .order_by(Recovery.id)
            .with_for_update()
        ).scalars():
            before = _ledger(recovery)
            after = rules.cancel_recovery(before)
            note = f"the death was revoked: {reason}"
            if after.refund_due_fen:
                note += f"; {rules.yuan(after.refund_due_fen)} recovered is owed back to the household"
            self._apply(recovery, after, note)
            notes.append(
                f"recovery of {rules.yuan(recovery.amount_fen)} cancelled"
                + (f", {rules.yuan(after.refund_due_fen)} recovered to be given back" if after.refund_due_fen else "")
            )
            self.audit.record(
                SYSTEM,
                "recovery.cancel",
                f"recovery-{recovery.id}",
                "cancelled",
                reason=note,
                case_id=record.case_id,
                refund_due_fen=after.refund_due_fen,
            )
        return notes

    def _apply(self, recovery: Recovery, ledger: rules.RecoveryLedger, note: str | None) -> None:
        """The ledger onto the row: closed today when it closes, open again without a closing day."""
        was = recovery.state
        recovery.state, recovery.amount_fen = ledger.state, ledger.amount_fen
        recovery.recovered_fen, recovery.written_off_fen = ledger.recovered_fen, ledger.written_off_fen
        recovery.refunded_fen = ledger.refunded_fen
        if ledger.state == "open":
            recovery.closed_on = None
        elif was == "open" or ledger.state != was:
            recovery.closed_on = self.clock.today()
        if note is not None:
            recovery.note = note

    # --- once: the recoveries opened before the recount existed ---------------------------------

    ONE_OFF_RECOUNT = "recounted once: opened before recoveries were recounted from the payments' states"

    @rpc
    def recount_recoveries(self, actor):
        """A one-off command (admins; `python -m services.assistance.recount_once`): every death
        that stands and found payments is counted again as the recount counts it now (all of a
        benefit's deaths together, from the payments' states), and its recovery follows with the
        reason in its note and an audit row; what came back beyond the new amount is owed back.
        Recoveries opened before the recount existed were counted otherwise and are recounted
        only when something moves them; this moves them all once. Running it again changes nothing."""
        actor = Actor.from_dict(actor)
        if actor.role != ADMIN:
            raise Forbidden("the one-off recount of recoveries is for an admin")
        entitlement_ids = sorted(set(self.db.execute(select(AfterDeathPayment.entitlement_id)).scalars()))
        # every death that counted a payment, in one order (a revocation waits, or wins), as the bank's answers do
        self.db.execute(
            select(DeathRecord.case_id)
            .where(DeathRecord.case_id.in_(select(AfterDeathPayment.case_id)))
            .order_by(DeathRecord.case_id)
            .with_for_update()
        ).all()
        notes: list[str] = []
        for entitlement_id in entitlement_ids:
            for case_id, over, _ in self._counted_overpayments(entitlement_id):
                row = self._overpayment_row(case_id, entitlement_id)
                months = [m.isoformat() for m in over.months]
                if row is not None:
                    notes += self._recount_with_cause(
                        *row, over.amount_fen, months, self.ONE_OFF_RECOUNT, whose=f"funeral case {case_id}"
                    )
                elif over.amount_fen:
                    note = f"{self.ONE_OFF_RECOUNT}: {rules.yuan(over.amount_fen)} for {_months(months)}"
                    self._overpayment_found(SYSTEM, case_id, entitlement_id, over, note, case_id=case_id)
                    notes.append(f"funeral case {case_id}: overpayment of {rules.yuan(over.amount_fen)} recorded")
        self.audit.record(
            actor, "recovery.recount_once", "recoveries", "done", entitlements=len(entitlement_ids), changed=notes
        )
        return {"entitlements": len(entitlement_ids), "recounted": len(notes), "changes": notes}


def _ledger(recovery: Recovery) -> rules.RecoveryLedger:
    return rules.RecoveryLedger(
        recovery.state,
        recovery.amount_fen,
        recovery.recovered_fen,
        recovery.written_off_fen or 0,
        recovery.refunded_fen or 0,
    )


def _live_by_month(payments) -> dict[date, int]:
    """(month, amount, state) → what the live payments (pending or paid) pay per month."""
    paid: dict[date, int] = defaultdict(int)
    for month, amount, state in payments:
        if state != "failed":
            paid[month] += int(amount)
    return dict(paid)


def _months(months) -> str:
    """["2026-06-01", ...] as "2026-06, ..." (or "no month")."""
    return ", ".join(m[:7] for m in months) or "no month"


def _due_by_month(links) -> dict[date, int]:
    """What each month a death found is still due after it (its links of one month agree)."""
    due: dict[date, int] = {}
    for link, _ in links:
        due[link.for_month] = min(link.due_fen, due.get(link.for_month, link.due_fen))
    return due
