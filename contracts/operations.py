"""Operations (运维) over HTTP, for the bureau's administrators: the dead letters of the services'
consumer queues with the reasons their headers carry, and their replay (gateway/operations_routes.py)."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict


class DeadLetterSchema(Strict):
    event_id = fields.String(allow_none=True)
    type = fields.String(allow_none=True, metadata={"description": "the event type"})
    reason = fields.String(allow_none=True, metadata={"description": "why it was parked (the chassis's header)"})
    error = fields.String(allow_none=True, metadata={"description": "the consumer's last error"})
    attempts = fields.Integer(allow_none=True)


class DeadLetterQueueSchema(Strict):
    queue = fields.String(metadata={"description": "the consumer queue; its dead letters wait in <queue>.dead"})
    depth = fields.Integer(metadata={"description": "how many are parked"})
    messages = fields.List(fields.Nested(DeadLetterSchema), metadata={"description": "the first of them"})


class DeadLetterListSchema(Strict):
    queues = fields.List(fields.Nested(DeadLetterQueueSchema))


class ReplayRequestSchema(Strict):
    limit = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=100_000),
        metadata={"description": "at most this many (absent: all)"},
    )


class ReplayedSchema(Strict):
    queue = fields.String()
    replayed = fields.Integer()
