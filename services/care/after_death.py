"""身后一件事 in care: what a death stops, and what a revocation restores. A mixin of the care
service (nameko finds inherited entrypoints), kept apart from the allowance, voucher and order
code it acts on."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar

from sqlalchemy import select

from chassis import SYSTEM, Actor, Forbidden, NotFound, rpc
from chassis.after_death import AfterDeathParticipant, DeathStep
from services.care import rules
from services.care.exceptions import UnknownElder
from services.care.models import (
    Admission,
    AllowanceEnrolment,
    AllowancePayment,
    AllowanceRecovery,
    Child,
    ChildReview,
    DeathRecord,
    Elder,
    FamilyBed,
    Institution,
    ServiceOrder,
    SupportedMember,
    VoucherEligibility,
)


class AfterDeath(AfterDeathParticipant):
    """身后一件事 in care, mixed into the service: on `death.notified` the old-age allowance ends as
    of the date of death (the enrolment's `ended_on`: the monthly payment run pays no month after
    it), home-care vouchers end, open service orders are cancelled, the institution or family bed
    is freed, and a child whose last caregiver this was gets a review; on `death.revoked` all of it
    is restored except the cancelled orders (the service is ordered again); on
    `death.date_corrected` what the old date ended is restored and ended again as of the confirmed
    date (the allowance's months between the two dates paid back, or listed as paid after the end),
    while the cancelled orders and the child's review stand. The step of the matter is reported
    each time. What assistance's own reaction to the death closed here is undone by its events:
    the benefit's end by `assistance.entitlement_resumed` (service.py), the deceased's leaving of
    the household, which assistance undoes silently, with the revocation (`_undo_leaving_by_death`)."""

    death_record = DeathRecord
    death_step = "care_stopped"
    no_death_changes: ClassVar[dict] = {}

    def death_restate(self, event, record: DeathRecord) -> DeathStep:
        """One transaction: restored as of the old date, stopped as of the new."""
        data = event.data
        self._undo_care(
            record,
            f"date of death corrected: {data['reason']}",
            correcting=date.fromisoformat(str(data["date_of_death"])),
        )
        return self.death_stop(event, record, cancelled_before=record.changes["orders"])

    def death_closed(self, record: DeathRecord) -> None:
        self._undo_leaving_by_death(record.resident_id, record.case_id)

    def death_tombstoned(self, data: dict) -> None:
        self._undo_leaving_by_death(data["resident_id"], data["case_id"])

    def death_stop(self, event, record: DeathRecord | None = None, cancelled_before: list = ()) -> DeathStep:
        """Stop as of the event's date. `record`: the one a corrected date finds (rewritten with the
        new date); `cancelled_before`: the orders the old date cancelled, which stay cancelled."""
        data = event.data
        died_on = date.fromisoformat(str(data["date_of_death"]))
        changes, notes = self._stop_after_death(data["resident_id"], died_on, data["case_id"])
        if cancelled_before:
            changes["orders"] = [*cancelled_before, *changes["orders"]]
            notes.append(f"{len(cancelled_before)} order(s) cancelled for the death stay cancelled")
        applied = any(
            changes[k] for k in ("allowance", "vouchers", "orders", "admission", "family_bed", "child_reviews")
        )
        if record is None:
            record = DeathRecord(case_id=data["case_id"], resident_id=data["resident_id"], recorded_at=self.clock.now())
            self.db.add(record)
        record.date_of_death, record.changes = died_on, changes
        record.state = "applied" if applied or changes["elder"] else "not_applicable"
        if not applied:
            return DeathStep.not_applicable("no allowance, voucher, order, bed or child in care's records")
        return DeathStep.done(notes)

    def _stop_after_death(self, resident_id: str, died_on: date, case_id: str) -> tuple[dict, list]:
        changes = {
            "elder": False,
            "allowance": False,
            "vouchers": [],
            "orders": [],
            "admission": None,
            "family_bed": False,
            "child_reviews": [],
        }
        notes, why = [], f"death (funeral case {case_id})"
        elder = self.db.get(Elder, resident_id, with_for_update=True)
        if elder is not None and elder.deceased_on is None:
            elder.deceased_on, changes["elder"] = died_on, True
        enrolment = self.db.get(AllowanceEnrolment, resident_id)
        if enrolment is not None and (enrolment.ended_on is None or enrolment.ended_on > died_on):
            ended = self._end_allowance(SYSTEM, resident_id, died_on, why)
            changes["allowance"] = True
            notes.append(f"old-age allowance ended on {died_on}")
            if ended["withheld"]:
                notes.append(
                    "allowance for "
                    + ", ".join(p["for_month"][:7] for p in ended["withheld"])
                    + " withheld from the batch not yet sent"
                )
        if enrolment is not None:
            notes.extend(
                self._count_allowance_recovery(case_id, resident_id, died_on, "the date of death was corrected")
            )
        for held in self._grants(resident_id, for_update=True):
            if held.ends_on is None or held.ends_on >= died_on:
                # ended that very day already: by assistance's reaction to the same death
                before = None if held.ends_on in (None, died_on) else held.ends_on.isoformat()
                changes["vouchers"].append(
                    {
                        "programme": held.programme,
                        "ends_on_before": before,
                        "ended_by_before": held.ended_by if before else None,
                    }
                )
                held.ends_on, held.ended_by = died_on, why
                notes.append(f"{held.programme} home-care voucher ended")
        for order in self.db.execute(
            select(ServiceOrder)
            .where(ServiceOrder.resident_id == resident_id, ServiceOrder.state.in_(("requested", "accepted")))
            .with_for_update()
        ).scalars():
            order.state = rules.order_transition(order.state, "cancel", "person")
            order.cancel_reason, order.updated_at = why, self.clock.now()
            self._cancelled(order)  # credits redeemed for it go back to the time bank
            changes["orders"].append(order.id)
            self.audit.record(SYSTEM, "order.cancel", f"order-{order.id}", order.state, reason=why)
        if changes["orders"]:
            notes.append(f"{len(changes['orders'])} open service order(s) cancelled")
        admission = self.db.execute(
            select(Admission)
            .where(Admission.resident_id == resident_id, Admission.discharged_on.is_(None))
            .with_for_update()
        ).scalar()
        if admission is not None:
            admission.discharged_on, admission.discharge_reason = max(died_on, admission.admitted_on), why
            changes["admission"] = admission.id
            notes.append(f"bed at {admission.institution} freed")
        bed = self.db.get(FamilyBed, resident_id, with_for_update=True)
        if bed is not None and bed.closed_on is None:
            bed.closed_on, changes["family_bed"] = died_on, True
            notes.append("family care bed closed")
        today = self.clock.today()
        # a child reviewed for this death already (its date corrected since) keeps that review
        reviewed = {
            r.child_resident_id: r
            for r in self.db.execute(
                select(ChildReview).where(ChildReview.case_id == case_id).with_for_update()
            ).scalars()
        }
        for child in self.db.execute(select(Child).where(Child.guardian_resident_id == resident_id)).scalars():
            if child.resident_id in reviewed:
                standing = reviewed[child.resident_id]
                changes["child_reviews"].append(standing.id)
                notes.append(f"child-welfare review of {child.name} stands")
                # its text names the date of death: the confirmed one now, not the one corrected
                reason = rules.child_review_reason(died_on)
                if standing.reason != reason:
                    self.audit.record(
                        SYSTEM,
                        "child.review_restated",
                        f"child-review-{standing.id}",
                        standing.state,
                        reason=f"date of death corrected (funeral case {case_id})",
                        before=standing.reason,
                        after=reason,
                    )
                    standing.reason = reason
                continue
            days = self.policy.resolve("care.follow_up_days", child.village_code, today)
            review = ChildReview(
                id=str(uuid.uuid4()),
                child_resident_id=child.resident_id,
                village_code=child.village_code,
                case_id=case_id,
                state="open",
                raised_on=today,
                reason=rules.child_review_reason(died_on),
                due=rules.follow_up_due(today, "red", days.value),
            )
            self.db.add(review)
            changes["child_reviews"].append(review.id)
            notes.append(f"child-welfare review raised for {child.name}, due {review.due}")
        self.audit.record(SYSTEM, "care.death", f"death-case-{case_id}", "stopped", reason=why, changes=changes)
        return changes, notes

    def death_restore(self, event, record: DeathRecord) -> DeathStep:
        data = event.data
        notes = self._undo_care(record, f"death revoked: {data['reason']}")
        notes.extend(self._cancel_allowance_recovery(record.case_id, f"the death was revoked: {data['reason']}"))
        record.state, record.reversed_at = "reversed", self.clock.now()
        self.audit.record(
            SYSTEM, "care.death_revoked", f"death-case-{record.case_id}", "restored", reason=data["reason"]
        )
        return DeathStep.reversed(notes or ["nothing to restore"])

    # --- 追回 of the allowance paid for months after the death ------------------------------------

    def _count_allowance_recovery(self, case_id: str, resident_id: str, died_on: date, cause: str) -> list[str]:
        """The allowance paid, or with the bank, for months after the month of death
        (rules.allowance_paid_after_death) is recorded for recovery, once per death; counted again
        (with `cause` in its note) when the date moves or the bank answers. What it says."""
        found = self.db.execute(
            select(AllowancePayment.for_month, AllowancePayment.amount_fen, AllowancePayment.state)
            .where(
                AllowancePayment.resident_id == resident_id,
                AllowancePayment.for_month >= rules.first_month_after(died_on),
            )
            .execution_options(populate_existing=True)
        ).all()
        over = rules.allowance_paid_after_death(died_on, found)
        months = [m.isoformat() for m in over.months]
        shown = ", ".join(m[:7] for m in months) or "no month"
        recovery = self.db.get(AllowanceRecovery, case_id, with_for_update=True)
        today = self.clock.today()
        if recovery is None:
            if not over.amount_fen:
                return []
            recovery = AllowanceRecovery(
                case_id=case_id,
                resident_id=resident_id,
                months=months,
                amount_fen=over.amount_fen,
                state="open",
                opened_on=today,
                note=f"old-age allowance paid for {shown} after the death on {died_on}",
            )
            self.db.add(recovery)
            self.audit.record(
                SYSTEM,
                "allowance.recovery",
                f"allowance-recovery-{case_id}",
                "open",
                reason=recovery.note,
                amount_fen=over.amount_fen,
                months=months,
            )
            return [f"allowance of {_yuan(over.amount_fen)} paid for {shown} recorded for recovery"]
        state = "open" if over.amount_fen else "cancelled"
        if (recovery.amount_fen, list(recovery.months), recovery.state) == (over.amount_fen, months, state):
            return []
        if recovery.state == "cancelled" and not over.amount_fen:
            return []
        before = recovery.amount_fen
        recovery.amount_fen, recovery.months, recovery.state = over.amount_fen, months, state
        recovery.closed_on = None if state == "open" else today
        recovery.note = f"{cause}: {_yuan(over.amount_fen)} for {shown}, not {_yuan(before)}"
        self.audit.record(
            SYSTEM,
            "allowance.recovery_recount",
            f"allowance-recovery-{case_id}",
            state,
            reason=recovery.note,
            before_fen=before,
            after_fen=over.amount_fen,
            months=months,
        )
        return [f"allowance recovery recounted: {_yuan(over.amount_fen)} for {shown}, {state}"]

    def _cancel_allowance_recovery(self, case_id: str, reason: str) -> list[str]:
        recovery = self.db.get(AllowanceRecovery, case_id, with_for_update=True)
        if recovery is None or recovery.state == "cancelled":
            return []
        recovery.state, recovery.closed_on, recovery.note = "cancelled", self.clock.today(), reason
        self.audit.record(
            SYSTEM, "allowance.recovery_cancel", f"allowance-recovery-{case_id}", "cancelled", reason=reason
        )
        return [f"allowance recovery of {_yuan(recovery.amount_fen)} cancelled"]

    def _recount_allowance_recoveries(self, cycle_id: str) -> None:
        """After the bank's answers for `cycle_id`: the recoveries of the deaths that stand, of the
        people the cycle paid, counted again from the payments' states (a failed one is no
        overpayment; the same answers twice change nothing)."""
        for record in self.db.execute(
            select(DeathRecord)
            .where(
                DeathRecord.state == "applied",
                DeathRecord.resident_id.in_(
                    select(AllowancePayment.resident_id).where(AllowancePayment.cycle_id == cycle_id)
                ),
            )
            .order_by(DeathRecord.case_id)
            .with_for_update()
        ).scalars():
            self._count_allowance_recovery(
                record.case_id, record.resident_id, record.date_of_death, f"the bank's answers for {cycle_id}"
            )

    def _undo_care(self, record: DeathRecord, why: str, correcting: date | None = None) -> list[str]:
        """Undo what the record says the death stopped. `correcting`: the corrected date of the same
        death, stopped again as of it at once in the same transaction, so the bed is taken back
        whether or not another is free (it is freed again), the child's review is not withdrawn,
        and what assistance's events closed on the old date end on the new one."""
        changes, notes = record.changes, []
        if changes["elder"]:
            self.db.get(Elder, record.resident_id, with_for_update=True).deceased_on = None
        if changes["allowance"]:
            self._resume_allowance(SYSTEM, record.resident_id, why)
            notes.append("old-age allowance restored; the months it missed are paid back by the next cycle")
        for voucher in changes["vouchers"]:
            held = self.db.get(VoucherEligibility, (record.resident_id, voucher["programme"]), with_for_update=True)
            held.ends_on = date.fromisoformat(voucher["ends_on_before"]) if voucher["ends_on_before"] else None
            held.ended_by = voucher.get("ended_by_before")  # records from before it kept no cause
            notes.append(f"{voucher['programme']} home-care voucher restored")
        if changes["admission"]:
            admission = self.db.get(Admission, changes["admission"], with_for_update=True)
            institution = self.db.get(Institution, admission.institution, with_for_update=True)
            if correcting or self._beds_free(institution, admission.bed_type) > 0:
                admission.discharged_on, admission.discharge_reason = None, None
                notes.append(f"bed at {admission.institution} given back")
            else:
                notes.append(f"no {admission.bed_type} bed free at {admission.institution}: re-admit when one is")
        if changes["family_bed"]:
            self.db.get(FamilyBed, record.resident_id, with_for_update=True).closed_on = None
            notes.append("family care bed reopened")
        for review_id in () if correcting else changes["child_reviews"]:
            review = self.db.get(ChildReview, review_id, with_for_update=True)
            if review.state == "open":
                review.state = "withdrawn"
        if correcting:
            self._move_assistance_ends(record.resident_id, record.case_id, record.date_of_death, correcting)
        else:
            for programme in self._undo_leaving_by_death(record.resident_id, record.case_id):
                notes.append(f"{programme} home-care voucher restored")
        if changes["orders"]:
            notes.append(f"{len(changes['orders'])} cancelled order(s) stay cancelled: order the service again")
        return notes

    def _undo_leaving_by_death(self, resident_id: str, case_id: str) -> list[str]:
        """assistance records the deceased leaving their household on the day of death
        (`assistance.member_left`, naming the case) and undoes it on the revocation without a
        word: what that leaving closed here (the support, a voucher care's own step had not closed)
        opens again. A leaving that comes after the revocation closes nothing
        (`_leaving_was_a_revoked_death`). The programmes whose voucher opened again."""
        reopened = []
        for table in (SupportedMember, VoucherEligibility):
            for held in self.db.execute(
                select(table).where(table.resident_id == resident_id, table.ended_by.is_not(None)).with_for_update()
            ).scalars():
                if rules.closed_by(held.ended_by, "assistance.member_left") and rules.ended_by_death_case(
                    held.ended_by, case_id
                ):
                    held.ends_on, held.ended_by = None, None
                    if table is VoucherEligibility:
                        reopened.append(held.programme)
        return reopened

    def _leaving_was_a_revoked_death(self, case_id: str) -> bool:
        """A leaving by a death that care has seen revoked (assistance has undone it since)."""
        record = self.db.get(DeathRecord, case_id)
        return record is not None and record.state in ("reversed", "revoked")

    def _move_assistance_ends(self, resident_id: str, case_id: str, died_on: date, corrected_to: date) -> None:
        """A corrected date of death: what assistance's reaction to the death closed here on the old
        day (the deceased leaving the household by this death, the benefit ending with them) ends
        on the new day, its cause kept, so that a revocation later undoes it as it would have.
        assistance announces the new leaving and end too, but those close only what is open; this
        moves what is closed, whichever comes first."""
        for table in (SupportedMember, VoucherEligibility):
            for held in self.db.execute(
                select(table).where(table.resident_id == resident_id, table.ends_on == died_on).with_for_update()
            ).scalars():
                left = rules.closed_by(held.ended_by, "assistance.member_left") and rules.ended_by_death_case(
                    held.ended_by, case_id
                )
                if left or rules.closed_by(held.ended_by, "assistance.entitlement_ended"):
                    held.ends_on = corrected_to

    @rpc
    def after_death(self, actor, case_id):
        """What a death stopped in care, and whether it was restored (staff)."""
        actor = Actor.from_dict(actor)
        record = self.db.get(DeathRecord, str(case_id))
        if record is None:
            raise NotFound(f"care has no record of funeral case {case_id}")
        region = self._region_or_none(record.resident_id)
        if region is None:
            if actor.role != "admin":
                raise Forbidden("only the city sees records of people care does not locate")
        else:
            actor.require_staff_in(region)
        enrolment = self.db.get(AllowanceEnrolment, record.resident_id)
        reviews = self.db.execute(
            select(ChildReview)
            .where(ChildReview.case_id == record.case_id)
            .order_by(ChildReview.raised_on, ChildReview.id)
        ).scalars()
        return {
            "case_id": record.case_id,
            "state": record.state,
            "date_of_death": record.date_of_death.isoformat(),
            "changes": record.changes,
            "allowance_ended_on": _iso(enrolment.ended_on) if enrolment else None,
            "allowance_recovery": self._allowance_recovery_view(record.case_id),
            "vouchers": [
                {"programme": g.programme, "ends_on": _iso(g.ends_on)} for g in self._grants(record.resident_id)
            ],
            "child_reviews": [
                {"child_resident_id": r.child_resident_id, "state": r.state, "due": _iso(r.due), "reason": r.reason}
                for r in reviews
            ],
        }

    def _allowance_recovery_view(self, case_id: str) -> dict | None:
        recovery = self.db.get(AllowanceRecovery, case_id)
        if recovery is None:
            return None
        return {
            "months": list(recovery.months),
            "amount_fen": recovery.amount_fen,
            "state": recovery.state,
            "opened_on": recovery.opened_on.isoformat(),
            "closed_on": _iso(recovery.closed_on),
            "note": recovery.note,
        }

    def _region_or_none(self, resident_id: str) -> str | None:
        try:
            return self._region_of(resident_id)
        except UnknownElder:
            return None


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d} yuan"


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
