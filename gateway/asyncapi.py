"""AsyncAPI 3.0 documents, generated from `contracts` (the source of docs/events.md).

- `asyncapi_document()`: the whole catalogue: every event type on the events exchange
  `tongban.events` (routing key = type), its envelope and data schema and an example.
- `partner_asyncapi_document(code)`: what one partner department receives, and nothing else: its
  entitled event types with only the entitled fields (contracts.partners), on its AMQP queue
  `partner.<code>` on the partner vhost and by signed webhook (HTTP POST to the endpoint it
  registers: Standard Webhooks `webhook-*` headers, CloudEvents binary mode `ce-*` headers, the
  projected data as body).

Served by the gateway at /api/v1/asyncapi.json and /api/v1/partners/<code>/asyncapi.json;
tests/unit/test_asyncapi.py validates them against the official AsyncAPI 3.0.0 JSON schema
(npm @asyncapi/specs) and compares each partner's with its entitlements.
"""

from __future__ import annotations

import sys
from copy import deepcopy
from datetime import UTC, date, datetime
from functools import cache, lru_cache

from marshmallow import fields as mf
from marshmallow import validate

from contracts.events import EVENTS
from contracts.partners import PARTNERS, project_for_partner
from contracts.person import ResidentIdField, compose_resident_id
from contracts.subscriptions import PARTNER_EXCHANGE, PARTNER_VHOST, partner_queue

__all__ = [
    "asyncapi_document",
    "partner_asyncapi_document",
    "schema_of",
    "example_of",
    "prune",
    "PARTNER_VHOST",
    "SERVICES_VHOST",
]

VERSION = "1.0.0"
SERVICES_VHOST = "/"
# the partner-facing vhost each department's own broker user reads its queue on (issue 11, item 1):
BROKER_HOST = "broker.tongban.example:5671"

# what a string field's example tries, in order: the first its validators take
_STRING_CANDIDATES = (
    "330602",
    "3f6c1c8e-4b8a-4d7e-9a51-2c1f0f6f9b10",
    "J330602-2026-000123",
    "330602001001",
    "example",
    "A",
)


# --- JSON Schema from marshmallow ------------------------------------------------------------


def _string_schema(field) -> dict:
    out: dict = {"type": "string"}
    for v in field.validators:
        if isinstance(v, validate.Length):
            if v.equal is not None:
                out["minLength"] = out["maxLength"] = v.equal
            if v.min is not None:
                out["minLength"] = v.min
            if v.max is not None:
                out["maxLength"] = v.max
        elif isinstance(v, validate.Regexp):
            out["pattern"] = v.regex.pattern
        elif isinstance(v, validate.OneOf):
            out["enum"] = list(v.choices)
    if "pattern" not in out and isinstance(field.metadata.get("pattern"), str):
        out["pattern"] = field.metadata["pattern"]
    return out


def _field_schema(field) -> dict:
    if isinstance(field, mf.Nested):
        inner = _object_schema(field.schema)  # the instance: it honours `only`
        out = {"type": "array", "items": inner} if field.many else inner
    elif isinstance(field, mf.List):
        out = {"type": "array", "items": _field_schema(field.inner)}
        for v in field.validators:
            if isinstance(v, validate.Length):
                if v.min is not None:
                    out["minItems"] = v.min
                if v.max is not None:
                    out["maxItems"] = v.max
    elif isinstance(field, mf.Date):  # before DateTime: marshmallow's Date is one
        out = {"type": "string", "format": "date"}
    elif isinstance(field, mf.AwareDateTime | mf.DateTime):
        out = {"type": "string", "format": "date-time"}
    elif isinstance(field, ResidentIdField):
        out = {**_string_schema(field), "format": "resident-id"}
    elif isinstance(field, mf.String):
        out = _string_schema(field)
    elif isinstance(field, mf.Boolean):
        out = {"type": "boolean"}
    elif isinstance(field, mf.Integer):
        out = {"type": "integer"}
        for v in field.validators:
            if isinstance(v, validate.Range):
                if v.min is not None:
                    out["minimum"] = v.min
                if v.max is not None:
                    out["maximum"] = v.max
    elif isinstance(field, mf.Number):
        out = {"type": "number"}
    elif isinstance(field, mf.Dict):
        out = {"type": "object"}
    else:  # Raw: any JSON value
        out = {}
    description = field.metadata.get("description")
    if description:
        out["description"] = description
    if field.allow_none and "type" in out:
        out["type"] = [out["type"], "null"]
    return out


