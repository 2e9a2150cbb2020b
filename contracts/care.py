"""Elderly care's published language: request and view schemas of the registry and the old-age
allowance (高龄津贴)."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict
from contracts.payments import PaymentCycleRequestSchema, PaymentViewSchema
from contracts.person import ResidentIdField

REGION = validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$", error="must be a 6, 9 or 12-digit division code")


class PersonRecordSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    region_code = fields.String(required=True, validate=REGION)
    bank_account = fields.String(
        validate=validate.Regexp(r"^\d{8,40}$", error="8 to 40 digits"),
        metadata={
            "description": "the account (社保卡) the old-age allowance is paid to; left out: the one on record stays"
        },
    )


class ElderImportSchema(Strict):
    """A batch from the population registry (户籍人口); age and sex come from the ID numbers."""

    people = fields.List(fields.Nested(PersonRecordSchema), required=True, validate=validate.Length(min=1, max=10_000))


class AllowanceViewSchema(Strict):
    starts_month = fields.Date()
    enrolled_on = fields.Date()
    policy_version = fields.String()
    monthly_fen = fields.Fen(metadata={"description": "this month's amount by age band (0 once ended)"})
    ended_on = fields.Date(allow_none=True, metadata={"description": "the last day of entitlement; its month is paid"})
    end_reason = fields.String(allow_none=True)


class AllowanceEndSchema(Strict):
    """End a person's old-age allowance as of a day (a move out of the city; the after-death flow
    ends it with the date of death). Months after that day's month are no longer paid."""

    ended_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class AllowanceCycleRequestSchema(PaymentCycleRequestSchema):
    """One district's cycle of the old-age allowance for a month (each district bureau pays its own)."""

    region_code = fields.String(
        required=True,
        validate=validate.Regexp(
            r"^\d{4}(?!00)\d{2}$", error="must be a district's 6-digit code (not a city's, ending in 00)"
        ),
    )


class ElderViewSchema(Strict):
    resident_id = fields.String()
    name = fields.String()
    region_code = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    age = fields.Integer()
    allowance = fields.Nested(AllowanceViewSchema, allow_none=True)


class ImportViewSchema(Strict):
    received = fields.Integer()
    added = fields.Integer()
    updated = fields.Integer()


class AllowanceJobViewSchema(Strict):
    run_on = fields.Date()
    enrolled = fields.Integer(metadata={"description": "enrolled by this run"})
    enrolled_today = fields.Integer(metadata={"description": "enrolled by every run of the day"})
    runs_today = fields.Integer()
    vouchers_granted = fields.Integer(
        metadata={
            "description": "home-care vouchers granted by this run to members of supported households who reached the age"
        }
    )


# --- home and community care: service orders drawn on government vouchers ----------------------

SERVICE_TYPES = ("meals", "cleaning", "emergency_help", "bathing", "mobility", "medical_help", "recreation")
# 助餐, 助洁, 助急, 助浴, 助行, 助医, 文娱
PAYMENTS = ("voucher", "time_bank")  # the government voucher budget (and the person), or time-bank credits
CREDITS_STATES = ("pending", "redeemed", "refused", "returned")
CREDITS_OUTCOMES = ("redeemed", "refused", "returned")


class OrderRequestSchema(Strict):
    resident_id = ResidentIdField(required=True, metadata={"description": "the person served"})
    service = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    provider = fields.String(
        required=True, validate=validate.Length(min=2, max=60), metadata={"description": "the provider's code"}
    )
    price_fen = fields.Fen(required=True, validate=validate.Range(min=1, max=10_000_00))
    payment = fields.String(
        load_default="voucher",
        validate=validate.OneOf(PAYMENTS),
        metadata={
            "description": "voucher: the month's voucher budget pays, the person the rest; time_bank: the person's "
            "time-bank credits (时间银行) pay the whole service, in the minutes policy sets for it"
        },
    )


class OrderCancellationSchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class OrderViewSchema(Strict):
    order_id = fields.String()
    resident_id = fields.String(allow_none=True, metadata={"description": "not shown to providers"})
    service = fields.String()
    provider = fields.String()
    price_fen = fields.Fen()
    state = fields.String(metadata={"description": "requested | accepted | delivered | confirmed | cancelled"})
    for_month = fields.Date()
    voucher_fen = fields.Fen(allow_none=True, metadata={"description": "drawn on the voucher budget"})
    copay_fen = fields.Fen(allow_none=True, metadata={"description": "paid by the person"})
    payment = fields.String(metadata={"description": " | ".join(PAYMENTS)})
    credit_minutes = fields.Integer(allow_none=True, metadata={"description": "time-bank minutes the order costs"})
    credits_state = fields.String(
        allow_none=True,
        metadata={
            "description": "time_bank only: pending (charity is asked) | redeemed (funded: the provider may accept) | "
            "refused (the order was cancelled) | returned (cancelled, the credits given back)"
        },
    )
    cancel_reason = fields.String(allow_none=True)


