"""The marriage registry over HTTP (/api/v1/marriage): offices, appointments, registrations,
divorces, certificates, adoptions and back-entry. Every rule lives in the marriage service; these
routes only check the role, validate the body against the contract and pass the caller along."""

from __future__ import annotations

from chassis import (
    InvalidInput,
    ServiceRpc,
)
from contracts import marriage as m
from contracts.roles import ADMIN, ANYONE, CITIZEN, CLERK, STAFF
from gateway.api import route


def marriage_route(method: str, path: str, roles: tuple[str, ...] = STAFF, **kwargs):
    """A route of the marriage registry (/api/v1/marriage…), for the bureau's staff unless `roles` says
    otherwise: registrations, divorces and adoptions declare only what is their own."""
    return route(method, "/api/v1/marriage" + path, roles=roles, tag="marriage", **kwargs)


class MarriageRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    marriage = ServiceRpc("marriage")

    # --- marriage registry ------------------------------------------------------------------

    @marriage_route(
        "PUT",
        "/offices/<office_code>",
        roles=(ADMIN,),
        summary="Add a registration office at a GB/T 2260 division to the national registry, or change its slots",
        body=m.OfficeRequestSchema,
        response=m.OfficeSchema,
        example={"name": "北京市东城区婚姻登记处", "slot_minutes": 30, "slot_capacity": 6},
    )
    def put_office(self, actor, body, office_code):
        return self.marriage.put_office(actor.as_dict(), office_code, body)

    @marriage_route(
        "GET",
        "/offices",
        roles=ANYONE,
        summary="The registration offices (跨省通办: a couple registers at any), optionally within a region",
        query=m.OfficeQuerySchema,
        response=m.OfficeListSchema,
    )
    def list_offices(self, actor, body, query):
        return self.marriage.list_offices(query.get("region_code"))

    @marriage_route(
        "GET",
        "/offices/<office_code>",
        roles=ANYONE,
        summary="A registration office and its appointment slots",
        response=m.OfficeSchema,
    )
    def get_office(self, actor, body, office_code):
        return self.marriage.get_office(office_code)

    @marriage_route(
        "POST",
        "/appointments",
        roles=(CITIZEN, CLERK, ADMIN),
        summary="Book a registration appointment at an office",
        body=m.AppointmentRequestSchema,
        response=m.AppointmentSchema,
        status=201,
    )
    def book_appointment(self, actor, body):
        return self.marriage.book_appointment(actor.as_dict(), body)

    @marriage_route(
        "POST",
        "/registrations",
        summary="Register a marriage (registrar); refusals say which party and why",
        body=m.RegistrationRequestSchema,
        response=m.RegistrationSchema,
        status=201,
        example={
            "office_code": "330602",
            "declared_not_close_relatives": True,
            "party_a": {"resident_id": "330602199504010011", "name": "王刚"},
            "party_b": {"resident_id": "33060219970808002X", "name": "周敏"},
        },
    )
    def register_marriage(self, actor, body):
        return self.marriage.register_marriage(actor.as_dict(), body)

    @marriage_route(
        "GET",
        "/registrations/<registration_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        summary="A registration with its e-certificate",
        response=m.RegistrationSchema,
    )
    def get_registration(self, actor, body, registration_id):
        return self.marriage.get_registration(actor.as_dict(), registration_id)

    @marriage_route(
        "POST",
        "/divorces",
        summary="Receive a divorce-by-agreement application; starts the 30-day cooling-off period",
        body=m.DivorceRequestSchema,
        response=m.DivorceSchema,
        status=201,
    )
    def apply_divorce(self, actor, body):
        return self.marriage.apply_divorce(actor.as_dict(), body)

    @marriage_route(
        "GET",
        "/divorces/<divorce_id>",
        summary="A divorce application and its deadlines",
        response=m.DivorceSchema,
    )
    def get_divorce(self, actor, body, divorce_id):
        return self.marriage.get_divorce(actor.as_dict(), divorce_id)

    @marriage_route(
        "POST",
        "/divorces/<divorce_id>/withdrawal",
        summary="A party withdraws during the cooling-off period",
        body=m.DivorceDecisionSchema,
        response=m.DivorceSchema,
    )
    def withdraw_divorce(self, actor, body, divorce_id):
        return self.marriage.withdraw_divorce(actor.as_dict(), divorce_id, body)

    @marriage_route(
        "POST",
        "/divorces/<divorce_id>/registration",
        summary="Both parties apply for the divorce certificate within the 30 days after cooling-off",
        body=m.DivorceDecisionSchema,
        response=m.DivorceSchema,
    )
    def register_divorce(self, actor, body, divorce_id):
        return self.marriage.register_divorce(actor.as_dict(), divorce_id, body)

    @marriage_route(
        "POST",
        "/certificate-reissues",
        summary="Re-issue a lost certificate (补领); the old number becomes void",
        body=m.ReissueRequestSchema,
        response=m.RegistrationSchema,
        status=201,
    )
    def reissue_certificate(self, actor, body):
        return self.marriage.reissue_certificate(actor.as_dict(), body)

    @marriage_route(
        "GET",
        "/certificates/<number>/verification",
        roles=ANYONE,
        summary="Is this certificate number valid?",
        response=m.CertificateVerificationSchema,
    )
    def verify_certificate(self, actor, body, number):
        return self.marriage.verify_certificate(number)

    @marriage_route(
        "POST",
        "/certificates/verification",
        roles=ANYONE,
        summary="Verify an electronic certificate's signature and current validity",
        body=m.ECertificateSchema,
        response=m.CertificateVerificationSchema,
    )
    def verify_e_certificate(self, actor, body):
        number = body["document"].get("certificate_number")
        if not isinstance(number, str) or not 8 <= len(number) <= 40:
            raise InvalidInput(
                "the document has no certificate number", errors={"document": ["certificate_number missing"]}
            )
        return self.marriage.verify_certificate(number, body)

    @marriage_route(
        "GET",
        "/marital-status/<resident_id>",
        roles=ANYONE,
        summary="Marital status (minimal disclosure): the person, registry staff, entitled partners",
        response=m.MaritalStatusSchema,
    )
    def marital_status(self, actor, body, resident_id):
        return self.marriage.marital_status(actor.as_dict(), resident_id)

    # --- adoption registry (收养登记) -----------------------------------------------------------

    @marriage_route(
        "POST",
        "/adoptions",
        summary="Register an adoption (收养登记); refusals name the field and the article",
        body=m.AdoptionRequestSchema,
        response=m.AdoptionSchema,
        status=201,
        example={
            "office_code": "330602",
            "adopters": [
                {
                    "resident_id": "330602198603021002",
                    "name": "周敏",
                    "children": 0,
                    "able_to_raise": True,
                    "medically_unfit": False,
                    "unfavourable_record": False,
                }
            ],
            "adoptee": {"resident_id": "330602202205012003", "name": "周小安", "category": "parents_unknown"},
            "placer": {
                "kind": "institution",
                "name": "绍兴市儿童福利院",
                "institution_code": "SX-CW-01",
                "consents": True,
            },
        },
    )
    def register_adoption(self, actor, body):
        return self.marriage.register_adoption(actor.as_dict(), body)

    @marriage_route(
        "GET",
        "/adoptions/<adoption_id>",
        summary="An adoption registration",
        response=m.AdoptionSchema,
    )
    def get_adoption(self, actor, body, adoption_id):
        return self.marriage.get_adoption(actor.as_dict(), adoption_id)

    @marriage_route(
        "POST",
        "/adoptions/<adoption_id>/dissolution",
        summary="Dissolve an adoption by agreement (解除收养关系登记)",
        body=m.AdoptionDissolutionRequestSchema,
        response=m.AdoptionSchema,
    )
    def dissolve_adoption(self, actor, body, adoption_id):
        return self.marriage.dissolve_adoption(actor.as_dict(), adoption_id, body)

    # --- back-entry of historical records (补录) -----------------------------------------------

    @marriage_route(
        "POST",
        "/back-entries",
        summary="Enter a historical marriage (and its divorce) from its evidence (补录); it counts in the bigamy check",
        body=m.BackEntryRequestSchema,
        response=m.RegistrationSchema,
        status=201,
        example={
            "office_code": "330602",
            "party_a": {"resident_id": "330602196002011010", "name": "王建国"},
            "party_b": {"resident_id": "330602196207011022", "name": "李秀英"},
            "married_on": "1985-10-01",
            "certificate_number": "越婚字第85-1123号",
            "evidence": {"kind": "archive_file", "reference": "越城区档案馆 婚-1985-0412"},
        },
    )
    def back_enter_marriage(self, actor, body):
        return self.marriage.back_enter_marriage(actor.as_dict(), body)

    @marriage_route(
        "POST",
        "/registrations/<registration_id>/back-entered-divorce",
        summary="Enter the historical divorce of a marriage in the registry from its evidence (补录)",
        body=m.BackEnteredDivorceRequestSchema,
        response=m.RegistrationSchema,
        status=201,
    )
    def back_enter_divorce(self, actor, body, registration_id):
        return self.marriage.back_enter_divorce(actor.as_dict(), registration_id, body)
