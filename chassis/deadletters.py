"""Dead letters for the operations team: list what is parked and why, and replay it once fixed.

    python -m chassis.deadletters list  progress.on_matter_event
    python -m chassis.deadletters replay progress.on_matter_event [--limit N]

Replaying moves each message from `<queue>.dead` back to `<queue>` with its attempt count reset;
the consumer's inbox makes a replay of something already handled harmless.
"""

from __future__ import annotations

import argparse
import json
import os

from kombu import Connection

from chassis.events import ATTEMPTS_HEADER, ERROR_HEADER, REASON_HEADER
from chassis.topology import dead_queue_name

__all__ = ["parked", "replay"]


def parked(amqp_uri: str, queue: str, limit: int | None = None) -> list[dict]:
    """What waits in the queue's dead-letter queue, the first `limit` of it (nothing is removed)."""
    out: list[dict] = []
    held: list[int] = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        while limit is None or len(held) < limit:
            message = channel.basic_get(dead_queue_name(queue), no_ack=False)
            if message is None:
                break
            held.append(message.delivery_tag)
            headers = message.headers or {}
            body = json.loads(message.body)
            out.append(
                {
                    "event_id": body.get("id"),
                    "type": body.get("type"),
                    "reason": headers.get(REASON_HEADER),
                    "error": headers.get(ERROR_HEADER),
                    "attempts": headers.get(ATTEMPTS_HEADER),
                }
            )
        for tag in held:
            channel.basic_reject(tag, requeue=True)
    return out


def replay(amqp_uri: str, queue: str, limit: int | None = None) -> int:
    """Move parked messages back to the consumer queue; returns how many were moved."""
    moved = 0
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        channel = conn.channel()
        while limit is None or moved < limit:
            message = channel.basic_get(dead_queue_name(queue), no_ack=False)
            if message is None:
                break
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in (ATTEMPTS_HEADER, REASON_HEADER, ERROR_HEADER) and not k.startswith("x-death")
            }
            producer = conn.Producer(channel)
            producer.publish(
                message.body,
                exchange="",
                routing_key=queue,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                message_id=message.properties.get("message_id"),
            )
            channel.basic_ack(message.delivery_tag)  # only after the broker confirmed the copy
            moved += 1
    return moved


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["list", "replay"])
    parser.add_argument("queue", help="the consumer queue, e.g. progress.on_matter_event")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    args = parser.parse_args(argv)
    if args.command == "list":
        for entry in parked(args.amqp, args.queue):
            print(json.dumps(entry, ensure_ascii=False))
    else:
        print(f"replayed {replay(args.amqp, args.queue, args.limit)} message(s) to {args.queue}")


if __name__ == "__main__":
    main()
