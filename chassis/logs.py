"""Structured JSON logs with resident ID numbers masked, bound to the worker that writes them.

`log = Logger()` gives each worker a structlog logger bound with service, entrypoint, call id,
correlation id and matter id. Every line, including nameko's and other libraries' stdlib logging,
passes through `mask_resident_ids`, so a full ID number never reaches a log file.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys

import structlog
from nameko.extensions import DependencyProvider

__all__ = ["configure_logging", "mask_resident_ids", "Logger", "get_logger"]

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


class _JsonFormatter(logging.Formatter):
    """Library log lines (nameko, kombu …) as JSON too, masked like ours."""

    def format(self, record):
        line = {
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": mask_resident_ids(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = mask_resident_ids(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


_configured_level: str | None = None


def configure_logging(level: str | None = None) -> None:
    """Set up structlog and stdlib logging once; a later call with an explicit level (the
    service's LOG_LEVEL) still sets the level, whoever logged first."""
    global _configured_level
    if _configured_level is not None:
        if level and level != _configured_level:
            _configured_level = level
            logging.getLogger().setLevel(level)
            structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)))
        return
    level = level or os.environ.get("LOG_LEVEL", "INFO")
    _configured_level = level
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_processor,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,  # the level may still change when a service sets it
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def get_logger(**bound):
    configure_logging()
    return structlog.get_logger().bind(**bound)


def worker_bindings(worker_ctx) -> dict:
    """What every log line of a worker says about where it comes from."""
    bound = {
        "service": worker_ctx.service_name,
        "entrypoint": worker_ctx.entrypoint.method_name,
        "call_id": worker_ctx.call_id,
    }
    # An event worker handles a batch: each event's ids are bound while it is handled
    # (chassis.events, through structlog's context variables, which bound values would override).
    if worker_ctx.context_data.get("correlation_id"):
        bound["correlation_id"] = worker_ctx.context_data["correlation_id"]
    return bound


class Logger(DependencyProvider):
    def setup(self):
        configure_logging(self.container.config.get("LOG_LEVEL", "INFO"))

    def get_dependency(self, worker_ctx):
        return get_logger(**worker_bindings(worker_ctx))
