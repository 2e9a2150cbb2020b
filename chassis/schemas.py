"""Loading requests and dumping answers with a contract's marshmallow schema, the same way in every
service: every field error comes back to the client at once, as a 400 that names the fields."""

from __future__ import annotations

from marshmallow import Schema, ValidationError

from chassis.errors import MalformedRequest

__all__ = ["load", "dump"]


def load(schema: type[Schema], payload) -> dict:
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise MalformedRequest("the request has invalid fields", errors=exc.messages) from None


def dump(schema: type[Schema], obj, only=None) -> dict:
    return schema(only=only).dump(obj)
