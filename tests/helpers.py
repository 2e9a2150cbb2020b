"""Small test helpers: read a queue like a partner, wait for a condition."""

from __future__ import annotations

import json
import time

from amqp.exceptions import NotFound
from kombu import Connection


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def get_messages(amqp_uri: str, queue: str, ack: bool = True) -> list:
    """Every message now in `queue` (basic.get; the queue must exist): (headers, body dict)."""
    out, held = [], []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while True:
            message = channel.basic_get(queue, no_ack=False)
            if message is None:
                break
            out.append((dict(message.headers or {}), json.loads(message.body)))
            if ack:
                channel.basic_ack(message.delivery_tag)
            else:
                held.append(message.delivery_tag)  # hold until the end, or basic_get sees it again
        for tag in held:
            channel.basic_reject(tag, requeue=True)
    return out


def queue_depth(amqp_uri: str, queue: str) -> int:
    """Messages ready on the queue; 0 while nobody has declared it yet (each relay declares the
    topology before its first publish, so a test that polls early can find no queue at all)."""
    with Connection(amqp_uri) as conn:
        try:
            _, depth, _ = conn.channel().queue_declare(queue, passive=True)
        except NotFound:
            return 0
    return depth
