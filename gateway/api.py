"""`@route(...)`: one declaration per HTTP route, from which both the handler and the OpenAPI
document come, so the two cannot drift apart.

The decorator authenticates the bearer token, checks the role, validates the path parameters (by
name, `PATH_FIELDS`), parses and validates the JSON body with the route's contract schema (and the
query string with its `query` schema, if it has one), honours Idempotency-Key on POSTs, and renders
the result (or a Problem) as JSON. Nothing a client sends reaches a service unchecked. The decorated
method receives `(self, actor, body, **path_values)`, and `query=` the loaded query string when
the route declares one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from marshmallow import Schema, ValidationError, validate

from chassis.entrypoints import http, json_response, problem_response
from chassis.errors import Forbidden, MalformedRequest, Problem
from chassis.schemas import refusal
from contracts import fields
from contracts.person import ResidentIdField
from gateway.idempotency import request_hash


# Path parameters by name; any other is a record id (a UUID, or a number for a few tables). Each
# is short, so no URL the document allows is too long for the server to read.
def _code(pattern: str, error: str, longest: int = 64):
    return fields.String(validate=[validate.Length(min=1, max=longest), validate.Regexp(pattern, error=error)])


_ID = _code(r"^[A-Za-z0-9_.:-]{1,64}$", "not an id")
PATH_FIELDS = {
    "resident_id": ResidentIdField(),
    "region_code": fields.DivisionCode(),
    "office_code": _code(r"^[0-9]{6}$", "must be a 6-digit division code", 6),
    "village_code": _code(r"^[0-9]{12}$", "must be a 12-digit village code", 12),
    "entitlement_id": _code(r"^[0-9]{1,18}$", "not an entitlement id", 18),
    "year": fields.Integer(validate=validate.Range(min=1900, max=2099)),
    "number": _code(r"^[A-Za-z0-9-]{8,40}$", "not a certificate number", 40),
    "step": _code(r"^[a-z_]{1,60}$", "not a step name", 60),
    "matter_type_name": _code(r"^[a-z_]{1,60}$", "not a matter type", 60),
    "code": _code(r"^[A-Za-z0-9-]{2,40}$", "not a code", 40),
    "item_code": _code(r"^[a-z][a-z0-9_]{1,39}$", "not a linked item code", 40),
}


def path_field(name: str):
    return PATH_FIELDS.get(name, _ID)


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # werkzeug rule, e.g. /api/v1/matters/<matter_id>
    roles: tuple[str, ...] | None  # None: no authentication (public documents)
    summary: str
    tag: str
    body: type[Schema] | None
    response: type[Schema] | None
    status: int
    handler: str
    query: type[Schema] | None = None  # the query string's parameters
    example: dict | None = None  # a request body for the OpenAPI document


ROUTES: list[Route] = []


IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,120}$")  # visible ASCII, as the key column keeps it


def route(
    method: str,
    path: str,
    *,
    roles,
    summary: str,
    tag: str,
    response,
    body=None,
    status=200,
    query=None,
    example=None,
    forward=True,
):
    """`response`: the schema of the success answer (every route has one, so the document does).
    `body`: the request's schema; the handler gets the body validated and, as most routes pass it
    on to a service, back in its JSON form (the service validates again). `forward=False`: a route
    the gateway answers itself gets the loaded values (dates as dates)."""

    def decorate(fn):
        if response is None:
            raise TypeError(f"route {fn.__name__} declares no response schema")
        ROUTES.append(
            Route(
                method,
                path,
                tuple(roles) if roles is not None else None,
                summary,
                tag,
                body,
                response,
                status,
                fn.__name__,
                query,
                example,
            )
        )

        def handler(self, request, **path_values):
            actor = None
            if roles is not None:
                actor = self.auth(request.headers.get("Authorization"))
                if actor.role not in roles:
                    raise Forbidden(f"this needs one of the roles {', '.join(roles)}")
            path_values = _load_path(path_values)
            payload = None
            if body is not None:
                payload = _load_body(request, body)
                if forward:
                    payload = body().dump(payload)
            extra = {"query": _load_query(request, query)} if query is not None else {}

            def call():
                return status, fn(self, actor, payload, **extra, **path_values)

            key = request.headers.get("Idempotency-Key")
            if method == "POST" and key is not None and actor is not None:
                if not IDEMPOTENCY_KEY.fullmatch(key):
                    raise MalformedRequest(
                        "Idempotency-Key is 1-120 visible ASCII characters",
                        errors={"Idempotency-Key": ["1-120 visible ASCII characters"]},
                    )
                raw = request.get_json(silent=True)
                answer, result, replayed = self.idempotency.run(
                    actor.principal, key, request_hash(method, request.path, raw), call
                )
            else:
                (answer, result), replayed = call(), False
            headers = {"Idempotent-Replayed": "true"} if replayed else None
            if answer < 400 and hasattr(self, "_record_person_read"):  # gateway/reads.py
                self._record_person_read(actor, method, path, path_values)
            if answer >= 400:
                return problem_response(
                    Problem(
                        result.get("detail", ""),
                        result.get("errors"),
                        answer,
                        result.get("title"),
                        result.get("type", "").rsplit("/", 1)[-1],
                    )
                )
            return json_response(answer, result, headers)

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        return http(method, path)(handler)

    return decorate


def _load_path(values: dict) -> dict:
    loaded, errors = {}, {}
    for name, value in values.items():
        try:
            loaded[name] = path_field(name).deserialize(value)
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise refusal(ValidationError(errors), "the path has invalid parameters")
    return loaded


def _load_query(request, schema: type[Schema]) -> dict:
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise refusal(exc, "the query has invalid parameters") from None


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def _load_body(request, schema: type[Schema]) -> dict:
    if not request.data:
        raise MalformedRequest("a JSON body is required")
    try:
        raw = json.loads(request.data, parse_constant=_no_constant)  # NaN and Infinity are not JSON
    except (ValueError, RecursionError) as exc:
        raise MalformedRequest(f"the body is not valid JSON: {str(exc)[:200]}") from None
    try:
        return schema().load(raw)
    except ValidationError as exc:
        raise refusal(exc, "the request has invalid fields") from None
