"""Structured JSON logs: one processor chain for our lines and every library's, ids bound while
handling, resident ID numbers masked.

Every line, whoever writes it (our structlog loggers, nameko, kombu, werkzeug, warnings), is one
JSON object with `timestamp`, `level`, `service`, `process` and `pid`, plus whatever ids are known
where it is written: `request_id`/`correlation_id` (the gateway takes or makes `X-Request-Id`; it
travels in nameko's RPC context and in every event's envelope), `matter_id`, `event_id`, and
`entrypoint`/`call_id` inside a worker. The ids are structlog context variables, bound by `Logger`
for the life of a worker (each worker is a greenlet with its own context), by the HTTP entrypoint
for a request and by `handle_event` for each event, so a library's line written in that greenlet
(nameko's traceback of a failed worker) carries them too.

nameko's "(expected) error handling worker" (a Problem: 4xx, ordinary answers) becomes one info
line without a traceback; an unexpected failure keeps its single traceback. `mask_resident_ids`
runs last on every value, so a full ID number never reaches a log file.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import structlog
from nameko.extensions import DependencyProvider

__all__ = ["configure_logging", "mask_resident_ids", "Logger", "get_logger", "bind_ids", "process_name"]

# 17 digits and a check character, not inside a longer run of digits.
_RESIDENT_ID = re.compile(r"(?<![0-9])([0-9]{6})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")


def mask_resident_ids(text: str) -> str:
    return _RESIDENT_ID.sub(lambda m: f"{m.group(1)}********{m.group(2)[-4:]}", text)


def _mask_values(value):
    if isinstance(value, str):
        return mask_resident_ids(value)
    if isinstance(value, dict):
        return {k: _mask_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask_values(v) for v in value]
    return value


def _mask_processor(_logger, _name, event_dict):
    return {k: _mask_values(v) for k, v in event_dict.items()}


def process_name(argv: list[str] | None = None) -> str:
    """Which process this is: $TONGBAN_PROCESS, else the nameko config's name
    (`nameko run --config infra/config/care.yaml ...` is "care"), else the program's."""
    if os.environ.get("TONGBAN_PROCESS"):
        return os.environ["TONGBAN_PROCESS"]
    argv = sys.argv if argv is None else argv
    if "--config" in argv[:-1]:
        return Path(argv[argv.index("--config") + 1]).stem
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in ("__main__", "pytest"):
        return spec.name.rsplit(".", 1)[-1] if spec.name.startswith("infra.") else spec.name
    return Path(argv[0]).stem if argv and argv[0] else "python"


_PROCESS = {"process": process_name(), "pid": os.getpid()}


def _add_process(_logger, _name, event_dict):
    """`service` is the worker's where one is bound, else the process's."""
    event_dict.setdefault("service", _PROCESS["process"])
    event_dict["process"] = _PROCESS["process"]
    event_dict["pid"] = _PROCESS["pid"]
    return event_dict


def _from_library(_logger, _name, event_dict):
    """A library's record: its logger's name, and nameko's worker outcomes in our vocabulary."""
    record = event_dict.get("_record")
    if record is None or event_dict.get("_from_structlog"):
        return event_dict
    event_dict["logger"] = record.name
    args = event_dict.pop("positional_args", None) or ()
    message = record.msg if isinstance(record.msg, str) else ""
    if record.name == "nameko.containers" and args and "error handling worker" in message:
        exc = args[-1]
        event_dict["error"] = f"{type(exc).__name__}: {exc}"
        event_dict["worker"] = str(args[0])
        if message.startswith("(expected)"):
            # a Problem the caller gets as a 4xx (or a 503): an answer, not a fault
            event_dict["event"] = "worker.refused"
            event_dict["level"] = "info"
            event_dict.pop("exc_info", None)
        elif type(exc).__name__ == "RemoteError":
            # the callee's failure: its traceback is in the callee's log, under the same correlation id
            event_dict["event"] = "worker.failed_remotely"
            event_dict.pop("exc_info", None)
        else:
            event_dict["event"] = "worker.failed"  # once, with its traceback
    return event_dict


_LEVELS = {"warn": "warning", "exception": "error", "fatal": "critical"}


def _level(_logger, method_name, event_dict):
    event_dict.setdefault("level", _LEVELS.get(method_name, method_name))
    return event_dict


class _Filter(logging.Filter):
    """Drops what is noise by design: nameko's per-worker debug timings are already filtered by
    level; the eventlet deprecation banner (a warning at every import) is dropped here when it
    arrives through `logging.captureWarnings`."""

    def filter(self, record):
        return not (record.name == "py.warnings" and "Eventlet is deprecated" in record.getMessage())


CHAIN: list = [
    structlog.contextvars.merge_contextvars,
    _from_library,
    _level,
    _add_process,
    structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    structlog.processors.format_exc_info,
    _mask_processor,
]

_configured_level: str | None = None


def configure_logging(level: str | None = None) -> None:
    """Set up structlog and stdlib logging (one handler, one chain); a later call with an explicit
    level (the service's LOG_LEVEL) still sets the level, whoever logged first."""
    global _configured_level
    if _configured_level is not None:
        if level and level != _configured_level:
            _configured_level = level
            logging.getLogger().setLevel(level)
        return
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    _configured_level = level
    structlog.configure(
        processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Filter())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[],
            pass_foreign_args=True,
            processors=[
                *CHAIN,
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)


def get_logger(**bound):
    configure_logging()
    return structlog.get_logger("tongban").bind(**bound)


_ID_KEYS = ("request_id", "correlation_id", "matter_id")


def worker_bindings(worker_ctx) -> dict:
    """What every log line of a worker says about where it comes from and what it serves."""
    bound = {
        "service": worker_ctx.service_name,
        "entrypoint": worker_ctx.entrypoint.method_name,
        "call_id": worker_ctx.call_id,
    }
    # An event worker handles a batch: each event's ids are bound while it is handled
    # (chassis.events); a batch of one, an RPC or an HTTP request carries its ids in context data.
    for key in _ID_KEYS:
        if worker_ctx.context_data.get(key):
            bound[key] = worker_ctx.context_data[key]
    return bound


def bind_ids(**ids) -> None:
    """Bind ids (None values are skipped) to every line this greenlet writes from now on."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in ids.items() if v is not None})


class Logger(DependencyProvider):
    """The worker's logger; while the worker runs, its ids are bound for every line written in it."""

    def setup(self):
        configure_logging(self.container.config.get("LOG_LEVEL", "INFO"))

    def worker_setup(self, worker_ctx):
        structlog.contextvars.clear_contextvars()
        # a worker nobody asked for (a timer's) starts its own correlation: its call id
        structlog.contextvars.bind_contextvars(**{"correlation_id": worker_ctx.call_id, **worker_bindings(worker_ctx)})

    def worker_teardown(self, worker_ctx):
        structlog.contextvars.clear_contextvars()

    def get_dependency(self, worker_ctx):
        return get_logger(**worker_bindings(worker_ctx))


# Library lines logged before a service configures logging (nameko's start-up) are JSON too.
configure_logging()
