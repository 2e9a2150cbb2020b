"""Funeral affairs (殡葬) and 身后一件事 over HTTP: death notices from every source (the hospital's
death certificate through the health department and the police report through the partner API,
funeral-home staff and the family through the gateway), the funeral case, revocation, niches and
indicators, and what the death changed in assistance and care. Rules and area scoping live in the
services; these routes check the role, validate the body against the contract and pass the caller
along."""

from __future__ import annotations

from chassis import ServiceRpc
from contracts import funeral as f
from contracts.assistance import AfterDeathAssistanceSchema
from contracts.care import AfterDeathCareSchema
from contracts.roles import ADMIN, CITIZEN, CLERK, EMPLOYEES, FUNERAL_HOME, PARTNER, STAFF
from gateway.api import route

CASES = "/api/v1/funeral/cases"


class FuneralRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    funeral = ServiceRpc("funeral")

    @route(
        "POST",
        "/api/v1/partner/deaths",
        roles=(PARTNER,),
        tag="partners",
        status=202,
        summary="A death certificate (health, for the hospital) or a police death report: opens 身后一件事 "
        "once per deceased",
        body=f.DeathNoticeSchema,
        response=f.DeathNoticeReceiptSchema,
    )
    def partner_death_notice(self, actor, body):
        return self.funeral.notify_death(actor.as_dict(), body)

    @route(
        "POST",
        "/api/v1/funeral/deaths",
        roles=(CITIZEN, CLERK, FUNERAL_HOME, ADMIN),
        tag="funeral",
        status=202,
        summary="A death notified by the family (身后一件事 applied for once; answered with the receipt) or by "
        "funeral-home staff (answered with the case)",
        body=f.DeathNoticeSchema,
        response=f.CaseViewSchema,
    )
    def death_notice(self, actor, body):
        return self.funeral.notify_death(actor.as_dict(), body)

    @route(
        "GET",
        CASES + "/<case_id>",
        roles=EMPLOYEES,
        tag="funeral",
        summary="A funeral case: its notices, bookings, fees and waiver, burial, certificate",
        response=f.CaseViewSchema,
    )
    def get_funeral_case(self, actor, body, case_id):
        return self.funeral.get_case(actor.as_dict(), case_id)

    @route(
        "GET",
        "/api/v1/funeral/date-conflicts",
        roles=STAFF,
        tag="funeral",
        summary="The area's cases whose notices disagree on the date of death (a clerk decides)",
        response=f.CaseListSchema,
    )
    def funeral_date_conflicts(self, actor, body):
        return {"cases": self.funeral.date_conflicts(actor.as_dict())}

    @route(
        "POST",
        CASES + "/<case_id>/date-of-death",
        roles=STAFF,
        tag="funeral",
        summary="Confirm the date of death of a case whose notices disagree; another date than the notified "
        "one is sent on (death.date_corrected) and every step is taken again with it",
        body=f.DateResolutionSchema,
        response=f.CaseViewSchema,
    )
    def resolve_date_of_death(self, actor, body, case_id):
        return self.funeral.resolve_date(actor.as_dict(), case_id, body)

    @route(
        "POST",
        CASES + "/<case_id>/confirmation",
        roles=STAFF,
        tag="funeral",
        summary="Confirm a family's death notice held for verification (policy funeral.family_notice), by its "
        "deadline: 身后一件事 starts",
        body=f.ConfirmationRequestSchema,
        response=f.CaseViewSchema,
    )
    def confirm_death_notice(self, actor, body, case_id):
        return self.funeral.confirm_notice(actor.as_dict(), case_id, body)

    @route(
        "POST",
        CASES + "/<case_id>/bookings",
        roles=EMPLOYEES,
        tag="funeral",
        status=201,
        summary="Book transport or cremation; the basic-services fee waiver (惠民殡葬) applies by region policy",
        body=f.BookingRequestSchema,
        response=f.CaseViewSchema,
    )
    def book_funeral_service(self, actor, body, case_id):
        return self.funeral.book(actor.as_dict(), case_id, body)

    @route(
        "POST",
        CASES + "/<case_id>/burial",
        roles=EMPLOYEES,
        tag="funeral",
        summary="The burial form (tree, lawn, flower bed, sea, niche: 节地生态安葬 with its reward; or traditional)",
        body=f.BurialRequestSchema,
        response=f.CaseViewSchema,
    )
    def choose_burial(self, actor, body, case_id):
        return self.funeral.choose_burial(actor.as_dict(), case_id, body)

    @route(
        "POST",
        CASES + "/<case_id>/cremation",
        roles=EMPLOYEES,
        tag="funeral",
        summary="The cremation took place: the certificate (火化证明) is issued",
        body=f.CremationRequestSchema,
        response=f.CaseViewSchema,
    )
    def record_cremation(self, actor, body, case_id):
        return self.funeral.record_cremation(actor.as_dict(), case_id, body)

    @route(
        "POST",
        CASES + "/<case_id>/revocation",
        roles=STAFF,
        tag="funeral",
        summary="Revoke a death notified in error (a district bureau): every step of 身后一件事 is reversed",
        body=f.RevocationRequestSchema,
        response=f.CaseViewSchema,
    )
    def revoke_death(self, actor, body, case_id):
        return self.funeral.revoke(actor.as_dict(), case_id, body)

    @route(
        "POST",
        "/api/v1/funeral/niches",
        roles=EMPLOYEES,
        tag="funeral",
        status=201,
        summary="Add niches (骨灰安放格位) of a columbarium to the inventory",
        body=f.NicheBatchSchema,
        response=f.NicheInventorySchema,
    )
    def add_niches(self, actor, body):
        return self.funeral.add_niches(actor.as_dict(), body)

    @route(
        "GET",
        "/api/v1/funeral/niches/<region_code>",
        roles=EMPLOYEES,
        tag="funeral",
        summary="The region's niches: total, allocated, free by columbarium",
        response=f.NicheInventorySchema,
    )
    def niche_inventory(self, actor, body, region_code):
        return self.funeral.niche_inventory(actor.as_dict(), region_code)

    @route(
        "GET",
        "/api/v1/funeral/statistics/<region_code>",
        roles=STAFF,
        tag="funeral",
        summary="The region's cremation rate and eco-burial rate (节地生态安葬率)",
        response=f.FuneralIndicatorsSchema,
    )
    def funeral_indicators(self, actor, body, region_code):
        return self.funeral.indicators(actor.as_dict(), region_code)

    @route(
        "GET",
        "/api/v1/after-death/<case_id>/assistance",
        roles=STAFF,
        tag="funeral",
        summary="身后一件事 in assistance: benefits stopped or recomputed, overpayments and their recovery, back pay",
        response=AfterDeathAssistanceSchema,
    )
    def after_death_assistance(self, actor, body, case_id):
        return self.assistance.after_death(actor.as_dict(), case_id)

    @route(
        "GET",
        "/api/v1/after-death/<case_id>/care",
        roles=STAFF,
        tag="funeral",
        summary="身后一件事 in care: allowance, vouchers, orders, beds and child reviews, stopped or restored",
        response=AfterDeathCareSchema,
    )
    def after_death_care(self, actor, body, case_id):
        return self.care.after_death(actor.as_dict(), case_id)
