"""Signed webhooks: the intake that writes the webhook outbox, and the delivering loop.

The `webhooks` process (infra.processes) runs `WebhooksService`:

- `on_entitled_event` consumes every event some partner is entitled to and, in the transaction that
  claims the event in the inbox, writes one `webhook_message` per endpoint subscribed to its type,
  its data projected to the partner's entitled fields (contracts.partners). That row is the
  webhook outbox: nothing is delivered that was not committed, nothing committed is forgotten.
- `WebhookDelivery` sends the rows: Standard Webhooks headers (`webhook-id` stable across retries
  and replays, `webhook-timestamp`, `webhook-signature`) and CloudEvents binary mode (`ce-*`
  headers, the data as body). A row is sent with its row lock held (`FOR UPDATE SKIP LOCKED`): a
  process killed mid-delivery leaves it pending and it is sent again (at least once; receivers
  deduplicate by `webhook-id`). For one endpoint and one subject (one person) only the earliest
  pending row is ever sent, so a `death.revoked` never overtakes its `death.notified`. Failures are
  tried again with exponential backoff and jitter (gateway.webhook_rules) for 24 hours, then the row
  is abandoned, the endpoint disabled, `webhook.endpoint_disabled` published and the gauge raised.

Time is the chassis clock (scheduling, the 24 hours, latency); `webhook-timestamp` is the wall
clock's, as the receiver checks it against its own.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import datetime

import eventlet
import requests
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent
from nameko.extensions import DependencyProvider
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from chassis import SYSTEM, Audit, Clock, Database, Logger, Outbox, WorkerMetrics, handle_event
from chassis.clock import clock_for
from chassis.db import make_engine
from chassis.logs import get_logger, mask_resident_ids
from chassis.outbox import OutboxWriter
from contracts.envelope import Envelope
from contracts.partners import PARTNERS, project_for_partner
from contracts.subscriptions import SUBSCRIPTIONS
from gateway import webhook_rules as rules
from gateway.models import WebhookAttempt, WebhookEndpoint, WebhookMessage

__all__ = ["WebhooksService", "WebhookDelivery", "Deliverer", "webhook_id_for", "cloudevent_source"]

# The agreed names (operations' dashboards and alerts read them).
BACKLOG = Gauge("tongban_webhook_backlog", "Webhook deliveries pending (endpoint not disabled)", ["partner"])
OLDEST_PENDING = Gauge(
    "tongban_webhook_oldest_pending_seconds", "Age of the oldest pending webhook delivery (0 when none)", ["partner"]
)
DELIVERIES = Counter("tongban_webhook_deliveries_total", "Webhook delivery attempts by outcome", ["partner", "outcome"])
DELIVERY_SECONDS = Histogram(
    "tongban_webhook_delivery_seconds",
    "From the event's commit to a 2xx from the endpoint",
    ["partner"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 24 * 3600),
)
ENDPOINTS_DISABLED = Gauge(
    "tongban_webhook_endpoints_disabled", "Webhook endpoints disabled after failing for 24 hours", ["partner"]
)

_M = WebhookMessage.__table__
_E = WebhookEndpoint.__table__
_A = WebhookAttempt.__table__


def webhook_id_for(event_id: str, endpoint_id: str) -> str:
    """The delivery's stable id: the same for every attempt and every replay to this endpoint."""
    return str(uuid.uuid5(uuid.UUID(event_id), endpoint_id))


def cloudevent_source(producer: str) -> str:
    return f"/tongban/{producer}"


