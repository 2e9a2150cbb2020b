"""The outbox relay: committed event rows → broker, with confirms, `mandatory`, and crash recovery.

Each pass claims a batch of unsent rows with `FOR UPDATE SKIP LOCKED` (so several replicas share
the work), publishes them with publisher confirms and `mandatory=True`, and marks sent only the
rows the broker confirmed and routed. A crash anywhere leaves rows unsent and the next pass (of this
process after restart, or of a replica) publishes them again; consumers' inboxes absorb the
duplicate. Unroutable or nacked rows stay unsent with the error recorded and are retried.
PostgreSQL NOTIFY wakes the relay as soon as a writer commits; otherwise it polls.
"""

from __future__ import annotations

import contextlib
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import amqp
import eventlet
from eventlet.event import Event
from kombu import Connection
from sqlalchemy import func, or_, select, true, update

from chassis.logs import get_logger, mask_resident_ids
from chassis.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from chassis.tables import outbox
from chassis.topology import declare_topology

__all__ = ["OutboxRelay", "ConfirmingPublisher", "NOTIFY_CHANNEL"]

NOTIFY_CHANNEL = "tongban_outbox"
MAX_REFUSED_PAUSE_SECONDS = 300


class ConfirmingPublisher:
    """Publishes a batch and waits for every confirm (one round trip per batch, not per message)."""

    def __init__(self, amqp_uri: str, confirm_timeout: float = 10.0):
        self.amqp_uri = amqp_uri
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._channel: Any = None
        self._next_tag = 1
        self._pending: dict[int, str] = {}  # delivery tag -> message id, awaiting its confirm
        self._outcome: dict[str, str | None] = {}  # message id -> error (None: confirmed and routed)

    def _open(self) -> tuple[Connection, Any]:
        """The connection and its confirming channel, opened on first use and after a failure."""
        if self._connection is not None and self._channel is not None:
            return self._connection, self._channel
        connection = self._connection = Connection(self.amqp_uri, heartbeat=0)
        connection.connect()
        channel = connection.connection.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._channel, self._next_tag, self._pending, self._outcome = channel, 1, {}, {}
        return connection, channel

    def close(self):
        if self._connection is not None:
            with contextlib.suppress(Exception):  # a connection already broken has nothing to release
                self._connection.release()
        self._connection = self._channel = None

    def _settle(self, delivery_tag, multiple, error):
        tags = [t for t in self._pending if t <= delivery_tag] if multiple else [delivery_tag]
        for tag in tags:
            message_id = self._pending.pop(tag, None)
            if message_id is not None:
                # a return (unroutable) arrives before the ack of the same message: keep it
                self._outcome.setdefault(message_id, error)

    def _on_ack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, None)

    def _on_nack(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple, "nacked by the broker")

    def _on_return(self, exc, exchange, routing_key, message):
        self._outcome[message.properties["message_id"]] = f"unroutable: {exc}"

    def publish_batch(self, messages) -> dict[str, str | None]:
        """messages: (message_id, exchange, routing_key, body dict). Returns message_id -> error or None."""
        try:
            connection, channel = self._open()
            self._pending, self._outcome = {}, {}
            for message_id, exchange, routing_key, body in messages:
                channel.basic_publish(
                    amqp.Message(
                        json.dumps(body, ensure_ascii=False).encode(),
                        content_type="application/json",
                        content_encoding="utf-8",
                        delivery_mode=2,
                        message_id=message_id,
                    ),
                    exchange=exchange,
                    routing_key=routing_key,
                    mandatory=True,
                )
                # the broker numbers confirms 1, 2, … per channel in publish order
                self._pending[self._next_tag] = message_id
                self._next_tag += 1
            while self._pending:
                connection.connection.drain_events(timeout=self.confirm_timeout)
            return {message[0]: self._outcome.get(message[0]) for message in messages}
        except BaseException:
            self.close()  # the tag count is only right on a fresh channel
            raise


