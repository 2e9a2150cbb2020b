"""The HTTP contract of matter progress and of partner reports (gateway API)."""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from contracts import fields
from contracts.events import BirthFactsSchema
from contracts.marriage import Strict
from contracts.matters import REPORTABLE_STEP_STATES, STEP_STATES


class StepHistoryEntrySchema(Strict):
    state = fields.String(validate=validate.OneOf(sorted(REPORTABLE_STEP_STATES)))
    reason = fields.String(allow_none=True)
    reported_at = fields.AwareDateTime(metadata={"description": "the time of the report's event"})
    applied = fields.Boolean(
        metadata={
            "description": "false: set aside, as a word that may not follow the one "
            "before it (e.g. an outcome reported after a reversal)"
        }
    )


class StepViewSchema(Strict):
    step = fields.String()
    title = fields.String()
    owner = fields.String()
    state = fields.String(
        validate=validate.OneOf(STEP_STATES),
        metadata={
            "description": "the owner's latest report (by the time of its event), or "
            "not_started / pending before the first"
        },
    )
    started_at = fields.AwareDateTime(allow_none=True)
    deadline = fields.AwareDateTime(allow_none=True)
    reported_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "the time of the report `state` and `reason` come from"}
    )
    reason = fields.String(allow_none=True)
    overdue = fields.Boolean()
    history = fields.List(
        fields.Nested(StepHistoryEntrySchema),
        metadata={
            "description": "the owner's other reports of this step, oldest first: those the current one replaced "
            "(e.g. the outcome with a date of death since corrected) and any set aside"
        },
    )


class MatterViewSchema(Strict):
    matter_id = fields.String()
    matter_type = fields.String()
    title = fields.String()
    state = fields.String(
        validate=validate.OneOf(["in_progress", "waiting", "needs_attention", "completed", "revoking", "revoked"])
    )
    opened_at = fields.AwareDateTime()
    completed_at = fields.AwareDateTime(allow_none=True)
    revoked_at = fields.AwareDateTime(
        allow_none=True, metadata={"description": "the matter was revoked (made in error); its steps are reversed"}
    )
    steps = fields.List(fields.Nested(StepViewSchema))


class MatterListSchema(Strict):
    matters = fields.List(fields.Nested(MatterViewSchema))


class StepReportRequestSchema(Strict):
    state = fields.String(
        required=True,
        validate=validate.OneOf(sorted(REPORTABLE_STEP_STATES)),
        metadata={"description": "reversed: undone after the matter was revoked"},
    )
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def _reason_for_rejection(self, data, **_):
        if data["state"] == "rejected" and not data.get("reason"):
            raise ValidationError(fields.RuleMessage("say why the step was rejected"), field_name="reason")


class StepReportAcceptedSchema(Strict):
    matter_id = fields.String()
    step = fields.String()
    state = fields.String()
    event_id = fields.String()


class BirthNotificationRequestSchema(BirthFactsSchema):
    matter_id = fields.String(
        load_default=None, allow_none=True, metadata={"description": "the parents' 结婚生育户口一件事, if known"}
    )


class BirthAcceptedSchema(Strict):
    birth_id = fields.String()
    matter_id = fields.String(allow_none=True)
    event_id = fields.String()


class JointHandlingSchema(Strict):
    matter_type = fields.String()
    region_code = fields.String(allow_none=True, metadata={"description": "the caller's area; none for the whole city"})
    matters = fields.Integer()
    decided = fields.Integer(metadata={"description": "matters whose every step has an outcome"})
    all_granted = fields.Integer(metadata={"description": "decided matters with no step rejected"})
    in_progress = fields.Integer()
    rate = fields.Float(allow_none=True, metadata={"description": "all_granted / decided"})
