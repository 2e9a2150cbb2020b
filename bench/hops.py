"""Measurements (a) and (b): one event hop between two services, bare nameko against the chassis.

Both producers are driven the same way: `concurrency` green threads each hand work to the
producer's worker pool through `Trigger`, a minimal in-process entrypoint (what an RPC or HTTP
entrypoint does once its request has arrived, without the transport), one worker per event. So
neither side pays for RPC or HTTP, and the two numbers differ only by what each hop does:

(a) `BareProducer.emit` dispatches with nameko's `EventDispatcher` (persistent messages,
    publisher confirms, the `<service>.events` topic exchange); `BareConsumer.on_hop`, a plain
    nameko `@event_handler` (classic durable queue, prefetch = max_workers), only counts.
(b) `ChassisProducer.record` commits a row and an outbox row in one transaction (chassis
    `Database` + `Outbox`, the commit happening before the worker answers, as chassis entrypoints
    do); the chassis relay publishes committed rows with confirms and `mandatory`;
    `ChassisConsumer.on_fact`, a chassis `@handle_event` handler (quorum queue, envelope validated
    against the contract, inbox claim), writes one row to its own database and commits before the
    ack. The chassis hands a worker every delivery that arrived together (up to `EVENT_BATCH_MAX`,
    prefetch = max_workers × that), in one transaction; the results show how many that was.
    Both rows (the producer's fact and the consumer's effect) are written with a prebuilt Core
    INSERT, so (b) measures the chassis rather than the ORM: a service's `db.add(...)` flush costs
    about 1 ms more CPU per row on this machine (bench/PROFILE.md).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from functools import partial

import eventlet
from eventlet.event import Event
from kombu import Connection
from marshmallow import Schema, fields
from nameko.containers import ServiceContainer
from nameko.events import EventDispatcher, event_handler
from nameko.extensions import Entrypoint
from sqlalchemy import Column, Float, Integer, String, create_engine, text
from sqlalchemy.orm import declarative_base
from sqlalchemy.pool import NullPool

from bench.machine import CpuMeter, CpuUse, database_names, percentile
from chassis import Database, Outbox, handle_event
from chassis.entrypoints import CommitFirst
from chassis.metrics import EVENT_BATCH_SIZE
from chassis.migrations import chassis_triggers_sql
from chassis.tables import chassis_metadata
from contracts.events import EVENTS, EventType
from contracts.subscriptions import SUBSCRIPTIONS
from infra.scratch import PG_ADMIN_DSN

PG_ADMIN_URL = PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg2://")
FACT_RECORDED = "bench.fact_recorded"
CONSUMER_QUEUE = "bench_consumer.on_fact"


# --- driving a worker pool ---------------------------------------------------------------------


class Trigger(Entrypoint):
    """Runs the decorated method in a worker of the service's pool and waits for its result."""

    def fire(self, *args):
        done = Event()
        self.container.spawn_worker(self, args, {}, handle_result=partial(self.handle_result, done))
        result, exc_info = done.wait()
        if exc_info is not None:
            raise exc_info[1]
        return result

    def handle_result(self, done, worker_ctx, result, exc_info):
        done.send((result, exc_info))
        return result, exc_info


class CommittingTrigger(CommitFirst, Trigger):
    """The same, committing the worker's session before answering, like the chassis `rpc`/`http`."""


trigger = Trigger.decorator
committing_trigger = CommittingTrigger.decorator


def drive(container: ServiceContainer, method: str, numbers, concurrency: int) -> list[Exception]:
    """Call `method(n)` for every n, `concurrency` calls in flight; return the failures."""
    entrypoint = next(e for e in container.entrypoints if e.method_name == method)
    todo = iter(numbers)
    failures: list[Exception] = []

    def caller():
        for n in todo:  # one iterator shared by all callers: each n is taken once
            try:
                entrypoint.fire(n)
            except Exception as exc:  # counted, and the measurement is then failed
                failures.append(exc)

    pool = eventlet.GreenPool(concurrency)
    for _ in range(concurrency):
        pool.spawn(caller)
    pool.waitall()
    return failures


# --- (a) bare nameko ---------------------------------------------------------------------------


class Tally:
    """What the bare consumer saw: how many events, when the target was reached, each event's lag."""

    def __init__(self):
        self.reset(0)

    def reset(self, target: int):
        self.count, self.target, self.lags = 0, target, []
        self.done, self.reached_at = threading.Event(), None

    def hit(self, sent: float):
        now = time.time()
        self.count += 1
        self.lags.append(now - sent)
        if self.count == self.target:
            self.reached_at = time.perf_counter()
            self.done.set()