def _object_schema(instance) -> dict:
    properties = {name: _field_schema(f) for name, f in instance.fields.items()}
    required = [name for name, f in instance.fields.items() if f.required]
    out: dict = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


@cache
def _schema_cached(schema_cls) -> dict:
    return _object_schema(schema_cls())


def schema_of(schema_cls) -> dict:
    """The JSON Schema (draft 7, as AsyncAPI schemas are) of a marshmallow schema class."""
    return deepcopy(_schema_cached(schema_cls))


def prune(schema: dict, paths) -> dict:
    """Only the listed dotted paths of an object schema (minimal disclosure, as project_for_partner)."""
    tree: dict = {}
    for path in paths:
        node = tree
        for key in path.split("."):
            node = node.setdefault(key, {})

    def cut(node_schema: dict, node: dict) -> dict:
        kept = {}
        for key, sub in node.items():
            prop = node_schema.get("properties", {}).get(key)
            if prop is None:
                continue
            kept[key] = cut(prop, sub) if sub and prop.get("properties") else prop
        out = {k: v for k, v in node_schema.items() if k not in ("properties", "required")}
        out["properties"] = kept
        required = [k for k in node_schema.get("required", []) if k in kept]
        if required:
            out["required"] = required
        return out

    return cut(schema, tree)


# --- examples ---------------------------------------------------------------------------------


def _valid(field, value) -> bool:
    try:
        field.deserialize(value)
        return True
    except Exception:
        return False


def _field_example(name: str, field):
    if isinstance(field, mf.Nested):
        one = _object_example(field.schema)
        return [one] if field.many else one
    if isinstance(field, mf.List):
        return [_field_example(name, field.inner)]
    if isinstance(field, ResidentIdField):
        return compose_resident_id("330602", date(1958, 3, 14), 23)
    if isinstance(field, mf.Date):  # before DateTime: marshmallow's Date is one
        return "2026-09-01"
    if isinstance(field, mf.AwareDateTime | mf.DateTime):
        return datetime(2026, 9, 1, 2, 0, tzinfo=UTC).isoformat()
    if isinstance(field, mf.Boolean):
        return True
    if isinstance(field, mf.Integer):
        low = next((v.min for v in field.validators if isinstance(v, validate.Range) and v.min is not None), None)
        return max(1, low) if low is not None and low > 0 else 12000
    if isinstance(field, mf.Number):
        return 1.0
    if isinstance(field, mf.String):
        choices = next((v.choices for v in field.validators if isinstance(v, validate.OneOf)), None)
        if choices:
            return list(choices)[0]
        for candidate in _STRING_CANDIDATES:
            if _valid(field, candidate):
                return candidate
        raise ValueError(f"no example for string field {name!r}")
    return "example"


def _object_example(instance) -> dict:
    return {
        name: _field_example(name, f)
        for name, f in instance.fields.items()
        if f.required or not (f.allow_none and f.load_default is None)
    }


@cache
def _example_cached(schema_cls) -> dict:
    return _object_example(schema_cls())


def example_of(schema_cls) -> dict:
    """Data that the schema loads (tests/unit/test_asyncapi.py checks each event's)."""
    return deepcopy(_example_cached(schema_cls))


# --- the documents ----------------------------------------------------------------------------

_ENVELOPE_FIELDS = {
    "id": {"type": "string", "format": "uuid"},
    "type": {"type": "string"},
    "source": {"type": "string"},
    "time": {"type": "string", "format": "date-time"},
    "subject": {"type": "string"},
    "matter_id": {"type": ["string", "null"]},
    "correlation_id": {"type": ["string", "null"]},
    "causation_id": {"type": ["string", "null"]},
    "schema_version": {"type": "integer"},
}

