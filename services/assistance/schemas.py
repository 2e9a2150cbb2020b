"""Loading requests and dumping answers: the shapes come from `contracts.assistance`."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

from chassis.errors import InvalidInput
from contracts.assistance import (ApplicationRequestSchema, ApplicationViewSchema,  # noqa: F401
                                  DecisionRequestSchema, ObjectionRequestSchema)


# A list shows the application without its journal, check report and explanation.
SUMMARY_FIELDS = tuple(name for name in ApplicationViewSchema().fields
                       if name not in ("journal", "economic_check", "explanation"))


def load(schema: type[Schema], payload) -> dict:
    """Validate a request; every field error comes back to the client at once."""
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", errors=exc.messages) from None


def dump(schema: type[Schema], obj, only=None) -> dict:
    return schema(only=only).dump(obj)