class VoucherViewSchema(Strict):
    resident_id = fields.String()
    programme = fields.String()
    monthly_fen = fields.Fen()
    month = fields.Date()
    used_fen = fields.Fen()
    left_fen = fields.Fen()


class OrderRequestedSchema(Strict):
    """Event: what a provider needs to serve the order (minimal: no ID number)."""

    order_id = fields.String(required=True)
    service = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    provider = fields.String(required=True)
    region_code = fields.String(required=True)
    price_fen = fields.Fen(required=True)


class CreditsRequestedSchema(Strict):
    """Event: care asks the time bank to pay an order with the person's own credits."""

    order_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True, metadata={"description": "the person served, whose credits pay"})
    service = fields.String(required=True, validate=validate.OneOf(SERVICE_TYPES))
    minutes = fields.Integer(required=True, validate=validate.Range(min=1))


class OrderCancelledSchema(Strict):
    """Event: an order was cancelled before delivery (by a party, or because its credits were refused)."""

    order_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    payment = fields.String(required=True, validate=validate.OneOf(PAYMENTS))
    reason = fields.String(required=True)


class OrderConfirmedSchema(Strict):
    order_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    price_fen = fields.Fen(required=True, validate=validate.Range(min=1))
    for_month = fields.Date(required=True)


# --- ability assessments, institutions, indicators --------------------------------------------------

ABILITY_LEVELS = ("intact", "mild", "moderate", "severe", "complete")
# 能力完好 / 轻度失能 / 中度失能 / 重度失能 / 完全失能 (the national assessment standard's five levels)
OWNERSHIPS = ("public", "public_private", "private")  # 公办 / 公建民营 / 民办


class AssessmentRequestSchema(Strict):
    resident_id = ResidentIdField(required=True)
    level = fields.String(required=True, validate=validate.OneOf(ABILITY_LEVELS))
    assessor = fields.String(
        required=True,
        validate=validate.Length(min=2, max=80),
        metadata={"description": "the certified assessor or assessing agency"},
    )
    assessed_on = fields.Date(required=True)


class AssessmentViewSchema(Strict):
    assessment_id = fields.String()
    resident_id = fields.String()
    level = fields.String()
    assessor = fields.String()
    assessed_on = fields.Date()
    valid_until = fields.Date(metadata={"description": "re-assessment due after this day"})


class BedsSchema(Strict):
    ordinary = fields.Integer(required=True, validate=validate.Range(min=0))
    nursing = fields.Integer(required=True, validate=validate.Range(min=0), metadata={"description": "护理型床位"})
    dementia = fields.Integer(
        required=True, validate=validate.Range(min=0), metadata={"description": "认知障碍照护床位"}
    )


class InstitutionRequestSchema(Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{2,40}$"))
    name = fields.String(required=True, validate=validate.Length(min=2, max=120))
    ownership = fields.String(required=True, validate=validate.OneOf(OWNERSHIPS))
    region_code = fields.String(required=True, validate=REGION)
    beds = fields.Nested(BedsSchema, required=True)


class InstitutionViewSchema(InstitutionRequestSchema):
    pass


class IndicatorsViewSchema(Strict):
    region_code = fields.String()
    on = fields.Date()
    elderly = fields.Integer(metadata={"description": "people aged 60+ in the registry"})
    aged_70_plus = fields.Integer()
    assessed_70_plus = fields.Integer(metadata={"description": "aged 70+ with an assessment still valid"})
    assessment_coverage_70_plus = fields.Float(allow_none=True)
    beds = fields.Integer()
    nursing_bed_ratio = fields.Float(allow_none=True, metadata={"description": "nursing beds / all beds"})
    public_dementia_bed_ratio = fields.Float(
        allow_none=True, metadata={"description": "dementia beds / all beds, in public institutions"}
    )
    beds_per_10k_elderly = fields.Float(allow_none=True)
    family_beds = fields.Integer(metadata={"description": "家庭养老床位 open in the region"})


# --- child welfare (儿童福利) -------------------------------------------------------------------------

CHILD_CATEGORIES = ("orphan", "de_facto_unsupported", "distressed", "left_behind")
# 孤儿 / 事实无人抚养儿童 / 困境儿童 / 农村留守儿童; the first two get the basic living allowance
PLACEMENTS = ("institution", "community")  # 福利机构养育 / 社会散居
RISK_LEVELS = ("red", "orange", "yellow", "green")  # 四色管理, most urgent first
VILLAGE = validate.Regexp(r"^\d{12}$", error="must be a 12-digit village (community) code")


class ChildRequestSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    category = fields.String(required=True, validate=validate.OneOf(CHILD_CATEGORIES))
    placement = fields.String(required=True, validate=validate.OneOf(PLACEMENTS))
    village_code = fields.String(required=True, validate=VILLAGE)
    household = fields.String(
        required=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "the household the child lives in (户): address or name"},
    )
    guardian = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=60))
    guardian_resident_id = ResidentIdField(
        load_default=None, allow_none=True, metadata={"description": "the caregiver: their death raises a review"}
    )


