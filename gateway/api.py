"""`@route(...)`: one declaration per HTTP route, from which both the handler and the OpenAPI
document come, so the two cannot drift apart.

The decorator authenticates the bearer token, checks the role, parses and validates the JSON body
with the route's contract schema (and the query string with its `query` schema, if it has one),
honours Idempotency-Key on POSTs, and renders the result (or a Problem) as JSON. The decorated
method receives `(self, actor, body, **path_values)`, and `query=` the loaded query string when
the route declares one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from marshmallow import Schema, ValidationError

from chassis.entrypoints import http, json_response, problem_response
from chassis.errors import Forbidden, InvalidInput, Problem
from gateway.idempotency import request_hash


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


ROUTES: list[Route] = []


def route(method: str, path: str, *, roles, summary: str, tag: str, body=None, response=None, status=200, query=None):
    def decorate(fn):
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
            )
        )

        def handler(self, request, **path_values):
            actor = None
            if roles is not None:
                actor = self.auth(request.headers.get("Authorization"))
                if actor.role not in roles:
                    raise Forbidden(f"this needs one of the roles {', '.join(roles)}")
            payload = _load_body(request, body) if body is not None else None
            extra = {"query": _load_query(request, query)} if query is not None else {}

            def call():
                return status, fn(self, actor, payload, **extra, **path_values)

            key = request.headers.get("Idempotency-Key")
            if method == "POST" and key and actor is not None:
                raw = request.get_json(silent=True)
                answer, result, replayed = self.idempotency.run(
                    actor.principal, key, request_hash(method, request.path, raw), call
                )
            else:
                (answer, result), replayed = call(), False
            headers = {"Idempotent-Replayed": "true"} if replayed else None
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


def wire(schema, data: dict) -> dict:
    """Validated request data, back in JSON form for the RPC call (the service validates again)."""
    return schema().dump(data)


def _load_query(request, schema: type[Schema]) -> dict:
    try:
        return schema().load(request.args.to_dict())
    except ValidationError as exc:
        raise InvalidInput("the query has invalid parameters", errors=exc.messages) from None


def _load_body(request, schema: type[Schema]) -> dict:
    if not request.data:
        raise InvalidInput("a JSON body is required")
    try:
        raw = json.loads(request.data)
    except ValueError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}") from None
    try:
        return schema().load(raw)
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", errors=exc.messages) from None
