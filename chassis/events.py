"""`@handle_event("marriage.registered")`: an idempotent, retrying, dead-lettering event handler.

For each delivery the entrypoint
1. validates the envelope and its data against `contracts` (an invalid event goes straight to
   `<queue>.dead` with the reason; it is never half-processed);
2. runs the handler with the inbox claim `(consumer, event id)` in the handler's own transaction,
   so a redelivered or duplicated event has its effect once;
3. commits, then acks; if the handler raised, republishes the message to `<queue>.retry.<delay>`,
   a queue per delay (so a long wait never holds up a short one), whence it flows back, and after the last attempt parks it in
   `<queue>.dead` with the error. The original is acked only once its copy is confirmed, so a crash
   in between duplicates (absorbed by the inbox) but never loses.

Deliveries that arrive together are handled together: one worker, one transaction, one inbox
statement and one COMMIT for up to `EVENT_BATCH_MAX` events (a commit and its round trips were
most of a consumer's cost, bench/PROFILE.md). Nothing waits to fill a batch; a batch is whatever
arrived while the previous worker was being dispatched. If any event of a batch fails, the batch
is rolled back and each of its events is handled again alone, so one bad event is retried or
parked by itself and never takes its neighbours with it.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from datetime import UTC, datetime

import eventlet
import structlog
from nameko.amqp.publish import Publisher
from nameko.messaging import Consumer, QueueConsumer

from chassis.clock import clock_for
from chassis.db import session_of
from chassis.entrypoints import CommitFirst
from chassis.inbox import claim
from chassis.logs import get_logger, mask_resident_ids
from chassis.metrics import DEAD_LETTERS, EVENT_BATCH_SIZE, EVENT_RETRIES
from chassis.outbox import caused_by
from chassis.topology import dead_queue_name, declare_consumer, retry_queue_name
from contracts.envelope import EnvelopeSchema, InvalidEvent
from contracts.events import validate_envelope
from contracts.subscriptions import SUBSCRIPTIONS

__all__ = ["EventHandler", "handle_event", "ATTEMPTS_HEADER", "REASON_HEADER", "ERROR_HEADER"]

ATTEMPTS_HEADER = "x-tongban-attempts"
REASON_HEADER = "x-tongban-reason"
ERROR_HEADER = "x-tongban-error"
FAILED_AT_HEADER = "x-tongban-failed-at"
DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000, 120_000)
DEFAULT_BATCH_MAX = 50
ENVELOPE = EnvelopeSchema()


class EventQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that
    - a message whose body cannot be decoded is parked in the handler's dead-letter queue
      (kombu's default logs it and acks it: lost);
    - each queue may have a batch in hand for every worker, not one message per worker."""

    @property
    def prefetch_count(self):
        config = self.container.config
        return int(
            config.get(
                "EVENT_PREFETCH", self.container.max_workers * int(config.get("EVENT_BATCH_MAX", DEFAULT_BATCH_MAX))
            )
        )

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = functools.partial(self._undecodable, provider)
        return consumers

    @staticmethod
    def _undecodable(provider, message, exc):
        provider._park(message, "undecodable", f"{type(exc).__name__}: {exc}")