class Deliverer:
    """One pass at a time: `deliver_once()` sends what is due and records each outcome."""

    def __init__(
        self,
        engine,
        clock,
        *,
        batch_size: int = 100,
        concurrency: int = 20,
        timeout: float = 10.0,
        wall_clock=time.time,
        draw=random.random,
    ):
        self.engine, self.clock = engine, clock
        self.batch_size, self.timeout = batch_size, timeout
        self.wall_clock, self.draw = wall_clock, draw
        self.pool = eventlet.GreenPool(concurrency)
        self.http = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
        self.http.mount("https://", adapter)
        self.http.mount("http://", adapter)  # loopback endpoints, development and tests
        self.log = get_logger(service="webhooks", component="webhook-delivery")

    def due(self, conn, now: datetime):
        """The pending rows due now that are the earliest pending of their endpoint and subject."""
        earlier = aliased(WebhookMessage)
        ahead = exists().where(
            earlier.endpoint_id == _M.c.endpoint_id,
            earlier.subject == _M.c.subject,
            earlier.state == "pending",
            or_(
                earlier.event_time < _M.c.event_time,
                and_(earlier.event_time == _M.c.event_time, earlier.id < _M.c.id),
            ),
        )
        return conn.execute(
            select(_M, _E.c.url, _E.c.secret, _E.c.previous_secret, _E.c.previous_secret_until)
            .join(_E, _E.c.id == _M.c.endpoint_id)
            .where(_M.c.state == "pending", _E.c.state == "active", _M.c.next_attempt_at <= now, ~ahead)
            .order_by(_M.c.next_attempt_at, _M.c.id)
            .limit(self.batch_size)
            .with_for_update(of=_M, skip_locked=True)
        ).all()

    def request_for(self, row, now: datetime) -> tuple[dict, bytes]:
        body = json.dumps(row.data, ensure_ascii=False, separators=(",", ":")).encode()
        attributes = {
            "id": row.event_id,
            "source": cloudevent_source(row.source),
            "type": row.event_type,
            "subject": row.subject,
            "time": row.event_time,
            "datacontenttype": "application/json",
        }
        if row.matter_id:
            attributes["matterid"] = row.matter_id  # extension: the 一件事 the partner reports its step on
        message = to_binary_event(CloudEvent(attributes, body))
        timestamp = int(self.wall_clock())
        in_force = [row.secret]
        if row.previous_secret and row.previous_secret_until and row.previous_secret_until > now:
            in_force.append(row.previous_secret)
        headers = {
            **message.headers,
            "webhook-id": row.webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": rules.signature_header(in_force, row.webhook_id, timestamp, message.body),
            "User-Agent": "tongban-webhooks/1",
        }
        return headers, message.body

    def send(self, row, now: datetime):
        headers, body = self.request_for(row, now)
        started = time.perf_counter()
        try:
            response = self.http.post(row.url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False)
            status, error = response.status_code, None if 200 <= response.status_code < 300 else response.text[:200]
        except requests.RequestException as exc:
            status, error = None, f"{type(exc).__name__}: {exc}"[:300]
        return row, status, error, int((time.perf_counter() - started) * 1000)

    def deliver_once(self) -> int:
        with self.engine.begin() as conn:
            now = self.clock.now()
            rows = self.due(conn, now)
            delivered: dict[int, list[int]] = {}  # HTTP status -> rows: one UPDATE each, not one a row
            attempts = []
            # spawned on the shared pool: every loop's sends together stay within `concurrency` (the
            # pool's imap would give each pass a pool of its own: loops × concurrency in flight,
            # more than the connection pool holds)
            sends = eventlet.GreenPile(self.pool)
            for row in rows:
                sends.spawn(self.send, row, now)
            for row, status, error, latency_ms in sends:
                attempts.append(self._record(conn, row, status, error, latency_ms, delivered))
            recorded_at = self.clock.now()
            for status, ids in delivered.items():
                conn.execute(
                    update(_M)
                    .where(_M.c.id.in_(ids))
                    .values(
                        state="delivered",
                        attempts=_M.c.attempts + 1,
                        delivered_at=recorded_at,
                        last_status=status,
                        last_error=None,
                    )
                )
            if attempts:
                conn.execute(insert(_A), attempts)  # the delivery log, one multi-row INSERT
        return len(rows)

    def _record(self, conn, row, status, error, latency_ms, delivered: dict) -> dict:
        """The attempt's row for the delivery log; a failure's consequences written now, a success's
        collected in `delivered` (status -> row ids)."""
        now = self.clock.now()
        attempt = row.attempts + 1
        if error is None:
            outcome = "delivered"
            delivered.setdefault(status, []).append(row.id)
            DELIVERY_SECONDS.labels(row.partner).observe(max(0.0, (now - row.event_time).total_seconds()))
        else:
            error = mask_resident_ids(error)
            failing_since = row.failing_since or now
            if rules.gives_up(failing_since, now):
                outcome = "abandoned"
                conn.execute(
                    update(_M)
                    .where(_M.c.id == row.id)
                    .values(state="abandoned", attempts=attempt, last_status=status, last_error=error)
                )
                self._disable(conn, row, failing_since, error, now)
            else:
                outcome = "failed_attempt"
                conn.execute(
                    update(_M)
                    .where(_M.c.id == row.id)
                    .values(
                        attempts=attempt,
                        failing_since=failing_since,
                        next_attempt_at=now + rules.retry_delay(attempt, self.draw()),
                        last_status=status,
                        last_error=error,
                    )
                )
        DELIVERIES.labels(row.partner, outcome).inc()
        return {
            "endpoint_id": row.endpoint_id,
            "webhook_id": row.webhook_id,
            "event_type": row.event_type,
            "attempt": attempt,
            "at": now,
            "status": status,
            "latency_ms": latency_ms,
            "outcome": outcome,
            "error": error,
        }

    def _disable(self, conn, row, failing_since, error, now):
        changed = conn.execute(
            update(_E)
            .where(_E.c.id == row.endpoint_id, _E.c.state != "disabled")
            .values(
                state="disabled",
                disabled_at=now,
                disabled_reason=f"every delivery failed for 24 hours (since {failing_since.isoformat()}): {error}"[
                    :500
                ],
            )
        ).rowcount
        if not changed:
            return
        self.log.error("webhook.endpoint_disabled", endpoint_id=row.endpoint_id, partner=row.partner)
        # told in the same transaction: the event reaches operations (and the partner reads the
        # endpoint's state and reason through its API)
        OutboxWriter(lambda: conn, "webhooks", self.clock, None).record(
            "webhook.endpoint_disabled",
            f"webhook-endpoint-{row.endpoint_id}",
            {
                "endpoint_id": row.endpoint_id,
                "partner": row.partner,
                "url": row.url,
                "failing_since": failing_since,
                "last_error": (error or "")[:500],
            },
        )

    def gauges(self) -> None:
        """Backlog, oldest pending and disabled endpoints per partner, from one snapshot."""
        with self.engine.connect() as conn:
            self._gauges(conn)

    def _gauges(self, conn) -> None:
        pending = conn.execute(
            select(_M.c.partner, func.count(), func.min(_M.c.event_time))
            .join(_E, _E.c.id == _M.c.endpoint_id)
            .where(_M.c.state == "pending", _E.c.state != "disabled")
            .group_by(_M.c.partner)
        ).all()
        disabled = dict(
            conn.execute(
                select(_E.c.partner, func.count()).where(_E.c.state == "disabled").group_by(_E.c.partner)
            ).all()
        )
        by_partner = {partner: (count, oldest) for partner, count, oldest in pending}
        now = self.clock.now()
        for code in PARTNERS:
            count, oldest = by_partner.get(code, (0, None))
            BACKLOG.labels(code).set(count)
            OLDEST_PENDING.labels(code).set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
            ENDPOINTS_DISABLED.labels(code).set(disabled.get(code, 0))


