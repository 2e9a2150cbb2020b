"""Funeral affairs (殡葬), the owner of 身后一件事: entrypoints only move data between the wire, the
rules (`rules.py`) and the database.

A death may be notified by the hospital (its death certificate, through the health department),
the police, a funeral home, or the family; whichever comes first opens the case and the matter and
publishes `death.notified` once. Later notices of the same person join the case; one that gives
another date of death flags the case for a clerk (never a guess). The other services and the
partner departments each react to `death.notified` and report their own step; a revocation by an
authorised clerk publishes `death.revoked`, and each of them reverses what it did; a date of death
a clerk confirms in place of the notified one publishes `death.date_corrected`, and each of them
takes its step again with that date.
"""

from __future__ import annotations

import uuid

from nameko.timer import timer
from sqlalchemy import func, select, text

from chassis import (
    SYSTEM,
    Actor,
    Audit,
    Clock,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    rpc,
)
from chassis.db import dialect_insert
from chassis.errors import Conflict, refusals_as
from chassis.regions import region_prefix, require_region_code
from contracts.person import ResidentId
from contracts.refusals import InvalidRuleInput, RuleRefused
from contracts.roles import ADMIN, AREA_ROLES, CITIZEN, EMPLOYEES, FUNERAL_HOME
from services.funeral import rules
from services.funeral.exceptions import CaseStepRefused, PolicyUnusable, UnknownCase
from services.funeral.indicators import Indicators
from services.funeral.models import Booking, Burial, CertificateSerial, DateReview, DeathCase, DeathNotice, Niche
from services.funeral.schemas import (
    BookingRequestSchema,
    BurialRequestSchema,
    CaseViewSchema,
    ConfirmationRequestSchema,
    CremationRequestSchema,
    DateResolutionSchema,
    DeathNoticeReceiptSchema,
    DeathNoticeSchema,
    FuneralIndicatorsSchema,
    NicheBatchSchema,
    NicheInventorySchema,
    RevocationRequestSchema,
    dump,
    load,
)

MATTER_TYPE = "after_death"
STEP = "cremation_certificate"