TALLY = Tally()


class BareProducer:
    name = "bench_bare_producer"
    dispatch = EventDispatcher()

    @trigger
    def emit(self, n):
        self.dispatch("hop", {"n": n, "sent": time.time()})


class BareConsumer:
    name = "bench_bare_consumer"

    @event_handler("bench_bare_producer", "hop")
    def on_hop(self, payload):
        TALLY.hit(payload["sent"])


# --- (b) the chassis -----------------------------------------------------------------------------

Base = declarative_base()


class Fact(Base):
    """The producer's state change."""

    __tablename__ = "bench_fact"
    id = Column(Integer, primary_key=True)
    n = Column(Integer, nullable=False)


class Effect(Base):
    """The consumer's row for each handled fact (no unique key: the inbox alone deduplicates)."""

    __tablename__ = "bench_effect"
    id = Column(Integer, primary_key=True)
    event_id = Column(String(36), nullable=False)
    n = Column(Integer, nullable=False)
    lag = Column(Float, nullable=False)  # seconds from the fact's event time to this handler


FACT_INSERT = Fact.__table__.insert()
EFFECT_INSERT = Effect.__table__.insert()


class FactData(Schema):
    n = fields.Integer(required=True)


def register_contract():
    EVENTS[FACT_RECORDED] = EventType(FACT_RECORDED, frozenset({ChassisProducer.name}), FactData, "benchmark fact")
    SUBSCRIPTIONS[CONSUMER_QUEUE] = (FACT_RECORDED,)


def unregister_contract():
    EVENTS.pop(FACT_RECORDED, None)
    SUBSCRIPTIONS.pop(CONSUMER_QUEUE, None)


def create_schema(url: str):
    """The chassis tables with their triggers (as a service's first migration makes them), and ours."""
    engine = create_engine(url, poolclass=NullPool)
    chassis_metadata.create_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in chassis_triggers_sql():  # among them: NOTIFY the relay when outbox rows commit
            conn.execute(text(statement))
    engine.dispose()


class ChassisProducer:
    name = "bench_producer"
    db = Database()
    outbox = Outbox()

    @committing_trigger
    def record(self, n):
        self.db.execute(FACT_INSERT, {"n": n})
        self.outbox.record(FACT_RECORDED, f"fact-{n}", {"n": n})


class ChassisConsumer:
    name = "bench_consumer"
    db = Database()

    @handle_event(FACT_RECORDED)
    def on_fact(self, event):
        lag = time.time() - event.time.timestamp()
        self.db.execute(EFFECT_INSERT, {"event_id": event.id, "n": event.data["n"], "lag": lag})


# --- the measurements ------------------------------------------------------------------------------


@dataclass
class HopResult:
    name: str
    events: int
    seconds: float | None = None  # first dispatch/commit → last handled/handler commit
    produce_seconds: float | None = None  # first → last dispatch/commit returned
    lag_p50_ms: float | None = None
    lag_p99_ms: float | None = None
    mean_batch: float | None = None  # events per consumer worker (chassis hop only)
    cpu: CpuUse | None = None  # over the measured window
    failures: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.events / self.seconds if self.seconds else None

    @property
    def produce_rate(self) -> float | None:
        return self.events / self.produce_seconds if self.produce_seconds else None


