"""收养登记: adoption registration and its dissolution. A mixin of the marriage
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from chassis import (
    Actor,
    InvalidInput,
    rpc,
)
from chassis.db import dialect_insert
from contracts.person import ResidentId, mask
from services.marriage import rules
from services.marriage.exceptions import (
    AdoptionRefused,
    DivorceStepRefused,
    UnknownRecord,
)
from services.marriage.models import (
    Adoption,
    CertificateSerial,
    Office,
    Spouse,
)
from services.marriage.schemas import (
    AdoptionDissolutionRequestSchema,
    AdoptionRequestSchema,
    AdoptionSchema,
    dump,
    load,
)
from services.marriage.shared import ADOPTION_LAW


class Adoptions:
    """Mixed into the marriage service; uses its db, outbox, audit, policy, clock."""

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