class FuneralService(Indicators, Operable):
    name = "funeral"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()

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

    # --- the funeral case ------------------------------------------------------------------------

    @rpc
    def get_case(self, actor, case_id):
        return self._case_view(self._case(Actor.from_dict(actor), case_id, funeral_home=True))

    @rpc
    def book(self, actor, case_id, request):
        """Transport or cremation at a funeral home, with the fee and the 惠民殡葬 waiver of the
        region's policy on the day."""
        actor, data = Actor.from_dict(actor), load(BookingRequestSchema, request)
        case = self._case(actor, case_id, for_update=True, funeral_home=True)
        if case.state != "open":
            raise CaseStepRefused(f"the case is {case.state}")
        if self.db.execute(select(Booking.id).where(Booking.case_id == case.id, Booking.kind == data["kind"])).first():
            raise Conflict(f"{data['kind']} is booked already", errors={"kind": ["booked already"]})
        today = self.clock.today()
        fees = self.policy.resolve("funeral.basic_service_fees_fen", case.region_code, today)
        waived = self.policy.resolve("funeral.fee_waiver_kinds", case.region_code, today)
        with refusals_as(
            PolicyUnusable,
            also=(AttributeError, TypeError),
        ):
            waiver = rules.fee_waiver(data["kind"], fees.value, waived.value)
        version = f"{fees.version};{waived.version}"
        booking = Booking(
            id=str(uuid.uuid4()),
            case_id=case.id,
            kind=data["kind"],
            scheduled_at=data["scheduled_at"],
            funeral_home=data["funeral_home"],
            fee_fen=waiver.fee_fen,
            waived_fen=waiver.waived_fen,
            policy_version=version,
            booked_by=actor.id,
        )
        self.db.add(booking)
        self.audit.record(
            actor,
            "funeral.book",
            f"death-case-{case.id}",
            data["kind"],
            policy_version=version,
            fee_fen=waiver.fee_fen,
            waived_fen=waiver.waived_fen,
        )
        return self._case_view(case)

    @rpc
    def choose_burial(self, actor, case_id, request):
        """The burial form; an eco form earns the region's reward (capped per case), a niche is
        allocated from the region's inventory."""
        actor, data = Actor.from_dict(actor), load(BurialRequestSchema, request)
        case = self._case(actor, case_id, for_update=True, funeral_home=True)
        if case.state == "revoked":
            raise CaseStepRefused("the case is revoked")
        if self.db.get(Burial, case.id) is not None:
            raise Conflict("the burial form is chosen already")
        today = self.clock.today()
        rewards = self.policy.resolve("funeral.eco_burial_reward_fen", case.region_code, today)
        cap = self.policy.resolve("funeral.eco_burial_reward_cap_fen", case.region_code, today)
        with refusals_as(PolicyUnusable, also=(AttributeError,)):
            reward = rules.eco_burial_reward(data["form"], rewards.value, cap.value)
        niche_id = None
        if data["form"] == "niche":
            niche = self.db.execute(
                select(Niche)
                .where(
                    Niche.case_id.is_(None),
                    Niche.region_code.startswith(region_prefix(case.region_code[:6]), autoescape=True),
                )
                .order_by(Niche.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).scalar()
            if niche is None:
                raise Conflict("no niche is free in the region", errors={"form": ["no free niche"]})
            niche.case_id, niche_id = case.id, niche.id
        version = f"{rewards.version};{cap.version}"
        self.db.add(
            Burial(
                case_id=case.id,
                region_code=case.region_code,
                form=data["form"],
                eco=data["form"] in rules.ECO_FORMS,
                reward_fen=reward,
                niche_id=niche_id,
                chosen_on=today,
                policy_version=version,
            )
        )
        self.audit.record(
            actor,
            "funeral.burial",
            f"death-case-{case.id}",
            data["form"],
            policy_version=version,
            reward_fen=reward,
            niche_id=niche_id,
        )
        return self._case_view(case)

    @rpc
    def record_cremation(self, actor, case_id, request):
        """The cremation took place: the certificate (火化证明) is issued and funeral's step of the
        matter is done."""
        actor, data = Actor.from_dict(actor), load(CremationRequestSchema, request)
        case = self._case(actor, case_id, for_update=True, funeral_home=True)
        booked = (
            self.db.execute(select(Booking.id).where(Booking.case_id == case.id, Booking.kind == "cremation")).first()
            is not None
        )
        with (
            refusals_as(CaseStepRefused, kind=RuleRefused),
            refusals_as(InvalidInput, field="cremated_on", kind=InvalidRuleInput),
        ):
            rules.may_cremate(case.state, booked, case.date_conflict, data["cremated_on"], case.date_of_death)
        if data["cremated_on"] > self.clock.today():
            raise InvalidInput("a cremation is recorded once it took place", errors={"cremated_on": ["in the future"]})
        district, year = case.region_code[:6], data["cremated_on"].year
        table = CertificateSerial.__table__
        serial = self.db.execute(
            dialect_insert(self.db, table)
            .values(region_code=district, year=year, last_serial=1)
            .on_conflict_do_update(
                index_elements=["region_code", "year"], set_={"last_serial": table.c.last_serial + 1}
            )
            .returning(table.c.last_serial)
        ).scalar_one()
        case.state, case.cremated_on = "cremated", data["cremated_on"]
        case.cremation_certificate = rules.certificate_number(district, year, serial)
        self.outbox.report_step(
            f"death-case-{case.id}",
            MATTER_TYPE,
            STEP,
            "done",
            f"火化证明 {case.cremation_certificate}",
            matter_id=case.matter_id,
        )
        self.audit.record(
            actor, "funeral.cremation", f"death-case-{case.id}", "cremated", certificate=case.cremation_certificate
        )
        return self._case_view(case)

    # --- revocation ------------------------------------------------------------------------------

    @rpc
    def revoke(self, actor, case_id, request):
        """A notification made in error: an authorised clerk (a district bureau's, or an admin)
        revokes it; every participant reverses its step on `death.revoked`."""
        actor, data = Actor.from_dict(actor), load(RevocationRequestSchema, request)
        if actor.role == FUNERAL_HOME:  # they take the notice and the body; the bureau decides
            reason = "funeral-home staff do not revoke a death: a district bureau does"
            self.audit.record_refusal(actor, "death.revoke", f"death-case-{case_id}", reason)
            raise Forbidden(reason)
        case = self._case(actor, case_id, for_update=True)
        if actor.role != ADMIN and len(actor.area or "") != 6:
            raise Forbidden("a revocation is decided by a district bureau (or the city), not a township")
        with refusals_as(
            CaseStepRefused,
            audit=lambda refusal: self.audit.record_refusal(
                actor, "death.revoke", f"death-case-{case.id}", refusal.reason
            ),
        ):
            rules.may_revoke(case.state)
        case.state, case.revoked_at, case.revoked_by, case.revoked_reason = (
            "revoked",
            self.clock.now(),
            actor.id,
            data["reason"],
        )
        burial = self.db.get(Burial, case.id)
        if burial is not None and burial.niche_id is not None:
            self.db.get(Niche, burial.niche_id).case_id = None  # the niche is free again
            burial.niche_id = None
        subject = f"death-case-{case.id}"
        self.outbox.record(
            "death.revoked",
            subject,
            {
                "case_id": case.id,
                "resident_id": case.resident_id,
                "date_of_death": case.date_of_death,
                "reason": data["reason"],
            },
            matter_id=case.matter_id,
        )
        # funeral's own step had not happened (no cremation): nothing of it remains to do
        self.outbox.report_step(
            subject, MATTER_TYPE, STEP, "not_applicable", f"revoked: {data['reason']}", matter_id=case.matter_id
        )
        self.audit.record(actor, "death.revoke", subject, "revoked", reason=data["reason"])
        self.log.warning("funeral.revoked", case_id=case.id)
        return self._case_view(case)

    # --- niches and indicators -------------------------------------------------------------------

    @rpc
    def add_niches(self, actor, request):
        """骨灰安放格位 added to a columbarium's inventory."""
        actor, data = Actor.from_dict(actor), load(NicheBatchSchema, request)
        actor.require_staff_in(data["region_code"], also=(FUNERAL_HOME,))
        last = self.db.execute(
            select(func.coalesce(func.max(Niche.position), 0)).where(Niche.facility == data["facility"])
        ).scalar_one()
        self.db.add_all(
            [
                Niche(facility=data["facility"], region_code=data["region_code"], position=last + i + 1)
                for i in range(data["count"])
            ]
        )
        self.audit.record(actor, "niche.add", f"facility-{data['facility']}", "added", count=data["count"])
        return self._inventory(data["region_code"])

    @rpc
    def niche_inventory(self, actor, region_code):
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code, also=(FUNERAL_HOME,))
        return self._inventory(region_code)

    def _inventory(self, region_code: str) -> dict:
        self.db.flush()
        rows = self.db.execute(
            select(Niche.facility, func.count(), func.count(Niche.case_id))
            .where(Niche.region_code.startswith(region_prefix(region_code), autoescape=True))
            .group_by(Niche.facility)
            .order_by(Niche.facility)
        ).all()
        facilities = [
            {"facility": f, "total": total, "allocated": taken, "free": total - taken} for f, total, taken in rows
        ]
        return dump(
            NicheInventorySchema,
            {"region_code": region_code, "facilities": facilities, "free": sum(f["free"] for f in facilities)},
        )

    @rpc
    def indicators(self, actor, region_code):
        """火化率 and 节地生态安葬率 of the region's cases (revoked ones do not count)."""
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code)
        within = DeathCase.region_code.startswith(region_prefix(region_code), autoescape=True)
        deaths, cremated = self.db.execute(
            select(func.count(), func.count().filter(DeathCase.state == "cremated")).where(
                within, DeathCase.state != "revoked"
            )
        ).one()
        burials, eco, rewards = self.db.execute(
            select(
                func.count(), func.count().filter(Burial.eco.is_(True)), func.coalesce(func.sum(Burial.reward_fen), 0)
            )
            .join(DeathCase, DeathCase.id == Burial.case_id)
            .where(within, DeathCase.state != "revoked")
        ).one()
        rates = rules.indicators(deaths, cremated, burials, eco)
        return dump(
            FuneralIndicatorsSchema,
            {
                "region_code": region_code,
                "deaths": deaths,
                "cremated": cremated,
                "cremation_rate": rates.cremation_rate,
                "burials": burials,
                "eco_burials": eco,
                "eco_burial_rate": rates.eco_burial_rate,
                "rewards_fen": int(rewards),
            },
        )

    # --- shared ----------------------------------------------------------------------------------

    def _case_by_id(self, case_id: str, for_update: bool = False) -> DeathCase:
        query = select(DeathCase).where(DeathCase.id == str(case_id))
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        case = self.db.execute(query).scalar_one_or_none()
        if case is None:
            raise UnknownCase(f"no funeral case {case_id}")
        return case

    def _case(self, actor: Actor, case_id: str, for_update: bool = False, funeral_home: bool = False) -> DeathCase:
        """The case, for staff of its area; `funeral_home`: funeral-home staff too (what a funeral
        home does: bookings, burial, cremation; never a revocation or the date of death)."""
        case = self._case_by_id(case_id, for_update)
        actor.require_staff_in(case.region_code, also=(FUNERAL_HOME,) if funeral_home else ())
        return case

    def _reported_dates(self, case: DeathCase) -> list:
        return sorted(
            set(self.db.execute(select(DeathNotice.date_of_death).where(DeathNotice.case_id == case.id)).scalars())
        )

    def _notice_answer(self, actor: Actor, case: DeathCase, duplicate: bool) -> dict:
        """Staff see the case; a partner or the family only the receipt of its notice, since the
        case holds other sources' notices and the family's arrangements (minimal disclosure)."""
        if actor.role in EMPLOYEES:
            return self._case_view(case, duplicate=duplicate)
        self.db.flush()
        return dump(
            DeathNoticeReceiptSchema,
            {
                "case_id": case.id,
                "matter_id": case.matter_id,
                "state": case.state,
                "date_of_death": case.date_of_death,
                "date_conflict": case.date_conflict,
                "duplicate": duplicate,
            },
        )

    def _case_view(self, case: DeathCase, duplicate: bool = False) -> dict:
        self.db.flush()
        notices = (
            self.db.execute(
                select(DeathNotice)
                .where(DeathNotice.case_id == case.id)
                .order_by(DeathNotice.received_at, DeathNotice.id)
            )
            .scalars()
            .all()
        )
        bookings = (
            self.db.execute(select(Booking).where(Booking.case_id == case.id).order_by(Booking.kind)).scalars().all()
        )
        burial = self.db.get(Burial, case.id)
        niche = self.db.get(Niche, burial.niche_id) if burial is not None and burial.niche_id else None
        return dump(
            CaseViewSchema,
            {
                "case_id": case.id,
                "matter_id": case.matter_id,
                "resident_id": case.resident_id,
                "name": case.name,
                "region_code": case.region_code,
                "date_of_death": case.date_of_death,
                "state": case.state,
                "date_conflict": case.date_conflict,
                "reported_dates": sorted({n.date_of_death for n in notices}),
                "duplicate": duplicate,
                "notices": [
                    {
                        "source": n.source,
                        "reference": n.reference,
                        "date_of_death": n.date_of_death,
                        "received_at": n.received_at,
                    }
                    for n in notices
                ],
                "bookings": [
                    {
                        "booking_id": b.id,
                        "kind": b.kind,
                        "scheduled_at": b.scheduled_at,
                        "funeral_home": b.funeral_home,
                        "fee_fen": b.fee_fen,
                        "waived_fen": b.waived_fen,
                        "policy_version": b.policy_version,
                    }
                    for b in bookings
                ],
                "burial": None
                if burial is None
                else {
                    "form": burial.form,
                    "eco": burial.eco,
                    "reward_fen": burial.reward_fen,
                    "niche": f"{niche.facility}#{niche.position}" if niche else None,
                    "policy_version": burial.policy_version,
                },
                "fees_fen": sum(b.fee_fen for b in bookings),
                "waived_fen": sum(b.waived_fen for b in bookings),
                "cremation_certificate": case.cremation_certificate,
                "cremated_on": case.cremated_on,
                "revoked_reason": case.revoked_reason,
                "verification": case.verification or "verified",
                "verify_by": case.verify_by,
            },
        )
