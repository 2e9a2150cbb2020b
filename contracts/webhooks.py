"""Signed webhooks, the partners' second channel: the partner API's requests and answers, and the
event that tells operations an endpoint was disabled.

A partner registers HTTPS endpoints for event types within its entitlements (contracts.partners);
each delivery carries Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
`webhook-signature`) and CloudEvents binary-mode attributes (`ce-*`), its body the event's data
projected to the partner's entitled fields (gateway.webhooks).
"""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict

__all__ = [
    "ENDPOINT_STATES",
    "EndpointRequestSchema",
    "EndpointChangeSchema",
    "EndpointSchema",
    "EndpointListSchema",
    "EndpointSecretSchema",
    "DeliveryLogSchema",
    "ReplayRequestSchema",
    "ReplayAcceptedSchema",
    "ApprovalSchema",
    "ApprovalListSchema",
    "ApprovalDecisionSchema",
    "EndpointDisabledSchema",
    "EVENT_TYPE_PATTERN",
]

ENDPOINT_STATES = ("active", "paused", "disabled")
EVENT_TYPE_PATTERN = r"^[a-z][a-z_]{1,40}\.[a-z][a-z_]{1,60}$"
_EVENT_TYPE = fields.String(validate=[validate.Length(min=3, max=120), fields.Pattern(EVENT_TYPE_PATTERN)])


def _event_types(**kwargs):
    return fields.List(
        fields.String(validate=[validate.Length(min=3, max=120), fields.Pattern(EVENT_TYPE_PATTERN)]),
        validate=validate.Length(min=1, max=50),
        **kwargs,
    )


class EndpointRequestSchema(Strict):
    url = fields.String(
        required=True,
        validate=validate.Length(min=8, max=500),
        metadata={"description": "https:// (http:// only to a loopback address, in development)"},
    )
    event_types = _event_types(required=True, metadata={"description": "within the partner's entitlements"})
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class EndpointChangeSchema(Strict):
    event_types = _event_types(required=True, metadata={"description": "the endpoint's types from now on"})


class EndpointSchema(Strict):
    endpoint_id = fields.String()
    partner = fields.String()
    url = fields.String()
    description = fields.String(allow_none=True)
    state = fields.String(validate=validate.OneOf(ENDPOINT_STATES))
    event_types = fields.List(fields.String(), metadata={"description": "approved: delivered"})
    pending_event_types = fields.List(fields.String(), metadata={"description": "awaiting an administrator"})
    created_at = fields.AwareDateTime()
    disabled_at = fields.AwareDateTime(allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    backlog = fields.Integer(metadata={"description": "deliveries not yet made"})


class EndpointSecretSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "whsec_… (Standard Webhooks); shown once, at creation or rotation"})


class EndpointListSchema(Strict):
    endpoints = fields.List(fields.Nested(EndpointSchema))


class AttemptSchema(Strict):
    webhook_id = fields.String()
    event_type = fields.String()
    attempt = fields.Integer()
    at = fields.AwareDateTime()
    status = fields.Integer(allow_none=True, metadata={"description": "the endpoint's HTTP status; none: no answer"})
    latency_ms = fields.Integer()
    outcome = fields.String(validate=validate.OneOf(("delivered", "failed_attempt", "abandoned")))
    error = fields.String(allow_none=True)


class DeliveryLogSchema(Strict):
    endpoint_id = fields.String()
    attempts = fields.List(fields.Nested(AttemptSchema))


class LogQuerySchema(Strict):
    # a query string is text: the digits, read as a number by the route
    limit = fields.String(load_default="100", validate=[validate.Length(max=4), fields.Pattern(r"^[1-9][0-9]{0,3}$")])


class ReplayRequestSchema(Strict):
    since = fields.AwareDateTime(required=True, metadata={"description": "events committed at or after"})
    until = fields.AwareDateTime(required=True, metadata={"description": "and before"})


class ReplayAcceptedSchema(Strict):
    endpoint_id = fields.String()
    replayed = fields.Integer(metadata={"description": "deliveries queued again (same webhook-id)"})


class ApprovalSchema(Strict):
    approval_id = fields.String()
    partner = fields.String()
    endpoint_id = fields.String()
    event_types = fields.List(fields.String())
    state = fields.String(validate=validate.OneOf(("pending", "approved", "refused")))
    requested_at = fields.AwareDateTime()
    decided_by = fields.String(allow_none=True)


class ApprovalListSchema(Strict):
    approvals = fields.List(fields.Nested(ApprovalSchema))


class ApprovalDecisionSchema(Strict):
    approve = fields.Boolean(required=True)


class EndpointDisabledSchema(Strict):
    endpoint_id = fields.String(required=True, validate=validate.Length(max=36))
    partner = fields.String(required=True, validate=validate.Length(max=40))
    url = fields.String(required=True, validate=validate.Length(max=500))
    failing_since = fields.AwareDateTime(required=True)
    last_error = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
