"""身后一件事 in marriage: a marriage ended by death. A mixin of the marriage service (nameko finds
the inherited handler); the protocol is chassis.after_death's, the same in every service."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from chassis.after_death import AfterDeathParticipant, DeathStep
from chassis.audit import SYSTEM
from services.marriage.models import DeathRecord, Marriage, Spouse


class AfterDeath(AfterDeathParticipant):
    """death.notified: the deceased's marriage ends by death that day, so the spouse reads
    widowed (丧偶) and may marry again; death.revoked: the marriage is registered again, unless
    the spouse has married meanwhile (then the step says so); death.date_corrected: the
    marriage ended by death on the confirmed date instead. Each hook returns the step it took."""

    death_record = DeathRecord
    death_step = "marriage_ended"

    def death_stop(self, event, record: DeathRecord | None = None) -> DeathStep:
        """`record`: the not_applicable record a corrected date finds, rewritten with that date."""
        data = event.data
        died_on = date.fromisoformat(str(data["date_of_death"]))
        spouse = self.db.get(Spouse, data["resident_id"], with_for_update=True)
        marriage = self.db.get(Marriage, spouse.marriage_id, with_for_update=True) if spouse else None
        if record is None:
            record = DeathRecord(case_id=data["case_id"], resident_id=data["resident_id"], recorded_at=self.clock.now())
            self.db.add(record)
        record.date_of_death, record.marriage_id = died_on, marriage.id if marriage else None
        record.state = "applied" if marriage else "not_applicable"
        if marriage is None:
            return DeathStep.not_applicable("the deceased was not married")
        return DeathStep.done([self._ended_by_death(event, marriage, died_on)])

    def death_restate(self, event, record: DeathRecord) -> DeathStep:
        """A corrected date of death: the marriage the old date ended ended on the new date. Ending
        it again moves the date (the spouses are apart already), so nothing need be undone first;
        a restoration would fail once the widowed spouse has married again, which the death allowed."""
        data = event.data
        died_on = date.fromisoformat(str(data["date_of_death"]))
        marriage = self.db.get(Marriage, record.marriage_id, with_for_update=True)
        previous, record.date_of_death = marriage.ended_on, died_on
        notes = [self._ended_by_death(event, marriage, died_on)]
        survivor = marriage.party_b_id if marriage.party_a_id == record.resident_id else marriage.party_a_id
        since = (
            self.db.execute(
                select(Marriage.registered_on)
                .where(
                    Marriage.id != marriage.id,
                    (Marriage.party_a_id == survivor) | (Marriage.party_b_id == survivor),
                    Marriage.registered_on >= previous,
                    Marriage.registered_on < died_on,
                )
                .order_by(Marriage.registered_on)
            )
            .scalars()
            .first()
        )
        if since is not None:  # married again while widowed by the old date, before the confirmed one
            notes.append(
                f"the surviving spouse married again on {since}, before the corrected date of death: "
                f"for the registrar to review"
            )
            self.audit.record(
                SYSTEM, "marriage.death_date_corrected", f"marriage-{marriage.id}", "needs_review", reason=notes[-1]
            )
        return DeathStep.done(notes)

    def _ended_by_death(self, event, marriage: Marriage, died_on: date) -> str:
        """THE way a marriage ends by death: as of `died_on`, the spouses apart (the survivor reads
        widowed). Again on an ended marriage: the date moves."""
        marriage.state, marriage.ended_on = "ended_by_death", died_on
        for row in self.db.execute(select(Spouse).where(Spouse.marriage_id == marriage.id)).scalars():
            self.db.delete(row)
        self.audit.record(
            SYSTEM,
            "marriage.end_by_death",
            f"marriage-{marriage.id}",
            "ended_by_death",
            reason=f"{event.type} {event.id}",
            ended_on=died_on,
        )
        return f"marriage {marriage.id} ended by death on {died_on}"

    def death_restore(self, event, record: DeathRecord) -> DeathStep:
        """The marriage is registered again, unless the spouse has married meanwhile."""
        record.state = "reversed"
        marriage = self.db.get(Marriage, record.marriage_id, with_for_update=True)
        parties = (marriage.party_a_id, marriage.party_b_id)
        if self.db.execute(select(Spouse.resident_id).where(Spouse.resident_id.in_(parties))).first():
            reason = "the surviving spouse has married again: the earlier marriage cannot be restored"
            self.audit.record(
                SYSTEM, "marriage.death_revoked", f"marriage-{marriage.id}", "not_restored", reason=reason
            )
            return DeathStep.reversed([reason])
        marriage.state, marriage.ended_on = "registered", None
        self.db.add_all([Spouse(resident_id=p, marriage_id=marriage.id) for p in parties])
        self.audit.record(
            SYSTEM, "marriage.death_revoked", f"marriage-{marriage.id}", "registered", reason=event.data["reason"]
        )
        return DeathStep.reversed([f"marriage {marriage.id} restored"])