class WebhookDelivery(DependencyProvider):
    """Runs the Deliverer in the service's process: `WEBHOOK_LOOPS` passes at a time (each its own
    transaction; `SKIP LOCKED` keeps them apart and one person's next event waits for the one
    before it, whichever pass holds it), each polling `WEBHOOK_POLL_INTERVAL` seconds when idle."""

    def setup(self):
        config = self.container.config
        self.poll_interval = float(config.get("WEBHOOK_POLL_INTERVAL", 0.2))
        self.enabled = bool(config.get("WEBHOOK_DELIVERY", True))
        self.deliverer = None
        self._stopped = False
        self.healthy, self.last_error = True, None
        self.loops = int(config.get("WEBHOOK_LOOPS", 4))
        if self.enabled:
            self.deliverer = Deliverer(
                make_engine(config["DATABASE_URL"], pool_size=self.loops + 1),
                clock_for(config),
                batch_size=int(config.get("WEBHOOK_BATCH", 50)),
                concurrency=int(config.get("WEBHOOK_CONCURRENCY", 20)),
                timeout=float(config.get("WEBHOOK_TIMEOUT_SECONDS", 10)),
            )

    def start(self):
        if self.deliverer is not None:
            for n in range(self.loops):
                self.container.spawn_managed_thread(self._run, identifier=f"webhook-delivery-{n}")
            self.container.spawn_managed_thread(self._gauge, identifier="webhook-gauges")

    def stop(self):
        self._stopped = True

    kill = stop

    def _run(self):
        backoff = 0.1
        while not self._stopped:
            try:
                sent = self.deliverer.deliver_once()
                self.healthy, self.last_error, backoff = True, None, 0.1
            except Exception as exc:  # the database away: the rows wait, try again
                self.healthy, self.last_error = False, repr(exc)
                self.deliverer.log.warning("webhook.delivery_pass_failed", error=mask_resident_ids(repr(exc)))
                eventlet.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if sent < self.deliverer.batch_size:
                eventlet.sleep(self.poll_interval)

    def _gauge(self, interval: float = 1.0):
        while not self._stopped:
            try:
                self.deliverer.gauges()
            except Exception as exc:  # the database away: the next try tells
                self.deliverer.log.warning("webhook.gauges_failed", error=repr(exc))
            eventlet.sleep(interval)

    def check_ready(self):
        if not self.healthy:
            raise RuntimeError(f"webhook delivery failing: {self.last_error}")

    def get_dependency(self, worker_ctx):
        return self.deliverer


