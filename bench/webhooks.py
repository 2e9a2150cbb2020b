"""Benchmark: signed webhook delivery, from the event's commit to its verified receipt.

    python -m bench.webhooks [--rate 200] [--seconds 30] [--write]

Everything runs in this one process on this machine's RabbitMQ and PostgreSQL (or those named by
TONGBAN_TEST_AMQP / TONGBAN_TEST_PG, as the tests take them), on scratch vhosts and databases
deleted at the end: a producer (the funeral service's outbox and its relay, chassis.outbox and
chassis.relay), the webhooks process (gateway.webhooks: intake and delivering loop) and a partner's
receiver (a plain http.server verifying every delivery with `standardwebhooks`), on the real clock.

Events are committed open-loop at the offered rate, each in its own transaction (the producer's
outbox row), alternating a `death.notified` and its `death.revoked` for one person, so the
per-person ordering is exercised too. Measured per event: from its commit (the envelope's time, as
the outbox wrote it) to the moment the receiver has verified the delivery. An event not received
within 120 s after the last commit, a failed verification, a revocation received before its notice
or a dead letter is an error. Results go to bench/WEBHOOKS.md with --write.
"""

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import date  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from pathlib import Path  # noqa: E402

from dateutil.parser import isoparse  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from sqlalchemy import text  # noqa: E402
from standardwebhooks import Webhook  # noqa: E402

from bench.machine import CpuMeter, cpu_lines, database_names, error_lines, percentile_cells, publish, run_stamp  # noqa: E402
from chassis.clock import system_clock  # noqa: E402
from chassis.db import make_engine  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from chassis.migrations import upgrade  # noqa: E402
from chassis.outbox import OutboxWriter  # noqa: E402
from chassis.relay import OutboxRelay  # noqa: E402
from chassis.topology import declare_topology  # noqa: E402
from contracts.events import EVENTS  # noqa: E402
from contracts.person import compose_resident_id  # noqa: E402
from gateway import webhook_rules as rules  # noqa: E402
from gateway.asyncapi import example_of  # noqa: E402
from gateway.models import WebhookEndpoint  # noqa: E402
from gateway.webhooks import WebhooksService  # noqa: E402
from infra.scratch import Scratch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Result:
    rate: float
    seconds: float
    offered: int = 0
    latencies: list = field(default_factory=list)  # seconds, commit → verified receipt
    received: int = 0
    duplicates: int = 0
    errors: list = field(default_factory=list)
    cpu: object = None
    to_intake: list = field(default_factory=list)  # seconds, commit → webhook outbox row
    to_delivery: list = field(default_factory=list)  # seconds, webhook outbox row → 2xx
    attempts: dict = field(default_factory=dict)  # the delivery log's outcomes: outcome -> count
    attempt_errors: list = field(default_factory=list)  # the failed attempts' commonest errors


