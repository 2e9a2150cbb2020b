"""The AsyncAPI documents: valid against the official AsyncAPI 3.0.0 JSON schema (npm
@asyncapi/specs, installed by `make install`), each partner's listing exactly the messages and
fields contracts.partners entitles it to, every example valid against its contract."""

import json
from pathlib import Path

import jsonschema
import pytest

from contracts.events import EVENTS, validate_data
from contracts.partners import PARTNERS
from contracts.subscriptions import partner_queue
from gateway.asyncapi import PARTNER_VHOST, asyncapi_document, example_of, partner_asyncapi_document

SPEC = Path(__file__).resolve().parents[1] / "deployment/node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json"


@pytest.fixture(scope="module")
def validator():
    return jsonschema.Draft7Validator(json.loads(SPEC.read_text(encoding="utf-8")))


def errors(validator, document) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(document)]


def test_the_catalogue_document_is_valid_and_lists_every_event(validator):
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    assert errors(validator, document) == []
    assert set(document["components"]["messages"]) == set(EVENTS)
    assert set(document["channels"]["events"]["messages"]) == set(EVENTS)


@pytest.mark.parametrize("code", sorted(PARTNERS))
def test_each_partner_document_is_valid(validator, code):
    assert errors(validator, partner_asyncapi_document(code)) == []


def test_the_validator_refuses_a_broken_document(validator):
    """The check can fail: a wrong binding, an unknown action, a schema that is not one."""
    for breaking in (
        lambda d: d["channels"]["queue"]["bindings"]["amqp"].update({"is": "topic"}),
        lambda d: d["operations"]["receiveWebhook"].update({"action": "consume"}),
        lambda d: d["components"]["messages"]["death.notified.amqp"].update({"payload": {"type": 5}}),
        lambda d: d.pop("info"),
    ):
        document = partner_asyncapi_document("police")
        breaking(document)
        assert errors(validator, document)


def leaf_paths(schema: dict, prefix: str = "") -> set[str]:
    """The dotted paths of an object schema's fields, a nested object's as its own leaves."""
    out: set[str] = set()
    for name, prop in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        out |= leaf_paths(prop, f"{path}.") if prop.get("properties") else {path}
    return out


def entitled_leaves(event_type: str, paths) -> set[str]:
    """The leaves the entitlement's paths cover in the full event schema (a whole nested object: its leaves)."""
    full = leaf_paths(asyncapi_document()["components"]["messages"][event_type]["payload"]["properties"]["data"])
    return {leaf for leaf in full if any(leaf == p or leaf.startswith(p + ".") for p in paths)}


@pytest.mark.parametrize("code", sorted(PARTNERS))
def test_a_partner_document_lists_exactly_its_entitled_messages_and_fields(code):
    document = partner_asyncapi_document(code)
    entitlements = PARTNERS[code].entitlements
    messages = document["components"]["messages"]
    assert set(messages) == {f"{t}.{channel}" for t in entitlements for channel in ("amqp", "webhook")}
    assert {m["name"] for m in messages.values()} == set(entitlements)
    queue = document["channels"]["queue"]
    address = partner_queue(code) + (".{organisation}" if PARTNERS[code].organisations else "")
    assert queue["address"] == address
    assert ("parameters" in queue) == PARTNERS[code].organisations
    assert queue["bindings"]["amqp"]["queue"] == {
        "name": address,
        "durable": True,
        "exclusive": False,
        "autoDelete": False,
        "vhost": PARTNER_VHOST,
    }
    assert document["operations"]["receiveWebhook"]["bindings"]["http"]["method"] == "POST"
    for event_type, paths in entitlements.items():
        webhook = messages[f"{event_type}.webhook"]
        amqp = messages[f"{event_type}.amqp"]
        assert leaf_paths(webhook["payload"]) == entitled_leaves(event_type, paths), event_type
        assert leaf_paths(amqp["payload"]["properties"]["data"]) == entitled_leaves(event_type, paths)
        assert {"webhook-id", "webhook-timestamp", "webhook-signature", "ce-id", "ce-type"} <= set(
            webhook["headers"]["required"]
        )
        # the example shows only entitled fields, and they fit the partner's schema
        example = webhook["examples"][0]["payload"]
        assert leaf_paths_of_value(example) <= entitled_leaves(event_type, paths)
        jsonschema.validate(example, webhook["payload"])
        assert amqp["examples"][0]["payload"]["data"] == example


def leaf_paths_of_value(value: dict, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, inner in value.items():
        out |= leaf_paths_of_value(inner, f"{prefix}{key}.") if isinstance(inner, dict) else {f"{prefix}{key}"}
    return out


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_every_example_is_valid_against_its_contract(name):
    validate_data(name, example_of(EVENTS[name].schema))
    message = asyncapi_document()["components"]["messages"][name]
    jsonschema.validate(message["examples"][0]["payload"], message["payload"])


def test_no_partner_document_names_a_field_outside_its_entitlements():
    """Minimal disclosure in the text as well: a non-entitled field name does not appear."""
    police = json.dumps(partner_asyncapi_document("police"), ensure_ascii=False)
    assert '"hospital":' in json.dumps(asyncapi_document(), ensure_ascii=False)
    assert '"hospital":' not in police  # birth.notified carries the hospital; police are not told it
    # death.revoked carries the clerk's reason, which may name other people; no partner is told it
    revoked = partner_asyncapi_document("human_resources")["components"]["messages"]["death.revoked.webhook"]
    assert (
        "reason"
        in asyncapi_document()["components"]["messages"]["death.revoked"]["payload"]["properties"]["data"]["properties"]
    )
    assert "reason" not in revoked["payload"]["properties"]
