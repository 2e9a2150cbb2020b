"""A throwaway pair of services that exercise the chassis alone: a producer and a consumer.

`python -m tests.integration.probe commit DB_URL AMQP_URI N` commits one event with the relay
switched off, prints "committed" and waits to be killed (the crash test kills it with SIGKILL).
`python -m tests.integration.probe serve-and-die DB_URL AMQP_URI` serves the prober's RPC, but
the first command it commits is never answered nor acked: it prints "committed" and waits to be
killed, as a process dying between its commit and its ack would.
"""

from __future__ import annotations

import sys

from marshmallow import Schema, fields
from sqlalchemy import Column, Integer, String, create_engine, text
from sqlalchemy.orm import declarative_base

from chassis import Database, Outbox, WorkerMetrics, handle_event, rpc
from chassis.migrations import chassis_triggers_sql
from chassis.tables import chassis_metadata
from contracts.events import EVENTS, EventType
from contracts.subscriptions import SUBSCRIPTIONS

Base = declarative_base()


class Thing(Base):
    __tablename__ = "thing"
    id = Column(Integer, primary_key=True)
    n = Column(Integer, nullable=False)


class Effect(Base):
    """No unique key on purpose: only the inbox stands between a duplicate and a second row."""

    __tablename__ = "effect"
    id = Column(Integer, primary_key=True)
    event_id = Column(String(36), nullable=False)
    n = Column(Integer, nullable=False)


class Claim(Base):
    """A unique key two requests may race for."""

    __tablename__ = "claim"
    id = Column(Integer, primary_key=True)
    key = Column(String(40), nullable=False, unique=True)


class ProbeData(Schema):
    n = fields.Integer(required=True)
    fail_times = fields.Integer(load_default=0, dump_default=0)
    echo = fields.Boolean(load_default=False, dump_default=False)  # the consumer records an event back


def register_contract():
    EVENTS["probe.happened"] = EventType("probe.happened", frozenset({"prober"}), ProbeData, "test")
    EVENTS["probe.unheard"] = EventType("probe.unheard", frozenset({"prober", "probe_consumer"}), ProbeData, "test")
    SUBSCRIPTIONS["probe_consumer.on_probe"] = ("probe.happened",)


def unregister_contract():
    for name in ("probe.happened", "probe.unheard"):
        EVENTS.pop(name, None)
    SUBSCRIPTIONS.pop("probe_consumer.on_probe", None)


def create_schema(url: str):
    engine = create_engine(url)
    chassis_metadata.create_all(engine)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        for statement in chassis_triggers_sql():
            conn.execute(text(statement))
    engine.dispose()


FAILURES: dict[int, int] = {}  # n -> failures so far (the consumer runs in the test process)


class Prober:
    name = "prober"
    db = Database()
    outbox = Outbox()

    @rpc
    def happen(self, n, fail_times=0, event_type="probe.happened", roll_back=False):
        self.db.add(Thing(n=n))
        self.outbox.record(event_type, f"thing-{n}", {"n": n, "fail_times": fail_times})
        if roll_back:
            raise RuntimeError("the state change failed after the event was recorded")
        return n

    @rpc
    def claim(self, key, linger=0.0):
        """Insert the key, then hold the transaction open `linger` seconds before the commit."""
        import eventlet

        self.db.add(Claim(key=key))
        self.db.flush()
        eventlet.sleep(linger)
        return key

    @rpc
    def things(self):
        return self.db.query(Thing).count()


class ProbeConsumer:
    name = "probe_consumer"
    db = Database()
    outbox = Outbox()
    metrics = WorkerMetrics()

    @handle_event("probe.happened")
    def on_probe(self, event):
        n = event.data["n"]
        self.db.add(Effect(event_id=event.id, n=n))
        if event.data.get("echo"):
            self.outbox.record("probe.unheard", f"echo-{n}", {"n": n})
        if FAILURES.get(n, 0) < event.data["fail_times"]:
            FAILURES[n] = FAILURES.get(n, 0) + 1
            self.db.flush()  # the effect reached the database, and must be rolled back
            raise RuntimeError(f"probe {n} fails (attempt {FAILURES[n]})")


def _commit_then_wait(db_url: str, amqp_uri: str, n: int):
    import eventlet

    eventlet.monkey_patch()
    from nameko.containers import ServiceContainer
    from nameko.standalone.rpc import ClusterRpcProxy

    register_contract()
    container = ServiceContainer(Prober, {"AMQP_URI": amqp_uri, "DATABASE_URL": db_url, "OUTBOX_RELAY": False})
    container.start()
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
        cluster.prober.happen(n)
    # The reply can arrive before the request's ack has reached the broker; a kill then would have
    # the broker redeliver the request to the next prober, which runs the command again (a second
    # event, as any redelivered non-idempotent RPC would). Stopping settles the ack; the relay is
    # off, so the event is still unpublished when the kill comes.
    container.stop()
    print("committed", flush=True)
    eventlet.sleep(600)


def _serve_and_die_after_commit(db_url: str, amqp_uri: str):
    import eventlet

    eventlet.monkey_patch()
    from nameko.containers import ServiceContainer
    from nameko.rpc import RpcConsumer

    register_contract()

    def commit_then_hang(consumer, message, result, exc_info):  # called after the commit
        print("committed", flush=True)
        eventlet.sleep(600)

    RpcConsumer.handle_result = commit_then_hang
    container = ServiceContainer(Prober, {"AMQP_URI": amqp_uri, "DATABASE_URL": db_url, "OUTBOX_RELAY": False})
    container.start()
    print("serving", flush=True)
    eventlet.sleep(600)


if __name__ == "__main__":
    if sys.argv[1] == "commit":
        _commit_then_wait(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        _serve_and_die_after_commit(sys.argv[2], sys.argv[3])
