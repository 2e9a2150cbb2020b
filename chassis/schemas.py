"""Loading requests and dumping answers with a contract's marshmallow schema, the same way in every
service: every field error comes back to the client at once, as a 400 that names the fields."""

from __future__ import annotations

from marshmallow import Schema, ValidationError

from chassis.errors import InvalidInput, MalformedRequest
from contracts.fields import RuleMessage

__all__ = ["load", "dump", "refusal"]


def load(schema: type[Schema], payload) -> dict:
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise refusal(exc, "the request has invalid fields") from None


def refusal(exc: ValidationError, detail: str) -> InvalidInput:
    """400 when anything breaks the published document; 422 when every field's reason is a rule
    the document cannot state (the value has the documented shape)."""

    def leaves(messages):
        if isinstance(messages, dict):
            for value in messages.values():
                yield from leaves(value)
        elif isinstance(messages, list):
            for value in messages:
                yield from leaves(value)
        else:
            yield messages

    if all(isinstance(m, RuleMessage) for m in leaves(exc.messages)):
        return InvalidInput(detail, errors=exc.normalized_messages())
    return MalformedRequest(detail, errors=exc.normalized_messages())


def dump(schema: type[Schema], obj, only=None) -> dict:
    return schema(only=only).dump(obj)
