"""Death intake, from every source: hospitals, police, the family, and their reconciliation into one case. A mixin of the funeral
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid

from nameko.timer import timer
from sqlalchemy import func, select, text

from chassis import (
    SYSTEM,
    Actor,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.db import dialect_insert
from chassis.errors import refusals_as
from contracts.person import ResidentId
from contracts.refusals import RuleRefused
from contracts.roles import ADMIN, AREA_ROLES, CITIZEN, FUNERAL_HOME
from services.funeral import rules
from services.funeral.exceptions import CaseStepRefused, PolicyUnusable
from services.funeral.models import DateReview, DeathCase, DeathNotice
from services.funeral.schemas import (
    ConfirmationRequestSchema,
    DateResolutionSchema,
    DeathNoticeSchema,
    load,
)
from services.funeral.shared import MATTER_TYPE


class DeathIntake:
    """Mixed into the funeral service; uses its db, outbox, audit, policy, clock, log."""

    # --- death intake, from every source ---------------------------------------------------------

    @rpc
    def notify_death(self, actor, request):
        """One notice of a death. The first opens the case and the matter; a repeat of the same
        notice (same source and reference) or another source's notice of the same person joins it."""
        actor, data = Actor.from_dict(actor), load(DeathNoticeSchema, request)
        with refusals_as(Forbidden):
            source = rules.source_of(actor.role, actor.id)
        if actor.role in AREA_ROLES:
            actor.require_staff_in(data["region_code"], also=(FUNERAL_HOME,))
        if source in rules.REQUIRES_REFERENCE and not data["reference"]:
            raise InvalidInput(
                "a death certificate or report has a number",
                errors={"reference": ["required from hospitals and police"]},
            )
        person = ResidentId.parse(data["deceased"]["resident_id"])
        if actor.role == CITIZEN and actor.id == person.number:
            raise Forbidden("a family member applies, not the deceased")
        with refusals_as(InvalidInput, field="date_of_death"):
            rules.check_date_of_death(data["date_of_death"], person.birth_date, self.clock.today())
        if data["reference"]:
            known = self.db.execute(
                select(DeathNotice).where(DeathNotice.source == source, DeathNotice.reference == data["reference"])
            ).scalar()
            if known is not None:  # the same certificate sent again: the same answer
                return self._notice_answer(actor, self._case_by_id(known.case_id), duplicate=True)
        now = self.clock.now()
        # two notices of one death racing: the unique standing case lets one insert, the other finds
        # it; a case revoked as made in error does not stand, so a later real death opens its own
        opened = self.db.execute(
            dialect_insert(self.db, DeathCase.__table__)
            .values(
                resident_id=person.number,
                id=str(uuid.uuid4()),
                matter_id=str(uuid.uuid4()),
                name=data["deceased"]["name"],
                region_code=data["region_code"],
                date_of_death=data["date_of_death"],
                date_conflict=False,
                state="open",
                opened_at=now,
            )
            .on_conflict_do_nothing(index_elements=["resident_id"], index_where=text("state <> 'revoked'"))
        ).rowcount
        case = self.db.execute(
            select(DeathCase)
            .where(DeathCase.resident_id == person.number, DeathCase.state != "revoked")
            .with_for_update()
            .execution_options(populate_existing=True)
        ).scalar_one()
        # the same certificate sent twice at once: the unique reference lets one in, the other is a repeat
        added = self.db.execute(
            dialect_insert(self.db, DeathNotice.__table__)
            .values(
                id=str(uuid.uuid4()),
                case_id=case.id,
                source=source,
                reference=data["reference"],
                date_of_death=data["date_of_death"],
                place_of_death=data["place_of_death"],
                reported_by=actor.id,
                informant_relationship=data["informant_relationship"],
                received_at=now,
            )
            .on_conflict_do_nothing(index_elements=["source", "reference"])
        ).rowcount
        if not added:
            return self._notice_answer(actor, case, duplicate=True)
        subject = f"death-case-{case.id}"
        if opened:
            subjects = [person.number] + ([actor.id] if actor.role == CITIZEN else [])
            self.outbox.record(
                "matter.opened",
                subject,
                {
                    "matter_type": MATTER_TYPE,
                    "subjects": subjects,
                    "region_code": case.region_code,
                    "opened_on_behalf_of": None if actor.role == CITIZEN else actor.id,
                },
                matter_id=case.matter_id,
            )
            today = self.clock.today()
            policy = self.policy.resolve("funeral.family_notice", case.region_code, today)
            with refusals_as(PolicyUnusable, detail=f"{policy.version}: {{reason}}"):
                hold = rules.family_notice_hold(source, policy.value, today)
            if hold is None:
                case.verification = "verified"
                self._send_notified(case, source)
            else:  # nothing is done on it until a hospital or police notice or a clerk confirms it
                case.verification, case.verify_by = "awaiting", hold
            self.audit.record(
                actor,
                "death.notify",
                subject,
                "opened" if hold is None else "held",
                policy_version=policy.version,
                source=source,
                matter_id=case.matter_id,
                verify_by=hold,
            )
            self.log.info("funeral.case_opened", case_id=case.id, source=source, held=hold is not None)
        elif case.verification != "verified" and source in rules.OFFICIAL_SOURCES and case.state == "open":
            # a certificate or report verifies the family's notice; its date is the one acted on,
            # since the family's was never acted on
            case.verification = rules.verification_after(case.verification, case.verify_by, source, self.clock.today())
            family_date, case.date_of_death = case.date_of_death, data["date_of_death"]
            self._send_notified(case, source)
            self.audit.record(
                actor,
                "death.verify",
                subject,
                "verified",
                source=source,
                family_date=family_date,
                date_of_death=case.date_of_death,
            )
            self.log.info("funeral.verified", case_id=case.id, source=source)
        elif not rules.dates_agree(case.date_of_death, data["date_of_death"]):
            case.date_conflict = True
            self.audit.record(
                actor,
                "death.notify",
                subject,
                "date_conflict",
                source=source,
                case_date=case.date_of_death,
                reported_date=data["date_of_death"],
            )
            self.log.warning("funeral.date_conflict", case_id=case.id, source=source)
        else:
            self.audit.record(actor, "death.notify", subject, "joined", source=source)
        return self._notice_answer(actor, case, duplicate=not opened)

    def _send_notified(self, case: DeathCase, source: str) -> None:
        """`death.notified`: every participant takes its step of 身后一件事 on it."""
        self.outbox.record(
            "death.notified",
            f"death-case-{case.id}",
            {
                "case_id": case.id,
                "resident_id": case.resident_id,
                "name": case.name,
                "date_of_death": case.date_of_death,
                "region_code": case.region_code,
                "source": source,
            },
            matter_id=case.matter_id,
        )

    @rpc
    def confirm_notice(self, actor, case_id, request):
        """A clerk of the area confirms a family's notice held for verification (the death
        certificate seen, a visit), by the policy's deadline: `death.notified` is sent on."""
        actor, data = Actor.from_dict(actor), load(ConfirmationRequestSchema, request)
        case = self._case(actor, case_id, for_update=True)
        subject = f"death-case-{case.id}"
        with refusals_as(
            CaseStepRefused,
            audit=lambda refusal: self.audit.record_refusal(actor, "death.confirm", subject, refusal.reason),
        ):
            if case.state == "revoked":
                raise RuleRefused("the case is revoked")
            case.verification = rules.verification_after(case.verification, case.verify_by, "clerk", self.clock.today())
        self._send_notified(case, "family")
        self.audit.record(actor, "death.confirm", subject, "verified", reason=data["reason"])
        return self._case_view(case)

    @timer(interval=3600)
    def lapse_unverified_job(self):
        self._lapse_unverified()

    @rpc
    def lapse_unverified(self, actor):
        """The held family notices not confirmed by their day lapse (idempotent; also hourly):
        nothing was done on them, and a clerk can no longer confirm them (a hospital or police
        notice still verifies the death). Admins only. How many lapsed."""
        actor = Actor.from_dict(actor)
        if actor.role != ADMIN:
            raise Forbidden("only an admin runs the lapse of unverified notices")
        return {"lapsed": self._lapse_unverified()}

    def _lapse_unverified(self) -> int:
        today = self.clock.today()
        held = (
            self.db.execute(
                select(DeathCase)
                .where(DeathCase.verification == "awaiting", DeathCase.verify_by < today)
                .order_by(DeathCase.id)
                .with_for_update(skip_locked=True)
            )
            .scalars()
            .all()
        )
        for case in held:
            if rules.lapses(case.verification, case.verify_by, today):
                case.verification = "lapsed"
                self.audit.record(
                    SYSTEM,
                    "death.lapse",
                    f"death-case-{case.id}",
                    "lapsed",
                    reason=f"a family's notice not confirmed by {case.verify_by}",
                )
        return len(held)

    @rpc
    def date_conflicts(self, actor):
        """The area's cases whose notices disagree on the date of death, oldest first."""
        actor = Actor.from_dict(actor)
        cases = self.db.execute(
            select(DeathCase)
            .where(DeathCase.date_conflict.is_(True), actor.in_area(DeathCase.region_code, "date conflicts"))
            .order_by(DeathCase.opened_at)
        ).scalars()
        return [self._case_view(c) for c in cases]

    @rpc
    def resolve_date(self, actor, case_id, request):
        """A clerk confirms the date of death after checking the documents. A confirmed date that
        differs from the one the case was notified with (the date every step stands on) is sent on
        as `death.date_corrected`, committed with the decision: each participant takes its step
        again with the confirmed date. The same date confirmed sends nothing; nor does a revoked
        case's, since no step of it stands."""
        actor, data = Actor.from_dict(actor), load(DateResolutionSchema, request)
        case = self._case(actor, case_id, for_update=True)
        reported = self._reported_dates(case)
        if not case.date_conflict:
            raise CaseStepRefused("the notices of this case agree on the date of death")
        if data["date_of_death"] not in reported:
            raise InvalidInput(
                "confirm one of the dates the notices gave",
                errors={"date_of_death": [f"one of {', '.join(d.isoformat() for d in reported)}"]},
            )
        self.db.add(
            DateReview(
                id=str(uuid.uuid4()),
                case_id=case.id,
                reported_dates=[d.isoformat() for d in reported],
                confirmed=data["date_of_death"],
                reason=data["reason"],
                decided_by=actor.id,
                decided_at=self.clock.now(),
            )
        )
        previous, subject = case.date_of_death, f"death-case-{case.id}"
        changed = data["date_of_death"] != previous
        case.date_conflict, case.date_of_death = False, data["date_of_death"]
        # a held family notice was never acted on: its date is simply the case's now
        if changed and case.state != "revoked" and case.verification == "verified":
            # the case's decisions so far, this one included: taken under the case's lock, so each
            # correction's number is above every earlier one's
            revision = self.db.execute(
                select(func.count()).select_from(DateReview).where(DateReview.case_id == case.id)
            ).scalar_one()
            self.outbox.record(
                "death.date_corrected",
                subject,
                {
                    "case_id": case.id,
                    "resident_id": case.resident_id,
                    "date_of_death": case.date_of_death,
                    "previous_date_of_death": previous,
                    "reason": data["reason"],
                    "revision": revision,
                },
                matter_id=case.matter_id,
            )
            self.log.warning("funeral.date_corrected", case_id=case.id)
        self.audit.record(
            actor,
            "death.resolve_date",
            subject,
            "confirmed",
            reason=data["reason"],
            confirmed=data["date_of_death"],
            previous=previous,
            changed=changed,
        )
        return self._case_view(case)
