"""The events catalogue: every event type, who may publish it, and the schema of its data.

Publishing and consuming both validate against this table (chassis.events), so a typo in a field
or an event from the wrong source never reaches a consumer. The catalogue in docs/events.md is generated
from here (`python -m contracts.catalogue`).
"""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema, ValidationError, validate, validates_schema

from contracts import fields
from contracts.assistance import (
    AssistanceApprovedSchema,
    EntitlementEndedSchema,
    EntitlementResumedSchema,
    HouseholdReferredSchema,
    MemberLeftSchema,
)
from contracts.care import CreditsRequestedSchema, OrderCancelledSchema, OrderConfirmedSchema, OrderRequestedSchema
from contracts.charity import CreditsAnsweredSchema, ReferralAnsweredSchema, ServiceRecordedSchema
from contracts.envelope import Envelope, InvalidEvent
from contracts.funeral import DeathDateCorrectedSchema, DeathNotifiedSchema, DeathRevokedSchema
from contracts.marriage import (
    AdoptionDissolvedSchema,
    AdoptionRegisteredSchema,
    CertificateReissuedSchema,
    DivorceRegisteredSchema,
    MarriageRegisteredSchema,
    Strict,
)
from contracts.matters import MATTER_TYPES, REPORTABLE_STEP_STATES
from contracts.person import ResidentIdField
from contracts.webhooks import EndpointDisabledSchema

__all__ = ["EventType", "EVENTS", "event_type", "validate_data", "validate_envelope"]


class StepSpecSchema(Strict):
    name = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{1,59}$"))
    owner = fields.String(required=True, validate=validate.Length(min=2, max=40))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    deadline_days = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    starts_on = fields.String(load_default=None, allow_none=True)


class MatterOpenedSchema(Strict):
    matter_type = fields.String(required=True, validate=validate.OneOf(sorted(MATTER_TYPES)))
    steps = fields.List(
        fields.Nested(StepSpecSchema),
        load_default=None,
        allow_none=True,
        metadata={"description": "the steps, for matter types whose steps are data"},
    )
    subjects = fields.List(
        ResidentIdField(),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "the citizens the matter is about (who may see it)"},
    )
    region_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$"),
        metadata={"description": "where the matter is handled (staff of that area see it)"},
    )
    opened_on_behalf_of = fields.String(load_default=None, allow_none=True)

    @validates_schema
    def _steps_where_the_type_wants_them(self, data, **_):
        wants = MATTER_TYPES[data["matter_type"]].steps_from_event
        if wants and not data.get("steps"):
            raise ValidationError("this matter type takes its steps from the event", field_name="steps")
        if not wants and data.get("steps"):
            raise ValidationError("this matter type has fixed steps", field_name="steps")


class StepReportedSchema(Strict):
    matter_type = fields.String(required=True, validate=validate.OneOf(sorted(MATTER_TYPES)))
    step = fields.String(required=True)
    state = fields.String(required=True, validate=validate.OneOf(sorted(REPORTABLE_STEP_STATES)))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    reported_by = fields.String(required=True, metadata={"description": "service or partner code"})


