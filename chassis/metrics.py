"""Prometheus metrics every process exposes on `/metrics` (see chassis.ops).

One registry per process; names are the operations team's vocabulary: calls by entrypoint and
outcome, latency, outbox backlog and the age of its oldest unsent event, retries and dead letters.
"""

from __future__ import annotations

import time

from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram

from chassis.errors import Problem

__all__ = [
    "WorkerMetrics",
    "CALLS",
    "LATENCY",
    "OUTBOX_BACKLOG",
    "OUTBOX_OLDEST_AGE",
    "EVENTS_PUBLISHED",
    "EVENT_RETRIES",
    "EVENT_BATCH_SIZE",
    "DEAD_LETTERS",
    "DEAD_LETTER_DEPTH",
    "QUEUE_MESSAGES",
    "QUEUE_CONSUMERS",
    "QUEUE_OLDEST_AGE",
    "QUEUE_WATCH_OWNER",
    "BROKER_UP",
    "STEPS_OVERDUE",
    "MATTERS_OPENED",
    "MATTERS_COMPLETED",
    "MATTER_COMPLETION",
    "PAYMENT_RUN_STEPS",
    "PAYMENT_RUN_SECONDS",
    "PAYMENT_RUN_PAYMENTS",
    "queue_kind",
]

CALLS = Counter(
    "tongban_entrypoint_calls_total", "Requests and events handled", ["service", "entrypoint", "kind", "outcome"]
)
LATENCY = Histogram(
    "tongban_entrypoint_latency_seconds",
    "Time to handle a request or event",
    ["service", "entrypoint", "kind"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_BACKLOG = Gauge("tongban_outbox_backlog", "Events committed but not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "tongban_outbox_oldest_unsent_age_seconds", "Age of the oldest unpublished event (0 when none)", ["service"]
)
EVENTS_PUBLISHED = Counter(
    "tongban_events_published_total", "Events confirmed by the broker", ["service", "event_type"]
)
EVENT_RETRIES = Counter("tongban_event_retries_total", "Handler failures sent back for a delayed retry", ["queue"])
EVENT_BATCH_SIZE = Histogram(
    "tongban_event_batch_size", "Events handled together by one worker", ["queue"], buckets=(1, 2, 5, 10, 20, 50, 100)
)
DEAD_LETTERS = Counter("tongban_dead_letters_total", "Events parked in a dead-letter queue", ["queue", "reason"])
# The queue watch (chassis.ops.OpsWatch) sets these in one process of the system only, so a sum()
# over every scrape target counts each queue once.
DEAD_LETTER_DEPTH = Gauge("tongban_dead_letter_queue_messages", "Messages waiting in a dead-letter queue", ["queue"])
QUEUE_MESSAGES = Gauge(
    "tongban_queue_messages", "Messages ready in a queue of the topology", ["vhost", "queue", "kind"]
)
QUEUE_CONSUMERS = Gauge("tongban_queue_consumers", "Consumers of a queue of the topology", ["vhost", "queue", "kind"])
QUEUE_OLDEST_AGE = Gauge(
    "tongban_queue_oldest_message_age_seconds",
    "How long the queue's head has waited: since it last was empty or moved (dead letters: since parked)",
    ["vhost", "queue", "kind"],
)
QUEUE_WATCH_OWNER = Gauge(
    "tongban_queue_watch_owner", "1 in the one process that watches the queues and the matters' steps", ["service"]
)
BROKER_UP = Gauge(
    "tongban_broker_up", "1 when this process's last AMQP handshake with the broker succeeded", ["service"]
)
# What only the application knows.
STEPS_OVERDUE = Gauge(
    "tongban_matter_steps_overdue", "Pending matter steps past their deadline", ["matter_type", "owner"]
)
MATTERS_OPENED = Counter("tongban_matters_opened_total", "One-matters opened", ["matter_type"])
MATTERS_COMPLETED = Counter("tongban_matters_completed_total", "One-matters completed", ["matter_type"])
MATTER_COMPLETION = Histogram(
    "tongban_matter_completion_seconds",
    "From a matter's opening to its last step done (event time)",
    ["matter_type"],
    buckets=(60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 15 * 86400, 30 * 86400, 90 * 86400),
)
PAYMENT_RUN_STEPS = Counter(
    "tongban_payment_run_steps_total",
    "Steps of payment runs (freeze, send, reconcile) by outcome",
    ["run", "step", "outcome"],
)
PAYMENT_RUN_SECONDS = Histogram(
    "tongban_payment_run_step_seconds",
    "Time a payment run's step took",
    ["run", "step"],
    buckets=(0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900),
)
PAYMENT_RUN_PAYMENTS = Counter(
    "tongban_payment_run_payments_total", "Payments the bank answered, by answer", ["run", "outcome"]
)


def queue_kind(name: str) -> str:
    """service | partner | retry | dead, from the topology's names (chassis.topology)."""
    if name.endswith(".dead"):
        return "dead"
    if ".retry." in name:
        return "retry"
    if name.startswith("partner."):
        return "partner"
    return "service"


def entrypoint_kind(entrypoint) -> str:
    name = type(entrypoint).__name__.lower()
    for kind in ("event", "rpc", "http", "timer"):
        if kind in name:
            return kind
    return name


class WorkerMetrics(DependencyProvider):
    """Observes every worker of the service: count by outcome, and latency."""

    def __init__(self):
        self._started: dict = {}

    def worker_setup(self, worker_ctx):
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._started.pop(worker_ctx, None)
        labels = (worker_ctx.service_name, worker_ctx.entrypoint.method_name, entrypoint_kind(worker_ctx.entrypoint))
        # an event worker handles a batch: count each event, each having waited for all of it
        handled = len(worker_ctx.args[0]) if labels[2] == "event" and worker_ctx.args else 1
        if exc_info is None:
            outcome = "ok"
        elif handled > 1:
            outcome = "replayed"  # the batch rolled back; each event is handled again alone
        elif isinstance(exc_info[1], Problem) and exc_info[1].status < 500:
            outcome = "refused"
        else:
            outcome = "error"
        CALLS.labels(*labels, outcome).inc(handled)
        if started is not None:
            elapsed = time.perf_counter() - started
            for _ in range(handled):
                LATENCY.labels(*labels).observe(elapsed)

    def worker_teardown(self, worker_ctx):
        self._started.pop(worker_ctx, None)