class OutboxRelay:
    def __init__(
        self,
        engine_factory,
        amqp_uri: str,
        service: str,
        clock,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        linger: float = 0.01,
        gauge_interval: float = 1.0,
        only_exchanges: tuple[str, ...] | None = None,
        except_exchanges: tuple[str, ...] = (),
        declare: bool = True,
    ):
        """`only_exchanges` / `except_exchanges`: the rows this relay publishes, by their exchange
        (the partner feed's rows go to another broker vhost, by a relay of their own);
        `declare=False`: the broker's topology is someone else's (an account that may only publish)."""
        self.engine_factory = engine_factory
        self.amqp_uri = amqp_uri
        self.service = service
        self.clock = clock
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.linger = linger
        self.gauge_interval = gauge_interval
        self.only_exchanges, self.except_exchanges, self.declare = only_exchanges, tuple(except_exchanges), declare
        self._gauged_at = float("-inf")
        self.publisher = ConfirmingPublisher(amqp_uri)
        self.log = get_logger(service=service, component="outbox-relay")
        self._wake = Event()
        self._stopped = False
        self.healthy = False
        self.last_error: str | None = None

    def stop(self):
        self._stopped = True  # the loop closes its own connection: never from another green thread
        self.wake()

    def wake(self):
        if not self._wake.ready():
            self._wake.send(True)

    def run(self):
        engine = self.engine_factory()
        if engine.dialect.name == "postgresql":
            eventlet.spawn(self._listen, engine)
        backoff, declared = 0.1, False
        while not self._stopped:
            self._wake = Event()  # a NOTIFY arriving while we publish still wakes the next wait
            try:
                if not declared and self.declare:  # a broker that is down at start-up is waited for, like later
                    declare_topology(self.amqp_uri)
                    declared = True
                published = self.relay_once()
                self.healthy, self.last_error, backoff = True, None, 0.1
            except Exception as exc:  # broker or database away: keep the rows, try again
                self.healthy, self.last_error = False, repr(exc)
                self.log.warning("outbox.relay_failed", error=repr(exc), retry_in=backoff)
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if published < self.batch_size:
                self._wake.wait(timeout=self.poll_interval)
                # let a burst of commits gather into one batch: each pass costs a transaction and a
                # confirm round trip however few rows it carries
                eventlet.sleep(self.linger)
        self.publisher.close()
        self.engine_factory().dispose()

    def _mine(self):
        """The condition on outbox rows that are this relay's to publish."""
        if self.only_exchanges is not None:
            return outbox.c.exchange.in_(self.only_exchanges)
        if self.except_exchanges:
            return outbox.c.exchange.not_in(self.except_exchanges)
        return true()

    def relay_once(self) -> int:
        engine = self.engine_factory()
        with engine.begin() as conn:
            now = self.clock.now()
            rows = conn.execute(
                select(
                    outbox.c.id,
                    outbox.c.event_id,
                    outbox.c.event_type,
                    outbox.c.exchange,
                    outbox.c.routing_key,
                    outbox.c.body,
                    outbox.c.attempts,
                )
                .where(
                    self._mine(),
                    outbox.c.sent_at.is_(None),
                    or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now),
                )
                .order_by(outbox.c.id)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if rows:
                outcome = self.publisher.publish_batch([(r.event_id, r.exchange, r.routing_key, r.body) for r in rows])
                sent = [r.id for r in rows if outcome[r.event_id] is None]
                if sent:
                    conn.execute(update(outbox).where(outbox.c.id.in_(sent)).values(sent_at=datetime.now(UTC)))
                for row in rows:
                    error = outcome[row.event_id]
                    if error is None:
                        EVENTS_PUBLISHED.labels(self.service, row.event_type).inc()
                    else:
                        # kept (an event is never dropped), tried again after a growing pause;
                        # the backlog and oldest-age gauges show it to operations
                        pause = timedelta(seconds=min(2**row.attempts, MAX_REFUSED_PAUSE_SECONDS))
                        self.log.error(
                            "outbox.publish_refused",
                            event_id=row.event_id,
                            event_type=row.event_type,
                            error=error,
                            retry_in=pause.total_seconds(),
                        )
                        conn.execute(
                            update(outbox)
                            .where(outbox.c.id == row.id)
                            .values(
                                attempts=outbox.c.attempts + 1,
                                last_error=mask_resident_ids(error),
                                next_attempt_at=now + pause,
                            )
                        )
            if time.monotonic() - self._gauged_at >= self.gauge_interval:  # not on every pass
                self._gauged_at = time.monotonic()
                backlog, oldest = conn.execute(
                    select(func.count(), func.min(outbox.c.created_at)).where(self._mine(), outbox.c.sent_at.is_(None))
                ).one()
                OUTBOX_BACKLOG.labels(self.service).set(backlog)
                OUTBOX_OLDEST_AGE.labels(self.service).set(
                    max(0.0, (self.clock.now() - oldest).total_seconds()) if oldest else 0.0
                )
        return len(rows)

    def _listen(self, engine):
        """Wake the relay on NOTIFY; reconnects if the database goes away."""
        from eventlet.hubs import trampoline

        while not self._stopped:
            try:
                raw = engine.raw_connection()
                raw.detach()
                pg = raw.dbapi_connection
                pg.autocommit = True
                pg.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")
                while not self._stopped:
                    try:
                        trampoline(pg, read=True, timeout=5.0, timeout_exc=socket.timeout)
                    except TimeoutError:
                        continue
                    pg.poll()
                    if pg.notifies:
                        pg.notifies.clear()
                        self.wake()
            except Exception as exc:
                self.log.warning("outbox.listen_failed", error=repr(exc))
                eventlet.sleep(1.0)
