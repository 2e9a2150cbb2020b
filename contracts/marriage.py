"""The marriage registry's published language: its event payloads and RPC/HTTP request schemas."""

from __future__ import annotations

from marshmallow import RAISE, Schema, validate

from contracts import fields
from contracts.person import ResidentIdField

OFFICE_CODE = validate.Regexp(r"^\d{6}$", error="must be a 6-digit administrative division code")
MARITAL_STATUSES = ("unmarried", "married", "divorced", "widowed")


class Strict(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class PartySchema(Strict):
    resident_id = ResidentIdField(required=True, metadata={"description": "GB 11643 resident ID number"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))


# --- requests ---------------------------------------------------------------------------------


class AppointmentRequestSchema(Strict):
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    slot_start = fields.AwareDateTime(required=True, metadata={"description": "start of a booked slot"})
    party_a = fields.Nested(PartySchema, required=True)
    party_b = fields.Nested(PartySchema, required=True)


class OneMatterApplicationSchema(AppointmentRequestSchema):
    """结婚生育户口一件事: one application opens the matter and books the registration."""

    matter_type = fields.String(load_default="marriage_birth_hukou", validate=validate.OneOf(["marriage_birth_hukou"]))


class RegistrationRequestSchema(Strict):
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    party_a = fields.Nested(PartySchema, required=True)
    party_b = fields.Nested(PartySchema, required=True)
    declared_not_close_relatives = fields.Boolean(
        required=True, metadata={"description": "both parties' signed declaration (Civil Code art. 1048)"}
    )
    matter_id = fields.String(load_default=None, allow_none=True)
    new_style_wedding_notice_given = fields.Boolean(
        load_default=True, metadata={"description": "婚事新办告知书 handed to the couple"}
    )


class DivorceRequestSchema(Strict):
    certificate_number = fields.String(required=True, validate=validate.Length(min=8, max=40))
    office_code = fields.String(required=True, validate=OFFICE_CODE)


class DivorceDecisionSchema(Strict):
    both_present = fields.Boolean(load_default=False)
    withdrawn_by = ResidentIdField(load_default=None, allow_none=True)


class ReissueRequestSchema(Strict):
    certificate_number = fields.String(required=True)
    requested_by = ResidentIdField(required=True)


class OfficeRequestSchema(Strict):
    """A registration office (婚姻登记处) of the national registry, at a GB/T 2260 division, and its
    appointment slots: every `slot_minutes` from the hour, `slot_capacity` couples each."""

    name = fields.Text(required=True, min=2, max=120)
    slot_minutes = fields.Integer(
        required=True, validate=validate.OneOf([10, 15, 20, 30, 60]), metadata={"description": "a slot's length"}
    )
    slot_capacity = fields.Integer(
        required=True, validate=validate.Range(min=1, max=100), metadata={"description": "couples per slot"}
    )


class OfficeQuerySchema(Strict):
    region_code = fields.DivisionCode(load_default=None, metadata={"description": "offices within this region"})


# --- responses ---------------------------------------------------------------------------------


class OfficeSchema(Strict):
    office_code = fields.String()
    name = fields.String()
    division = fields.String(metadata={"description": "the GB/T 2260 division it serves"})
    slot_minutes = fields.Integer()
    slot_capacity = fields.Integer()


class OfficeListSchema(Strict):
    offices = fields.List(fields.Nested(OfficeSchema))


class AppointmentSchema(Strict):
    appointment_id = fields.String()
    office_code = fields.String()
    slot_start = fields.AwareDateTime()
    state = fields.String()
    matter_id = fields.String(allow_none=True)


class OneMatterOpenedSchema(Strict):
    matter_id = fields.String()
    appointment = fields.Nested(AppointmentSchema)


class RegistrationSchema(Strict):
    registration_id = fields.String()
    back_entered = fields.Boolean(metadata={"description": "entered afterwards from historical evidence (补录)"})
    certificate_number = fields.String(
        allow_none=True, metadata={"description": "the valid certificate; none once void, or for a record without one"}
    )
    registered_on = fields.Date()
    office_code = fields.String()
    matter_id = fields.String(allow_none=True)
    state = fields.String()
    e_certificate = fields.Nested(
        "ECertificateSchema", allow_none=True, metadata={"description": "电子证照: signed certificate (none once void)"}
    )


class DivorceSchema(Strict):
    divorce_id = fields.String()
    marriage_certificate_number = fields.String()
    state = fields.String(validate=validate.OneOf(["cooling_off", "withdrawn", "registered", "deemed_withdrawn"]))
    received_on = fields.Date()
    cooling_off_ends = fields.Date()
    certificate_window_ends = fields.Date()
    certificate_number = fields.String(allow_none=True)


class MaritalStatusSchema(Strict):
    status = fields.String(validate=validate.OneOf(MARITAL_STATUSES))
    since = fields.Date(allow_none=True)


class CertificateVerificationSchema(Strict):
    certificate_number = fields.String()
    valid = fields.Boolean()
    kind = fields.String(allow_none=True)
    registered_on = fields.Date(allow_none=True)
    reason = fields.String(allow_none=True)


# --- events --------------------------------------------------------------------------------------


class MarriageRegisteredSchema(Strict):
    registration_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    registered_on = fields.Date(required=True)
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    party_a = fields.Nested(PartySchema, required=True)
    party_b = fields.Nested(PartySchema, required=True)


class DivorceRegisteredSchema(Strict):
    divorce_id = fields.String(required=True)
    registration_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    registered_on = fields.Date(required=True)
    party_a = fields.Nested(PartySchema(only=("resident_id",)), required=True)
    party_b = fields.Nested(PartySchema(only=("resident_id",)), required=True)


class CertificateReissuedSchema(Strict):
    registration_id = fields.String(required=True)
    old_certificate_number = fields.String(required=True)
    certificate_number = fields.String(required=True)


class ECertificateSchema(Strict):
    document = fields.Dict(required=True)
    key_id = fields.String(required=True)
    signature = fields.String(required=True)


# --- adoption registration (收养登记) -------------------------------------------------------------

ADOPTEE_CATEGORIES = ("orphan", "parents_unknown", "parents_in_difficulty")  # Civil Code art. 1093
PLACER_KINDS = ("guardian", "institution", "parents")  # art. 1094: who may give a child up (送养人)


class AdopterSchema(PartySchema):
    children = fields.Integer(
        required=True,
        validate=validate.Range(min=0, max=20),
        metadata={"description": "children the adopter has now, adopted ones included (art. 1098(1))"},
    )
    able_to_raise = fields.Boolean(
        required=True, metadata={"description": "able to raise, educate and protect the child (art. 1098(2))"}
    )
    medically_unfit = fields.Boolean(
        required=True, metadata={"description": "an illness that makes adoption medically inadvisable (art. 1098(3))"}
    )
    unfavourable_record = fields.Boolean(
        required=True,
        metadata={"description": "a criminal record unfavourable to the child's upbringing (art. 1098(4))"},
    )


class AdopteeSchema(PartySchema):
    category = fields.String(
        required=True, validate=validate.OneOf(ADOPTEE_CATEGORIES), metadata={"description": "art. 1093"}
    )
    disabled = fields.Boolean(load_default=False, metadata={"description": "a disabled minor (art. 1100)"})
    consents = fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "the child's own consent, from eight (art. 1104)"}
    )


class PlacerSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(PLACER_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    institution_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=40),
        metadata={"description": "the child-welfare institution (儿童福利机构), when it gives the child up"},
    )
    consents = fields.Boolean(required=True, metadata={"description": "those giving up the child agree (art. 1104)"})


class AdoptionRequestSchema(Strict):
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    adopters = fields.List(fields.Nested(AdopterSchema), required=True, validate=validate.Length(min=1, max=2))
    adoptee = fields.Nested(AdopteeSchema, required=True)
    placer = fields.Nested(PlacerSchema, required=True)


class AdoptionDissolutionRequestSchema(Strict):
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    adopters_agree = fields.Boolean(required=True)
    placer_agrees = fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "needed while the adoptee is a minor"}
    )
    adoptee_consents = fields.Boolean(
        load_default=None, allow_none=True, metadata={"description": "needed from the adoptee's eighth birthday"}
    )


class AdoptionSchema(Strict):
    adoption_id = fields.String()
    certificate_number = fields.String()
    registered_on = fields.Date()
    office_code = fields.String()
    adopters = fields.List(fields.Dict())
    adoptee = fields.Dict()
    institution_code = fields.String(allow_none=True)
    state = fields.String(validate=validate.OneOf(["registered", "dissolved"]))
    dissolved_on = fields.Date(allow_none=True)
    dissolution_certificate_number = fields.String(allow_none=True)
    policy_version = fields.String()


class AdoptedChildSchema(PartySchema):
    birth_date = fields.Date(required=True)


class AdoptionRegisteredSchema(Strict):
    adoption_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    registered_on = fields.Date(required=True)
    office_code = fields.String(required=True, validate=OFFICE_CODE)
    adopters = fields.List(fields.Nested(PartySchema), required=True, validate=validate.Length(min=1, max=2))
    adoptee = fields.Nested(AdoptedChildSchema, required=True)
    institution_code = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "the child-welfare institution that raised the child"},
    )


class AdoptionDissolvedSchema(Strict):
    adoption_id = fields.String(required=True)
    certificate_number = fields.String(required=True)
    dissolved_on = fields.Date(required=True)
    adopters = fields.List(fields.Nested(PartySchema(only=("resident_id",))), required=True)
    adoptee = fields.Nested(PartySchema(only=("resident_id",)), required=True)
    institution_code = fields.String(load_default=None, allow_none=True)


# --- back-entry of historical records (补录) -------------------------------------------------------

EVIDENCE_KINDS = ("archive_file", "certificate", "court_judgment", "other")


class EvidenceSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(EVIDENCE_KINDS))
    reference = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "where the evidence is kept: the archive file number, the judgment's number"},
    )
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class BackEntryRequestSchema(Strict):
    office_code = fields.String(
        required=True, validate=OFFICE_CODE, metadata={"description": "the office whose archive holds the record"}
    )
    party_a = fields.Nested(PartySchema, required=True)
    party_b = fields.Nested(PartySchema, required=True)
    married_on = fields.Date(required=True)
    certificate_number = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "the number on the historical marriage certificate, if it has one"},
    )
    divorced_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "if it ended in divorce"})
    divorce_certificate_number = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=40)
    )
    evidence = fields.Nested(EvidenceSchema, required=True)


class BackEnteredDivorceRequestSchema(Strict):
    divorced_on = fields.Date(required=True)
    certificate_number = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=40))
    evidence = fields.Nested(EvidenceSchema, required=True)
