"""Partner edge benchmark: `python -m bench.partners [--rate 50] [--seconds 20]`; writes bench/PARTNERS.md.

Everything runs in this one process on this machine's RabbitMQ and PostgreSQL (or the broker and
database $TONGBAN_TEST_AMQP / $TONGBAN_TEST_PG name), on scratch vhosts and databases deleted at
the end, with partners connected as `make run` connects them: each its own login on the partner
vhost (infra.partners), the partner feed publishing there through its own relay.

(1) AMQP partner delivery: marriage registrations are offered open-loop at `rate` a second through
    the gateway (a clerk's POST); police, an outside client (`pika`, prefetch 100, its own login),
    consumes `partner.police`. Latency per event: the event's `time` (stamped in the registering
    transaction, just before it commits) → the police consumer receiving the message. p50/p99.
(2) 结婚生育户口一件事 at `rate` matters a second offered with the simulator answering as health
    and police (bench/e2e.py's measurement: first POST → the citizen's poll that first shows
    "waiting"). p50/p99, errors (must be 0).

Not a timed test: figures depend on the machine and what else runs on it (the load average and CPU
are written beside them).
"""

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import pika  # noqa: E402
import requests  # noqa: E402
from eventlet.event import Event  # noqa: E402

from bench import e2e  # noqa: E402
from bench.hops import percentile  # noqa: E402
from bench.machine import CpuMeter, database_names, machine_facts  # noqa: E402
from chassis.clock import LOCAL_ZONE  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from gateway.auth import issue_token  # noqa: E402
from infra.scratch import Scratch  # noqa: E402

HERE = Path(__file__).resolve().parent


def measure_delivery(scratch: Scratch, rate: float, seconds: float, containers: list) -> dict:
    marriage_db, gateway_db = scratch.database("marriage"), scratch.database("gateway")
    system = e2e.System(
        scratch.vhost("delivery"), marriage_db, gateway_db, containers, scratch.vhost("partners"), simulated=()
    )
    police = system.partners.provision("police")
    received: dict[str, float] = {}  # registration id -> latency (s)
    stop = Event()

    def consume():
        connection = pika.BlockingConnection(pika.URLParameters(police["uri"]))
        channel = connection.channel()
        channel.basic_qos(prefetch_count=100)
        for method, _props, body in channel.consume("partner.police", inactivity_timeout=0.2):
            if method is not None:
                now = datetime.now(UTC)
                event = json.loads(body)
                if event["type"] == "marriage.registered":
                    sent = datetime.fromisoformat(event["time"])
                    received[event["data"]["registration_id"]] = (now - sent).total_seconds()
                channel.basic_ack(method.delivery_tag)
            if stop.ready():
                break
        connection.close()

    errors: list[str] = []
    try:
        system.wait_ready()
        consumer = eventlet.spawn(consume)
        today = datetime.now(LOCAL_ZONE).date()
        offered = int(round(rate * seconds))

        def register(i: int):
            c = e2e.couple(i, today)
            clerk = {"Authorization": f"Bearer {issue_token(e2e.ISSUER, f'registrar-{c.office}', 'clerk', c.office)}"}
            try:
                response = requests.post(
                    system.url + "/api/v1/marriage/registrations",
                    timeout=30,
                    json={
                        "office_code": c.office,
                        "party_a": c.husband,
                        "party_b": c.wife,
                        "declared_not_close_relatives": True,
                    },
                    headers={**clerk, "Idempotency-Key": str(uuid.uuid4())},
                )
                if response.status_code != 201:
                    errors.append(f"{response.status_code} {response.text[:200]}")
            except requests.RequestException as exc:
                errors.append(repr(exc))

        pool = eventlet.GreenPool(10_000)
        meter = CpuMeter(database_names(marriage_db, gateway_db))
        t0 = time.perf_counter()
        for k in range(offered):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            pool.spawn(register, k)
        pool.waitall()
        deadline = time.monotonic() + 120
        while len(received) < offered - len(errors) and time.monotonic() < deadline:
            eventlet.sleep(0.1)
        cpu = meter.stop()
        stop.send(True)
        consumer.wait()
        latencies = list(received.values())
        return {
            "offered": offered,
            "errors": len(errors),
            "first_errors": errors[:3],
            "received": len(latencies),
            "p50_ms": None if not latencies else percentile(latencies, 50) * 1000,
            "p99_ms": None if not latencies else percentile(latencies, 99) * 1000,
            "max_ms": None if not latencies else max(latencies) * 1000,
            "cpu": cpu,
        }
    finally:
        system.stop()


