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
    certificate_number = fields.String()
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
