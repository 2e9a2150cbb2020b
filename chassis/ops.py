"""What the operations team reads from every process: `/health/live`, `/health/ready`, `/metrics`,
and, from one process only, the queues' depth, consumers and age and the overdue matter steps.

A service that owns the process's HTTP port inherits `Operable`; readiness asks every dependency
that can tell (database reachable, outbox relay healthy) and the broker, with a handshake that
must finish within `READY_BROKER_TIMEOUT` seconds (a broker that accepts TCP connections and then
says nothing is a broker that is down), and says what failed.

`OpsWatch` watches every queue of the topology (service, partner, retry and dead-letter queues)
and runs the service's own counts (overdue steps) every `OPS_WATCH_SECONDS`. However many
replicas run it, one exports: the one holding a PostgreSQL advisory lock on its database (SQLite:
there is only one process). The others clear those gauges, so a `sum()` counts each queue once.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

import eventlet
from amqp.exceptions import NotFound as QueueNotFound
from kombu import Connection
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from werkzeug.wrappers import Response

from chassis.clock import clock_for
from chassis.db import Database
from chassis.entrypoints import http, json_response
from chassis.logs import get_logger
from chassis.metrics import (
    BROKER_UP,
    DEAD_LETTER_DEPTH,
    QUEUE_CONSUMERS,
    QUEUE_MESSAGES,
    QUEUE_OLDEST_AGE,
    QUEUE_WATCH_OWNER,
    queue_kind,
)
from chassis.topology import all_queues, partner_queues, retry_queue_name
from contracts.subscriptions import SUBSCRIPTIONS

__all__ = ["Operable", "ProcessHealth", "Readiness", "OpsWatch", "QueueAges", "topology_queue_names"]

DEFAULT_READY_BROKER_TIMEOUT = 3.0
DEFAULT_OPS_WATCH_SECONDS = 15.0
_LOCK_KEY = zlib.crc32(b"tongban.ops_watch")  # the advisory lock's key: one owner per database


class Readiness(DependencyProvider):
    """Gives the worker a `check()` that reports each part of the process as ok or failing."""

    def setup(self):
        self.timeout = float(self.container.config.get("READY_BROKER_TIMEOUT", DEFAULT_READY_BROKER_TIMEOUT))

    def get_dependency(self, worker_ctx):
        return self.check

    def check(self) -> dict:
        results = {}
        for provider in sorted(self.container.dependencies, key=lambda p: p.attr_name or ""):
            probe = getattr(provider, "check_ready", None)
            if probe is not None:
                results[provider.attr_name] = _run(probe)
        results["broker"] = _run(self._check_broker)
        BROKER_UP.labels(self.container.service_name).set(1 if results["broker"] == "ok" else 0)
        return results

    def _check_broker(self):
        """A full AMQP handshake and a channel, within the timeout, whatever the socket does."""
        url = urlsplit(self.container.config["AMQP_URI"])
        hung = TimeoutError(f"no AMQP handshake from {url.hostname}:{url.port or 5672} within {self.timeout:g} s")
        try:
            with (
                eventlet.Timeout(self.timeout, hung),
                Connection(self.container.config["AMQP_URI"], connect_timeout=self.timeout) as conn,
            ):
                conn.connect()
                conn.channel()
        except TimeoutError as exc:  # the socket's own timeout says only "timed out"
            raise hung from exc


def _run(probe) -> str:
    try:
        probe()
        return "ok"
    except BaseException as exc:  # eventlet's Timeout is a BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return f"failing: {exc!r}"[:300]


def topology_queue_names(retry_delays_ms) -> list[str]:
    """Every queue of the services' vhost: consumer queues, their dead-letter queues and their
    retry queues (at the delays this process is configured with, the system's)."""
    names = [queue.name for queue in all_queues(quorum=False)]
    names += [retry_queue_name(name, int(d)) for name in SUBSCRIPTIONS for d in retry_delays_ms]
    return sorted(names)


def partner_queue_names(organisations: dict | None = None) -> list[str]:
    """Every queue of the partner vhost: each department's, each named organisation's
    ({code: [organisation, …]}), and their dead-letter queues."""
    names = [queue.name for queue in partner_queues(quorum=False, organisations=organisations)]
    return sorted(names + [f"{name}.dead" for name in names])


class QueueAges:
    """How long each queue's head has waited, from successive looks at its depth: since the queue
    was last seen empty, or last seen shorter (its head moved). The broker tells no age for quorum
    queues; this is a lower bound that grows while nothing leaves the queue, which is what a stalled
    consumer or partner looks like (a live consumer keeps its queue's ready count at 0)."""

    def __init__(self, now: Callable[[], float] = time.monotonic):
        self.now = now
        self._seen: dict[str, tuple[int, float]] = {}  # queue -> (depth, head waiting since)

    def observe(self, queue: str, depth: int) -> float:
        now = self.now()
        if depth <= 0:
            self._seen.pop(queue, None)
            return 0.0
        previous = self._seen.get(queue)
        since = now if previous is None or depth < previous[0] else previous[1]
        self._seen[queue] = (depth, since)
        return now - since


class OpsWatch(DependencyProvider):
    """The queue watch and the service's periodic counts, exported by one process of the system.

    `counts`: functions `(connection, now)` run each round inside a transaction of the service's
    database (the progress projection counts overdue steps by matter type and owner)."""

    def __init__(self, counts: tuple[Callable, ...] = (), gauges: tuple = ()):
        self.counts = counts
        self.gauges = gauges  # what the counts set: cleared in a process that is not the owner

    def setup(self):
        config = self.container.config
        self.interval = float(config.get("OPS_WATCH_SECONDS", DEFAULT_OPS_WATCH_SECONDS))
        self.amqp_uri = config["AMQP_URI"]
        self.vhost = unquote(urlsplit(self.amqp_uri).path.lstrip("/")) or "/"
        # the partner vhost's queues are watched too, through the partner feed's account
        self.partner_amqp_uri = config.get("PARTNER_AMQP_URI")
        self.partner_organisations = config.get("PARTNER_ORGANISATIONS") or {}
        self.retry_delays = config.get("EVENT_RETRY_DELAYS_MS") or (1_000, 5_000, 30_000, 120_000)
        self.clock = clock_for(config)
        self.log = get_logger(service=self.container.service_name, component="ops-watch")
        self.ages = QueueAges()
        self._lock_conn = None
        self._owner = False
        self._stopped = False

    @property
    def database(self) -> Database | None:
        return next((p for p in self.container.dependencies if isinstance(p, Database)), None)

    def start(self):
        self._thread = None
        if self.interval > 0:
            self._thread = self.container.spawn_managed_thread(self._loop, identifier="ops-watch")

    def stop(self):
        self._stopped = True
        if self._thread is not None:
            self._thread.kill()  # it only ever waits or looks: nothing to finish
        self._release()

    def kill(self):
        self.stop()

    def _loop(self):
        while not self._stopped:
            eventlet.sleep(self.interval)  # first look after one interval: start-up is busy enough
            try:
                self.round()
            except Exception as exc:
                self.log.warning("ops_watch.round_failed", error=repr(exc))

    def round(self) -> bool:
        """One look; True when this process is the owner and exported."""
        if not self._owns():
            self._clear()
            return False
        QUEUE_WATCH_OWNER.labels(self.container.service_name).set(1)
        self.watch_queues()
        database = self.database
        if database is not None and self.counts:
            now = self.clock.now()
            with database.engine.begin() as conn:
                for count in self.counts:
                    count(conn, now)
        return True

    def _owns(self) -> bool:
        database = self.database
        if database is None or database.engine.dialect.name != "postgresql":
            self._owner = True
            return True
        try:
            if self._lock_conn is None:
                self._lock_conn = database.engine.connect()
                got = self._lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar()
                self._lock_conn.commit()
                if not got:
                    self._release()
                    return False
            else:
                self._lock_conn.execute(text("SELECT 1"))  # the session holding the lock is alive
                self._lock_conn.commit()
        except Exception as exc:
            self.log.warning("ops_watch.lock_lost", error=repr(exc))
            self._release()
            return False
        if not self._owner:
            self.log.info("ops_watch.owner", lock=_LOCK_KEY)
        self._owner = True
        return True

    def _release(self):
        if self._lock_conn is not None:
            with contextlib.suppress(Exception):
                self._lock_conn.close()  # a closed session's advisory locks are released
        self._lock_conn = None
        self._owner = False

    def _clear(self):
        QUEUE_WATCH_OWNER.labels(self.container.service_name).set(0)
        for gauge in (QUEUE_MESSAGES, QUEUE_CONSUMERS, QUEUE_OLDEST_AGE, DEAD_LETTER_DEPTH, *self.gauges):
            gauge.clear()

    def watch_queues(self) -> None:
        self._watch(self.amqp_uri, self.vhost, topology_queue_names(self.retry_delays))
        if self.partner_amqp_uri:
            vhost = unquote(urlsplit(self.partner_amqp_uri).path.lstrip("/")) or "/"
            self._watch(self.partner_amqp_uri, vhost, partner_queue_names(self.partner_organisations))

    def _watch(self, amqp_uri: str, vhost: str, names: list[str]) -> None:
        with Connection(amqp_uri, connect_timeout=5) as conn:
            conn.connect()
            channel = conn.channel()
            for name in names:
                try:
                    _, depth, consumers = channel.queue_declare(name, passive=True)
                except QueueNotFound:  # not declared yet (its consumer has not started)
                    channel = conn.channel()
                    continue
                kind = queue_kind(name)
                labels = (vhost, name, kind)
                QUEUE_MESSAGES.labels(*labels).set(depth)
                QUEUE_CONSUMERS.labels(*labels).set(consumers)
                QUEUE_OLDEST_AGE.labels(*labels).set(self.ages.observe(name, depth))
                if kind == "dead":
                    DEAD_LETTER_DEPTH.labels(name).set(depth)


class Operable:
    readiness = Readiness()

    @http("GET", "/health/live")
    def health_live(self, request):
        return json_response(200, {"status": "live"})

    @http("GET", "/health/ready")
    def health_ready(self, request):
        checks = self.readiness()
        ready = all(v == "ok" for v in checks.values())
        return json_response(200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks})

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        self.readiness()  # refreshes tongban_broker_up
        return Response(
            generate_latest(), mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


class ProcessHealth(Operable):
    """`/health/*` and `/metrics` for a process whose services serve no HTTP of their own (the
    progress projection, the partner feed), run beside them: `nameko run ... chassis.ops:ProcessHealth`.
    Ready when the process's database and the broker answer; `/metrics` is the process's registry,
    so the consumers' counters and the relay's gauges are there too."""

    name = "ops"

    db = Database()
