"""结婚登记: appointments and the one-matter application, the registration, its certificates. A mixin of the marriage
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from chassis.db import dialect_insert
from contracts.person import mask
from contracts.roles import CITIZEN
from services.marriage import rules
from services.marriage.exceptions import (
    AlreadyMarried,
    DivorceStepRefused,
    SlotUnavailable,
    UnknownRecord,
)
from services.marriage.models import (
    Appointment,
    Certificate,
    CertificateSerial,
    Marriage,
    Spouse,
)
from services.marriage.schemas import (
    AppointmentRequestSchema,
    AppointmentSchema,
    CertificateVerificationSchema,
    OneMatterApplicationSchema,
    RegistrationRequestSchema,
    RegistrationSchema,
    ReissueRequestSchema,
    dump,
    load,
)


class Registrations:
    """Mixed into the marriage service; uses its db, outbox, audit, clock, log, certificates."""

    # --- appointments and the one-matter application ----------------------------------------

    @rpc
    def book_appointment(self, actor, request):
        actor, data = Actor.from_dict(actor), load(AppointmentRequestSchema, request)
        return self._appointment_view(self._book(actor, data, matter_id=None))

    @rpc
    def open_marriage_matter(self, actor, request):
        """结婚生育户口一件事: one application books the registration and opens the matter."""
        actor, data = Actor.from_dict(actor), load(OneMatterApplicationSchema, request)
        matter_id = str(uuid.uuid4())
        appointment = self._book(actor, data, matter_id)
        self.outbox.record(
            "matter.opened",
            f"appointment-{appointment.id}",
            {
                "matter_type": data["matter_type"],
                "subjects": [data["party_a"]["resident_id"], data["party_b"]["resident_id"]],
                "region_code": data["office_code"],
                "opened_on_behalf_of": actor.id if actor.role != CITIZEN else None,
            },
            matter_id=matter_id,
        )
        self.audit.record(
            actor,
            "matter.open",
            f"matter-{matter_id}",
            "opened",
            matter_type=data["matter_type"],
            appointment_id=appointment.id,
        )
        return {"matter_id": matter_id, "appointment": self._appointment_view(appointment)}

    def _appointment_view(self, appointment: Appointment) -> dict:
        return dump(
            AppointmentSchema,
            {
                "appointment_id": appointment.id,
                "office_code": appointment.office_code,
                "slot_start": appointment.slot_start,
                "state": appointment.state,
                "matter_id": appointment.matter_id,
            },
        )

    def _book(self, actor: Actor, data: dict, matter_id) -> Appointment:
        a, b = data["party_a"], data["party_b"]
        if actor.role == CITIZEN and actor.id not in (a["resident_id"], b["resident_id"]):
            raise Forbidden("a citizen can only book for a couple they are part of")
        if actor.role != CITIZEN:
            actor.require_staff_in(data["office_code"])
        office = self._office(data["office_code"], for_update=True)  # serialises one office's bookings
        slot = data["slot_start"]
        if slot <= self.clock.now():
            raise InvalidInput("the slot has already begun", errors={"slot_start": ["must be in the future"]})
        if (slot.minute % office.slot_minutes) or slot.second or slot.microsecond:
            raise InvalidInput(
                "not a slot start",
                errors={"slot_start": [f"slots start every {office.slot_minutes} minutes on the hour"]},
            )
        self._refuse_if_ineligible(
            actor,
            data,
            declared_not_close_relatives=True,
            on=slot.astimezone(LOCAL_ZONE).date(),
            action="appointment.book",
        )
        booked = (
            select(func.count())
            .select_from(Appointment)
            .where(
                Appointment.office_code == office.code, Appointment.slot_start == slot, Appointment.state == "booked"
            )
        )
        if self.db.execute(booked).scalar() >= office.slot_capacity:
            raise SlotUnavailable(f"the slot at {slot.isoformat()} is full", errors={"slot_start": ["full"]})
        parties = (a["resident_id"], b["resident_id"])
        clash = self.db.execute(
            select(Appointment.id).where(
                Appointment.state == "booked",
                Appointment.slot_start > self.clock.now(),
                Appointment.party_a_id.in_(parties) | Appointment.party_b_id.in_(parties),
            )
        ).first()
        if clash:
            raise SlotUnavailable("a party already has a booked appointment; cancel it first")
        appointment = Appointment(
            id=str(uuid.uuid4()),
            office_code=office.code,
            slot_start=slot,
            party_a_id=a["resident_id"],
            party_a_name=a["name"],
            party_b_id=b["resident_id"],
            party_b_name=b["name"],
            state="booked",
            matter_id=matter_id,
            booked_at=self.clock.now(),
            booked_by=actor.id,
        )
        self.db.add(appointment)
        return appointment

    # --- registration ----------------------------------------------------------------------

    @rpc
    def register_marriage(self, actor, request):
        actor, data = Actor.from_dict(actor), load(RegistrationRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        today = self.clock.today()
        law = self._refuse_if_ineligible(
            actor, data, data["declared_not_close_relatives"], today, action="marriage.register"
        )
        a, b = data["party_a"], data["party_b"]
        matter_id = data["matter_id"]
        if matter_id:
            self._use_appointment(matter_id, {a["resident_id"], b["resident_id"]})
        else:  # a walk-in couple that had booked: their booking is used, not left to block them
            for booked in self.db.execute(
                select(Appointment).where(
                    Appointment.state == "booked",
                    Appointment.party_a_id.in_([a["resident_id"], b["resident_id"]]),
                    Appointment.party_b_id.in_([a["resident_id"], b["resident_id"]]),
                )
            ).scalars():
                booked.state = "used"
        marriage = Marriage(
            id=str(uuid.uuid4()),
            office_code=data["office_code"],
            registered_on=today,
            party_a_id=a["resident_id"],
            party_a_name=a["name"],
            party_b_id=b["resident_id"],
            party_b_name=b["name"],
            state="registered",
            matter_id=matter_id,
            new_style_wedding_notice_given=data["new_style_wedding_notice_given"],
            policy_version=law.version,
            registered_by=actor.id,
        )
        self.db.add(marriage)
        self.db.flush()
        try:
            with self.db.begin_nested():
                self.db.add_all(
                    [
                        Spouse(resident_id=a["resident_id"], marriage_id=marriage.id),
                        Spouse(resident_id=b["resident_id"], marriage_id=marriage.id),
                    ]
                )
        except IntegrityError:  # a concurrent registration married one of them first
            self.audit.record_refusal(
                actor,
                "marriage.register",
                f"office-{data['office_code']}",
                "already_married: a concurrent registration came first",
                policy_version=law.version,
            )
            raced = set(
                self.db.execute(
                    select(Spouse.resident_id).where(Spouse.resident_id.in_([a["resident_id"], b["resident_id"]]))
                ).scalars()
            )  # the winner has committed: its rows are visible to this statement
            named = [f"{side}.resident_id" for side, p in (("party_a", a), ("party_b", b)) if p["resident_id"] in raced]
            raise AlreadyMarried(
                "a party was registered as married a moment ago",
                errors={
                    field: ["registered as married by another registration a moment ago"]
                    for field in named or ("party_a.resident_id", "party_b.resident_id")
                },
                code="already_married",
            ) from None
        number = self._issue_certificate("marriage", marriage, today)
        self.outbox.record(
            "marriage.registered",
            f"marriage-{marriage.id}",
            {
                "registration_id": marriage.id,
                "certificate_number": number,
                "registered_on": today,
                "office_code": marriage.office_code,
                "party_a": a,
                "party_b": b,
            },
            matter_id=matter_id,
        )
        if matter_id:
            self.outbox.report_step(
                f"marriage-{marriage.id}", "marriage_birth_hukou", "marriage_registration", "done", matter_id=matter_id
            )
        self.audit.record(
            actor,
            "marriage.register",
            f"marriage-{marriage.id}",
            "registered",
            policy_version=law.version,
            certificate_number=number,
        )
        # the parties' numbers are masked by the chassis on the way out
        self.log.info(
            "marriage.registered",
            registration_id=marriage.id,
            certificate_number=number,
            parties=[a["resident_id"], b["resident_id"]],
        )
        return self._registration(marriage, number)

    @rpc
    def get_registration(self, actor, registration_id):
        actor = Actor.from_dict(actor)
        marriage = self._marriage(registration_id)
        if actor.role == CITIZEN:
            if actor.id not in (marriage.party_a_id, marriage.party_b_id):
                raise Forbidden("not your registration")
        else:
            actor.require_staff_in(marriage.office_code)
        certificate = self.db.execute(
            select(Certificate.number).where(
                Certificate.marriage_id == marriage.id, Certificate.state == "valid", Certificate.kind != "divorce"
            )
        ).scalar()
        return self._registration(marriage, certificate)

    def _registration(self, marriage: Marriage, number: str | None) -> dict:
        document = {
            "certificate_number": number,
            "kind": "marriage",
            "issued_on": marriage.registered_on.isoformat(),
            "office_code": marriage.office_code,
            "holders": [
                {"name": marriage.party_a_name, "resident_id": mask(marriage.party_a_id)},
                {"name": marriage.party_b_name, "resident_id": mask(marriage.party_b_id)},
            ],
        }
        return dump(
            RegistrationSchema,
            {
                "registration_id": marriage.id,
                "back_entered": bool(marriage.back_entered),
                "certificate_number": number,
                "registered_on": marriage.registered_on,
                "office_code": marriage.office_code,
                "matter_id": marriage.matter_id,
                "state": marriage.state,
                "e_certificate": self.certificates.sign(document) if number else None,
            },
        )

    def _use_appointment(self, matter_id: str, parties: set):
        appointment = self.db.execute(
            select(Appointment).where(Appointment.matter_id == matter_id).with_for_update()
        ).scalar_one_or_none()
        if appointment is None or {appointment.party_a_id, appointment.party_b_id} != parties:
            raise InvalidInput(
                "the matter does not belong to this couple",
                errors={"matter_id": ["no application of these two parties has this matter id"]},
            )
        if appointment.state != "booked":
            raise InvalidInput(
                "the matter's registration is already done",
                errors={"matter_id": [f"its appointment is {appointment.state}"]},
            )
        appointment.state = "used"

    @rpc
    def birth_matters(self, resident_id):
        """The 结婚生育户口一件事 matters a parent is a party to, the latest first: those of their
        registered marriages, then of their booked appointments. The registry opened them, so the
        answer does not wait for the progress view to have seen them."""
        party = (Marriage.party_a_id == resident_id) | (Marriage.party_b_id == resident_id)
        married = self.db.execute(
            select(Marriage.matter_id)
            .where(party, Marriage.matter_id.is_not(None), Marriage.state == "registered")
            .order_by(Marriage.registered_on.desc())
        ).scalars()
        booked = self.db.execute(
            select(Appointment.matter_id)
            .where(
                (Appointment.party_a_id == resident_id) | (Appointment.party_b_id == resident_id),
                Appointment.matter_id.is_not(None),
                Appointment.state == "booked",
            )
            .order_by(Appointment.booked_at.desc())
        ).scalars()
        return list(dict.fromkeys([*married, *booked]))

    # --- certificates ----------------------------------------------------------------------

    @rpc
    def reissue_certificate(self, actor, request):
        """补领: a new number for a lost certificate; the old one becomes void."""
        actor, data = Actor.from_dict(actor), load(ReissueRequestSchema, request)
        old = self.db.execute(
            select(Certificate).where(Certificate.number == data["certificate_number"]).with_for_update()
        ).scalar_one_or_none()
        if old is None or old.kind == "divorce":
            raise UnknownRecord("no marriage certificate with that number", errors={"certificate_number": ["unknown"]})
        marriage = self.db.get(Marriage, old.marriage_id)
        actor.require_staff_in(marriage.office_code)
        if data["requested_by"] not in (marriage.party_a_id, marriage.party_b_id):
            raise InvalidInput("only a party can ask for a re-issue", errors={"requested_by": ["not a party"]})
        if old.state != "valid" or marriage.state != "registered":
            raise DivorceStepRefused("only the valid certificate of a current marriage can be re-issued")
        number = self._issue_certificate("reissue", marriage, self.clock.today())
        old.state, old.void_reason = "void", f"re-issued as {number}"
        self.outbox.record(
            "marriage.certificate_reissued",
            f"marriage-{marriage.id}",
            {"registration_id": marriage.id, "old_certificate_number": old.number, "certificate_number": number},
        )
        self.audit.record(
            actor,
            "certificate.reissue",
            f"marriage-{marriage.id}",
            "reissued",
            old_number=old.number,
            new_number=number,
        )
        return self._registration(marriage, number)

    @rpc
    def verify_certificate(self, number, e_certificate=None):
        certificate = self.db.get(Certificate, number)
        result = {"certificate_number": number, "valid": False, "kind": None, "registered_on": None, "reason": None}
        if certificate is None:
            result["reason"] = "no certificate has this number"
        elif e_certificate is not None and not (
            self.certificates.verify(e_certificate)
            and e_certificate.get("document", {}).get("certificate_number") == number
        ):
            result["reason"] = "the electronic certificate's signature does not match"
        else:
            result.update(
                kind=certificate.kind,
                registered_on=certificate.issued_on,
                valid=certificate.state == "valid",
                reason=None if certificate.state == "valid" else certificate.void_reason,
            )
        return dump(CertificateVerificationSchema, result)

    def _issue_certificate(self, kind: str, marriage: Marriage, on: date, divorce_id=None) -> str:
        table = CertificateSerial.__table__
        upsert = dialect_insert(self.db, table).values(
            office_code=marriage.office_code, year=on.year, kind=kind, last_serial=1
        )
        serial = self.db.execute(
            upsert.on_conflict_do_update(
                index_elements=["office_code", "year", "kind"], set_={"last_serial": table.c.last_serial + 1}
            ).returning(table.c.last_serial)
        ).scalar_one()
        number = rules.certificate_number(kind, marriage.office_code, on.year, serial)
        self.db.add(
            Certificate(
                number=number, kind=kind, marriage_id=marriage.id, divorce_id=divorce_id, issued_on=on, state="valid"
            )
        )
        return number
