"""Ability assessments, institutions and their indicators, family care beds and admissions in
elderly care. A mixin of the care service (nameko finds inherited entrypoints).
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from chassis import (
    Actor,
    InvalidInput,
    NotFound,
    rpc,
)
from chassis.errors import Conflict, refusals_as
from chassis.regions import region_prefix, require_region_code
from contracts.person import ResidentId
from services.care import rules
from services.care.exceptions import OutsideArea, PolicyUnusable, UnknownElder
from services.care.models import (
    Admission,
    Assessment,
    Elder,
    FamilyBed,
    Institution,
)
from services.care.schemas import (
    AdmissionRequestSchema,
    AdmissionViewSchema,
    AssessmentRequestSchema,
    AssessmentViewSchema,
    DischargeRequestSchema,
    FamilyBedRequestSchema,
    FamilyBedViewSchema,
    IndicatorsViewSchema,
    InstitutionRequestSchema,
    InstitutionViewSchema,
    dump,
    load,
)


class Institutions:
    """Uses the care service's db, audit, policy, clock."""

    # --- ability assessments, institutions and indicators ------------------------------------------

    @rpc
    def record_assessment(self, actor, request):
        """能力评估: recorded by a caseworker of the person's area; valid for the policy's months."""
        actor, data = Actor.from_dict(actor), load(AssessmentRequestSchema, request)
        elder = self.db.get(Elder, ResidentId.parse(data["resident_id"]).number)
        if elder is None:
            raise UnknownElder("assess people of the elderly registry")
        actor.require_staff_in(elder.region_code)
        if data["assessed_on"] > self.clock.today():
            raise InvalidInput("an assessment cannot be in the future", errors={"assessed_on": ["in the future"]})
        months = self.policy.resolve("care.assessment_valid_months", elder.region_code, data["assessed_on"])
        with refusals_as(PolicyUnusable):
            valid_until = rules.assessment_valid_until(data["assessed_on"], months.value)
        assessment = Assessment(
            id=str(uuid.uuid4()),
            resident_id=elder.resident_id,
            region_code=elder.region_code,
            level=data["level"],
            assessor=data["assessor"],
            assessed_on=data["assessed_on"],
            valid_until=valid_until,
            recorded_by=actor.id,
            policy_version=months.version,
        )
        self.db.add(assessment)
        self.audit.record(
            actor, "assessment.record", f"assessment-{assessment.id}", data["level"], policy_version=months.version
        )
        return dump(
            AssessmentViewSchema,
            {
                "assessment_id": assessment.id,
                "resident_id": assessment.resident_id,
                "level": assessment.level,
                "assessor": assessment.assessor,
                "assessed_on": assessment.assessed_on,
                "valid_until": assessment.valid_until,
            },
        )

    @rpc
    def register_institution(self, actor, request):
        """An institution and its beds by type; registering the same code again updates it."""
        actor, data = Actor.from_dict(actor), load(InstitutionRequestSchema, request)
        actor.require_staff_in(data["region_code"])
        institution = self.db.get(Institution, data["code"], with_for_update=True)
        if institution is None:
            institution = Institution(code=data["code"])
            self.db.add(institution)
        elif not actor.covers(institution.region_code):
            raise OutsideArea(f"institution {data['code']} is registered outside your area")
        institution.name, institution.ownership, institution.region_code = (
            data["name"],
            data["ownership"],
            data["region_code"],
        )
        beds = data["beds"]
        institution.ordinary_beds, institution.nursing_beds, institution.dementia_beds = (
            beds["ordinary"],
            beds["nursing"],
            beds["dementia"],
        )
        institution.updated_at = self.clock.now()
        self.audit.record(actor, "institution.register", f"institution-{institution.code}", "registered", beds=beds)
        return dump(InstitutionViewSchema, {**data})

    @rpc
    def indicators(self, actor, region_code):
        """The region's indicators today, from the registry, assessments and institutions."""
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code)
        today = self.clock.today()
        prefix = region_prefix(region_code)
        living = (Elder.region_code.startswith(prefix, autoescape=True), Elder.deceased_on.is_(None))
        elderly, aged_70, assessed_70 = self._elderly_counts(living, today)  # indicators.py
        all_beds = Institution.ordinary_beds + Institution.nursing_beds + Institution.dementia_beds
        public = Institution.ownership == "public"
        beds, nursing, public_beds, public_dementia = self.db.execute(
            select(
                func.coalesce(func.sum(all_beds), 0),
                func.coalesce(func.sum(Institution.nursing_beds), 0),
                func.coalesce(func.sum(all_beds).filter(public), 0),
                func.coalesce(func.sum(Institution.dementia_beds).filter(public), 0),
            ).where(Institution.region_code.startswith(prefix, autoescape=True))
        ).one()
        family_beds = self.db.execute(
            select(func.count())
            .select_from(FamilyBed)
            .where(FamilyBed.region_code.startswith(prefix, autoescape=True), FamilyBed.closed_on.is_(None))
        ).scalar_one()
        result = rules.indicators(
            aged_70_plus=aged_70,
            assessed_70_plus=assessed_70,
            elderly=elderly,
            beds=beds,
            nursing_beds=nursing,
            public_beds=public_beds,
            public_dementia_beds=public_dementia,
        )
        return dump(
            IndicatorsViewSchema,
            {
                "region_code": region_code,
                "on": today,
                "elderly": elderly,
                "aged_70_plus": aged_70,
                "assessed_70_plus": assessed_70,
                "assessment_coverage_70_plus": result.assessment_coverage_70_plus,
                "beds": beds,
                "nursing_bed_ratio": result.nursing_bed_ratio,
                "public_dementia_bed_ratio": result.public_dementia_bed_ratio,
                "beds_per_10k_elderly": result.beds_per_10k_elderly,
                "family_beds": family_beds,
            },
        )

    # --- family care beds (家庭养老床位) ---------------------------------------------------------------

    @rpc
    def establish_family_bed(self, actor, request):
        """An institution's care brought home: for a person of the registry whose assessment, still
        valid, finds them at least moderately disabled; one bed per person."""
        actor, data = Actor.from_dict(actor), load(FamilyBedRequestSchema, request)
        elder = self.db.get(Elder, ResidentId.parse(data["resident_id"]).number)
        if elder is None:
            raise UnknownElder("family care beds are for people of the elderly registry")
        actor.require_staff_in(elder.region_code)
        if self.db.get(Institution, data["institution"]) is None:
            raise NotFound(f"no institution {data['institution']}", errors={"institution": ["unknown"]})
        on = data["established_on"]
        assessment = self.db.execute(
            select(Assessment)
            .where(
                Assessment.resident_id == elder.resident_id, Assessment.assessed_on <= on, Assessment.valid_until >= on
            )
            .order_by(Assessment.assessed_on.desc())
            .limit(1)
        ).scalar()
        if assessment is None or assessment.level not in rules.DISABLED_LEVELS:
            raise InvalidInput(
                "a family care bed needs a valid assessment of moderate disability or more",
                errors={"resident_id": ["no qualifying assessment on that day"]},
            )
        bed = self.db.get(FamilyBed, elder.resident_id, with_for_update=True)
        if bed is not None and bed.closed_on is None:
            raise Conflict("the person has a family care bed already")
        if bed is None:
            bed = FamilyBed(resident_id=elder.resident_id)
            self.db.add(bed)
        bed.institution, bed.region_code, bed.established_on = data["institution"], elder.region_code, on
        bed.closed_on, bed.assessed_level = None, assessment.level
        self.audit.record(
            actor, "family_bed.establish", f"institution-{bed.institution}", "established", assessment_id=assessment.id
        )
        return dump(
            FamilyBedViewSchema,
            {
                "resident_id": bed.resident_id,
                "institution": bed.institution,
                "established_on": bed.established_on,
                "closed_on": None,
                "assessed_level": bed.assessed_level,
            },
        )

    # --- admissions to institutions -------------------------------------------------------------

    @rpc
    def admit(self, actor, request):
        """A stay on a free bed of the type; a 集中供养 placement needs the person's 特困 support
        (from assistance's approval). The institution's row is locked, so two admissions cannot
        both take its last bed."""
        actor, data = Actor.from_dict(actor), load(AdmissionRequestSchema, request)
        institution = self.db.get(Institution, data["institution"], with_for_update=True)
        if institution is None:
            raise NotFound(f"no institution {data['institution']}")
        actor.require_staff_in(institution.region_code)
        person = ResidentId.parse(data["resident_id"])
        if self.db.execute(
            select(Admission.id).where(Admission.resident_id == person.number, Admission.discharged_on.is_(None))
        ).first():
            raise Conflict("the person is in an institution already: discharge them first")
        if data["concentrated_support"] and not any(
            g.programme == "tekun" and rules.voucher_in_force(g, data["admitted_on"].replace(day=1))
            for g in self._grants(person.number)
        ):
            raise InvalidInput(
                "集中供养 is for people with 特困 support",
                errors={"concentrated_support": ["no 特困 support recorded for this person"]},
            )
        free = self._beds_free(institution, data["bed_type"])
        if free < 1:
            raise Conflict(
                f"no {data['bed_type']} bed is free at {institution.code}", errors={"bed_type": ["none free"]}
            )
        admission = Admission(
            id=str(uuid.uuid4()),
            resident_id=person.number,
            institution=institution.code,
            bed_type=data["bed_type"],
            admitted_on=data["admitted_on"],
            concentrated_support=data["concentrated_support"],
        )
        self.db.add(admission)
        self.audit.record(
            actor,
            "institution.admit",
            f"institution-{institution.code}",
            "admitted",
            admission_id=admission.id,
            bed_type=admission.bed_type,
            concentrated_support=admission.concentrated_support,
        )
        return self._admission_view(admission, free - 1)

    @rpc
    def discharge(self, actor, admission_id, request):
        actor, data = Actor.from_dict(actor), load(DischargeRequestSchema, request)
        admission = self.db.get(Admission, admission_id, with_for_update=True)
        if admission is None:
            raise NotFound(f"no admission {admission_id}")
        institution = self.db.get(Institution, admission.institution, with_for_update=True)
        actor.require_staff_in(institution.region_code)
        if admission.discharged_on is not None:
            raise Conflict(f"discharged on {admission.discharged_on} already")
        if data["discharged_on"] < admission.admitted_on:
            raise InvalidInput(
                "a discharge cannot come before the admission",
                errors={"discharged_on": [f"before {admission.admitted_on}"]},
            )
        admission.discharged_on, admission.discharge_reason = data["discharged_on"], data["reason"]
        self.audit.record(
            actor,
            "institution.discharge",
            f"institution-{institution.code}",
            "discharged",
            reason=data["reason"],
            admission_id=admission.id,
        )
        return self._admission_view(admission, self._beds_free(institution, admission.bed_type))

    def _beds_free(self, institution: Institution, bed_type: str) -> int:
        taken = self.db.execute(
            select(func.count())
            .select_from(Admission)
            .where(
                Admission.institution == institution.code,
                Admission.bed_type == bed_type,
                Admission.discharged_on.is_(None),
            )
        ).scalar_one()
        return getattr(institution, f"{bed_type}_beds") - taken

    def _admission_view(self, admission: Admission, beds_free: int) -> dict:
        return dump(
            AdmissionViewSchema,
            {
                "admission_id": admission.id,
                "resident_id": admission.resident_id,
                "institution": admission.institution,
                "bed_type": admission.bed_type,
                "admitted_on": admission.admitted_on,
                "discharged_on": admission.discharged_on,
                "concentrated_support": admission.concentrated_support,
                "beds_free": beds_free,
            },
        )
