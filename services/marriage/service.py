"""Marriage registration (婚姻登记): entrypoints only move data between the wire, the rules
(`rules.py`) and the database; every change commits with its events and its audit row."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from chassis import (
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
from chassis.lease import Lease
from contracts.partners import PARTNERS
from contracts.person import ResidentId, mask
from contracts.roles import CITIZEN, PARTNER, STAFF
from services.marriage import rules
from services.marriage.adoption import Adoptions
from services.marriage.after_death import AfterDeath
from services.marriage.back_entry import BackEntry
from services.marriage.dependencies import ECertificates
from services.marriage.divorce import Divorces
from services.marriage.exceptions import (
    RegistrationRefused,
    UnknownRecord,
)
from services.marriage.models import (
    Certificate,
    Marriage,
    Spouse,
)
from services.marriage.offices import Offices
from services.marriage.registration import Registrations
from services.marriage.schemas import (
    MaritalStatusSchema,
    dump,
)
from services.marriage.shared import LAW_PARAMETERS


class MarriageService(Offices, Registrations, Divorces, BackEntry, Adoptions, AfterDeath, Operable):
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
