"""Every line is one JSON object through one chain: ours and the libraries', with timestamp,
level, service and process, the bound ids, no full resident ID, and a 4xx as one info line."""

import io
import json
import logging
import sys

import pytest
import structlog

from chassis import logs
from chassis.errors import NotFound
from contracts.person import compose_resident_id


@pytest.fixture
def lines():
    """What the process's one handler writes, as parsed lines."""
    logs.configure_logging()
    handler = logging.getLogger().handlers[0]
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    structlog.contextvars.clear_contextvars()
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    finally:
        handler.setStream(old)
        structlog.contextvars.clear_contextvars()


def test_our_lines_and_library_lines_share_the_fields(lines):
    logs.get_logger().info("ours.happened", size=3)
    logging.getLogger("kombu.connection").warning("library said %s", "hello")
    ours, theirs = lines()
    for line in (ours, theirs):
        assert {"timestamp", "level", "service", "process", "pid", "event"} <= set(line)
        assert line["timestamp"].endswith("Z")
    assert ours["level"] == "info" and ours["size"] == 3
    assert theirs["level"] == "warning" and theirs["event"] == "library said hello"
    assert theirs["logger"] == "kombu.connection"


def test_bound_ids_reach_library_lines_too(lines):
    logs.bind_ids(request_id="req-1", correlation_id="req-1", matter_id="m-9", service="care")
    logging.getLogger("nameko.containers").info("something in the worker")
    (line,) = lines()
    assert (line["request_id"], line["correlation_id"], line["matter_id"], line["service"]) == (
        "req-1",
        "req-1",
        "m-9",
        "care",
    )


def test_an_expected_problem_is_one_info_line_without_traceback(lines):
    try:
        raise NotFound("no matter 42")
    except NotFound as exc:
        logging.getLogger("nameko.containers").warning(
            "(expected) error handling worker %s: %s", "<ctx>", exc, exc_info=True
        )
    (line,) = lines()
    assert line["level"] == "info"
    assert line["event"] == "worker.refused"
    assert "exception" not in line and "Traceback" not in json.dumps(line)
    assert "404" in line["error"]


def test_an_unexpected_failure_keeps_its_one_traceback(lines):
    logs.bind_ids(correlation_id="c-7")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        logging.getLogger("nameko.containers").exception("error handling worker %s: %s", "<ctx>", exc)
    (line,) = lines()
    assert line["level"] == "error" and line["event"] == "worker.failed"
    assert line["correlation_id"] == "c-7"
    assert "Traceback" in line["exception"] and "RuntimeError: boom" in line["exception"]


def test_no_full_resident_id_in_any_field(lines):
    from datetime import date

    rid = compose_resident_id("330602", date(1990, 1, 2), 17)
    logs.get_logger().info("ours", person=rid, nested={"ids": [rid]})
    logging.getLogger("werkzeug").info("GET /care/elders/%s", rid)
    text = json.dumps(lines())
    assert rid not in text
    assert rid[:6] + "********" + rid[-4:] in text


def test_warnings_are_lines_too_and_the_eventlet_banner_is_dropped(lines):
    logging.getLogger("py.warnings").warning("x.py:1: DeprecationWarning: something is deprecated")
    logging.getLogger("py.warnings").warning("x.py:1: EventletDeprecationWarning: \nEventlet is deprecated. ...")
    (line,) = lines()
    assert line["logger"] == "py.warnings" and "something is deprecated" in line["event"]


def test_the_process_is_named_by_its_config():
    assert logs.process_name(["/x/nameko", "run", "--config", "infra/config/care.yaml", "a:B"]) == "care"
    assert sys.modules["chassis.logs"]._PROCESS["pid"] > 0


def test_a_remote_failure_is_logged_by_the_caller_without_a_second_traceback(lines):
    from nameko.exceptions import RemoteError

    try:
        raise RemoteError("ProgrammingError", "relation does not exist")
    except RemoteError as exc:
        logging.getLogger("nameko.containers").exception("error handling worker %s: %s", "<ctx>", exc)
    (line,) = lines()
    assert line["event"] == "worker.failed_remotely" and line["level"] == "error"
    assert "exception" not in line


def test_a_worker_without_a_correlation_starts_its_own():
    from types import SimpleNamespace

    worker = SimpleNamespace(
        service_name="care",
        entrypoint=SimpleNamespace(method_name="enrol_hourly"),
        call_id="care.enrol_hourly.abc",
        context_data={},
    )
    logs.Logger().worker_setup(worker)
    try:
        assert structlog.contextvars.get_contextvars()["correlation_id"] == "care.enrol_hourly.abc"
        worker.context_data = {"correlation_id": "req-1"}
        logs.Logger().worker_setup(worker)
        assert structlog.contextvars.get_contextvars()["correlation_id"] == "req-1"
    finally:
        structlog.contextvars.clear_contextvars()
