"""The OpenAPI document is valid and complete: every operation answers with a schema and documents
each problem it can give; every input is bounded (issue 12)."""

import pytest
from openapi_spec_validator import validate

import gateway.service  # noqa: F401  (the routes register themselves on import)
from gateway.api import ROUTES
from gateway.openapi import openapi_document

DOCUMENT = openapi_document()
OPERATIONS = [(path, method, op) for path, ops in DOCUMENT["paths"].items() for method, op in ops.items()]


def _schema(ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return DOCUMENT["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else ref_or_schema


def test_the_document_is_valid_openapi():
    validate(DOCUMENT)  # raises on the first error
    assert len(OPERATIONS) == len(ROUTES)


@pytest.mark.parametrize("path, method, op", OPERATIONS, ids=[f"{m} {p}" for p, m, _ in OPERATIONS])
def test_every_operation_documents_its_answers(path, method, op):
    responses = op["responses"]
    success = [status for status in responses if status.startswith("2")]
    assert len(success) == 1 and "schema" in responses[success[0]]["content"]["application/json"]
    problems = {status: r for status, r in responses.items() if not status.startswith("2")}
    assert "503" in problems
    for status, response in problems.items():
        assert response["description"]
        content = response["content"]["application/problem+json"]
        assert content["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert content["example"]["status"] == int(status)
    params = [p for p in op.get("parameters", []) if p["in"] == "path"]
    if params:
        assert {"400", "404"} <= set(problems)
    if "security" in op:
        assert {"401", "403"} <= set(problems)
    if "requestBody" in op:
        assert {"400", "413", "422"} <= set(problems)
    for param in params:  # no path parameter reaches a service unchecked
        schema = param["schema"]
        assert schema.get("pattern") or schema["type"] == "integer" or schema.get("format") == "resident-id", param


def _request_schemas():
    seen, todo = {}, []
    for _, _, op in OPERATIONS:
        body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if body:
            todo.append(body)
        todo += [p["schema"] for p in op.get("parameters", []) if p["in"] == "query"]
    while todo:
        schema = todo.pop()
        name = schema.get("$ref", id(schema))
        if name in seen:
            continue
        seen[name] = schema = _schema(schema)
        for prop in schema.get("properties", {}).values():
            todo.append(prop.get("items", prop) if prop.get("type") == "array" else prop)
    return [s for s in seen.values() if "properties" not in s or s.get("type") == "object"]


def _leaves():
    for schema in _request_schemas():
        for name, prop in schema.get("properties", {}).items():
            yield name, (prop.get("items", prop) if prop.get("type") == "array" else prop), prop


@pytest.mark.parametrize("kind", ["string", "integer", "array"])
def test_every_request_field_is_bounded(kind):
    unbounded = []
    for name, leaf, prop in _leaves():
        if prop.get("type") == "array" and kind == "array" and "maxItems" not in prop:
            unbounded.append(name)
        if leaf.get("type") != kind:
            continue
        sized = "maxLength" in leaf or leaf.get("format") in ("date", "date-time")
        named = leaf.get("format") == "resident-id"  # GB 11643 says it: 18 characters, a check character
        if kind == "string" and not ("enum" in leaf or named or (sized and "pattern" in leaf)):
            unbounded.append(name)
        if kind == "integer" and not ("minimum" in leaf and "maximum" in leaf):
            unbounded.append(name)
    assert unbounded == []


def test_identifying_fields_carry_their_patterns():
    by_name = {}
    for name, leaf, _ in _leaves():
        by_name.setdefault(name, []).append(leaf)
    for resident_id in by_name["resident_id"] + by_name["mother_resident_id"]:
        assert resident_id["format"] == "resident-id" and resident_id["type"] == "string"
    assert all(leaf.get("pattern") for leaf in by_name["office_code"])
    assert all(leaf.get("pattern") for leaf in by_name["region_code"])


def test_the_documents_examples_are_what_the_edge_accepts_and_answers():
    import jsonschema

    from gateway.openapi import PROBLEM

    examples = [r for r in ROUTES if r.example is not None]
    assert len(examples) >= 4
    for route in examples:
        route.body().load(route.example)  # raises if the example would be refused as malformed
    for _, _, op in OPERATIONS:
        for status, response in op["responses"].items():
            if not status.startswith("2"):
                jsonschema.validate(response["content"]["application/problem+json"]["example"], PROBLEM)