class EventHandler(CommitFirst, Consumer):
    queue_consumer = EventQueueConsumer()

    def __init__(self, *event_types: str, **kwargs):
        self.event_types = tuple(event_types)
        kwargs.setdefault("expected_exceptions", ())
        super().__init__(queue=None, **kwargs)

    @property
    def consumer(self) -> str:
        return f"{self.container.service_name}.{self.method_name}"

    def setup(self):
        declared = SUBSCRIPTIONS.get(self.consumer)
        if declared is None or set(declared) != set(self.event_types):
            raise RuntimeError(
                f"{self.consumer} handles {sorted(self.event_types)} but contracts.subscriptions "
                f"declares {declared}; add it there so the topology binds its queue up front"
            )
        config = self.container.config
        self.retry_delays_ms = tuple(int(d) for d in config.get("EVENT_RETRY_DELAYS_MS", DEFAULT_RETRY_DELAYS_MS))
        self.queue = declare_consumer(config["AMQP_URI"], self.consumer, self.event_types, self.retry_delays_ms)
        self.publisher = Publisher(config["AMQP_URI"], use_confirms=True, mandatory=True)
        self.clock = clock_for(config)
        self.log = get_logger(service=self.container.service_name, consumer=self.consumer)
        self.batch_max = int(config.get("EVENT_BATCH_MAX", DEFAULT_BATCH_MAX))
        self._waiting: deque = deque()  # (envelope, message, replay alone?)
        self._dispatching = False
        for reason in ("invalid_event", "undecodable", "handler_failed"):  # exported at 0 from the start
            DEAD_LETTERS.labels(self.queue.name, reason)
        EVENT_RETRIES.labels(self.queue.name)
        super().setup()

    def handle_message(self, body, message):
        try:
            envelope = ENVELOPE.load_envelope(body)
            if envelope.type not in self.event_types:
                raise InvalidEvent({"type": [f"{self.consumer} does not handle {envelope.type!r}"]})
            validate_envelope(envelope)
        except InvalidEvent as exc:
            self._park(message, "invalid_event", json.dumps(exc.errors, ensure_ascii=False))
            return
        self._waiting.append((envelope, message, False))
        self._dispatch()

    def _dispatch(self):
        """Hand waiting deliveries to workers, a batch at a time; one dispatcher per handler.

        The first delivery to arrive becomes the dispatcher. It yields once, so the deliveries
        read from the socket with it join its batch, and keeps dispatching while deliveries wait
        (while the worker pool is full they pile up and the next batch is larger)."""
        if self._dispatching:
            return
        self._dispatching = True
        try:
            eventlet.sleep(0)
            while self._waiting:
                batch = self._next_batch()
                envelopes = [envelope for envelope, _, _ in batch]
                context = {} if len(batch) > 1 else {"correlation_id": envelopes[0].correlation_id or envelopes[0].id}
                EVENT_BATCH_SIZE.labels(self.queue.name).observe(len(batch))
                try:
                    self.container.spawn_worker(
                        self,
                        (envelopes,),
                        {},
                        context_data=context,
                        handle_result=functools.partial(self.handle_result, batch),
                    )
                except Exception:  # container shutting down: let the broker give them to someone else
                    for _, message, _ in batch:
                        self.queue_consumer.requeue_message(message)
        finally:
            self._dispatching = False

    def _next_batch(self) -> list:
        """The next delivery alone if it is being replayed alone, else up to `batch_max` others."""
        batch = [self._waiting.popleft()]
        if batch[0][2]:
            return batch
        while self._waiting and len(batch) < self.batch_max and not self._waiting[0][2]:
            batch.append(self._waiting.popleft())
        return batch

    def handle_message_processed(self, batch, result=None, exc_info=None):
        if exc_info is None:
            for _, message, _ in batch:
                self.queue_consumer.ack_message(message)
            return
        if len(batch) > 1:  # rolled back together; find the culprit by handling each alone
            self.log.info(
                "event.batch_replayed_alone",
                events=len(batch),
                error=mask_resident_ids(f"{exc_info[0].__name__}: {exc_info[1]}"),
            )
            self._waiting.extendleft((envelope, message, True) for envelope, message, _ in reversed(batch))
            self.container.spawn_managed_thread(self._dispatch, identifier=f"{self.consumer}.dispatch")
            return
        message = batch[0][1]
        attempts = int((message.headers or {}).get(ATTEMPTS_HEADER, 0)) + 1
        error = mask_resident_ids(f"{exc_info[0].__name__}: {exc_info[1]}")
        if attempts <= len(self.retry_delays_ms):
            delay = self.retry_delays_ms[attempts - 1]
            self.log.warning("event.retry_scheduled", attempts=attempts, delay_ms=delay, error=error)
            if self._republish(
                message, retry_queue_name(self.queue.name, delay), {ATTEMPTS_HEADER: attempts, ERROR_HEADER: error}
            ):
                EVENT_RETRIES.labels(self.queue.name).inc()
        else:
            self._park(message, "handler_failed", error, attempts)

    def _park(self, message, reason: str, error: str, attempts: int | None = None):
        self.log.error("event.dead_lettered", reason=reason, error=error)
        headers: dict[str, str | int] = {
            REASON_HEADER: reason,
            ERROR_HEADER: mask_resident_ids(error)[:4000],
            FAILED_AT_HEADER: datetime.now(UTC).isoformat(),
        }
        if attempts is not None:
            headers[ATTEMPTS_HEADER] = attempts
        if self._republish(message, dead_queue_name(self.queue.name), headers):
            DEAD_LETTERS.labels(self.queue.name, reason).inc()

    def _republish(self, message, queue_name: str, headers: dict) -> bool:
        """Copy the message to one of our side queues, then ack it; on failure requeue it."""
        try:
            self.publisher.publish(
                message.body,
                exchange="",
                routing_key=queue_name,
                serializer=None,
                content_type=message.content_type or "application/json",
                content_encoding=message.content_encoding or "utf-8",
                headers={**(message.headers or {}), **headers},
                message_id=message.properties.get("message_id"),
            )
        except Exception as exc:
            self.log.error("event.republish_failed", queue=queue_name, error=repr(exc))
            self.queue_consumer.requeue_message(message)
            return False
        self.queue_consumer.ack_message(message)
        return True


def handle_event(*event_types: str, **kwargs):
    """Decorate `def on_x(self, event: Envelope)`; the body runs at most once per event id.

    The worker gets a batch; the body still sees one event at a time, with that event as the
    cause of whatever it records in the outbox and its ids bound to its log lines."""

    def decorate(fn):
        consumer_method = fn.__name__

        @functools.wraps(fn)
        def each_once(service, events):
            consumer = f"{service.name}.{consumer_method}"
            claimed = claim(session_of(service), consumer, [event.id for event in events], datetime.now(UTC))
            for event in events:
                with structlog.contextvars.bound_contextvars(
                    event_id=event.id, correlation_id=event.correlation_id or event.id, matter_id=event.matter_id
                ):
                    if event.id not in claimed:
                        get_logger(consumer=consumer).info("event.duplicate_skipped")
                        continue
                    claimed.discard(event.id)  # the same event twice in one batch: once
                    with caused_by(event):
                        fn(service, event)

        return EventHandler.decorator(*event_types, **kwargs)(each_once)

    return decorate
