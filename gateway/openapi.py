"""The OpenAPI document, generated from the route table and the `contracts` schemas."""

from __future__ import annotations

import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.api import ROUTES

PROBLEM = {
    "type": "object",
    "description": "RFC 7807 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "object", "description": "field → list of reasons"},
    },
}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    spec = APISpec(
        title="tongban gateway",
        version="1.0.0",
        openapi_version="3.0.3",
        info={
            "description": "通办: the civil-affairs bureau's HTTP API for citizens, caseworkers "
            "and partner departments. Errors are RFC 7807 problems."
        },
        plugins=[MarshmallowPlugin()],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", PROBLEM)
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    paths: dict = {}
    for r in ROUTES:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", r.path)
        operation = {"summary": r.summary, "tags": [r.tag], "operationId": r.handler, "responses": {}}
        params = re.findall(r"{([^}]+)}", path)
        if params:
            operation["parameters"] = [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
            ]
        if r.roles is not None:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"Roles: {', '.join(r.roles)}."
            operation["responses"].update({"401": problem, "403": problem})
        if r.query is not None:  # the marshmallow plugin makes one parameter of each field
            operation.setdefault("parameters", []).append({"in": "query", "schema": r.query})
            operation["responses"]["400"] = problem
        if r.method == "POST":
            operation.setdefault("parameters", []).append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Retrying with the same key returns the first answer instead of acting twice.",
                }
            )
        if r.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": r.body}}}
            operation["responses"].update({"400": problem, "409": problem, "422": problem})
        ok = {"description": "OK"}
        if r.response is not None:
            ok["content"] = {"application/json": {"schema": r.response}}
        operation["responses"][str(r.status)] = ok
        paths.setdefault(path, {})[r.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
