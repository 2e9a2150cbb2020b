"""The funeral case (殡葬) and its revocation. A mixin of the funeral
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.db import dialect_insert
from chassis.errors import Conflict, refusals_as
from chassis.regions import region_prefix
from contracts.refusals import InvalidRuleInput, RuleRefused
from contracts.roles import ADMIN, FUNERAL_HOME
from services.funeral import rules
from services.funeral.exceptions import CaseStepRefused, PolicyUnusable
from services.funeral.models import Booking, Burial, CertificateSerial, Niche
from services.funeral.schemas import (
    BookingRequestSchema,
    BurialRequestSchema,
    CremationRequestSchema,
    RevocationRequestSchema,
    load,
)
from services.funeral.shared import MATTER_TYPE, STEP


class FuneralCases:
    """Mixed into the funeral service; uses its db, outbox, audit, policy, clock, log."""

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
