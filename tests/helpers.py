"""Small test helpers: read a queue like a partner, wait for a condition.

Waits are for conditions, never for time, and their timeouts are the harness's: at least
`PATIENCE` seconds (60, or $TONGBAN_TEST_PATIENCE), whatever a test asks for, so a machine busy
with other work makes a run slower, never red. A wait that is met returns at once; only a test that
is failing anyway waits the whole time.
"""

from __future__ import annotations

import contextlib
import json
import os
import time

from amqp.exceptions import NotFound
from kombu import Connection

PATIENCE = float(os.environ.get("TONGBAN_TEST_PATIENCE", "60"))
# The economic check's deadline per source in tests: long enough for every source that answers, on
# a machine busy with other work; a source a test stalls (infra.partner_data) makes its check wait
# this long, then reads as timed out.
CHECK_TIMEOUT_SECONDS = 8


def reply_json(handler, body) -> None:
    """Answer a standard-library `BaseHTTPRequestHandler` request with 200 and `body` as JSON (the
    plain servers that play outside parties in the tests)."""
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def wait_for(predicate, timeout: float = PATIENCE, interval: float = 0.05, what: str = "condition"):
    """Return the predicate's first truthy value; fail after max(timeout, PATIENCE) seconds."""
    patience = max(timeout, PATIENCE)
    deadline = time.monotonic() + patience
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {patience:g}s waiting for {what}")
        time.sleep(interval)


# One connection per vhost for the test's own reads of the broker: a wait polling a queue's depth
# every 50 ms would otherwise open 20 connections a second. Closed at the end of each test.
_connections: dict[str, Connection] = {}


def _connection(amqp_uri: str) -> Connection:
    conn = _connections.get(amqp_uri)
    if conn is None or not conn.connected:
        conn = _connections[amqp_uri] = Connection(amqp_uri)
        conn.connect()
    return conn


def close_broker_connections() -> None:
    for conn in _connections.values():
        with contextlib.suppress(Exception):  # the broker may have closed it with its vhost
            conn.release()
    _connections.clear()


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
    conn = _connection(amqp_uri)
    channel = conn.channel()
    try:
        _, depth, _ = channel.queue_declare(queue, passive=True)
    except NotFound:
        return 0  # a passive declare of a missing queue closes the channel: nothing to close
    channel.close()
    return depth