class WebhooksService:
    name = "webhooks"

    db = Database()
    outbox = Outbox()  # publishes webhook.endpoint_disabled (the gateway database's relay)
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()
    delivery = WebhookDelivery()  # the delivering loop, beside the intake
    audit = Audit()

    @handle_event(*SUBSCRIPTIONS["webhooks.on_entitled_event"])
    def on_entitled_event(self, event: Envelope):
        # read once per worker (a batch of events shares its transaction), not once an event
        endpoints = self.db.info.get("webhook_endpoints")
        if endpoints is None:
            endpoints = self.db.info["webhook_endpoints"] = self.db.execute(select(WebhookEndpoint)).scalars().all()
        now = self.clock.now()
        for endpoint in endpoints:
            fields = PARTNERS[endpoint.partner].entitlements.get(event.type)
            if not fields or event.type not in endpoint.event_types:
                continue
            data = project_for_partner(event.data, fields)
            if PARTNERS[endpoint.partner].organisations and data.get("provider") != endpoint.organisation:
                continue  # an organisation acting apart receives only what is its own
            self.db.add(
                WebhookMessage(
                    endpoint_id=endpoint.id,
                    partner=endpoint.partner,
                    webhook_id=webhook_id_for(event.id, endpoint.id),
                    event_id=event.id,
                    event_type=event.type,
                    source=event.source,
                    subject=event.subject,
                    matter_id=event.matter_id,
                    event_time=event.time,
                    created_at=now,
                    data=data,
                    state="pending",
                    attempts=0,
                    next_attempt_at=now,
                )
            )

    @handle_event("webhook.endpoint_disabled")
    def on_endpoint_disabled(self, event: Envelope):
        """Operations' record of it (the audit log, with the alert on the gauge); any other
        consumer binds its own queue to the event."""
        self.log.error(
            "webhook.endpoint_disabled", partner=event.data["partner"], endpoint_id=event.data["endpoint_id"]
        )
        self.audit.record(
            SYSTEM,
            "webhook.disable_endpoint",
            event.subject,
            "disabled",
            reason=event.data.get("last_error"),
            partner=event.data["partner"],
            failing_since=str(event.data["failing_since"]),
        )
