"""The broker topology, declared from `contracts` before anything is published.

- `tongban.events` (topic): every event, routing key = event type.
- one quorum queue per consumer, `<service>.<handler>`, bound to its event types; beside it
  `<queue>.retry.<delay>ms` (classic queues whose messages expire back into the consumer queue:
  the backoff) and `<queue>.dead` (the dead-letter queue, with the reason in the headers).
- on the partner-facing vhost (another one: partners never see the services' vhost),
  `tongban.partners` (topic): filtered copies for partner departments, routing key
  `<partner>.<event type>`, each partner on its own quorum queue `partner.<code>` (and each
  organisation of a code whose organisations act apart on `partner.<code>.<organisation>`, routing
  key `<partner>.<organisation>.<event type>`). Declared by `infra.partners` (the partners'
  provisioning), with the broker's administrator: the partner feed may only publish there.

Quorum queues count redeliveries; `x-delivery-limit` parks a message that keeps crashing its
consumer process in `.dead` instead of looping (at-least-once dead-lettering, RabbitMQ ≥ 3.10).
Every deployment uses them. `TONGBAN_QUEUE_TYPE=classic` declares classic queues instead, for the
test harness only: each test declares the whole topology in a vhost of its own, and 150 Raft groups
a test, made and deleted, is what wore the test broker down (tests/conftest.py).
"""

from __future__ import annotations

import os
from functools import lru_cache
from urllib.parse import urlsplit

from kombu import Connection, Exchange, Queue, binding

from contracts.partners import PARTNERS
from contracts.subscriptions import IN_ORDER, PARTNER_EXCHANGE, SUBSCRIPTIONS, partner_queue

__all__ = [
    "EVENTS_EXCHANGE",
    "events_exchange",
    "partners_exchange",
    "consumer_queue",
    "retry_queue_name",
    "dead_queue_name",
    "declare_topology",
    "declare_consumer",
    "supports_quorum",
    "partner_queues",
    "partner_queue_spec",
    "declare_partner_topology",
]

EVENTS_EXCHANGE = "tongban.events"
events_exchange = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
partners_exchange = Exchange(PARTNER_EXCHANGE, type="topic", durable=True)

# Redeliveries (crashes, not handler errors: those are retried by the chassis) before parking.
DELIVERY_LIMIT = 20


def retry_queue_name(queue: str, delay_ms: int) -> str:
    return f"{queue}.retry.{delay_ms}ms"


def dead_queue_name(queue: str) -> str:
    return f"{queue}.dead"


def supports_quorum(amqp_uri: str) -> bool:
    """Whether the topology's queues are quorum queues: the broker can (≥ 3.10) and the harness
    has not asked for classic ones."""
    if os.environ.get("TONGBAN_QUEUE_TYPE", "quorum") == "classic":
        return False
    url = urlsplit(amqp_uri)  # the version is the broker's, whatever the vhost
    return _broker_has_quorum(f"{url.scheme}://{url.netloc}/")


@lru_cache(maxsize=8)
def _broker_has_quorum(broker_uri: str) -> bool:
    with Connection(broker_uri) as conn:
        conn.connect()
        version = conn.connection.server_properties.get("version", "0")
    major, minor = (int(p) for p in str(version).split(".")[:2])
    return (major, minor) >= (3, 10)


def _durable_arguments(queue: str, quorum: bool) -> dict:
    if not quorum:
        return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_queue_name(queue)}
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": dead_queue_name(queue),
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def consumer_queue(name: str, event_types, quorum: bool) -> Queue:
    arguments = _durable_arguments(name, quorum)
    if name in IN_ORDER:
        arguments["x-single-active-consumer"] = True
    return Queue(
        name,
        bindings=[binding(events_exchange, routing_key=t) for t in event_types],
        durable=True,
        queue_arguments=arguments,
    )


def partner_queue_spec(code: str, organisation: str | None, quorum: bool) -> Queue:
    """The queue of one partner (or one organisation under its code) on the partner vhost."""
    name = partner_queue(code, organisation)
    prefix = code if organisation is None else f"{code}.{organisation}"
    return Queue(
        name,
        bindings=[binding(partners_exchange, routing_key=f"{prefix}.#")],
        durable=True,
        queue_arguments=_durable_arguments(name, quorum),
    )


def partner_queues(quorum: bool, organisations: dict | None = None, departments: bool = True) -> list[Queue]:
    """Every partner's queue: one per code (unless not `departments`), and for a code whose
    organisations act apart one per organisation named in `organisations` ({code: [organisation, …]})
    and none for the code."""
    organisations = organisations or {}
    out = []
    for code, partner in PARTNERS.items():
        if partner.organisations:
            out += [partner_queue_spec(code, org, quorum) for org in organisations.get(code, ())]
        elif departments:
            out.append(partner_queue_spec(code, None, quorum))
    return out


def declare_partner_topology(admin_uri: str, organisations: dict | None = None, departments: bool = True) -> list[str]:
    """Declare the partner exchange and the partners' queues (with their dead-letter queues) on the
    partner vhost `admin_uri` names, as an account that may configure it; return the queue names."""
    quorum = supports_quorum(admin_uri)
    queues = partner_queues(quorum, organisations, departments)
    with Connection(admin_uri) as conn:
        channel = conn.channel()
        partners_exchange(channel).declare()
        for queue in queues:
            queue(channel).declare()
            _dead_queue(queue.name, quorum)(channel).declare()
    return [q.name for q in queues]


def _dead_queue(name: str, quorum: bool) -> Queue:
    return Queue(dead_queue_name(name), durable=True, queue_arguments={"x-queue-type": "quorum"} if quorum else {})


def _retry_queues(name: str, delays_ms) -> list[Queue]:
    """One classic queue per delay: everything in it waits the same time, then expires back into
    the consumer queue (per-message TTLs in one queue only expire at its head)."""
    return [
        Queue(
            retry_queue_name(name, delay),
            durable=True,
            queue_arguments={
                "x-message-ttl": int(delay),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": name,
            },
        )
        for delay in delays_ms
    ]


def all_queues(quorum: bool) -> list[Queue]:
    queues = [consumer_queue(name, types, quorum) for name, types in SUBSCRIPTIONS.items()]
    # retry queues are declared by each consumer at start-up: their delays are its configuration
    return queues + [_dead_queue(queue.name, quorum) for queue in queues]


def declare_consumer(amqp_uri: str, name: str, event_types, retry_delays_ms) -> Queue:
    """Declare one consumer's queue with its retry and dead-letter queues; return the queue."""
    quorum = supports_quorum(amqp_uri)
    queue = consumer_queue(name, event_types, quorum)
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        events_exchange(channel).declare()
        for q in [queue, _dead_queue(name, quorum), *_retry_queues(name, retry_delays_ms)]:
            q(channel).declare()
    return queue


def declare_topology(amqp_uri: str) -> list[str]:
    """Declare every exchange and queue the system uses (idempotent); return the queue names."""
    quorum = supports_quorum(amqp_uri)
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        events_exchange(channel).declare()
        queues = all_queues(quorum)
        for queue in queues:
            queue(channel).declare()
    return [q.name for q in queues]