class ScreeningRequestSchema(Strict):
    level = fields.String(required=True, validate=validate.OneOf(RISK_LEVELS))
    findings = fields.String(required=True, validate=validate.Length(min=2, max=2000))
    screened_on = fields.Date(required=True)


class ChildViewSchema(Strict):
    resident_id = fields.String()
    name = fields.String()
    age = fields.Integer()
    category = fields.String()
    placement = fields.String()
    village_code = fields.String()
    household = fields.String()
    guardian = fields.String(allow_none=True)
    monthly_allowance_fen = fields.Fen(metadata={"description": "basic living allowance this month (0: none)"})
    risk_level = fields.String(allow_none=True)
    follow_up_due = fields.Date(allow_none=True)
    child_director = fields.String(allow_none=True, metadata={"description": "the village's 儿童主任"})


class ScreeningRecordedSchema(ChildViewSchema):
    screening_id = fields.String()


class ChildDirectorRequestSchema(Strict):
    village_code = fields.String(required=True, validate=VILLAGE)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    phone = fields.String(required=True, validate=validate.Regexp(r"^\d{7,13}$"))


BED_TYPES = ("ordinary", "nursing", "dementia")


class AdmissionRequestSchema(Strict):
    resident_id = ResidentIdField(required=True)
    institution = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{2,40}$"))
    bed_type = fields.String(required=True, validate=validate.OneOf(BED_TYPES))
    admitted_on = fields.Date(required=True)
    concentrated_support = fields.Boolean(
        load_default=False, metadata={"description": "集中供养: a 特困 person placed at public expense"}
    )


class DischargeRequestSchema(Strict):
    discharged_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class AdmissionViewSchema(Strict):
    admission_id = fields.String()
    resident_id = fields.String()
    institution = fields.String()
    bed_type = fields.String()
    admitted_on = fields.Date()
    discharged_on = fields.Date(allow_none=True)
    concentrated_support = fields.Boolean()
    beds_free = fields.Integer(metadata={"description": "beds of this type still free at the institution"})


# --- emergency calls from wearable devices (紧急呼叫) -----------------------------------------------------

CALL_KINDS = ("sos", "fall", "health_alarm")
DEVICE_ID = validate.Length(min=4, max=60)
PLATFORM = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{1,59}$", error="a platform code: 2 to 60 lower-case letters, digits, - or _"
)


class DeviceRegistrationSchema(Strict):
    """A wearable device (智能手环, 一键呼叫) handed to a person, registered by the bureau's staff of
    the person's area: only calls from the platform that operates it, for this person, are taken."""

    device_id = fields.String(
        required=True,
        validate=DEVICE_ID,
        metadata={"description": "the device's id as its platform reports it in calls"},
    )
    resident_id = ResidentIdField(required=True)
    platform = fields.String(
        required=True,
        validate=PLATFORM,
        metadata={"description": "the wearable-device platform operating the device: the `org` its tokens name"},
    )
    registered_on = fields.Date(
        load_default=None,
        allow_none=True,
        metadata={"description": "the day it was handed over (default today): calls raised before it are refused"},
    )