class Receiver:
    def __init__(self, secret: str):
        self.webhook = Webhook(secret)
        self.seen: dict[str, float] = {}
        self.order: dict[str, list[str]] = {}
        self.duplicates = 0
        self.failures: list[str] = []
        self.lock = threading.Lock()

    def serve(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            # a partner's server as one would run it: connections kept alive (HTTP/1.1), so the
            # deliverer's pool reuses them instead of opening one per delivery
            protocol_version = "HTTP/1.1"

            def answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    receiver.webhook.verify(body, headers)
                except Exception as exc:
                    receiver.failures.append(str(exc))
                    self.answer(400)
                    return
                latency = time.time() - isoparse(headers["ce-time"]).timestamp()
                with receiver.lock:
                    if headers["webhook-id"] in receiver.seen:
                        receiver.duplicates += 1
                    else:
                        receiver.seen[headers["webhook-id"]] = latency
                        receiver.order.setdefault(headers["ce-subject"], []).append(headers["ce-type"])
                self.answer(204)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the standard library's backlog of 5 refused bursts of connections

        server = Server(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def measure(rate: float, seconds: float) -> Result:
    result = Result(rate, seconds, offered=int(round(rate * seconds)) // 2 * 2)
    scratch = Scratch(prefix="bench")
    containers, stops = [], []
    try:
        amqp_uri = scratch.vhost()
        gateway_url, producer_url = scratch.database("gateway"), scratch.database("funeral")
        upgrade("gateway", gateway_url)
        upgrade("services/funeral", producer_url)
        declare_topology(amqp_uri)
        secret = rules.new_secret()
        receiver = Receiver(secret)
        server = receiver.serve()
        stops.append(server.shutdown)
        gateway_engine = make_engine(gateway_url)
        with gateway_engine.begin() as conn:  # the setup, not measured: a police endpoint, approved
            conn.execute(
                WebhookEndpoint.__table__.insert().values(
                    id=str(uuid.uuid4()),
                    partner="police",
                    url=f"http://127.0.0.1:{server.server_address[1]}/hooks",
                    event_types=["death.notified", "death.revoked"],
                    pending_event_types=[],
                    secret=secret,
                    state="active",
                    created_at=system_clock.now(),
                )
            )
        container = ServiceContainer(
            WebhooksService,
            {
                "AMQP_URI": amqp_uri,
                "DATABASE_URL": gateway_url,
                "max_workers": 1,
                "WEBHOOK_POLL_INTERVAL": 0.05,
                "OUTBOX_POLL_INTERVAL": 0.2,
            },
        )
        container.start()
        containers.append(container)
        producer = make_engine(producer_url)
        relay = OutboxRelay(lambda: producer, amqp_uri, "funeral", clock=system_clock, linger=0.005)
        eventlet.spawn(relay.run)
        stops.append(relay.stop)

        def commit(k: int) -> None:
            case = f"bench-{k // 2}"
            person = compose_resident_id("330602", date(1940, 1, 1), (k // 2) % 999)
            kind = "death.notified" if k % 2 == 0 else "death.revoked"
            data = EVENTS[kind].validator.load(
                {**example_of(EVENTS[kind].schema), "case_id": case, "resident_id": person}
            )
            with producer.begin() as conn:
                OutboxWriter(lambda: conn, "funeral", system_clock, None).record(kind, f"death-case-{case}", data)

        def pair(k: int, t0: float) -> None:
            """A person's notice, then (once it is committed, at its own slot) its revocation."""
            commit(k)
            delay = t0 + (k + 1) / rate - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            commit(k + 1)

        meter = CpuMeter(database_names(gateway_url, producer_url))
        pool = eventlet.GreenPool(1000)
        t0 = time.perf_counter()
        for k in range(0, result.offered, 2):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            pool.spawn_n(pair, k, t0)
        pool.waitall()
        deadline = time.monotonic() + 120
        while len(receiver.seen) < result.offered and time.monotonic() < deadline:
            eventlet.sleep(0.05)
        result.cpu = meter.stop()
        with gateway_engine.connect() as conn:  # where the time went: to the webhook outbox, then to the 2xx
            rows = conn.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM created_at - event_time), EXTRACT(EPOCH FROM delivered_at - created_at) "
                    "FROM webhook_message WHERE delivered_at IS NOT NULL"
                )
            ).all()
            result.attempts = dict(
                conn.execute(text("SELECT outcome, count(*) FROM webhook_attempt GROUP BY outcome")).all()
            )
            result.attempt_errors = [
                f"{n} × {error}"
                for error, n in conn.execute(
                    text(
                        "SELECT left(error, 120), count(*) AS n FROM webhook_attempt WHERE error IS NOT NULL "
                        "GROUP BY 1 ORDER BY n DESC LIMIT 3"
                    )
                )
            ]
        result.to_intake = [float(a) for a, _ in rows]
        result.to_delivery = [float(b) for _, b in rows]
        result.latencies = list(receiver.seen.values())
        result.received, result.duplicates = len(receiver.seen), receiver.duplicates
        if result.received < result.offered:
            result.errors.append(f"{result.offered - result.received} event(s) not received within 120 s")
        result.errors += [f"verification failed: {f}" for f in receiver.failures[:5]]
        out_of_order = [s for s, types in receiver.order.items() if types[:1] == ["death.revoked"]]
        if out_of_order:
            result.errors.append(f"{len(out_of_order)} revocation(s) received before their notice")
        return result
    finally:
        for stop in stops:
            stop()
        for container in containers:
            container.kill()
        left = scratch.close()
        if left:
            print(f"could not delete: {left}", file=sys.stderr)


def report(result: Result) -> str:
    ms = [1000 * x for x in result.latencies]

    intake = [1000 * x for x in result.to_intake]
    delivery = [1000 * x for x in result.to_delivery]

    cpu = result.cpu
    lines = [
        "# Signed webhook delivery (bench/webhooks.py)",
        "",
        run_stamp(),
        "",
        f"Offered **{result.rate:g} events/s** open-loop for {result.seconds:g} s ({result.offered} events, "
        f"a `death.notified` and its `death.revoked` per person) to one police endpoint; {result.received} "
        f"received and verified, {result.duplicates} duplicate deliveries; **{len(result.errors)} errors**.",
        "",
        "| from the event's commit to its verified receipt (ms) | p50 | p95 | p99 |",
        "| --- | --- | --- | --- |",
        f"| producer outbox → relay → broker → webhook intake (outbox row) → delivery → receiver verified | "
        f"{percentile_cells(ms)} |",
        f"| of which: commit → the intake's webhook outbox row | {percentile_cells(intake)} |",
        f"| of which: the outbox row → the endpoint's 2xx | {percentile_cells(delivery)} |",
        "",
        "Delivery attempts by outcome: "
        + (", ".join(f"{outcome} {n}" for outcome, n in sorted(result.attempts.items())) or "none")
        + (f" (the commonest failures: {'; '.join(result.attempt_errors)})" if result.attempt_errors else "")
        + ".",
        "",
    ]
    lines += cpu_lines(cpu) + error_lines(result.errors)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="events committed per second (offered)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--write", action="store_true", help="write bench/WEBHOOKS.md")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    result = measure(args.rate, args.seconds)
    return publish(report(result), result.errors, ROOT / "bench" / "WEBHOOKS.md" if args.write else None)


if __name__ == "__main__":
    sys.exit(main())