class ChildSchema(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    birth_date = fields.Date(required=True)
    sex = fields.String(required=True, validate=validate.OneOf(["male", "female"]))
    birth_certificate_number = fields.String(
        required=True,
        validate=[validate.Length(min=4, max=40), validate.Regexp(r"^[A-Za-z0-9]+$", error="letters and digits")],
        metadata={"description": "出生医学证明编号: one birth in the whole country"},
    )


class BirthFactsSchema(Strict):
    child = fields.Nested(ChildSchema, required=True)
    mother_resident_id = ResidentIdField(required=True)
    father_resident_id = ResidentIdField(load_default=None, allow_none=True)
    hospital = fields.String(required=True, validate=validate.Length(min=1, max=120))


class BirthNotifiedSchema(BirthFactsSchema):
    birth_id = fields.String(required=True)


@dataclass(frozen=True)
class EventType:
    name: str
    publishers: frozenset[str]
    schema: type[Schema]
    description: str
    version: int = 1

    @property
    def validator(self) -> Schema:
        """One schema instance per event type: building a marshmallow schema costs more than
        using it, and every publish and every delivery validates."""
        instance = _VALIDATORS.get(self.name)
        if instance is None or not isinstance(instance, self.schema):
            instance = _VALIDATORS[self.name] = self.schema()
        return instance


_VALIDATORS: dict[str, Schema] = {}


EVENTS: dict[str, EventType] = {
    e.name: e
    for e in (
        EventType(
            "matter.opened",
            frozenset({"marriage", "assistance", "funeral"}),
            MatterOpenedSchema,
            "A one-matter (一件事) was opened; its steps come from contracts.matters.",
        ),
        EventType(
            "matter.step_reported",
            frozenset({"marriage", "assistance", "care", "funeral", "gateway"}),
            StepReportedSchema,
            "An owner reports the outcome of its step of a matter (gateway: on behalf of a partner).",
        ),
        EventType(
            "marriage.registered",
            frozenset({"marriage"}),
            MarriageRegisteredSchema,
            "A marriage was registered and its certificate (and e-certificate) issued.",
        ),
        EventType(
            "marriage.divorce_registered",
            frozenset({"marriage"}),
            DivorceRegisteredSchema,
            "A divorce by agreement was registered after the cooling-off period (离婚冷静期).",
        ),
        EventType(
            "marriage.certificate_reissued",
            frozenset({"marriage"}),
            CertificateReissuedSchema,
            "A certificate was re-issued (补领); the old number is void.",
        ),
        EventType(
            "adoption.registered",
            frozenset({"marriage"}),
            AdoptionRegisteredSchema,
            "An adoption was registered (收养登记) and its certificate issued; the adoption stands from that day "
            "(hukou: police; a child raised by a welfare institution: care).",
        ),
        EventType(
            "adoption.dissolved",
            frozenset({"marriage"}),
            AdoptionDissolvedSchema,
            "An adoption was dissolved by agreement (解除收养关系登记).",
        ),
        EventType(
            "assistance.approved",
            frozenset({"assistance"}),
            AssistanceApprovedSchema,
            "A household was approved for a programme; opens 救助一件事 with the linked subsidy items.",
        ),
        EventType(
            "assistance.member_left",
            frozenset({"assistance"}),
            MemberLeftSchema,
            "A member left a household that receives assistance; what followed from it for them ends.",
        ),
        EventType(
            "assistance.entitlement_ended",
            frozenset({"assistance"}),
            EntitlementEndedSchema,
            "A household's benefit under a programme ended (exit, death, re-check).",
        ),
        EventType(
            "assistance.entitlement_resumed",
            frozenset({"assistance"}),
            EntitlementResumedSchema,
            "A benefit ended by a death runs on: the death was revoked as notified in error.",
        ),
        EventType(
            "assistance.household_referred",
            frozenset({"assistance"}),
            HouseholdReferredSchema,
            "A caseworker referred a household to charity for a need government aid does not cover, or "
            "covers only in part (政府救助与慈善救助衔接).",
        ),
        EventType(
            "care.order_requested",
            frozenset({"care"}),
            OrderRequestedSchema,
            "A home-care service was ordered for an elderly person; the provider accepts and delivers it "
            "(an order paid with time-bank credits: once the time bank has redeemed them).",
        ),
        EventType(
            "care.credits_requested",
            frozenset({"care"}),
            CreditsRequestedSchema,
            "An order is to be paid with the person's time-bank credits (时间银行); charity debits them once "
            "per order and answers.",
        ),
        EventType(
            "care.order_cancelled",
            frozenset({"care"}),
            OrderCancelledSchema,
            "A home-care order was cancelled before delivery; credits redeemed for it go back.",
        ),
        EventType(
            "care.order_confirmed",
            frozenset({"care"}),
            OrderConfirmedSchema,
            "The person served confirmed a delivered home-care service; the voucher budget pays for it.",
        ),
        EventType(
            "charity.referral_answered",
            frozenset({"charity"}),
            ReferralAnsweredSchema,
            "Charity matched a referred household to a campaign or fund and aided it, or declined with the "
            "reason; assistance records it on the household (一户一条救助链).",
        ),
        EventType(
            "charity.service_recorded",
            frozenset({"charity"}),
            ServiceRecordedSchema,
            "A volunteer's service time was recorded; the time bank (时间银行) credits it once.",
        ),
        EventType(
            "charity.credits_answered",
            frozenset({"charity"}),
            CreditsAnsweredSchema,
            "The time bank redeemed an order's credits, refused them with the reason, or returned them "
            "after the order's cancellation; care funds or cancels the order.",
        ),
        EventType(
            "birth.notified",
            frozenset({"gateway"}),
            BirthNotifiedSchema,
            "A hospital's birth certificate, reported by the health department (partner API).",
        ),
        EventType(
            "death.notified",
            frozenset({"funeral"}),
            DeathNotifiedSchema,
            "A death registered as a funeral case (once per deceased); opens 身后一件事.",
        ),
        EventType(
            "death.revoked",
            frozenset({"funeral"}),
            DeathRevokedSchema,
            "A death notification made in error was revoked; every step of 身后一件事 is reversed.",
        ),
        EventType(
            "death.date_corrected",
            frozenset({"funeral"}),
            DeathDateCorrectedSchema,
            "A clerk confirmed another date of death than the one notified (the notices disagreed); every "
            "step of 身后一件事 taken with the old date is taken again with the confirmed one.",
        ),
        EventType(
            "webhook.endpoint_disabled",
            frozenset({"webhooks"}),
            EndpointDisabledSchema,
            "A partner's webhook endpoint failed every delivery for 24 hours and was disabled; its deliveries "
            "wait until the partner resumes it (operations are told, the partner sees it on the endpoint).",
        ),
    )
}


def event_type(name: str) -> EventType:
    try:
        return EVENTS[name]
    except KeyError:
        raise InvalidEvent({"type": [f"unknown event type {name!r}"]}) from None


def validate_data(type_name: str, data: dict) -> dict:
    """Validate and normalise an event's data against its schema; raise InvalidEvent."""
    try:
        return event_type(type_name).validator.load(data)
    except ValidationError as exc:
        raise InvalidEvent({"data": exc.messages}) from exc


def validate_envelope(envelope: Envelope) -> None:
    """The checks both publisher and consumer make beyond the envelope's own shape."""
    spec = event_type(envelope.type)
    if envelope.source not in spec.publishers:
        raise InvalidEvent({"source": [f"{envelope.source!r} may not publish {envelope.type!r}"]})
    if envelope.schema_version != spec.version:
        raise InvalidEvent({"schema_version": [f"expected {spec.version}, got {envelope.schema_version}"]})
    validate_data(envelope.type, envelope.data)
