"""The chassis entrypoints: nameko's, made to commit before they answer.

`rpc` and `http` behave like nameko's, except that the worker's database session is committed
(chassis.db.Database.settle) before the reply is sent, so no caller ever sees an answer for work
that is not durable, and `Problem`s travel and render as RFC 7807 problems.

An RPC request is acked after its reply is sent, so a worker that dies between its commit and the
ack has its request delivered again. `rpc` keeps the reply of every call that changed something in
the command log, in the same transaction, keyed by the request's correlation id; a redelivered
request whose id is there gets that reply and does not run again (nothing twice). Queries change
nothing and leave no row.

A named command (chassis.remote.commands_named: the gateway's, under an Idempotency-Key) is kept
under its command id instead, which a caller's repetition carries again: every delivery of it is
looked up, so a repetition after the caller gave up waiting gets the first reply. While one
delivery runs it holds a PostgreSQL advisory lock on the id; another delivery meanwhile is answered
409 `COMMAND_IN_PROGRESS` at once, so the two never run side by side.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import structlog
from eventlet.event import Event
from kombu.utils import json as kombu_json
from nameko.rpc import Rpc as NamekoRpc
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from chassis.db import Database
from chassis.errors import Conflict, Problem
from chassis.logs import bind_ids, get_logger
from chassis.remote import COMMAND_ID, COMMAND_IN_PROGRESS
from chassis.tables import command_log

__all__ = ["CommitFirst", "rpc", "http", "problem_response", "json_response", "request_id_of"]

PROBLEM_JSON = "application/problem+json"
# A caller's X-Request-Id is kept when it is a plausible id (it is logged and echoed), else replaced.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_REQUEST_ID_KEY = "tongban.request_id"


def request_id_of(environ) -> str:
    """The request's id: the caller's X-Request-Id (or X-Correlation-Id) if well formed, else a
    new one; decided once per request and kept in its WSGI environ."""
    if _REQUEST_ID_KEY not in environ:
        given = environ.get("HTTP_X_REQUEST_ID") or environ.get("HTTP_X_CORRELATION_ID") or ""
        environ[_REQUEST_ID_KEY] = given if _REQUEST_ID.fullmatch(given) else str(uuid.uuid4())
    return environ[_REQUEST_ID_KEY]


def with_request_id(response: Response, request_id: str) -> Response:
    """Echo the id in the headers and in the body of a problem document (every one carries it)."""
    response.headers["X-Request-Id"] = request_id
    response.headers["X-Correlation-Id"] = request_id
    if response.mimetype == PROBLEM_JSON and not response.is_streamed:
        try:
            body = json.loads(response.get_data())
        except ValueError:
            return response
        if isinstance(body, dict) and "request_id" not in body:
            body["request_id"] = request_id
            response.set_data(json.dumps(body, ensure_ascii=False))
    return response


class CommitFirst:
    """Settle every Database of the service, then let the entrypoint ack or reply.

    A mixin in front of a nameko entrypoint class, which provides `container` and `handle_result`."""

    container: Any

    def handle_result(self, carrier, worker_ctx, result, exc_info):
        for provider in self.container.dependencies:
            if isinstance(provider, Database):
                exc_info = provider.settle(worker_ctx, exc_info)
        if exc_info is not None:
            result = None
            exc_info = self.settled_failure(exc_info)
        return super().handle_result(carrier, worker_ctx, result, exc_info)  # type: ignore[misc]

    def settled_failure(self, exc_info):
        """What the caller is told of a failed, rolled-back worker (event handlers: the failure
        itself, which the retry policy acts on)."""
        return exc_info


_KEY_COLUMNS = re.compile(r"Key \(([^)]*)\)=")


def duplicate_as_conflict(exc_info):
    """A unique key taken by another request a moment earlier (the same form sent twice at once,
    both past the service's own check) is the caller's conflict, not a server fault: 409 naming
    the fields, never their values (they may be ID numbers)."""
    exc = exc_info[1]
    if not isinstance(exc, IntegrityError):
        return exc_info
    orig = exc.orig
    if getattr(orig, "pgcode", None) == "23505":
        match = _KEY_COLUMNS.search(getattr(getattr(orig, "diag", None), "message_detail", None) or "")
        columns = [c.strip() for c in match.group(1).split(",")] if match else []
    elif "UNIQUE constraint failed" in str(orig):  # the embedded SQLite default
        columns = [c.split(".")[-1].strip() for c in str(orig).split(":", 1)[1].split(",")]
    else:
        return exc_info
    conflict = Conflict(
        "another request recorded the same thing a moment ago; read it before trying again",
        errors={column: ["already recorded"] for column in columns},
    )
    return Conflict, conflict, exc_info[2]


_RECORD = command_log.insert()
_RECORDED = (
    command_log.select()
    .with_only_columns(command_log.c.reply)
    .where(command_log.c.request_id == bindparam("request_id"))
)
_FORGET = command_log.delete().where(command_log.c.handled_at < bindparam("before"))
# A request comes back within minutes of its worker's death (when the broker notices the lost
# connection), so a week of replies is ample; older rows are deleted at most once an hour.
DEFAULT_COMMAND_LOG_DAYS = 7
_NEXT_PURGE: dict = {}  # database url -> when the old replies are next deleted


_COMMAND_HEADER = f"nameko.{COMMAND_ID}"


def command_lock_key(command_id: str) -> int:
    """A stable signed 64-bit advisory-lock key for a named command (the same in every process)."""
    return int.from_bytes(hashlib.sha256(f"tongban.command:{command_id}".encode()).digest()[:8], "big", signed=True)


class Rpc(CommitFirst, NamekoRpc):
    def __init__(self, **kwargs):
        kwargs.setdefault("expected_exceptions", Problem)
        super().__init__(**kwargs)
        self._held: dict[int, Any] = {}  # id(message) -> the connection holding its command's lock

    @property
    def databases(self) -> list[Database]:
        return [provider for provider in self.container.dependencies if isinstance(provider, Database)]

    def unpack_message_headers(self, message):
        # a command id names this call only: it must not travel on with the calls this worker makes
        context = super().unpack_message_headers(message)
        context.pop(COMMAND_ID, None)
        return context

    def handle_message(self, body, message):
        command_id = (message.headers or {}).get(_COMMAND_HEADER)
        request_id = command_id or message.properties.get("correlation_id")
        try:
            if command_id and not self._hold(command_id, message):
                self._answer(message, problem=self._in_progress())
                return
            if request_id and (command_id or message.delivery_info.get("redelivered")):
                reply = self._recorded_reply(request_id, self._held.get(id(message), (None,))[0])
                if reply is not None:
                    get_logger(service=self.container.service_name, entrypoint=self.method_name).warning(
                        "rpc.repeated_command_answered_from_log", request_id=request_id
                    )
                    self._answer(message, result=kombu_json.loads(reply))
                    return
        except DBAPIError:
            # the database is away (restarted, the connection dropped): the command cannot be
            # looked up, so it is not run; the caller hears 503 and asks again
            self._answer(message, problem=Problem("the service's database is unavailable; retry shortly", status=503))
            return
        try:
            super().handle_message(body, message)
        except BaseException:
            self._let_go(message)
            raise

    @staticmethod
    def _in_progress() -> Problem:
        return Problem(
            "this command is being handled by another delivery of it; ask again shortly",
            status=409,
            title="Command in progress",
            code=COMMAND_IN_PROGRESS,
        )

    def _answer(self, message, result=None, problem: Problem | None = None) -> None:
        """Reply without running the worker (and let go of the command's lock, if held)."""
        try:
            self.rpc_consumer.handle_result(message, result, None if problem is None else (Problem, problem, None))
        finally:
            self._let_go(message)

    def _hold(self, command_id: str, message) -> bool:
        """Take the command's lock for this delivery (False: another delivery holds it)."""
        database = next(iter(self.databases), None)
        if database is None or database.engine.dialect.name != "postgresql":
            return True  # one process on SQLite (the embedded default): nothing runs beside it
        conn = database.engine.connect()
        try:
            taken = conn.execute(select(func.pg_try_advisory_lock(command_lock_key(command_id)))).scalar()
            conn.commit()
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return False
        self._held[id(message)] = (conn, command_id)
        return True

    def _let_go(self, message) -> None:
        held = self._held.pop(id(message), None)
        if held is None:
            return
        conn, command_id = held
        try:
            conn.execute(select(func.pg_advisory_unlock(command_lock_key(command_id))))
            conn.commit()
        except Exception:
            conn.invalidate()  # never back to the pool still holding the lock (a gone backend holds none)
        finally:
            conn.close()

    def _recorded_reply(self, request_id: str, held=None) -> str | None:
        """`held`: the connection holding the command's lock, on the first database (asked on it,
        so a delivery needs no second connection of the pool)."""
        for n, database in enumerate(self.databases):
            if n == 0 and held is not None:
                reply = held.execute(_RECORDED, {"request_id": request_id}).scalar()
                held.commit()
            else:
                with database.engine.connect() as conn:
                    reply = conn.execute(_RECORDED, {"request_id": request_id}).scalar()
            if reply is not None:
                return reply
        return None

    def handle_result(self, message, worker_ctx, result, exc_info):
        request_id = (message.headers or {}).get(_COMMAND_HEADER) or message.properties.get("correlation_id")
        if exc_info is None and request_id:
            exc_info = self._record_reply(worker_ctx, request_id, result)
        try:
            return super().handle_result(message, worker_ctx, result, exc_info)
        finally:
            self._let_go(message)  # after the commit and the reply: a repetition now finds the row

    def settled_failure(self, exc_info):
        exc_info = duplicate_as_conflict(exc_info)
        if isinstance(exc_info[1], Problem):  # the base class travels: the gateway knows no subclasses
            exc_info = (Problem, exc_info[1].canonical(), exc_info[2])
        return exc_info

    def _record_reply(self, worker_ctx, request_id: str, result):
        """Keep the reply beside the change it reports (its commit is the worker's)."""
        try:
            for database in self.databases:
                session = database.open_session(worker_ctx)
                if session is not None and session.wrote:
                    now = datetime.now(UTC)
                    session.execute(
                        _RECORD,
                        {
                            "request_id": request_id,
                            "entrypoint": f"{self.container.service_name}.{self.method_name}",
                            "reply": kombu_json.dumps(result),
                            "handled_at": now,
                        },
                    )
                    if now >= _NEXT_PURGE.get(database.engine.url, now):
                        days = float(self.container.config.get("COMMAND_LOG_DAYS", DEFAULT_COMMAND_LOG_DAYS))
                        session.execute(_FORGET, {"before": now - timedelta(days=days)})
                        _NEXT_PURGE[database.engine.url] = now + timedelta(hours=1)
                    break
        except Exception:
            return sys.exc_info()  # a reply that cannot be kept is a failed command: roll it back
        return None


def json_response(status: int, body, headers: dict | None = None) -> Response:
    return Response(
        json.dumps(body, ensure_ascii=False, default=str), status=status, headers=headers, mimetype="application/json"
    )


def problem_response(problem: Problem, instance: str | None = None) -> Response:
    return Response(
        json.dumps(problem.as_json(instance), ensure_ascii=False), status=problem.status, mimetype=PROBLEM_JSON
    )


# The largest request body any HTTP entrypoint reads (config MAX_REQUEST_BYTES): a bank's results
# file for a month's payment run is the largest legitimate one, far below it.
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


def http_problem(exc: HTTPException, path: str | None = None) -> Response:
    """werkzeug's own refusals (no such route, wrong method, body too large) as RFC 7807 problems;
    a 405 keeps its Allow header."""
    response = problem_response(Problem(exc.description or exc.name, status=exc.code, title=exc.name), path)
    for name, value in exc.get_headers():
        if name.lower() == "allow":
            response.headers["Allow"] = value
    return response


class ProblemWsgiApp(WsgiApp):
    """nameko's WSGI app, refusing oversized bodies before routing and answering routing failures
    (404, 405) as problems instead of werkzeug's HTML pages."""

    def __init__(self, server, max_request_bytes: int):
        super().__init__(server)
        self.max_request_bytes = max_request_bytes

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        request_id = request_id_of(environ)
        try:
            if request.content_length is not None and request.content_length > self.max_request_bytes:
                raise RequestEntityTooLarge(f"the request body is larger than {self.max_request_bytes} bytes")
            adapter = self.url_map.bind_to_environ(environ)
            provider, values = adapter.match()
            if values:  # a parameter's route, unless a route of this very path takes other methods
                allowed = _allowed(adapter, request.path, adapter.allowed_methods(request.path))
                if request.method not in allowed:
                    raise MethodNotAllowed(valid_methods=allowed)
        except MethodNotAllowed as exc:
            exc.valid_methods = _allowed(adapter, request.path, list(exc.valid_methods or []))
            return with_request_id(http_problem(exc, request.path), request_id)(environ, start_response)
        except HTTPException as exc:
            return with_request_id(http_problem(exc, request.path), request_id)(environ, start_response)
        request.max_content_length = self.max_request_bytes  # a chunked body is cut off at the limit too
        request.path_values = values  # type: ignore[attr-defined]  # read by HttpEntrypoint
        return provider.handle_request(request)(environ, start_response)


def _allowed(adapter, path: str, methods: list[str]) -> list[str]:
    """The methods of the most specific routes of `path`: /care/elders/import is a route of its
    own (POST), not the person "import" of /care/elders/<resident_id> (GET)."""
    by_rule: dict[int, list[str]] = {}
    for method in methods:
        rule, _ = adapter.match(path, method=method, return_rule=True)
        by_rule.setdefault(len(rule.arguments), []).append(method)
    return by_rule[min(by_rule)] if by_rule else methods


class ProblemWebServer(WebServer):
    def get_wsgi_app(self):
        limit = int(self.container.config.get("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES))
        return ProblemWsgiApp(self, limit)


class HttpEntrypoint(CommitFirst, HttpRequestHandler):
    server = ProblemWebServer()

    def __init__(self, method, url, **kwargs):
        kwargs.setdefault("expected_exceptions", Problem)
        super().__init__(method, url, **kwargs)

    def handle_request(self, request):
        request.shallow = False
        request_id = request_id_of(request.environ)
        started = time.perf_counter()
        structlog.contextvars.clear_contextvars()  # a kept-alive connection's greenlet serves many
        bind_ids(
            request_id=request_id,
            correlation_id=request_id,
            matter_id=(getattr(request, "path_values", None) or {}).get("matter_id"),
            service=self.container.service_name,
        )
        try:
            args, kwargs = self.get_entrypoint_parameters(request)
            self.check_signature(args, kwargs)
            event = Event()
            self.container.spawn_worker(
                self,
                args,
                kwargs,
                # what travels with every RPC the worker makes (nameko's context headers)
                context_data={
                    key: value
                    for key, value in (
                        ("correlation_id", request_id),
                        ("request_id", request_id),
                        ("matter_id", (getattr(request, "path_values", None) or {}).get("matter_id")),
                    )
                    if value
                },
                handle_result=partial(self.handle_result, event),
            )
            response = self.response_from_result(event.wait())
        except Exception as exc:
            response = self.response_from_exception(exc, request.path)
        response = with_request_id(response, request_id)
        if not request.path.startswith(("/health/", "/metrics")):  # the probes' lines are noise
            get_logger().info(
                "http.request",
                method=request.method,
                path=request.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        structlog.contextvars.clear_contextvars()
        return response

    def settled_failure(self, exc_info):
        return duplicate_as_conflict(exc_info)

    def response_from_exception(self, exc, path=None):
        if isinstance(exc, Problem):
            return problem_response(exc, path)
        if isinstance(exc, HTTPException):
            return http_problem(exc, path)
        # the worker's failure was logged once, with its traceback (nameko's worker.failed line)
        get_logger().error("http.unhandled_error", error=repr(exc), path=path)
        # never leak internals to a client; the log has the details
        return problem_response(Problem("an internal error occurred; it has been logged"), path)


rpc = Rpc.decorator
http = HttpEntrypoint.decorator
