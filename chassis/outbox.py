"""`outbox = Outbox()`: events are rows written in the worker's own transaction.

`self.outbox.record("marriage.registered", subject, data)` validates the event against the
catalogue and inserts it beside the state change; nothing reaches the broker unless that
transaction commits. The provider also runs this service's relay (chassis.relay), which publishes
committed rows and marks them sent only after the broker confirms them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy import insert
from sqlalchemy.orm import Session

from chassis.clock import clock_for
from chassis.db import Database, make_engine
from chassis.logs import bind_ids
from chassis.relay import OutboxRelay
from chassis.tables import outbox
from chassis.topology import EVENTS_EXCHANGE
from contracts.envelope import Envelope, InvalidEvent, new_event_id
from contracts.events import event_type, validate_envelope
from contracts.subscriptions import PARTNER_EXCHANGE, partner_routing_key

__all__ = ["Outbox", "OutboxWriter", "caused_by"]

# Built once: `insert(...).values(...)` per event spent a sixth of a producer's CPU building and
# hashing the statement (bench/PROFILE.md); parameters passed at execution reuse the compiled form.
_INSERT = insert(outbox)
_RELAYS: dict = {}  # (broker, database) -> (relay, number of Outbox providers using it)
# The event a handler is reacting to. A context variable rather than the worker's arguments: one
# worker handles a batch of events (chassis.events), and each recorded event must name its own
# cause. Every greenthread starts with an empty context, so one worker never sees another's.
_CAUSE: ContextVar[Envelope | None] = ContextVar("tongban_cause", default=None)


@contextmanager
def caused_by(event: Envelope):
    """Events recorded inside this block are caused by `event` (its matter and correlation)."""
    token = _CAUSE.set(event)
    try:
        yield
    finally:
        _CAUSE.reset(token)


class OutboxWriter:
    def __init__(self, session: Callable[[], Session], source: str, clock, correlation_id: str | None):
        self._session = session  # resolved late: dependencies are injected in no fixed order
        self._source = source
        self._clock = clock
        self._correlation_id = correlation_id

    def record(self, type_name: str, subject: str, data: dict, matter_id: str | None = None) -> Envelope:
        cause = _CAUSE.get()
        spec = event_type(type_name)
        unknown = set(data) - set(spec.validator.fields)
        if unknown:  # dump would drop them silently
            raise InvalidEvent({"data": {key: ["unknown field"] for key in sorted(unknown)}})
        event_id = new_event_id()
        envelope = Envelope(
            id=event_id,
            type=type_name,
            source=self._source,
            time=self._clock.now(),
            subject=subject,
            data=event_type(type_name).validator.dump(data),
            matter_id=matter_id or (cause.matter_id if cause else None),
            correlation_id=(cause.correlation_id or cause.id) if cause else (self._correlation_id or event_id),
            causation_id=cause.id if cause else None,
            schema_version=event_type(type_name).version,
        )
        validate_envelope(envelope)  # a wrong event is a bug here, not the consumer's problem
        if envelope.matter_id:  # the worker's later lines name the matter it just recorded for
            bind_ids(matter_id=envelope.matter_id)
        self._insert(envelope.id, envelope.type, EVENTS_EXCHANGE, envelope.type, envelope.to_json())
        return envelope

    def report_step(
        self,
        subject: str,
        matter_type: str,
        step: str,
        state: str,
        reason: str | None = None,
        matter_id: str | None = None,
    ) -> Envelope:
        """This service's step of a one-matter (一件事) reached `state`: the event the progress view
        folds. The matter is the handled event's unless named; a long reason is cut to what the
        contract keeps (500 characters)."""
        data = {"matter_type": matter_type, "step": step, "state": state, "reported_by": self._source}
        if reason is not None:
            data["reason"] = reason[:500]
        return self.record("matter.step_reported", subject, data, matter_id=matter_id)

    def forward_to_partner(
        self, partner_code: str, event: Envelope, data: dict, organisation: str | None = None
    ) -> None:
        """Queue a filtered copy of `event` for one partner department (minimal disclosure), or
        for one organisation under its code. The row is published to the partner-facing vhost by
        the partner feed's own relay (gateway.partner_feed), never by this service's.

        The copy keeps the event's id, so the partner can deduplicate by it.
        """
        copy = replace(event, data=data).to_json()
        self._insert(
            str(
                uuid.uuid5(
                    uuid.UUID(event.id), partner_code if organisation is None else f"{partner_code}/{organisation}"
                )
            ),
            event.type,
            PARTNER_EXCHANGE,
            partner_routing_key(partner_code, organisation, event.type),
            copy,
        )

    def _insert(self, message_id, type_name, exchange, routing_key, body):
        # on PostgreSQL a trigger NOTIFYs the relay when this commits (chassis.migrations)
        self._session().execute(
            _INSERT,
            {
                "event_id": message_id,
                "event_type": type_name,
                "exchange": exchange,
                "routing_key": routing_key,
                "body": body,
                "created_at": self._clock.now(),
            },
        )


class Outbox(DependencyProvider):
    """Gives the worker an OutboxWriter; runs the relay for its database.

    Services that share a database in one process (the gateway's three) share one relay, so rows
    are not published twice where the database cannot SKIP LOCKED (SQLite)."""

    def setup(self):
        config = self.container.config
        self.clock = clock_for(config)
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.relay_key = None
        if config.get("OUTBOX_RELAY", True):
            self.relay_key = (config["AMQP_URI"], config[self.database.url_key])

    def start(self):
        if self.relay_key is None:
            return
        relay, users = _RELAYS.get(self.relay_key, (None, 0))
        if relay is None:
            config = self.container.config
            engine = make_engine(self.relay_key[1], pool_size=2)  # the relay's own: it outlives any one container
            relay = OutboxRelay(
                lambda: engine,
                config["AMQP_URI"],
                self.container.service_name,
                clock=self.clock,
                batch_size=int(config.get("OUTBOX_BATCH", 200)),
                poll_interval=float(config.get("OUTBOX_POLL_INTERVAL", 0.5)),
                linger=float(config.get("OUTBOX_LINGER", 0.01)),
                except_exchanges=(PARTNER_EXCHANGE,),  # the partner feed's relay publishes those
            )
            eventlet.spawn(relay.run)
        _RELAYS[self.relay_key] = (relay, users + 1)

    def stop(self):
        if self.relay_key is None or self.relay_key not in _RELAYS:
            return
        relay, users = _RELAYS.pop(self.relay_key)
        if users > 1:
            _RELAYS[self.relay_key] = (relay, users - 1)
        else:
            relay.stop()

    kill = stop

    @property
    def relay(self) -> OutboxRelay | None:
        return _RELAYS.get(self.relay_key, (None, 0))[0] if self.relay_key else None

    def get_dependency(self, worker_ctx):
        return OutboxWriter(
            lambda: self.database.session_for(worker_ctx),
            self.container.service_name,
            self.clock,
            worker_ctx.context_data.get("correlation_id"),
        )

    def check_ready(self) -> None:
        if self.relay and not self.relay.healthy:
            raise RuntimeError(f"outbox relay unhealthy: {self.relay.last_error}")