class DeviceRetirementSchema(Strict):
    retired_on = fields.Date(
        required=True, metadata={"description": "the day it left service: calls raised on or after it are refused"}
    )
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class DeviceViewSchema(Strict):
    registration_id = fields.String()
    device_id = fields.String()
    resident_id = fields.String()
    platform = fields.String()
    region_code = fields.String()
    registered_on = fields.Date()
    retired_on = fields.Date(allow_none=True)
    retire_reason = fields.String(allow_none=True)


class EmergencyCallSchema(Strict):
    """What the wearable-device platform reports; `call_id` is the device's own, so a resent call
    is recognised. Taken only from the platform operating the device (its token's `org`), for the
    person the device is registered to on the day the call was raised; anything else is refused
    (403) and nothing is recorded."""

    device_id = fields.String(required=True, validate=DEVICE_ID)
    call_id = fields.String(required=True, validate=validate.Length(min=1, max=60))
    resident_id = ResidentIdField(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CALL_KINDS))
    raised_at = fields.AwareDateTime(required=True)


class DispatchSchema(Strict):
    responder = fields.String(required=True, validate=validate.Length(min=2, max=80))


class CallClosureSchema(Strict):
    outcome = fields.String(required=True, validate=validate.Length(min=2, max=500))


class EmergencyCallViewSchema(Strict):
    emergency_call_id = fields.String()
    kind = fields.String()
    region_code = fields.String()
    state = fields.String(metadata={"description": "received | dispatched | arrived | closed"})
    raised_at = fields.AwareDateTime()
    dispatched_at = fields.AwareDateTime(allow_none=True)
    arrived_at = fields.AwareDateTime(allow_none=True)
    responder = fields.String(allow_none=True)
    response_seconds = fields.Integer(allow_none=True, metadata={"description": "from the call to arrival"})
    outcome = fields.String(allow_none=True)


class FamilyBedRequestSchema(Strict):
    """家庭养老床位: an institution's professional care brought into the home of a disabled person."""

    resident_id = ResidentIdField(required=True)
    institution = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9-]{2,40}$"),
        metadata={"description": "the institution that runs the bed"},
    )
    established_on = fields.Date(required=True)


class FamilyBedViewSchema(Strict):
    resident_id = fields.String()
    institution = fields.String()
    established_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    assessed_level = fields.String(metadata={"description": "the assessment that qualified the person"})


# --- answers the gateway wraps in an envelope (lists), and hand-built ones ------------------------


class AllowanceEndedSchema(Strict):
    resident_id = fields.String()
    ended_on = fields.Date()
    reason = fields.String()
    paid_after_end = fields.List(
        fields.Nested(PaymentViewSchema),
        metadata={"description": "payments with the bank (or paid) for months after the end: to recall or recover"},
    )
    withheld = fields.List(
        fields.Nested(PaymentViewSchema),
        metadata={"description": "payments of cycles not yet sent for months after the end: taken out of the batch"},
    )


class AllowancePaymentsSchema(Strict):
    payments = fields.List(fields.Nested(PaymentViewSchema))


class EmergencyCallListSchema(Strict):
    calls = fields.List(fields.Nested(EmergencyCallViewSchema))


class FollowUpSchema(Strict):
    screening_id = fields.String()
    resident_id = fields.String()
    name = fields.String()
    level = fields.String()
    village_code = fields.String()
    follow_up_due = fields.Date()
    overdue = fields.Boolean()


class FollowUpListSchema(Strict):
    follow_ups = fields.List(fields.Nested(FollowUpSchema))


class FollowUpRecordedSchema(Strict):
    screening_id = fields.String()
    followed_up_on = fields.Date()


class ChildDirectorSchema(Strict):
    village_code = fields.String()
    name = fields.String()
    replaced = fields.String(allow_none=True, metadata={"description": "the director before, if any"})


class VillageChildrenSchema(Strict):
    children = fields.List(fields.Nested(ChildViewSchema))


class AfterDeathCareSchema(Strict):
    """身后一件事 in care: the allowance, vouchers and child reviews a death stopped or raised."""

    case_id = fields.String()
    state = fields.String()
    date_of_death = fields.Date()
    changes = fields.Raw(metadata={"description": "what was stopped, cancelled or freed, as recorded"})
    allowance_ended_on = fields.Date(allow_none=True)
    allowance_recovery = fields.Dict(
        allow_none=True,
        metadata={"description": "追回: the allowance paid for months after the death (months, amount_fen, state)"},
    )
    vouchers = fields.List(fields.Dict())
    child_reviews = fields.List(fields.Dict())