_WEBHOOK_HEADERS = {
    "type": "object",
    "required": [
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "ce-specversion",
        "ce-id",
        "ce-source",
        "ce-type",
        "ce-time",
        "ce-subject",
        "content-type",
    ],
    "properties": {
        "webhook-id": {
            "type": "string",
            "description": "Standard Webhooks: the delivery's id, the same on every retry and replay; deduplicate by it",
        },
        "webhook-timestamp": {"type": "string", "description": "Standard Webhooks: seconds since the epoch, signed"},
        "webhook-signature": {
            "type": "string",
            "description": "Standard Webhooks: space-separated `v1,<base64 HMAC-SHA256 of id.timestamp.body>`, "
            "one per secret in force (two for 24 hours after a rotation)",
        },
        "ce-specversion": {"type": "string", "const": "1.0"},
        "ce-id": {"type": "string", "description": "CloudEvents id: the event's id"},
        "ce-source": {"type": "string", "description": "CloudEvents source: /tongban/<producing service>"},
        "ce-type": {"type": "string", "description": "CloudEvents type: the event type"},
        "ce-time": {"type": "string", "description": "CloudEvents time: when the event was committed"},
        "ce-subject": {"type": "string", "description": "CloudEvents subject: whom the event is about"},
        "ce-matterid": {"type": "string", "description": "extension: the 一件事 to report your step on"},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _info(title: str, description: str) -> dict:
    return {"title": title, "version": VERSION, "description": description}


def _message(name: str, payload: dict, example: dict, *, summary: str, headers: dict | None = None, bindings=None):
    out = {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
        "examples": [{"name": f"{name}-example", "payload": example}],
    }
    if headers is not None:
        out["headers"] = headers
    if bindings is not None:
        out["bindings"] = bindings
    return out


def _envelope_schema(event_type: str, data_schema: dict) -> dict:
    return {
        "type": "object",
        "required": ["id", "type", "source", "time", "subject", "data", "schema_version"],
        "properties": {**_ENVELOPE_FIELDS, "type": {"type": "string", "const": event_type}, "data": data_schema},
    }


def _envelope_example(event_type: str, data: dict) -> dict:
    spec = EVENTS[event_type]
    return {
        "id": "0b6f7f4e-3c1d-4a8e-8f57-9a0d2b6c1e11",
        "type": event_type,
        "source": sorted(spec.publishers)[0],
        "time": "2026-09-01T02:00:00+00:00",
        "subject": "example-subject",
        "matter_id": None,
        "correlation_id": "0b6f7f4e-3c1d-4a8e-8f57-9a0d2b6c1e11",
        "causation_id": None,
        "schema_version": spec.version,
        "data": data,
    }


_AMQP_MESSAGE = {"amqp": {"contentEncoding": "utf-8", "bindingVersion": "0.3.0"}}


@lru_cache(maxsize=1)
def _catalogue() -> dict:
    messages = {}
    for spec in EVENTS.values():
        data = schema_of(spec.schema)
        messages[spec.name] = _message(
            spec.name,
            _envelope_schema(spec.name, data),
            _envelope_example(spec.name, example_of(spec.schema)),
            summary=spec.description,
            bindings=_AMQP_MESSAGE,
        )
    channel_messages = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    return {
        "asyncapi": "3.0.0",
        "info": _info(
            "tongban events catalogue",
            "Every event the services publish, generated from contracts (docs/events.md comes from the "
            "same source). Each travels in one envelope on the topic exchange `tongban.events`, routing key = "
            "its type. Partner departments receive filtered copies: see /api/v1/partners/<code>/asyncapi.json.",
        ),
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": BROKER_HOST,
                "protocol": "amqps",
                "pathname": SERVICES_VHOST,
                "description": "the services' broker (vhost `/`); AMQP 0-9-1 over TLS in production",
            }
        },
        "channels": {
            "events": {
                "address": "tongban.events",
                "description": "the events exchange (topic); bind with the event type as routing key",
                "messages": channel_messages,
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {
                            "name": "tongban.events",
                            "type": "topic",
                            "durable": True,
                            "autoDelete": False,
                            "vhost": SERVICES_VHOST,
                        },
                        "bindingVersion": "0.3.0",
                    }
                },
            }
        },
        "operations": {
            f"receive.{name}": {
                "action": "receive",
                "channel": {"$ref": "#/channels/events"},
                "summary": f"consume `{name}`",
                "messages": [{"$ref": f"#/channels/events/messages/{name}"}],
                "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
            }
            for name in messages
        },
        "components": {"messages": messages},
    }


def asyncapi_document() -> dict:
    return deepcopy(_catalogue())


