"""Measurement (c): end-to-end latency of 结婚生育户口一件事 through the gateway, on the real clock.

The whole system runs in this process as in tests/system.py: MarriageService, GatewayService,
ProgressService and PartnerFeedService, each on a fresh database migrated with alembic, plus the
partner simulator answering as health and police. Matters are offered open-loop at a fixed rate
(each starts on schedule whether or not earlier ones finished); for each one

1. a citizen POSTs /api/v1/matters/marriage-birth-hukou (books a slot, opens the matter),
2. a clerk of that office POSTs /api/v1/marriage/registrations with the matter_id,
3. the citizen polls GET /api/v1/matters/{id} until its state is "waiting" (marriage registration,
   planned-birth registration and hukou update all done; the newborn steps wait for a birth).

Latency is from sending the first POST to the GET that first shows "waiting"; it therefore
includes both POSTs, the outbox relays, the broker, the partner feed, the simulator's reports
through the partner API and the progress projection, and is read at the polling interval's
resolution. Every response that is not 2xx counts as an error, including a 404 while the progress
view has not yet seen a matter it was just told about.
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import eventlet
import requests
from nameko.containers import ServiceContainer

from bench.hops import percentile, queue_depth
from bench.machine import CpuMeter, CpuUse, database_names
from chassis.clock import LOCAL_ZONE
from chassis.migrations import upgrade
from chassis.topology import dead_queue_name
from contracts.person import compose_resident_id
from contracts.subscriptions import SUBSCRIPTIONS
from gateway.auth import Issuer, issue_token
from gateway.partner_feed import PartnerFeedService
from gateway.progress import ProgressService
from gateway.service import GatewayService
from infra.partner_sim import PartnerSimulator, provision_simulated
from infra.partners import broker_for_vhost
from infra.scratch import BROKER_ADMIN_URL
from services.marriage.service import MarriageService

ROOT = Path(__file__).resolve().parent.parent
ISSUER = Issuer.generate()  # the benchmark's own identity provider
JWKS_FILE = Path(tempfile.gettempdir()) / f"tongban-bench-jwks-{os.getpid()}.json"
# The offices seeded by services/marriage/migrations/versions/0002 (30-minute slots, 4 couples each).
OFFICES = ("330602", "330603", "330604", "330111", "330481")
SLOTS_PER_DAY = 16  # 09:00 … 16:30
FIRST_DAY_AHEAD = 7


@dataclass
class MatterTiming:
    started: float  # perf_counter at sending the first POST
    apply_s: float | None = None
    register_s: float | None = None
    waiting_s: float | None = None  # first POST → "waiting"
    polls: int = 0
    error: str | None = None
    matter_id: str | None = None


@dataclass
class E2EResult:
    rate: float
    duration: float
    poll_interval: float
    offered: int = 0
    timings: list[MatterTiming] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per non-2xx or failure
    failures: list[str] = field(default_factory=list)  # the measurement itself went wrong
    dead_letters: int = 0
    cpu: CpuUse | None = None  # from the first offered matter to the last one's end

    def done(self) -> list[MatterTiming]:
        return [t for t in self.timings if t.waiting_s is not None and t.error is None]

    def pct(self, attr: str, p: float) -> float | None:
        values = [getattr(t, attr) for t in self.timings if getattr(t, attr) is not None]
        value = percentile(values, p)
        return None if value is None else value * 1000

    @property
    def achieved_start_rate(self) -> float | None:
        starts = sorted(t.started for t in self.timings)
        return (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else None

    @property
    def completion_rate(self) -> float | None:
        """Matters reaching "waiting" per second, between the first and the last to get there."""
        ends = sorted(t.started + t.waiting_s for t in self.done())
        return (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Couple:
    husband: dict
    wife: dict
    office: str
    slot_start: str


def couple(i: int, today: date) -> Couple:
    """Distinct, valid, adult parties (born in the 1980s/90s) and a future slot of their own."""
    husband = {"resident_id": compose_resident_id("330602", date(1985, 1, 1) + timedelta(days=i), 11), "name": "张伟"}
    wife = {"resident_id": compose_resident_id("330602", date(1992, 1, 1) + timedelta(days=i), 20), "name": "李娜"}
    office = OFFICES[i % len(OFFICES)]
    n = i // len(OFFICES)  # one couple per slot and office: never near the 4-couple limit
    day = today + timedelta(days=FIRST_DAY_AHEAD + n // SLOTS_PER_DAY)
    minutes = 9 * 60 + 30 * (n % SLOTS_PER_DAY)
    slot = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=LOCAL_ZONE)
    return Couple(husband, wife, office, slot.isoformat())


class System:
    """The whole system in this process, on the scratch databases and vhost given."""

    def __init__(
        self,
        amqp_uri: str,
        marriage_db: str,
        gateway_db: str,
        containers: list,
        partner_admin_uri: str,
        simulated: tuple = ("health", "police"),
    ):
        upgrade(ROOT / "services" / "marriage", marriage_db)
        upgrade(ROOT / "gateway", gateway_db)
        # the partner vhost as `make run` has it: the feed's account, each department's own login
        self.partners = broker_for_vhost(partner_admin_uri, BROKER_ADMIN_URL)
        feed = self.partners.setup()
        common = {"AMQP_URI": amqp_uri, "PARTNER_AMQP_URI": feed["uri"], "LOG_LEVEL": "WARNING", "max_workers": 10}
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.marriage_url = f"http://127.0.0.1:{free_port()}"
        configs = [
            (
                MarriageService,
                {
                    **common,
                    "DATABASE_URL": marriage_db,
                    "E_CERTIFICATE_KEY": "bench-e-certificate-signing-key",
                    "WEB_SERVER_ADDRESS": self.marriage_url[len("http://") :],
                },
            ),
            (ProgressService, {**common, "DATABASE_URL": gateway_db}),
            (PartnerFeedService, {**common, "DATABASE_URL": gateway_db}),
            (
                GatewayService,
                {
                    **common,
                    "DATABASE_URL": gateway_db,
                    **ISSUER.gateway_config(JWKS_FILE),
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                },
            ),
        ]
        for cls, config in configs:
            container = ServiceContainer(cls, config)
            containers.append(container)
            container.start()
        self.simulator = PartnerSimulator(provision_simulated(self.partners, simulated), self.url, ISSUER)
        self.simulator_thread = eventlet.spawn(self.simulator.run) if simulated else None
        self.amqp_uri = amqp_uri

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for base in (self.marriage_url, self.url):
            while True:
                try:
                    if requests.get(base + "/health/ready", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{base} not ready within {timeout:g} s")
                eventlet.sleep(0.1)

    def stop(self) -> None:
        if self.simulator_thread is not None:
            self.simulator.stop()
            self.simulator_thread.wait()
        self.partners.delete_users()

    def dead_letters(self) -> int:
        return sum(queue_depth(self.amqp_uri, dead_queue_name(q)) for q in SUBSCRIPTIONS)


SLOW_AFTER_S, SLOW_POLL_S = 1.0, 0.5


def poll_delay(interval: float, elapsed: float) -> float:
    """The next poll's delay: `interval` for the first second, then at most twice a second, as a
    client would; so a backed-up system is not also flooded by its own pollers (a latency above 1 s
    is read at 0.5 s resolution)."""
    return interval if elapsed < SLOW_AFTER_S else max(interval, SLOW_POLL_S)


def run_matter(
    url: str, c: Couple, poll_interval: float, timeout: float, errors: list, issuer: Issuer = ISSUER
) -> MatterTiming:
    citizen = {"Authorization": f"Bearer {issue_token(issuer, c.husband['resident_id'], 'citizen')}"}
    clerk = {"Authorization": f"Bearer {issue_token(issuer, f'registrar-{c.office}', 'clerk', c.office)}"}
    timing = MatterTiming(started=time.perf_counter())

    def fail(what: str, response=None) -> MatterTiming:
        detail = f"{response.status_code} {response.text[:200]}" if response is not None else ""
        timing.error = f"{what} {detail}".strip()
        errors.append(timing.error)
        return timing

    with requests.Session() as http:
        try:
            applied = http.post(
                url + "/api/v1/matters/marriage-birth-hukou",
                timeout=20,
                json={"office_code": c.office, "slot_start": c.slot_start, "party_a": c.husband, "party_b": c.wife},
                headers={**citizen, "Idempotency-Key": str(uuid.uuid4())},
            )
            timing.apply_s = time.perf_counter() - timing.started
            if applied.status_code != 201:
                return fail("apply:", applied)
            matter_id = timing.matter_id = applied.json()["matter_id"]

            began = time.perf_counter()
            registered = http.post(
                url + "/api/v1/marriage/registrations",
                timeout=20,
                json={
                    "office_code": c.office,
                    "party_a": c.husband,
                    "party_b": c.wife,
                    "declared_not_close_relatives": True,
                    "matter_id": matter_id,
                },
                headers={**clerk, "Idempotency-Key": str(uuid.uuid4())},
            )
            timing.register_s = time.perf_counter() - began
            if registered.status_code != 201:
                return fail("register:", registered)

            while True:
                view = http.get(f"{url}/api/v1/matters/{matter_id}", headers=citizen, timeout=20)
                timing.polls += 1
                if not 200 <= view.status_code < 300:
                    errors.append(f"poll: {view.status_code} {view.text[:200]}")  # counted; keep polling
                elif view.json()["state"] == "waiting":
                    timing.waiting_s = time.perf_counter() - timing.started
                    return timing
                elif view.json()["state"] not in ("in_progress",):
                    return fail(f"matter went {view.json()['state']!r}")
                if time.perf_counter() - timing.started > timeout:
                    return fail(f"not 'waiting' within {timeout:g} s")
                eventlet.sleep(poll_delay(poll_interval, time.perf_counter() - timing.started))
        except Exception as exc:  # a refused connection, a timeout, a body that is not JSON
            return fail(f"request failed: {exc!r}")


def measure_e2e(
    amqp_uri: str,
    marriage_db: str,
    gateway_db: str,
    rate: float,
    duration: float,
    poll_interval: float,
    warmup: int,
    containers: list,
    partner_admin_uri: str,
) -> E2EResult:
    result = E2EResult(rate, duration, poll_interval)
    system = System(amqp_uri, marriage_db, gateway_db, containers, partner_admin_uri)
    try:
        system.wait_ready()
        today = datetime.now(LOCAL_ZONE).date()
        warm_errors: list[str] = []
        for i in range(warmup):  # sequential, not counted: first connections, statement caches
            timing = run_matter(system.url, couple(i, today), poll_interval, 30, warm_errors)
            if timing.error:
                result.failures.append(f"warm-up matter failed: {timing.error}")
                return result

        result.offered = int(round(rate * duration))
        pool = eventlet.GreenPool(10_000)
        threads = []
        meter = CpuMeter(database_names(marriage_db, gateway_db))
        t0 = time.perf_counter()
        for k in range(result.offered):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            threads.append(
                pool.spawn(run_matter, system.url, couple(warmup + k, today), poll_interval, 30, result.errors)
            )
        result.timings = [t.wait() for t in threads]
        result.cpu = meter.stop()
        try:
            result.dead_letters = system.dead_letters()
        except Exception as exc:
            result.failures.append(f"could not count dead letters: {exc!r}")
        if result.dead_letters:
            result.failures.append(f"{result.dead_letters} event(s) dead-lettered")
        return result
    finally:
        system.stop()
