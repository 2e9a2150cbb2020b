"""The chassis entrypoints: nameko's, made to commit before they answer.

`rpc` and `http` behave like nameko's, except that the worker's database session is committed
(chassis.db.Database.settle) before the reply is sent, so no caller ever sees an answer for work
that is not durable, and `Problem`s travel and render as RFC 7807 problems.
"""
from __future__ import annotations

import json
import uuid
from functools import partial

from eventlet.event import Event
from nameko.rpc import Rpc as NamekoRpc
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from chassis.db import Database
from chassis.errors import Problem
from chassis.logs import get_logger

__all__ = ["CommitFirst", "rpc", "http", "problem_response", "json_response"]

PROBLEM_JSON = "application/problem+json"


class CommitFirst:
    """Settle every Database of the service, then let the entrypoint ack or reply."""

    def handle_result(self, carrier, worker_ctx, result, exc_info):
        for provider in self.container.dependencies:
            if isinstance(provider, Database):
                exc_info = provider.settle(worker_ctx, exc_info)
        if exc_info is not None:
            result = None
        return super().handle_result(carrier, worker_ctx, result, exc_info)


class Rpc(CommitFirst, NamekoRpc):
    def __init__(self, **kwargs):
        kwargs.setdefault("expected_exceptions", Problem)
        super().__init__(**kwargs)

    def handle_result(self, message, worker_ctx, result, exc_info):
        if exc_info is not None and isinstance(exc_info[1], Problem):
            exc_info = (Problem, exc_info[1].canonical(), exc_info[2])
        return super().handle_result(message, worker_ctx, result, exc_info)


def json_response(status: int, body, headers: dict | None = None) -> Response:
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    headers=headers, mimetype="application/json")


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return Response(json.dumps(problem.as_json(instance), ensure_ascii=False), status=problem.status,
                    mimetype=PROBLEM_JSON)


class HttpEntrypoint(CommitFirst, HttpRequestHandler):
    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", Problem)
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        request.shallow = False
        correlation_id = request.headers.get("X-Correlation-Id") or str(uuid.uuid4())
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(self, args, kwargs, context_data={"correlation_id": correlation_id},
                                        handle_result=partial(self.handle_result, event))
            response = self.response_from_result(event.wait())
        except Exception as exc:
            response = self.response_from_exception(exc, request.path)
        response.headers["X-Correlation-Id"] = correlation_id
        return response

    def response_from_exception(self, exc, path=None):
        if isinstance(exc, Problem):
            return problem_response(exc, path)
        if isinstance(exc, HTTPException):
            return problem_response(Problem(exc.description or exc.name, status=exc.code, title=exc.name), path)
        get_logger(component="http").error("http.unhandled_error", error=repr(exc), path=path)
        # never leak internals to a client; the log has the details
        return problem_response(Problem("an internal error occurred; it has been logged"), path)


rpc = Rpc.decorator
http = HttpEntrypoint.decorator