def _wait(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        eventlet.sleep(interval)
    return True


def measure_bare(
    amqp_uri: str, events: int, warmup: int, concurrency: int, max_workers: int, timeout: float, containers: list
) -> HopResult:
    result = HopResult("a: bare nameko", events)
    config = {"AMQP_URI": amqp_uri, "max_workers": max_workers}
    for cls in (BareConsumer, BareProducer):  # the consumer first: its queue must exist
        container = ServiceContainer(cls, config)
        containers.append(container)
        container.start()
    producer = containers[-1]

    TALLY.reset(warmup)
    failures = drive(producer, "emit", range(warmup), concurrency)
    if failures or not TALLY.done.wait(timeout):
        result.failures.append(f"warm-up did not complete ({TALLY.count}/{warmup}; {failures[:1]})")
        return result

    TALLY.reset(events)
    meter = CpuMeter()
    started = time.perf_counter()
    failures = drive(producer, "emit", range(warmup, warmup + events), concurrency)
    result.produce_seconds = time.perf_counter() - started
    if failures:
        result.failures.append(f"{len(failures)} dispatches failed, e.g. {failures[0]!r}")
    if not _wait(TALLY.done.is_set, timeout):
        result.failures.append(f"only {TALLY.count}/{events} events handled within {timeout:g} s")
        return result
    result.seconds = TALLY.reached_at - started
    result.cpu = meter.stop()
    eventlet.sleep(0.5)  # anything handled twice would show up now
    if TALLY.count != events:
        result.failures.append(f"{TALLY.count} events handled for {events} dispatched")
    result.lag_p50_ms, result.lag_p99_ms = (percentile(TALLY.lags, p) * 1000 for p in (50, 99))
    return result


def queue_depth(amqp_uri: str, queue: str) -> int:
    with Connection(amqp_uri) as conn:
        _, depth, _ = conn.channel().queue_declare(queue, passive=True)
    return depth


class ChassisRig:
    """The two chassis services on their databases, and a side connection to watch both."""

    def __init__(self, amqp_uri: str, producer_db: str, consumer_db: str, max_workers: int, containers: list):
        for url in (producer_db, consumer_db):
            create_schema(url)
        self.amqp_uri, self.urls, self.containers = (
            amqp_uri,
            {"producer": producer_db, "consumer": consumer_db},
            containers,
        )
        self.base = {"AMQP_URI": amqp_uri, "max_workers": max_workers, "LOG_LEVEL": "WARNING"}
        # one kept connection each: polling must not cost a PostgreSQL backend per look
        self.watch = {k: create_engine(v, pool_size=1, max_overflow=1) for k, v in self.urls.items()}
        self.watch["other"] = create_engine(PG_ADMIN_URL, pool_size=1, max_overflow=0)  # pg_stat_activity

    def start(self, cls, **overrides) -> ServiceContainer:
        which = "producer" if cls is ChassisProducer else "consumer"
        container = ServiceContainer(cls, {**self.base, "DATABASE_URL": self.urls[which], **overrides})
        self.containers.append(container)
        container.start()
        return container

    def scalar(self, which: str, sql: str, **params):
        with self.watch[which].connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def handled(self) -> int:
        return self.scalar("consumer", "SELECT count(*) FROM bench_effect")

    def unsent(self) -> int:
        return self.scalar("producer", "SELECT count(*) FROM outbox WHERE sent_at IS NULL")

    def committed(self) -> int:
        return self.scalar("producer", "SELECT count(*) FROM outbox")

    def check_exactly_once(self, total: int) -> list[str]:
        """Every fact handled once, nothing left unsent or parked; returns what is wrong."""
        eventlet.sleep(0.5)  # a duplicate still on its way would show up now
        checks = {
            "effect rows": (self.handled(), total),
            "distinct events handled": (
                self.scalar("consumer", "SELECT count(DISTINCT event_id) FROM bench_effect"),
                total,
            ),
            "inbox rows": (self.scalar("consumer", "SELECT count(*) FROM inbox"), total),
            "unsent outbox rows": (self.unsent(), 0),
            "dead letters": (queue_depth(self.amqp_uri, f"{CONSUMER_QUEUE}.dead"), 0),
        }
        return [f"{what}: {seen}, expected {expected}" for what, (seen, expected) in checks.items() if seen != expected]

    def lags_ms(self, from_n: int) -> list[float]:
        with self.watch["consumer"].connect() as conn:
            return [
                1000 * v
                for v in conn.execute(text("SELECT lag FROM bench_effect WHERE n >= :n"), {"n": from_n}).scalars()
            ]

    def close(self):
        for engine in self.watch.values():
            engine.dispose()


def consumer_batches() -> float:
    """How many workers the chassis consumer has run so far (its batch-size histogram's count)."""
    return next(
        sample.value
        for metric in EVENT_BATCH_SIZE.collect()
        for sample in metric.samples
        if sample.name.endswith("_count") and sample.labels["queue"] == CONSUMER_QUEUE
    )


def measure_chassis(
    amqp_uri: str,
    producer_db: str,
    consumer_db: str,
    events: int,
    warmup: int,
    concurrency: int,
    max_workers: int,
    timeout: float,
    containers: list,
) -> HopResult:
    result = HopResult("b: chassis", events)
    rig = ChassisRig(amqp_uri, producer_db, consumer_db, max_workers, containers)
    try:
        rig.start(ChassisConsumer)  # the consumer first, as in (a)
        producer = rig.start(ChassisProducer)
        failures = drive(producer, "record", range(warmup), concurrency)
        if failures or not _wait(lambda: rig.handled() >= warmup, timeout):
            result.failures.append(f"warm-up did not complete ({rig.handled()}/{warmup}; {failures[:1]})")
            return result

        total = warmup + events
        batches_before = consumer_batches()
        meter = CpuMeter(database_names(producer_db, consumer_db))
        started = time.perf_counter()
        failures = drive(producer, "record", range(warmup, total), concurrency)
        result.produce_seconds = time.perf_counter() - started
        if failures:
            result.failures.append(f"{len(failures)} commits failed, e.g. {failures[0]!r}")
        if not _wait(lambda: rig.handled() >= total, timeout):
            result.failures.append(f"only {rig.handled() - warmup}/{events} facts handled within {timeout:g} s")
            return result
        result.seconds = time.perf_counter() - started
        result.cpu = meter.stop()
        result.mean_batch = events / (consumer_batches() - batches_before)
        result.failures += rig.check_exactly_once(total)
        lags = rig.lags_ms(warmup)
        result.lag_p50_ms, result.lag_p99_ms = percentile(lags, 50), percentile(lags, 99)
        return result
    finally:
        rig.close()


@dataclass
class StageResult:
    name: str
    events: int
    seconds: float | None = None
    cpu: CpuUse | None = None

    @property
    def rate(self) -> float | None:
        return self.events / self.seconds if self.seconds else None


def measure_chassis_stages(
    amqp_uri: str,
    producer_db: str,
    consumer_db: str,
    events: int,
    concurrency: int,
    max_workers: int,
    timeout: float,
    containers: list,
) -> tuple[list[StageResult], list[str]]:
    """(b) again, one stage at a time, so each stage's rate and CPU cost can be read on its own:

    1. commit: the producer commits `events` facts with its relay switched off;
    2. relay: a producer with its relay on publishes that backlog (nobody consumes yet);
    3. consume: the consumer handles the queued events.

    Stages 2 and 3 start their service while a table they need is locked, and the clock starts
    when the lock is released, so their start-up (topology, connections) is not timed.
    """
    stages = [
        StageResult(name, events) for name in ("1 commit (relay off)", "2 relay the backlog", "3 consume the queue")
    ]
    failures: list[str] = []
    rig = ChassisRig(amqp_uri, producer_db, consumer_db, max_workers, containers)

    def timed(stage: StageResult, action, done) -> bool:
        meter = CpuMeter(database_names(producer_db, consumer_db))
        started = time.perf_counter()
        action()
        if not _wait(done, timeout):
            failures.append(f"stage {stage.name!r} did not finish within {timeout:g} s")
            return False
        stage.seconds = time.perf_counter() - started
        stage.cpu = meter.stop()
        return True

    def start_behind_lock(stage: StageResult, cls, which: str, table: str, done) -> bool:
        database = rig.urls[which].rsplit("/", 1)[1]
        with rig.watch[which].connect() as conn:
            holding = conn.begin()
            conn.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))  # reads pass, writes and FOR UPDATE wait
            rig.start(cls)
            waiting = "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"
            if not _wait(lambda: rig.scalar("other", waiting, db=database) > 0, timeout):
                failures.append(f"stage {stage.name!r}: the service never reached the locked table")
                return False
            return timed(stage, holding.commit, done)

    try:
        # (the relay declares the whole topology, our consumer's queue included, before it publishes)
        silent = rig.start(ChassisProducer, OUTBOX_RELAY=False)
        drive(silent, "record", range(3), concurrency)  # connections and statement caches, not timed
        with rig.watch["producer"].begin() as conn:
            conn.execute(text("DELETE FROM outbox"))
        failed: list[Exception] = []
        if not timed(
            stages[0], lambda: failed.extend(drive(silent, "record", range(events), concurrency)), lambda: True
        ):
            return stages, failures
        if failed:
            failures.append(f"{len(failed)} commits failed, e.g. {failed[0]!r}")
        silent.stop()
        if not start_behind_lock(stages[1], ChassisProducer, "producer", "outbox", lambda: rig.unsent() == 0):
            return stages, failures
        if not start_behind_lock(
            stages[2], ChassisConsumer, "consumer", "bench_effect", lambda: rig.handled() >= events
        ):
            return stages, failures
        failures += rig.check_exactly_once(events)
        return stages, failures
    finally:
        rig.close()
