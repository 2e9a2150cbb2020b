"""The OpenAPI document, generated from the route table and the `contracts` schemas.

Every operation documents each status it can answer: its success with the response schema, and
every problem (RFC 7807) the edge or the services behind it can give, by what the route takes —
400 when it takes input (the document's bounds broken), 401 and 403 when it needs a token, 404 when
it names a record (in its path or its body), 409 when it changes something, 413 when it takes a
body, 422 when its input can be well formed and still refused, 503 always (a service that does not
answer in time).
"""

from __future__ import annotations

import re
from functools import lru_cache

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from gateway.api import IDEMPOTENCY_KEY, ROUTES, path_field

PROBLEM = {
    "type": "object",
    "description": "RFC 7807 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "https://tongban.example/problems/<code>"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "object", "description": "field → list of reasons (nested for nested fields)"},
        "request_id": {
            "type": "string",
            "description": "the request's X-Request-Id (the caller's, or one made for it): quote it to the operators",
        },
    },
}

# What each problem status means here, with an example of its body.
PROBLEMS = {
    "400": (
        "Malformed request: outside this document (a missing, unknown or wrongly typed field, a bound or "
        "pattern broken, a body that is not JSON)",
        {
            "type": "MalformedRequest",
            "title": "Malformed request",
            "detail": "the request has invalid fields",
            "errors": {"party_a": {"resident_id": ["check character is 5 but should be 1"]}},
        },
    ),
    "401": (
        "No valid bearer token",
        {"type": "Unauthorized", "title": "Unauthorized", "detail": "the token has expired"},
    ),
    "403": (
        "The token's role or area may not do this",
        {"type": "OutsideArea", "title": "Outside your area", "detail": "330603 is outside your area 330602"},
    ),
    "404": (
        "No such record (or not one the caller may know of)",
        {"type": "UnknownRecord", "title": "No such record", "detail": "no divorce application 0f3…"},
    ),
    "409": (
        "Conflicts with the current state (already done, full, recorded a moment ago by another request)",
        {
            "type": "AlreadyMarried",
            "title": "A party is already married",
            "detail": "a party was registered as married a moment ago",
            "errors": {"party_a.resident_id": ["registered as married by another registration a moment ago"]},
        },
    ),
    "413": (
        "The body is larger than the gateway reads (MAX_REQUEST_BYTES)",
        {
            "type": "Problem",
            "title": "Request Entity Too Large",
            "detail": "the request body is larger than 1048576 bytes",
        },
    ),
    "422": (
        "Well formed, but refused by the rules or the records (under age, a slot already begun, an office "
        "not in the registry)",
        {
            "type": "InvalidInput",
            "title": "Invalid input",
            "detail": "no registration office 110101",
            "errors": {"office_code": ["no office of the national registry has this code"]},
        },
    ),
    "503": (
        "A service behind the gateway did not answer in time; retry with the same Idempotency-Key",
        {"type": "Unavailable", "title": "Temporarily unavailable", "detail": "marriage did not answer in time"},
    ),
}


SUCCESS = {200: "OK", 201: "Created", 202: "Accepted: the work it starts goes on by events"}


def _problem(status: str) -> dict:
    description, example = PROBLEMS[status]
    body = {
        **example,
        "type": f"https://tongban.example/problems/{example['type']}",
        "status": int(status),
    }
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}, "example": body}},
    }


def problem_statuses(route, path_params: list[str]) -> list[str]:
    takes_input = bool(path_params) or route.body is not None or route.query is not None
    changes = route.method in ("POST", "PUT", "DELETE")
    statuses = []
    if takes_input or (changes and route.roles is not None):  # the Idempotency-Key header is input too
        statuses.append("400")
    if route.roles is not None:
        statuses += ["401", "403"]
    if path_params or route.body is not None:
        statuses.append("404")
    if changes:
        statuses.append("409")
    if route.body is not None:
        statuses.append("413")
    if takes_input or changes:
        statuses.append("422")
    statuses.append("503")
    return statuses


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title="tongban gateway",
        version="1.0.0",
        openapi_version="3.0.3",
        info={
            "description": "通办: the civil-affairs bureau's HTTP API for citizens, caseworkers "
            "and partner departments. Errors are RFC 7807 problems (application/problem+json): 400 when "
            "a request breaks this document, 422 when it is well formed but refused by the rules or the "
            "records. Bearer tokens are JWTs signed by the bureau's identity provider (ES256 or RS256, keys "
            "in its JWKS); staff tokens live at most 15 minutes."
        },
        plugins=[plugin],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Problem", PROBLEM)
    paths: dict = {}
    for r in ROUTES:
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", r.path)
        operation = {"summary": r.summary, "tags": [r.tag], "operationId": r.handler, "responses": {}}
        params = re.findall(r"{([^}]+)}", path)
        if params:
            operation["parameters"] = [
                {
                    "name": p,
                    "in": "path",
                    "required": True,
                    "schema": plugin.converter.field2property(path_field(p)),
                }
                for p in params
            ]
        if r.roles is not None:
            operation["security"] = [{"bearer": []}]
            operation["description"] = f"Roles: {', '.join(r.roles)}."
        if r.query is not None:  # the marshmallow plugin makes one parameter of each field
            operation.setdefault("parameters", []).append({"in": "query", "schema": r.query})
        if r.method == "POST" and r.roles is not None:
            operation.setdefault("parameters", []).append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern, "maxLength": 120},
                    "description": "Retrying with the same key returns the first answer instead of acting twice.",
                }
            )
        if r.body is not None:
            content = {"schema": r.body}
            if r.example is not None:
                content["example"] = r.example
            operation["requestBody"] = {"required": True, "content": {"application/json": content}}
        for status in problem_statuses(r, params):
            operation["responses"][status] = _problem(status)
        ok = {"description": SUCCESS[r.status], "content": {"application/json": {"schema": r.response}}}
        operation["responses"][str(r.status)] = ok
        paths.setdefault(path, {})[r.method.lower()] = operation
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()
