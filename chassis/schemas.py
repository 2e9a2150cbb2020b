"""Loading requests and dumping answers with a contract's marshmallow schema, the same way in every
service: every field error comes back to the client at once, as a 400 that names the fields.

A division code a request names (`region_code`, `village_code`, at any depth) must be a real
place: its district is in GB/T 2260 (chassis.regions), or it is the national code. An unknown one
is a 422 naming the field, before anything is looked up or stored."""

from __future__ import annotations

import functools

from marshmallow import Schema, ValidationError

from chassis.errors import InvalidInput, MalformedRequest
from chassis.regions import NATIONAL, is_known_division, is_region_code
from contracts.fields import RuleMessage

__all__ = ["load", "dump", "refusal", "DIVISION_FIELDS"]

DIVISION_FIELDS = ("region_code", "village_code")


def load(schema: type[Schema], payload) -> dict:
    try:
        data = schema().load(payload or {})
    except ValidationError as exc:
        raise refusal(exc, "the request has invalid fields") from None
    unknown = dict(_unknown_divisions(data, ""))
    if unknown:
        raise InvalidInput("no such division", errors=unknown)
    return data


def _unknown_divisions(data, prefix: str):
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            if key in DIVISION_FIELDS and is_region_code(value) and value != NATIONAL:
                if not is_known_division(value):
                    yield path, [f"{value[:6]} is not a division in GB/T 2260"]
            else:
                yield from _unknown_divisions(value, path + ".")
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _unknown_divisions(value, f"{prefix[:-1]}[{index}]." if prefix else f"[{index}].")


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


@functools.cache
def _dumper(schema: type[Schema], only: tuple | None) -> Schema:
    return schema(only=only)


def dump(schema: type[Schema], obj, only=None) -> dict:
    """`schema(only=only).dump(obj)`, with one schema instance per (schema, only): building a
    marshmallow schema (its fields, nested schemas) costs more than dumping a small object with it,
    and dumping leaves the instance as it was."""
    return _dumper(schema, None if only is None else tuple(only)).dump(obj)