def measure_simulator_alone(scratch: Scratch, messages: int) -> dict:
    """The simulator by itself: `messages` marriage.registered copies each for health and police
    waiting on their queues, the partner API a stub that answers 200 at once; how fast do the
    two departments' logins drain them (consume, report, ack)?"""
    from kombu import Connection, Exchange, Producer
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    from infra.partner_sim import PartnerSimulator, provision_simulated
    from infra.partners import broker_for_vhost
    from infra.scratch import BROKER_ADMIN_URL

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the stub's access log: a line per report
    admin_uri = scratch.vhost("simulator")
    broker = broker_for_vhost(admin_uri, BROKER_ADMIN_URL)
    broker.setup()
    server = make_server(
        "127.0.0.1",
        0,
        lambda environ, start: Response("{}", mimetype="application/json")(environ, start),
        threaded=True,
    )
    eventlet.spawn(server.serve_forever)
    try:
        with Connection(admin_uri) as conn:
            producer = Producer(conn.channel())
            exchange = Exchange("tongban.partners", type="topic")
            for i in range(messages):
                for code in ("health", "police"):
                    producer.publish(
                        {
                            "id": str(uuid.uuid4()),
                            "type": "marriage.registered",
                            "subject": f"registration-{i}",
                            "matter_id": str(uuid.uuid4()),
                            "data": {},
                        },
                        exchange=exchange,
                        routing_key=f"{code}.marriage.registered",
                        serializer="json",
                    )
        simulator = PartnerSimulator(
            provision_simulated(broker, ("health", "police")), f"http://127.0.0.1:{server.server_port}", e2e.ISSUER
        )
        started = time.perf_counter()
        thread = eventlet.spawn(simulator.run)
        while len(simulator.received) < 2 * messages and time.perf_counter() - started < 300:
            eventlet.sleep(0.05)
        elapsed = time.perf_counter() - started
        simulator.stop()
        thread.wait()
        return {"messages": 2 * messages, "handled": len(simulator.received), "seconds": elapsed}
    finally:
        server.shutdown()
        broker.delete_users()


def measure_matters(scratch: Scratch, rate: float, seconds: float, poll: float, containers: list) -> e2e.E2EResult:
    return e2e.measure_e2e(
        scratch.vhost("matters"),
        scratch.database("marriage"),
        scratch.database("gateway"),
        rate,
        seconds,
        poll,
        5,
        containers,
        scratch.vhost("matters-partners"),
    )


def fmt(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--poll",
        type=float,
        default=0.25,
        help="seconds between a citizen's GETs of a matter (at 50 matters/s, 0.05 would be 1,000 GETs/s)",
    )
    parser.add_argument("--simulator-only", action="store_true", help="only (3)")
    parser.add_argument("--simulator-messages", type=int, default=1000, help="per department, for (3)")
    parser.add_argument("--out", type=Path, default=HERE / "PARTNERS.md")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    facts = machine_facts()
    started = datetime.now(UTC)
    scratch = Scratch(prefix="bench")
    containers: list = []

    def kill_all():
        pool = eventlet.GreenPool()
        for container in containers:
            pool.spawn_n(container.kill)
        pool.waitall()
        containers.clear()

    try:
        alone = measure_simulator_alone(scratch, args.simulator_messages)
        if args.simulator_only:
            print(alone)
            return 0
        delivery = measure_delivery(scratch, args.rate, args.seconds, containers)
        kill_all()
        matters = measure_matters(scratch, args.rate, args.seconds, args.poll, containers)
        kill_all()
    finally:
        kill_all()
        left = scratch.close()
        if left:
            print(f"could not delete: {left}", file=sys.stderr)
    load_after = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    lines = [
        "# Partner edge benchmark (`python -m bench.partners`)",
        "",
        f"Run {started:%Y-%m-%d %H:%M} UTC; load average at start {facts.get('load average at start')}, "
        f"at the end {load_after}; {facts.get('nproc')} cores ({facts.get('cpu')}), {facts.get('memory')}.",
        "Not a timed test: the machine is shared, and its load is written here beside the figures.",
        "",
        "## (1) AMQP partner delivery (commit → police's own consumer, pika, partner vhost)",
        "",
        "| offered | rate /s | received | errors | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
        f"| {delivery['offered']} | {args.rate:g} | {delivery['received']} | {delivery['errors']} | "
        f"{fmt(delivery['p50_ms'])} | {fmt(delivery['p99_ms'])} | {fmt(delivery['max_ms'])} |",
        "",
        f'## (2) 结婚生育户口一件事, first POST → "waiting" (polled every {args.poll:g} s), '
        "the simulator answering as health and police",
        "",
        "| offered | rate /s | reached waiting | errors | p50 ms | p99 ms | completion /s |",
        "|---|---|---|---|---|---|---|",
        f"| {matters.offered} | {args.rate:g} | {len(matters.done())} | {len(matters.errors)} | "
        f"{fmt(matters.pct('waiting_s', 50))} | {fmt(matters.pct('waiting_s', 99))} | "
        f"{'–' if matters.completion_rate is None else f'{matters.completion_rate:.1f}'} |",
        "",
    ]
    lines += [
        "## (3) The simulator alone: health and police drain their queues against a stub partner API",
        "",
        "| messages | handled | seconds | messages/s |",
        "|---|---|---|---|",
        f"| {alone['messages']} | {alone['handled']} | {alone['seconds']:.1f} | "
        f"{alone['handled'] / alone['seconds']:.0f} |",
        "",
    ]
    if delivery["first_errors"] or matters.errors or matters.failures:
        lines += ["Errors (first few):", ""]
        lines += [f"- {e}" for e in (delivery["first_errors"] + matters.errors[:3] + matters.failures)]
        lines.append("")
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0 if not (delivery["errors"] or matters.errors or matters.failures) else 1


if __name__ == "__main__":
    sys.exit(main())