@cache
def _partner(code: str) -> dict:
    partner = PARTNERS[code]
    messages: dict = {}
    amqp_refs, webhook_refs = {}, {}
    for event_type, paths in partner.entitlements.items():
        spec = EVENTS[event_type]
        data_schema = prune(schema_of(spec.schema), paths)
        data_example = project_for_partner(example_of(spec.schema), paths)
        amqp_id, webhook_id = f"{event_type}.amqp", f"{event_type}.webhook"
        messages[amqp_id] = _message(
            event_type,
            _envelope_schema(event_type, data_schema),
            _envelope_example(event_type, data_example),
            summary=f"{spec.description} (on your queue: the envelope, its data only your entitled fields)",
            bindings=_AMQP_MESSAGE,
        )
        messages[webhook_id] = _message(
            event_type,
            data_schema,
            data_example,
            summary=f"{spec.description} (by webhook: the entitled data as body, the envelope in ce-* headers)",
            headers=_WEBHOOK_HEADERS,
            bindings={"http": {"bindingVersion": "0.3.0"}},
        )
        amqp_refs[amqp_id] = {"$ref": f"#/components/messages/{amqp_id}"}
        webhook_refs[webhook_id] = {"$ref": f"#/components/messages/{webhook_id}"}
    # a code whose organisations act apart: each organisation its own queue `partner.<code>.<organisation>`
    queue = partner_queue(code) + (".{organisation}" if partner.organisations else "")
    parameters = (
        {"organisation": {"description": "your organisation under this code (your token's `org`)"}}
        if partner.organisations
        else None
    )
    document = {
        "asyncapi": "3.0.0",
        "info": _info(
            f"tongban events for {partner.title} ({code})",
            f"What `{code}` receives: only these event types and of each only these fields (minimal disclosure, "
            "contracts.partners). Two channels carry the same events: the AMQP queue "
            f"`{queue}` on vhost `{PARTNER_VHOST}` (your own broker user; consume with a prefetch, ack after "
            "handling, deduplicate by the envelope `id`), or a signed webhook to the HTTPS endpoint you register "
            "(POST /api/v1/partner/webhooks/endpoints; verify with Standard Webhooks, deduplicate by `webhook-id`). "
            "For one subject events arrive in order. Report your matter steps back through the partner API.",
        ),
        "defaultContentType": "application/json",
        "servers": {
            "broker": {
                "host": BROKER_HOST,
                "protocol": "amqps",
                "pathname": PARTNER_VHOST,
                "description": "the partner-facing vhost; your user may consume your queue and nothing else",
                "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
            },
            "yourEndpoint": {
                "host": "your-endpoint.example.gov.cn",
                "protocol": "https",
                "description": "the endpoint you register; the bureau POSTs each delivery to it",
            },
        },
        "channels": {
            "queue": {
                "address": queue,
                **({"parameters": parameters} if parameters else {}),
                "description": f"your durable queue, fed from the exchange `{PARTNER_EXCHANGE}`",
                "servers": [{"$ref": "#/servers/broker"}],
                "messages": amqp_refs,
                "bindings": {
                    "amqp": {
                        "is": "queue",
                        "queue": {
                            "name": queue,
                            "durable": True,
                            "exclusive": False,
                            "autoDelete": False,
                            "vhost": PARTNER_VHOST,
                        },
                        "bindingVersion": "0.3.0",
                    }
                },
            },
            "webhook": {
                "address": None,
                "description": "the URL you register (its path is yours)",
                "servers": [{"$ref": "#/servers/yourEndpoint"}],
                "messages": webhook_refs,
            },
        },
        "operations": {
            "receiveFromQueue": {
                "action": "receive",
                "channel": {"$ref": "#/channels/queue"},
                "summary": f"consume `{queue}` (ack after handling)",
                "messages": [{"$ref": f"#/channels/queue/messages/{m}"} for m in amqp_refs],
                "bindings": {"amqp": {"ack": True, "bindingVersion": "0.3.0"}},
            },
            "receiveWebhook": {
                "action": "receive",
                "channel": {"$ref": "#/channels/webhook"},
                "summary": "answer 2xx once handled; anything else (or no answer in 10 s) is retried with backoff "
                "for 24 hours, then the endpoint is disabled",
                "messages": [{"$ref": f"#/channels/webhook/messages/{m}"} for m in webhook_refs],
                "bindings": {"http": {"method": "POST", "bindingVersion": "0.3.0"}},
            },
        },
        "components": {
            "messages": messages,
            "securitySchemes": {
                "brokerUser": {"type": "userPassword", "description": "your department's own broker user"}
            },
        },
    }
    return document


def partner_asyncapi_document(code: str) -> dict:
    return deepcopy(_partner(code))


if __name__ == "__main__":
    import json

    print(json.dumps(partner_asyncapi_document(sys.argv[1]) if sys.argv[1:] else asyncapi_document(), indent=2))
