"""身后一件事 in assistance: a death stops every benefit of the deceased. A mixin of the assistance
service (nameko finds the inherited handler), beside recoveries.py, which counts what was paid for
months after a death; the protocol is chassis.after_death's, the same in every service."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import ClassVar

from sqlalchemy import select, tuple_

from chassis import (
    SYSTEM,
    Actor,
    Forbidden,
    NotFound,
    rpc,
)
from chassis.after_death import AfterDeathParticipant, DeathStep
from contracts.roles import STAFF
from services.assistance import payments, rules
from services.assistance.models import (
    BackPay,
    DeathRecord,
    Entitlement,
    Household,
    Member,
    Overpayment,
    Payment,
    PaymentCycle,
    Recovery,
    paid_after,
)
from services.assistance.payment_run import last_paid_day


class AfterDeath(AfterDeathParticipant):
    """death.notified: the deceased leaves every recipient household as of the date of death;
    a benefit left with nobody (or no one it is for) ends that day, the others are recomputed
    for the survivors from the next cycle; what was already paid for months after the death is
    recorded as an overpayment with its recovery. death.revoked: all of it undone, with back
    pay for what the stop withheld. death.date_corrected: undone as of the old date and done
    again as of the confirmed one, in one transaction: back pay for the months the new date
    makes due that the stop withheld, the old overpayment's recovery superseded by the new
    date's. Each time the step of 身后一件事 is reported."""

    death_record = DeathRecord
    death_step = "benefits_stopped"
    no_death_changes: ClassVar[list] = []

    def death_restate(self, event, record: DeathRecord) -> DeathStep:
        """Undone as of the old date and stopped again as of the confirmed one, in one transaction."""
        data = event.data
        corrected_to = date.fromisoformat(str(data["date_of_death"]))
        notes = self._restore_benefits(
            record, f"the date of death was corrected to {corrected_to}", data["reason"], until=corrected_to
        )
        return self.death_stop(event, record, notes)

    def death_stop(self, event, record: DeathRecord | None = None, restored: list | None = None) -> DeathStep:
        """Stop as of the event's date. `record`: the one a corrected date finds, rewritten with the
        new date; `restored`: what undoing the old date did, to report with the rest. The household's
        other deaths of the same benefits are counted again beside this one (recoveries.py)."""
        data, notes = event.data, list(restored or ())
        died_on = date.fromisoformat(str(data["date_of_death"]))
        case_id, correction = data["case_id"], record is not None
        if record is None:
            record = DeathRecord(
                case_id=case_id, resident_id=data["resident_id"], recorded_at=self.clock.now(), changes=[]
            )
            self.db.add(record)
        touched = _entitlements_of(record.changes)  # what the old date stopped, on a correction
        # standing as of the new date while it stops: its overpayments are counted beside the others'
        record.date_of_death, record.state = died_on, "applied"
        # a death recorded now is the last; a corrected one keeps its place among the household's deaths
        changes, later = [], self._deceased_recorded_after(record) if correction else {}
        for household in self._recipient_households({data["resident_id"]}, paying_after=died_on):
            change, household_notes = self._stop_for_death(
                household, data["resident_id"], died_on, case_id, later.get(household.id, [])
            )
            changes.append(change)
            notes += household_notes
        if correction:  # an overpayment of a benefit the new date no longer reaches owes nothing
            notes += self._recount_unreached(case_id, _entitlements_of(changes))
        record.changes = changes
        record.state = "applied" if changes else "not_applicable"
        cause = (
            f"the date of another death in the household was corrected to {died_on} (funeral case {case_id})"
            if event.type == "death.date_corrected"
            else f"another death in the household was recorded (funeral case {case_id}, {died_on})"
        )
        notes += self._recount_other_deaths(case_id, touched | _entitlements_of(changes), cause)
        if not changes:
            notes.append(
                "the deceased received no assistance"
                if event.type == "death.notified"
                else f"no assistance is paid for after {died_on}"
            )
        return DeathStep("done" if changes else "not_applicable", tuple(notes))

    def _deceased_recorded_after(self, record: DeathRecord) -> dict[str, list[Member]]:
        """Per household, the members who left by a death that stands and was recorded after this
        one (in the order the overpayments are counted in: recoveries.py), for a corrected date."""
        later: dict[str, list[Member]] = {}
        for other in self.db.execute(
            select(DeathRecord)
            .where(
                DeathRecord.state == "applied",
                DeathRecord.case_id != record.case_id,
                tuple_(DeathRecord.recorded_at, DeathRecord.case_id) > tuple_(record.recorded_at, record.case_id),
            )
            .order_by(DeathRecord.recorded_at, DeathRecord.case_id)
        ).scalars():
            for change in other.changes:
                later.setdefault(change["household_id"], []).append(self.db.get(Member, change["member_id"]))
        return later

    def _stop_for_death(
        self, household: Household, resident_id: str, died_on: date, case_id: str, later: list[Member] = ()
    ) -> tuple[dict, list[str]]:
        """`later`: members of the household who left by deaths recorded after this one (a corrected
        date): what a month after this death is still due is counted with them, as it was when this
        death was first recorded, so that the deaths' overpayments keep each its share (the
        benefit's own amount is the survivors' now). Every other member counts for the months they
        were in the household: one gone by a death recorded before this one but dated after it
        (deaths handled out of date order, or a corrected date) is still due for the month they
        died in, which the run pays in full; one born since, from the month born. The household's
        change for the death record, and what was done, for the step's reason."""
        notes: list[str] = []
        members = self._current_members(household.id)
        deceased = next(m for m in members if m.resident_id == resident_id)
        survivors = [m for m in members if m is not deceased]
        everyone = [m for m in self._members_ever(household.id) if m.id != deceased.id]
        later_ids = {m.id for m in later}
        deceased.left_on, deceased.left_reason = died_on, f"death (funeral case {case_id})"
        self._member_left(household, deceased, case_id)
        today = self.clock.today()
        benefits = []
        for entitlement in self.db.execute(
            select(Entitlement)
            .where(Entitlement.household_id == household.id, paid_after(died_on))
            .order_by(Entitlement.id)
            .with_for_update()
        ).scalars():
            before = entitlement.monthly_amount_fen
            after, why = self._amount_without(entitlement, survivors, household.region_code, today)
            due_by_members: dict[frozenset, int] = {}

            def due_in(month: date, entitlement=entitlement, cache=due_by_members) -> int:
                """What `month` (after the death) is still due: for the members in it then."""
                counted = [
                    m
                    for m in everyone
                    if m.id in later_ids or rules.in_household_for_month(m.joined_on, m.left_on, month)
                ]
                key = frozenset(m.id for m in counted)
                if key not in cache:
                    cache[key] = self._amount_without(entitlement, counted, household.region_code, today)[0]
                return cache[key]

            ended = after == 0
            change = {
                **rules.BenefitUndo.of(entitlement, ended).to_json(),
                "programme": entitlement.programme,
                "after_fen": after,
            }
            if ended:
                if entitlement.ends_on is None or entitlement.ends_on > died_on:
                    entitlement.ends_on = died_on
                    self.outbox.record(
                        "assistance.entitlement_ended",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "ends_on": died_on,
                            "reason": "death of the recipient",
                        },
                    )
                    notes.append(f"{entitlement.programme} ended on {died_on}")
                else:  # ended before the death and paid on under 渐退: the departments know it ended
                    notes.append(f"{entitlement.programme}'s 渐退 stopped on {died_on}")
                if entitlement.gradual_exit_until is not None and entitlement.gradual_exit_until > died_on:
                    entitlement.gradual_exit_until = died_on
                entitlement.exit_reason = f"death (funeral case {case_id})"
                entitlement.next_review_on = None
            elif after != before:
                notes.append(
                    f"{entitlement.programme} recomputed from {rules.yuan(before)} to {rules.yuan(after)} a month "
                    f"from the next cycle"
                )
            if why:
                notes.append(why)
            # a cycle frozen but not yet sent holds the month at the old amount: out of its batch;
            # arrears pay what the month is still due after the death (payments.py), or nothing
            withheld = payments.RUN.withhold(
                self.db.connection(),
                entitlement.id,
                rules.first_month_after(died_on),
                f"withheld: death (funeral case {case_id})",
            )
            if withheld:
                months = ", ".join(m.strftime("%Y-%m") for _, _, m, _ in withheld)
                notes.append(f"{entitlement.programme} for {months} withheld from the batch not yet sent")
                self.audit.record(
                    SYSTEM,
                    "payment.withhold",
                    f"household-{household.id}",
                    "withheld",
                    reason=f"death (funeral case {case_id})",
                    payments=[{"payment_id": i, "cycle_id": c, "for_month": m} for i, c, m, _ in withheld],
                )
            # the months' dues are counted with the amount before the death (what a household whose
            # members in a month may no longer qualify keeps until re-checked), then it changes
            self._link_after_death_payments(case_id, entitlement.id, died_on, due_in)
            if not ended:
                entitlement.monthly_amount_fen = after
            over = self._overpaid(case_id, entitlement.id)  # beside the household's other deaths
            notes += self._record_overpayment(case_id, household.id, entitlement, over)
            if over.amount_fen:
                change["overpayment_fen"] = over.amount_fen
            self.audit.record(
                SYSTEM,
                "entitlement.death",
                f"household-{household.id}",
                "ended" if ended else "recomputed",
                reason=f"death (funeral case {case_id})",
                entitlement_id=entitlement.id,
                before_fen=before,
                after_fen=after,
                overpayment_fen=over.amount_fen,
                months=[m.isoformat() for m in over.months],
            )
            benefits.append(change)
        return {"household_id": household.id, "member_id": deceased.id, "benefits": benefits}, notes

    def _amount_without(
        self, entitlement: Entitlement, survivors: list[Member], region_code: str, today: date
    ) -> tuple[int, str | None]:
        """The benefit's monthly amount without the deceased (0: it ends), and a note when the
        survivors' own eligibility needs a caseworker's re-check rather than a change here
        (rules.amount_without, with the policy it needs)."""
        programme, policy, per_person = entitlement.programme, None, None
        if survivors and programme == "dibao":
            policy = self._assistance_policy(region_code, today)
        elif survivors and programme in rules.DISABILITY_PARAMETERS:
            per_person = int(self.policy.resolve(rules.DISABILITY_PARAMETERS[programme], region_code, today).value)
        after = rules.amount_without(
            programme,
            entitlement.monthly_amount_fen,
            [rules.member_from(m) for m in survivors],
            today,
            policy,
            per_person,
        )
        if after.policy_version is not None:
            entitlement.policy_version = after.policy_version
        return after.monthly_fen, after.note

    def death_restore(self, event, record: DeathRecord) -> DeathStep:
        """The death revoked: what it stopped restored, its recoveries cancelled, and the household's
        other deaths of the same benefits counted again without it (recoveries.py)."""
        notes = self._restore_benefits(record, "the death was revoked", event.data["reason"])
        record.state, record.reversed_at = "reversed", self.clock.now()
        notes += self._recount_other_deaths(
            record.case_id,
            _entitlements_of(record.changes),
            f"another death in the household was revoked (funeral case {record.case_id})",
        )
        return DeathStep.reversed(notes)

    def _restore_benefits(self, record: DeathRecord, cause: str, reason: str, until: date | None = None) -> list[str]:
        """Undo what the record says the death stopped, with back pay for the months after the
        month of death whose cycle paid less than the benefit owed, and the open recoveries of its
        overpayments cancelled (recoveries.py); returns what was done, in words. `until`: a
        corrected date of death, to be stopped again as of it in the same transaction: back pay
        only for the months up to it (the later ones are after the death still); the recoveries
        are left to the stop, which recounts each against the payments after the new date; and a
        benefit the new date ends again is not announced as resumed (only its new end is: the
        departments, and care, see the end move, never a benefit running on for a dead person).
        Back pay still due from an earlier correction is superseded and owed again here, so no
        month is owed twice."""
        notes, today = [], self.clock.today()

        def ends_again(entitlement: Entitlement) -> bool:
            """Paid after the corrected date with nobody left but the deceased: the stop that follows
            ends it as of that date (`_amount_without`)."""
            paid_until = last_paid_day(entitlement)
            alone = len(self._current_members(entitlement.household_id)) == 1
            return alone and (paid_until is None or paid_until > until)

        earlier = {}  # entitlement: the first month an unpaid back pay of this case named
        for back in self.db.execute(
            select(BackPay).where(BackPay.case_id == record.case_id, BackPay.state == "due").with_for_update()
        ).scalars():
            back.state = "superseded"
            first = min(date.fromisoformat(m["month"]) for m in back.months)
            earlier[back.entitlement_id] = min(first, earlier.get(back.entitlement_id, first))
        for change in record.changes:
            household = self._household_by_id(change["household_id"], for_update=True)
            member = self.db.get(Member, change["member_id"])
            member.left_on, member.left_reason = None, None
            for benefit in change["benefits"]:
                undo = rules.BenefitUndo.from_json(benefit)
                entitlement = self.db.get(Entitlement, undo.entitlement_id, with_for_update=True)
                entitlement.monthly_amount_fen = undo.before_fen
                entitlement.policy_version = undo.policy_version_before
                if undo.ended and undo.version >= 2:
                    self._set_back(entitlement, undo, household.region_code)
                elif undo.ended:  # version 1 kept only the end date
                    entitlement.ends_on = undo.ends_on_before
                    entitlement.exit_reason = None
                    entitlement.next_review_on = self._next_review(household.region_code, today, entitlement.programme)
                before = undo.ends_on_before
                if (
                    undo.ended
                    and (before is None or before > record.date_of_death)
                    and not (until is not None and ends_again(entitlement))
                ):
                    # the death announced the end (assistance.entitlement_ended): announce it is undone,
                    # unless the corrected date ends it again at once: then its new end is announced
                    self.outbox.record(
                        "assistance.entitlement_resumed",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "resumed_from": record.date_of_death,
                            "reason": cause,
                        },
                    )
                paid_until = last_paid_day(entitlement)
                if until is not None:
                    paid_until = until if paid_until is None else min(paid_until, until)
                since = record.date_of_death
                if entitlement.id in earlier:
                    since = min(since, earlier[entitlement.id] - timedelta(days=1))
                cycle_months = list(self.db.execute(select(PaymentCycle.month)).scalars())
                owed_by_month, resumed_fen, note = self._owed_beside_other_deaths(
                    record, household, entitlement, benefit, cycle_months, from_now_on=until is None
                )
                notes += [note] if note else []
                reopened = (
                    self._reopen_ended_by_other_death(record, household, entitlement, cause)
                    if until is None and resumed_fen > 0
                    else None
                )
                if reopened:
                    notes.append(reopened)
                    paid_until = last_paid_day(entitlement)  # runs on: owed for every month since
                months = rules.back_pay_after_revocation(
                    since,
                    cycle_months,
                    self._paid_by_month(entitlement.id, with_arrears_due=True),
                    benefit["before_fen"],
                    paid_until=paid_until,
                    owed_by_month=owed_by_month,
                )
                owed = sum(m.back_fen for m in months)
                if owed:
                    self.db.add(
                        BackPay(
                            id=str(uuid.uuid4()),
                            case_id=record.case_id,
                            household_id=household.id,
                            entitlement_id=entitlement.id,
                            amount_fen=owed,
                            state="due",
                            months=[
                                {"month": m.month.isoformat(), "owed_fen": m.owed_fen, "paid_fen": m.paid_fen}
                                for m in months
                            ],
                            recorded_at=self.clock.now(),
                        )
                    )
                    notes.append(
                        f"{entitlement.programme} resumed at {rules.yuan(resumed_fen)} a month, back pay "
                        f"{rules.yuan(owed)} for {', '.join(m.month.strftime('%Y-%m') for m in months)}"
                    )
                elif until is None:
                    notes.append(f"{entitlement.programme} resumed at {rules.yuan(resumed_fen)} a month")
                action = "entitlement.death_revoked" if until is None else "entitlement.death_restated"
                self.audit.record(
                    SYSTEM,
                    action,
                    f"household-{household.id}",
                    "resumed",
                    reason=f"{cause}: {reason}",
                    entitlement_id=entitlement.id,
                    back_pay_fen=owed,
                )
        if until is None:
            notes += self._cancel_recoveries_for_revocation(record, reason)
        else:  # the stop that follows finds the payments after the new date, and recounts the recoveries
            self._unlink_after_death_payments(record.case_id)
        return notes

    def _set_back(self, entitlement: Entitlement, undo: rules.BenefitUndo, region_code: str) -> None:
        """The end a death gave the benefit undone as the record kept it (version 2): with its
        gradual exit and exit reason, and its next review (a new one if it runs on open-ended)."""
        entitlement.ends_on = undo.ends_on_before
        entitlement.gradual_exit_until = undo.gradual_exit_until_before
        entitlement.exit_reason = undo.exit_reason_before
        entitlement.next_review_on = (
            undo.next_review_on_before
            if entitlement.ends_on is not None
            else self._next_review(region_code, self.clock.today(), entitlement.programme)
        )

    def _reopen_ended_by_other_death(
        self, record: DeathRecord, household: Household, entitlement: Entitlement, cause: str
    ) -> str | None:
        """The death in `record` is revoked and someone is due the benefit again (its amount beside
        the deaths that stand is above 0), but another death that stands ended it, because nobody
        was left then but the person now alive again: the benefit runs on, what that death
        overwrote set back, and the departments told it is resumed. What it says, if it reopened."""
        if entitlement.ends_on is None:
            return None
        for other in self.db.execute(
            select(DeathRecord)
            .where(DeathRecord.case_id != record.case_id, DeathRecord.state == "applied")
            .order_by(DeathRecord.recorded_at, DeathRecord.case_id)
        ).scalars():
            if entitlement.exit_reason != f"death (funeral case {other.case_id})":
                continue
            for change in other.changes:
                for benefit in change["benefits"]:
                    undo = rules.BenefitUndo.from_json(benefit)
                    if undo.entitlement_id != entitlement.id or not undo.ended:
                        continue
                    self._set_back(entitlement, undo, household.region_code)
                    self.outbox.record(
                        "assistance.entitlement_resumed",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "resumed_from": other.date_of_death,
                            "reason": f"{cause}: the death of funeral case {other.case_id} left someone after all",
                        },
                    )
                    return (
                        f"{entitlement.programme}, ended by the death of funeral case {other.case_id} with nobody "
                        "left, runs on"
                    )
        return None

    def _owed_beside_other_deaths(
        self,
        record: DeathRecord,
        household: Household,
        entitlement: Entitlement,
        benefit: dict,
        cycle_months: list[date],
        from_now_on: bool,
    ) -> tuple[dict[date, int], int, str | None]:
        """For a benefit whose death (`record`) is being undone, with its amount and policy version
        set back to before the death: what the household is due for each payment cycle's month that
        another death of the household that stands reaches differently from the amount before this
        death (rules.gone_after_revocation), recomputed for the members alive in the month; and,
        `from_now_on` (a revocation), the benefit's amount from now on, set on it (with its policy
        version) when the deaths that stand make it another than the amount before. A death alone
        in its household changes nothing here: the amount before it is owed, as before. With a
        note when the survivors' standing needs a re-check."""
        others, members = [], {}
        for other in self.db.execute(
            select(DeathRecord).where(
                DeathRecord.case_id != record.case_id, DeathRecord.state.in_(("applied", "reversed"))
            )
        ).scalars():
            for change in other.changes:
                if change["household_id"] != household.id or entitlement.id not in {
                    b["entitlement_id"] for b in change["benefits"]
                }:
                    continue
                stands = other.state == "applied"
                recorded_before = (other.recorded_at, other.case_id) < (record.recorded_at, record.case_id)
                gone_then = stands or (other.reversed_at is not None and other.reversed_at > record.recorded_at)
                others.append(
                    rules.OtherDeath(change["member_id"], other.date_of_death, stands, recorded_before and gone_then)
                )
                if stands:
                    members[change["member_id"]] = self.db.get(Member, change["member_id"])
        if not others:
            return {}, benefit["before_fen"], None
        died = set(members)  # gone by a death that stands: whether in a month is the deaths' to say
        # every member the household had: one born (joined) or gone (left) since counts only for the
        # months they were in it, a month they were in for any part in full (as the run pays it)
        for member in self.db.execute(
            select(Member).where(Member.household_id == household.id).order_by(Member.joined_on, Member.id)
        ).scalars():
            if member.id not in died:
                members[member.id] = member
        today, due = self.clock.today(), {}

        def present(member: Member, month: date | None) -> bool:
            if month is None:  # from now on: the members now
                return member.id in died or member.left_on is None
            return rules.in_household_for_month(member.joined_on, None if member.id in died else member.left_on, month)

        def due_without(gone: frozenset[int], month: date | None) -> tuple[int, str | None]:
            alive_ids = frozenset(i for i, m in members.items() if i not in gone and present(m, month))
            if alive_ids not in due:
                alive = sorted((members[i] for i in alive_ids), key=lambda m: (m.joined_on, m.id))
                due[alive_ids] = self._amount_without(entitlement, alive, household.region_code, today)
            return due[alive_ids]

        owed_by_month = {}
        for month in cycle_months:
            gone = rules.gone_after_revocation(others, month)
            if gone is not None:
                owed_by_month[month] = due_without(gone, month)[0]
        entitlement.policy_version = benefit["policy_version_before"]  # `_amount_without` sets its own
        gone = rules.gone_after_revocation(others) if from_now_on else None
        if gone is None:
            return owed_by_month, benefit["before_fen"], None
        due.clear()  # computed again last, so the policy version is the amount's
        amount, why = due_without(gone, None)
        entitlement.monthly_amount_fen = amount
        return owed_by_month, amount, why

    @rpc
    def after_death(self, actor, case_id):
        """What a death changed in assistance: benefits stopped or recomputed, overpayments with
        their recovery, back pay after a revocation with the top-ups that pay it (payments.py).
        For staff of the households' areas."""
        actor = Actor.from_dict(actor)
        record = self.db.get(DeathRecord, str(case_id))
        if record is None:
            raise NotFound(f"assistance has no record of funeral case {case_id}")
        for change in record.changes:
            actor.require_staff_in(self._household_by_id(change["household_id"]).region_code)
        if not record.changes and actor.role not in STAFF:
            raise Forbidden("for staff")
        overpayments = self.db.execute(
            select(Overpayment, Recovery)
            .join(Recovery, Recovery.overpayment_id == Overpayment.id)
            .where(Overpayment.case_id == record.case_id)
            .order_by(Overpayment.recorded_at, Overpayment.id)
        ).all()
        back_pay = (
            self.db.execute(
                select(BackPay).where(BackPay.case_id == record.case_id).order_by(BackPay.recorded_at, BackPay.id)
            )
            .scalars()
            .all()
        )
        # the top-ups that pay it (or paid it): once per entitlement and month, whichever record named it
        top_ups = (
            self.db.execute(
                select(Payment)
                .where(Payment.top_up, Payment.entitlement_id.in_({b.entitlement_id for b in back_pay}))
                .order_by(Payment.for_month, Payment.id)
            )
            .scalars()
            .all()
        )
        return {
            "case_id": record.case_id,
            "state": record.state,
            "date_of_death": record.date_of_death.isoformat(),
            "households": record.changes,
            "overpayments": [
                {
                    "household_id": o.household_id,
                    "entitlement_id": o.entitlement_id,
                    "programme": o.programme,
                    "months": o.months,
                    "amount_fen": o.amount_fen,
                    "recovery": self._recovery_summary(r),
                    "payments": self._after_death_payments_view(record.case_id, o.entitlement_id),
                }
                for o, r in overpayments
            ],
            "back_pay": [
                {
                    "household_id": b.household_id,
                    "entitlement_id": b.entitlement_id,
                    "months": b.months,
                    "amount_fen": b.amount_fen,
                    "state": b.state,
                    "payments": [
                        self.desk.payment_view(p)
                        for p in top_ups
                        if p.entitlement_id == b.entitlement_id
                        and p.for_month.isoformat() in {m["month"] for m in b.months}
                    ],
                }
                for b in back_pay
            ],
        }


def _entitlements_of(changes: list) -> set[int]:
    """The benefits a death record's changes name."""
    return {benefit["entitlement_id"] for change in changes for benefit in change["benefits"]}
