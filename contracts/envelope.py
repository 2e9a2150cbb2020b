"""The one envelope every event travels in (BRIEF §2 "Events").

An event is a fact in the past tense. The envelope carries what every consumer needs to route,
deduplicate and trace it; `data` carries the fact itself and is validated against the schema the
catalogue (`contracts.events`) registers for the event type.
"""
from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from marshmallow import RAISE, Schema, ValidationError, fields, validate

__all__ = ["Envelope", "EnvelopeSchema", "InvalidEvent", "new_event_id"]


def new_event_id() -> str:
    return str(uuid.uuid4())


class InvalidEvent(ValueError):
    """An event that does not match its contract; `errors` says which field and why."""

    def __init__(self, errors: dict):
        super().__init__(errors)
        self.errors = errors


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    time: datetime
    subject: str
    data: dict
    matter_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
    schema_version: int = 1
    extra: dict = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        body = asdict(self)
        body.pop("extra")
        body["time"] = self.time.astimezone(timezone.utc).isoformat()
        return body


class EnvelopeSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Length(min=3, max=120))
    source = fields.String(required=True, validate=validate.Length(min=1, max=60))
    time = fields.AwareDateTime(required=True)
    # The subject is the thing the fact is about (a registration id, a case id); never a raw ID
    # number, so envelopes can be logged.
    subject = fields.String(required=True, validate=validate.Length(min=1, max=120))
    matter_id = fields.String(load_default=None, allow_none=True)
    correlation_id = fields.String(load_default=None, allow_none=True)
    causation_id = fields.String(load_default=None, allow_none=True)
    schema_version = fields.Integer(required=True, validate=validate.Range(min=1))
    data = fields.Dict(required=True)

    def load_envelope(self, body) -> Envelope:
        if not isinstance(body, dict):
            raise InvalidEvent({"_schema": ["the event body must be a JSON object"]})
        try:
            loaded = self.load(body)
        except ValidationError as exc:
            raise InvalidEvent(exc.messages) from exc
        loaded["id"] = str(loaded["id"])
        return Envelope(**loaded)
