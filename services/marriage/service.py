"""Marriage registration (婚姻登记): entrypoints only move data between the wire, the rules
(`rules.py`) and the database; every change commits with its events and its audit row."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from chassis import (
    Actor,
    Audit,
    Clock,
    Conflict,
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
from chassis.audit import SYSTEM
from chassis.clock import LOCAL_ZONE
from chassis.db import dialect_insert
from chassis.errors import refusals_as
from chassis.lease import Lease, leased_job
from chassis.regions import division_name, region_prefix, require_known_division
from contracts.partners import PARTNERS
from contracts.person import ResidentId, mask
from contracts.roles import ADMIN, CITIZEN, PARTNER, STAFF
from services.marriage import rules
from services.marriage.after_death import AfterDeath
from services.marriage.dependencies import ECertificates
from services.marriage.exceptions import (
    AdoptionRefused,
    AlreadyMarried,
    DivorceStepRefused,
    RegistrationRefused,
    SlotUnavailable,
    UnknownRecord,
)
from services.marriage.models import (
    Adoption,
    Appointment,
    Certificate,
    CertificateSerial,
    Divorce,
    Marriage,
    Office,
    Spouse,
)
from services.marriage.schemas import (
    AdoptionDissolutionRequestSchema,
    AdoptionRequestSchema,
    AdoptionSchema,
    AppointmentRequestSchema,
    AppointmentSchema,
    BackEnteredDivorceRequestSchema,
    BackEntryRequestSchema,
    CertificateVerificationSchema,
    DivorceDecisionSchema,
    DivorceRequestSchema,
    DivorceSchema,
    MaritalStatusSchema,
    OfficeListSchema,
    OfficeRequestSchema,
    OfficeSchema,
    OneMatterApplicationSchema,
    RegistrationRequestSchema,
    RegistrationSchema,
    ReissueRequestSchema,
    dump,
    load,
)

LAW_PARAMETERS = (
    "marriage.minimum_age.male",
    "marriage.minimum_age.female",
    "divorce.cooling_off_days",
    "divorce.certificate_window_days",
)
ADOPTION_LAW = (  # in the order of rules.AdoptionLaw
    "adoption.adopter_min_age",
    "adoption.adult_age",
    "adoption.consent_age",
    "adoption.single_opposite_sex_age_gap",
    "adoption.max_existing_children",
    "adoption.max_adoptees_childless",
    "adoption.max_adoptees_with_child",
)


class MarriageService(AfterDeath, Operable):
    name = "marriage"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    lease = Lease()  # the hourly job: once an hour across instances
    log = Logger()
    metrics = WorkerMetrics()
    certificates = ECertificates()

    # --- the national registry of offices (跨省通办: a couple registers at any of them) ------------

    @rpc
    def put_office(self, actor, office_code, request):
        """Add an office at a GB/T 2260 division, or change its name and slots (admins)."""
        actor, data = Actor.from_dict(actor), load(OfficeRequestSchema, request)
        if actor.role != ADMIN:
            raise Forbidden("only administrators keep the registry of offices")
        require_known_division(office_code, "office_code")
        office = self.db.get(Office, office_code, with_for_update=True)
        created = office is None
        if created:
            office = Office(code=office_code)
            self.db.add(office)
        office.name, office.slot_minutes, office.slot_capacity = (
            data["name"],
            data["slot_minutes"],
            data["slot_capacity"],
        )
        self.audit.record(
            actor,
            "office.add" if created else "office.change",
            f"office-{office_code}",
            "added" if created else "changed",
            slot_minutes=office.slot_minutes,
            slot_capacity=office.slot_capacity,
        )
        return self._office_view(office)

    @rpc
    def list_offices(self, region_code=None):
        query = select(Office).order_by(Office.code)
        if region_code:
            query = query.where(Office.code.startswith(region_prefix(region_code), autoescape=True))
        return dump(OfficeListSchema, {"offices": [self._office_view(o) for o in self.db.execute(query).scalars()]})

    @rpc
    def get_office(self, office_code):
        office = self.db.get(Office, office_code)
        if office is None:
            raise UnknownRecord(f"no registration office {office_code}")
        return self._office_view(office)

    @staticmethod
    def _office_view(office: Office) -> dict:
        return dump(
            OfficeSchema,
            {
                "office_code": office.code,
                "name": office.name,
                "division": division_name(office.code),
                "slot_minutes": office.slot_minutes,
                "slot_capacity": office.slot_capacity,
            },
        )

    def _office(self, office_code: str, for_update: bool = False) -> Office:
        """The office named in a request, or a 422 naming `office_code`."""
        office = self.db.get(Office, office_code, with_for_update=for_update)
        if office is None:
            raise InvalidInput(
                f"no registration office {office_code}",
                errors={"office_code": ["no office of the national registry has this code"]},
            )
        return office

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

    @staticmethod
    def _appointment_view(appointment: Appointment) -> dict:
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

    # --- divorce by agreement (协议离婚) -------------------------------------------------------

    @rpc
    def apply_divorce(self, actor, request):
        actor, data = Actor.from_dict(actor), load(DivorceRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        marriage = self._marriage_by_certificate(data["certificate_number"])
        # serialise applications for one marriage: two clerks double-submitting open one divorce
        self.db.execute(select(Marriage.id).where(Marriage.id == marriage.id).with_for_update())
        if marriage.state != "registered":
            raise DivorceStepRefused(f"the marriage is {marriage.state}")
        open_divorce = self.db.execute(
            select(Divorce.id).where(Divorce.marriage_id == marriage.id, Divorce.state == "cooling_off")
        ).first()
        if open_divorce:
            raise DivorceStepRefused(f"divorce application {open_divorce.id} is already open")
        law = self._law(data["office_code"], self.clock.today())
        state = rules.receive_divorce(self.clock.today(), law)
        divorce = Divorce(
            id=str(uuid.uuid4()),
            marriage_id=marriage.id,
            office_code=data["office_code"],
            received_on=state.received_on,
            cooling_off_ends=state.cooling_off_ends,
            certificate_window_ends=state.certificate_window_ends,
            state=state.state,
            policy_version=law.version,
        )
        self.db.add(divorce)
        self.audit.record(
            actor,
            "divorce.apply",
            f"divorce-{divorce.id}",
            state.state,
            policy_version=law.version,
            cooling_off_ends=state.cooling_off_ends.isoformat(),
        )
        return self._divorce_view(divorce, None)

    @rpc
    def withdraw_divorce(self, actor, divorce_id, request):
        actor, data = Actor.from_dict(actor), load(DivorceDecisionSchema, request)
        divorce, marriage = self._divorce_for_update(actor, divorce_id)
        if data["withdrawn_by"] not in (marriage.party_a_id, marriage.party_b_id):
            raise InvalidInput("only a party can withdraw", errors={"withdrawn_by": ["not a party to this marriage"]})
        moved = self._move(actor, divorce, lambda d, on: rules.withdraw(d, on), "divorce.withdraw")
        divorce.withdrawn_by = data["withdrawn_by"]
        return self._divorce_view(divorce, None, moved)

    @rpc
    def register_divorce(self, actor, divorce_id, request):
        actor, data = Actor.from_dict(actor), load(DivorceDecisionSchema, request)
        divorce, marriage = self._divorce_for_update(actor, divorce_id)
        moved = self._move(
            actor, divorce, lambda d, on: rules.register(d, on, data["both_present"]), "divorce.register"
        )
        marriage.state, marriage.ended_on = "divorced", moved.closed_on
        for spouse in self.db.execute(select(Spouse).where(Spouse.marriage_id == marriage.id)).scalars():
            self.db.delete(spouse)
        number = self._issue_certificate("divorce", marriage, moved.closed_on, divorce_id=divorce.id)
        for certificate in self.db.execute(
            select(Certificate).where(
                Certificate.marriage_id == marriage.id, Certificate.kind != "divorce", Certificate.state == "valid"
            )
        ).scalars():
            certificate.state, certificate.void_reason = "void", f"marriage dissolved by divorce {number}"
        self.outbox.record(
            "marriage.divorce_registered",
            f"divorce-{divorce.id}",
            {
                "divorce_id": divorce.id,
                "registration_id": marriage.id,
                "certificate_number": number,
                "registered_on": moved.closed_on,
                "party_a": {"resident_id": marriage.party_a_id},
                "party_b": {"resident_id": marriage.party_b_id},
            },
        )
        return self._divorce_view(divorce, number, moved)

    @rpc
    def get_divorce(self, actor, divorce_id):
        actor = Actor.from_dict(actor)
        divorce = self.db.get(Divorce, divorce_id)
        if divorce is None:
            raise UnknownRecord(f"no divorce application {divorce_id}")
        actor.require_staff_in(divorce.office_code)
        number = self.db.execute(select(Certificate.number).where(Certificate.divorce_id == divorce.id)).scalar()
        return self._divorce_view(divorce, number)

    @leased_job("marriage.divorce_lapse", every=timedelta(hours=1))
    def lapse_divorces(self):
        """视为撤回: applications nobody completed within the certificate window lapse."""
        today = self.clock.today()
        for divorce in self.db.execute(
            select(Divorce).where(Divorce.state == "cooling_off", Divorce.certificate_window_ends < today)
        ).scalars():
            lapsed = rules.lapse(self._rule_state(divorce), today)
            divorce.state, divorce.closed_on = lapsed.state, lapsed.closed_on
            self.audit.record(
                SYSTEM, "divorce.lapse", f"divorce-{divorce.id}", lapsed.state, policy_version=divorce.policy_version
            )

    def _divorce_for_update(self, actor, divorce_id):
        divorce = self.db.execute(
            select(Divorce).where(Divorce.id == divorce_id).with_for_update()
        ).scalar_one_or_none()
        if divorce is None:
            raise UnknownRecord(f"no divorce application {divorce_id}")
        actor.require_staff_in(divorce.office_code)
        marriage = self.db.execute(
            select(Marriage).where(Marriage.id == divorce.marriage_id).with_for_update()
        ).scalar_one()
        if marriage.state != "registered" and divorce.state == "cooling_off":
            raise DivorceStepRefused(f"the marriage is already {marriage.state}")
        return divorce, marriage

    def _move(self, actor, divorce: Divorce, transition, action: str) -> rules.Divorce:
        today = self.clock.today()
        with refusals_as(
            DivorceStepRefused,
            audit=lambda refusal: self.audit.record_refusal(
                actor, action, f"divorce-{divorce.id}", refusal.reason, policy_version=divorce.policy_version
            ),
        ):
            moved = transition(self._rule_state(divorce), today)
        divorce.state, divorce.closed_on = moved.state, moved.closed_on
        self.audit.record(actor, action, f"divorce-{divorce.id}", moved.state, policy_version=divorce.policy_version)
        return moved

    @staticmethod
    def _rule_state(divorce: Divorce) -> rules.Divorce:
        return rules.Divorce(
            received_on=divorce.received_on,
            state=divorce.state,
            cooling_off_ends=divorce.cooling_off_ends,
            certificate_window_ends=divorce.certificate_window_ends,
            closed_on=divorce.closed_on,
        )

    def _divorce_view(self, divorce: Divorce, number, moved: rules.Divorce | None = None) -> dict:
        state = rules.effective_state(moved or self._rule_state(divorce), self.clock.today())
        marriage_number = self.db.execute(
            select(Certificate.number)
            .where(Certificate.marriage_id == divorce.marriage_id, Certificate.kind != "divorce")
            .order_by(Certificate.issued_on.desc())
        ).scalar()
        return dump(
            DivorceSchema,
            {
                "divorce_id": divorce.id,
                "marriage_certificate_number": marriage_number,
                "state": state,
                "received_on": divorce.received_on,
                "cooling_off_ends": divorce.cooling_off_ends,
                "certificate_window_ends": divorce.certificate_window_ends,
                "certificate_number": number,
            },
        )

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

    # --- back-entry of historical records (补录) ------------------------------------------------

    @rpc
    def back_enter_marriage(self, actor, request):
        """补录: a registrar enters a marriage registered before the registry (and its divorce, if
        it ended so) from its evidence. Marked back-entered, audited with the evidence; a standing
        one makes its parties married (the bigamy check counts it), and any marriage it would
        overlap is refused."""
        actor, data = Actor.from_dict(actor), load(BackEntryRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        a, b = data["party_a"], data["party_b"]
        married_on, divorced_on = data["married_on"], data["divorced_on"]
        if divorced_on is None and data["divorce_certificate_number"]:
            raise InvalidInput(
                "a divorce certificate without a divorce date",
                errors={"divorced_on": ["required with its certificate"]},
            )
        others = [
            rules.Span(
                f"{key}.resident_id", other.registered_on, other.ended_on if other.state != "registered" else None
            )
            for key, party in (("party_a", a), ("party_b", b))
            for other in self._marriages_of(party["resident_id"])
        ]
        refusals = rules.check_back_entry(
            ResidentId.parse(a["resident_id"]),
            ResidentId.parse(b["resident_id"]),
            married_on,
            divorced_on,
            self.clock.today(),
            others,
        )
        if refusals:
            self._refuse(
                actor,
                "marriage.back_enter",
                f"office-{data['office_code']}",
                refusals,
                "back-entry",
                RegistrationRefused,
            )
        for field, number in (
            ("certificate_number", data["certificate_number"]),
            ("divorce_certificate_number", data["divorce_certificate_number"]),
        ):
            if number and self.db.get(Certificate, number) is not None:
                raise Conflict(
                    "the certificate number is in the registry already", errors={field: ["already recorded"]}
                )
        standing = divorced_on is None
        marriage = Marriage(
            id=str(uuid.uuid4()),
            office_code=data["office_code"],
            registered_on=married_on,
            party_a_id=a["resident_id"],
            party_a_name=a["name"],
            party_b_id=b["resident_id"],
            party_b_name=b["name"],
            state="registered" if standing else "divorced",
            ended_on=divorced_on,
            new_style_wedding_notice_given=False,
            policy_version="back-entry: the law of the day, not re-applied",
            registered_by=actor.id,
            back_entered=True,
            evidence=data["evidence"],
        )
        self.db.add(marriage)
        self.db.flush()
        if standing:
            self._marry(actor, marriage, "marriage.back_enter")
        if data["certificate_number"]:
            self.db.add(
                Certificate(
                    number=data["certificate_number"],
                    kind="marriage",
                    marriage_id=marriage.id,
                    issued_on=married_on,
                    state="valid" if standing else "void",
                    void_reason=None if standing else f"marriage dissolved by divorce on {divorced_on} (back-entered)",
                )
            )
        if data["divorce_certificate_number"]:
            self.db.add(
                Certificate(
                    number=data["divorce_certificate_number"],
                    kind="divorce",
                    marriage_id=marriage.id,
                    issued_on=divorced_on,
                    state="valid",
                )
            )
        self.audit.record(
            actor,
            "marriage.back_enter",
            f"marriage-{marriage.id}",
            marriage.state,
            back_entered=True,
            evidence_kind=data["evidence"]["kind"],
            evidence_reference=data["evidence"]["reference"],
            married_on=married_on.isoformat(),
            divorced_on=divorced_on.isoformat() if divorced_on else None,
        )
        return self._registration(marriage, data["certificate_number"] if standing else None)

    @rpc
    def back_enter_divorce(self, actor, registration_id, request):
        """补录 of a historical divorce of a marriage the registry holds as standing."""
        actor, data = Actor.from_dict(actor), load(BackEnteredDivorceRequestSchema, request)
        marriage = self.db.get(Marriage, registration_id, with_for_update=True)
        if marriage is None:
            raise UnknownRecord(f"no marriage registration {registration_id}")
        actor.require_staff_in(marriage.office_code)
        refusals = rules.check_back_entered_divorce(
            marriage.registered_on, marriage.state, data["divorced_on"], self.clock.today()
        )
        if refusals:
            self._refuse(
                actor, "divorce.back_enter", f"marriage-{marriage.id}", refusals, "back-entry", RegistrationRefused
            )
        number = data["certificate_number"]
        if number and self.db.get(Certificate, number) is not None:
            raise Conflict(
                "the certificate number is in the registry already", errors={"certificate_number": ["already recorded"]}
            )
        marriage.state, marriage.ended_on = "divorced", data["divorced_on"]
        for spouse in self.db.execute(select(Spouse).where(Spouse.marriage_id == marriage.id)).scalars():
            self.db.delete(spouse)
        for certificate in self.db.execute(
            select(Certificate).where(
                Certificate.marriage_id == marriage.id, Certificate.kind != "divorce", Certificate.state == "valid"
            )
        ).scalars():
            certificate.state = "void"
            certificate.void_reason = f"marriage dissolved by divorce on {data['divorced_on']} (back-entered)"
        if number:
            self.db.add(
                Certificate(
                    number=number, kind="divorce", marriage_id=marriage.id, issued_on=data["divorced_on"], state="valid"
                )
            )
        self.audit.record(
            actor,
            "divorce.back_enter",
            f"marriage-{marriage.id}",
            "divorced",
            back_entered=True,
            evidence_kind=data["evidence"]["kind"],
            evidence_reference=data["evidence"]["reference"],
            divorced_on=data["divorced_on"].isoformat(),
        )
        return self._registration(marriage, None)

    def _marriages_of(self, resident_id: str) -> list[Marriage]:
        return list(
            self.db.execute(
                select(Marriage).where((Marriage.party_a_id == resident_id) | (Marriage.party_b_id == resident_id))
            ).scalars()
        )

    def _marry(self, actor: Actor, marriage: Marriage, action: str) -> None:
        """The spouses' rows, whose primary key makes a second standing marriage impossible even
        when two registrations race."""
        parties = [marriage.party_a_id, marriage.party_b_id]
        try:
            with self.db.begin_nested():
                self.db.add_all([Spouse(resident_id=p, marriage_id=marriage.id) for p in parties])
        except IntegrityError:
            self.audit.record_refusal(
                actor, action, f"office-{marriage.office_code}", "already_married: a concurrent registration came first"
            )
            raise AlreadyMarried(
                "a party was registered as married a moment ago",
                errors={
                    f: ["registered as married a moment ago"] for f in ("party_a.resident_id", "party_b.resident_id")
                },
                code="already_married",
            ) from None

    # --- adoption registration (收养登记) --------------------------------------------------------

    @rpc
    def register_adoption(self, actor, request):
        """收养登记 (Civil Code art. 1093-1105): the conditions checked by the rules, the adoption
        stands from today with its certificate; police (hukou) and, for a child an institution
        raised, care hear of it by event."""
        actor, data = Actor.from_dict(actor), load(AdoptionRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        today = self.clock.today()
        law = self._adoption_law(data["office_code"], today)
        child, placer = data["adoptee"], data["placer"]
        from_institution = placer["kind"] == "institution"
        if from_institution and not placer["institution_code"]:
            raise InvalidInput(
                "the institution is not named", errors={"placer.institution_code": ["required when an institution"]}
            )
        # one standing adoption per child; the lock serialises two clerks registering the same child
        self.db.execute(select(Office.code).where(Office.code == data["office_code"]).with_for_update())
        adopters = [self._adopter(a) for a in data["adopters"]]
        spouses = [self.db.get(Spouse, a["resident_id"]) for a in data["adopters"]]
        married_to_each_other = (
            len(spouses) == 2 and None not in spouses and spouses[0].marriage_id == spouses[1].marriage_id
        )
        adoptee = rules.Adoptee(
            ResidentId.parse(child["resident_id"]),
            child["category"],
            child["disabled"],
            from_institution,
            child["consents"],
        )
        refusals = rules.check_adoption(adopters, married_to_each_other, adoptee, placer["consents"], today, law)
        standing = self.db.execute(
            select(Adoption.id).where(Adoption.adoptee_id == child["resident_id"], Adoption.state == "registered")
        ).first()
        if standing:
            refusals.append(
                rules.Refusal("adoptee.resident_id", "already_adopted", "the child's adoption is registered already")
            )
        if refusals:
            self._refuse(actor, "adoption.register", f"office-{data['office_code']}", refusals, law.version)
        first, second = data["adopters"][0], (data["adopters"][1:] or [None])[0]
        adoption = Adoption(
            id=str(uuid.uuid4()),
            office_code=data["office_code"],
            registered_on=today,
            adopter_a_id=first["resident_id"],
            adopter_a_name=first["name"],
            adopter_b_id=second["resident_id"] if second else None,
            adopter_b_name=second["name"] if second else None,
            adoptee_id=child["resident_id"],
            adoptee_name=child["name"],
            adoptee_birth_date=adoptee.resident_id.birth_date,
            category=child["category"],
            placer_kind=placer["kind"],
            placer_name=placer["name"],
            institution_code=placer["institution_code"] if from_institution else None,
            certificate_number=self._numbered("adoption", data["office_code"], today),
            state="registered",
            policy_version=law.version,
            registered_by=actor.id,
        )
        self.db.add(adoption)
        self.outbox.record(
            "adoption.registered",
            f"adoption-{adoption.id}",
            {
                "adoption_id": adoption.id,
                "certificate_number": adoption.certificate_number,
                "registered_on": today,
                "office_code": adoption.office_code,
                "adopters": self._adopter_parties(adoption),
                "adoptee": {
                    "resident_id": adoption.adoptee_id,
                    "name": adoption.adoptee_name,
                    "birth_date": adoption.adoptee_birth_date,
                },
                "institution_code": adoption.institution_code,
            },
        )
        self.audit.record(
            actor,
            "adoption.register",
            f"adoption-{adoption.id}",
            "registered",
            policy_version=law.version,
            certificate_number=adoption.certificate_number,
            placer_kind=adoption.placer_kind,
        )
        return self._adoption_view(adoption)

    @rpc
    def get_adoption(self, actor, adoption_id):
        actor = Actor.from_dict(actor)
        adoption = self._adoption(adoption_id)
        actor.require_staff_in(adoption.office_code)
        return self._adoption_view(adoption)

    @rpc
    def dissolve_adoption(self, actor, adoption_id, request):
        """解除收养关系登记 by agreement (art. 1114-1116)."""
        actor, data = Actor.from_dict(actor), load(AdoptionDissolutionRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        adoption = self._adoption(adoption_id, for_update=True)
        if adoption.state != "registered":
            raise DivorceStepRefused(f"the adoption was dissolved on {adoption.dissolved_on}")
        today = self.clock.today()
        law = self._adoption_law(data["office_code"], today)
        refusals = rules.check_adoption_dissolution(
            adoption.adoptee_birth_date,
            data["adopters_agree"],
            data["placer_agrees"],
            data["adoptee_consents"],
            today,
            law,
        )
        if refusals:
            self._refuse(actor, "adoption.dissolve", f"adoption-{adoption.id}", refusals, law.version)
        adoption.state, adoption.dissolved_on = "dissolved", today
        adoption.dissolution_certificate_number = self._numbered("adoption_dissolution", data["office_code"], today)
        self.outbox.record(
            "adoption.dissolved",
            f"adoption-{adoption.id}",
            {
                "adoption_id": adoption.id,
                "certificate_number": adoption.dissolution_certificate_number,
                "dissolved_on": today,
                "adopters": [{"resident_id": p["resident_id"]} for p in self._adopter_parties(adoption)],
                "adoptee": {"resident_id": adoption.adoptee_id},
                "institution_code": adoption.institution_code,
            },
        )
        self.audit.record(
            actor,
            "adoption.dissolve",
            f"adoption-{adoption.id}",
            "dissolved",
            policy_version=law.version,
            certificate_number=adoption.dissolution_certificate_number,
        )
        return self._adoption_view(adoption)

    def _adopter(self, data: dict) -> rules.Adopter:
        """An adopter as the rules see them: the registry adds what it knows (their marriage, the
        adoptions registered to them) to what they declared."""
        number = data["resident_id"]
        adopted = self.db.execute(
            select(func.count())
            .select_from(Adoption)
            .where(
                (Adoption.adopter_a_id == number) | (Adoption.adopter_b_id == number),
                Adoption.state == "registered",
            )
        ).scalar()
        return rules.Adopter(
            ResidentId.parse(number),
            children=max(data["children"], adopted),
            adopted=adopted,
            able_to_raise=data["able_to_raise"],
            medically_unfit=data["medically_unfit"],
            unfavourable_record=data["unfavourable_record"],
            married=self.db.get(Spouse, number) is not None,
        )

    @staticmethod
    def _adopter_parties(adoption: Adoption) -> list[dict]:
        parties = [{"resident_id": adoption.adopter_a_id, "name": adoption.adopter_a_name}]
        if adoption.adopter_b_id:
            parties.append({"resident_id": adoption.adopter_b_id, "name": adoption.adopter_b_name})
        return parties

    def _adoption(self, adoption_id, for_update: bool = False) -> Adoption:
        adoption = self.db.get(Adoption, adoption_id, with_for_update=for_update)
        if adoption is None:
            raise UnknownRecord(f"no adoption registration {adoption_id}")
        return adoption

    def _adoption_view(self, adoption: Adoption) -> dict:
        return dump(
            AdoptionSchema,
            {
                "adoption_id": adoption.id,
                "certificate_number": adoption.certificate_number,
                "registered_on": adoption.registered_on,
                "office_code": adoption.office_code,
                "adopters": [
                    {"name": p["name"], "resident_id": mask(p["resident_id"])} for p in self._adopter_parties(adoption)
                ],
                "adoptee": {"name": adoption.adoptee_name, "resident_id": mask(adoption.adoptee_id)},
                "institution_code": adoption.institution_code,
                "state": adoption.state,
                "dissolved_on": adoption.dissolved_on,
                "dissolution_certificate_number": adoption.dissolution_certificate_number,
                "policy_version": adoption.policy_version,
            },
        )

    def _adoption_law(self, region_code: str, on: date) -> rules.AdoptionLaw:
        values = [self.policy.resolve(name, region_code, on) for name in ADOPTION_LAW]
        return rules.AdoptionLaw(*(int(v.value) for v in values), version=";".join(v.version for v in values))

    def _refuse(self, actor: Actor, action: str, target: str, refusals: list, version: str, exc=AdoptionRefused):
        """A 422 naming every field a rule refused, audited first."""
        errors: dict = {}
        for refusal in refusals:
            errors.setdefault(refusal.field, []).append(refusal.reason)
        self.audit.record_refusal(
            actor,
            action,
            target,
            "; ".join(f"{r.code}: {r.reason}" for r in refusals),
            policy_version=version,
            codes=[r.code for r in refusals],
        )
        raise exc(f"refused: {refusals[0].reason}", errors=errors, code=refusals[0].code)

    def _numbered(self, kind: str, office_code: str, on: date) -> str:
        table = CertificateSerial.__table__
        upsert = dialect_insert(self.db, table).values(office_code=office_code, year=on.year, kind=kind, last_serial=1)
        serial = self.db.execute(
            upsert.on_conflict_do_update(
                index_elements=["office_code", "year", "kind"], set_={"last_serial": table.c.last_serial + 1}
            ).returning(table.c.last_serial)
        ).scalar_one()
        return rules.certificate_number(kind, office_code, on.year, serial)

    # --- marital status (minimal disclosure) -------------------------------------------------

    @rpc
    def marital_status(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        try:
            person = ResidentId.parse(resident_id)
        except ValueError as exc:
            raise InvalidInput(
                "invalid resident ID number", errors={"resident_id": [getattr(exc, "reason", str(exc))]}
            ) from None
        entitled = (
            actor.role in STAFF
            or (actor.role == CITIZEN and actor.id == person.number)
            or (
                actor.role == PARTNER
                and PARTNERS.get(actor.id) is not None
                and PARTNERS[actor.id].may_query_marital_status
            )
        )
        if not entitled:
            raise Forbidden("not entitled to query marital status")
        status, since = self._status_of(person.number)
        self.audit.record(actor, "marital_status.query", f"person-{mask(person.number)}", status)
        return dump(MaritalStatusSchema, {"status": status, "since": since})

    def _status_of(self, resident_id: str) -> tuple[str, date | None]:
        spouse = self.db.get(Spouse, resident_id)
        if spouse is not None:
            return "married", self.db.get(Marriage, spouse.marriage_id).registered_on
        ended = (
            self.db.execute(
                select(Marriage)
                .where(
                    (Marriage.party_a_id == resident_id) | (Marriage.party_b_id == resident_id),
                    Marriage.state != "registered",
                )
                .order_by(Marriage.ended_on.desc())
            )
            .scalars()
            .first()
        )
        if ended is None:
            return "unmarried", None
        return ("widowed" if ended.state == "ended_by_death" else "divorced"), ended.ended_on

    # --- shared checks ---------------------------------------------------------------------

    def _law(self, region_code: str, on: date) -> rules.MarriageLaw:
        values = [self.policy.resolve(name, region_code, on) for name in LAW_PARAMETERS]
        return rules.MarriageLaw(*(int(v.value) for v in values), version=";".join(v.version for v in values))

    def _refuse_if_ineligible(
        self, actor: Actor, data: dict, declared_not_close_relatives: bool, on: date, action: str
    ) -> rules.MarriageLaw:
        law = self._law(data["office_code"], on)
        parties = [
            rules.Party(ResidentId.parse(p["resident_id"]), self._status_of(p["resident_id"])[0])
            for p in (data["party_a"], data["party_b"])
        ]
        refusals = rules.check_marriage(parties[0], parties[1], declared_not_close_relatives, on, law)
        if refusals:
            errors: dict = {}
            for refusal in refusals:
                errors.setdefault(refusal.field, []).append(refusal.reason)
            reason = "; ".join(f"{r.code}: {r.reason}" for r in refusals)
            self.audit.record_refusal(
                actor,
                action,
                f"office-{data['office_code']}",
                reason,
                policy_version=law.version,
                codes=[r.code for r in refusals],
            )
            self.log.info("marriage.refused", codes=[r.code for r in refusals])
            raise RegistrationRefused(
                "the marriage cannot be registered",
                errors=errors,
                code="already_married"
                if any(r.code == "already_married" for r in refusals)
                else "registration_refused",
            )
        return law

    def _marriage(self, registration_id) -> Marriage:
        marriage = self.db.get(Marriage, registration_id)
        if marriage is None:
            raise UnknownRecord(f"no marriage registration {registration_id}")
        return marriage

    def _marriage_by_certificate(self, number) -> Marriage:
        certificate = self.db.get(Certificate, number)
        if certificate is None or certificate.kind == "divorce" or certificate.state != "valid":
            raise UnknownRecord(
                "no valid marriage certificate with that number", errors={"certificate_number": ["unknown or void"]}
            )
        return self.db.get(Marriage, certificate.marriage_id)
