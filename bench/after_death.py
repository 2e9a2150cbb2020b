"""Benchmark: 身后一件事 latency, from the death notification to every internal step done.

    python -m bench.after_death [--rate 2] [--seconds 30] [--write]

Everything runs in this one process on this machine's RabbitMQ and PostgreSQL, on scratch vhosts
and databases deleted at the end (even on failure): the assistance, care, marriage and funeral
services, the gateway (edge, progress projection, partner feed) and the partner simulator playing
the police, human resources and medical insurance, on the real clock.

Each deceased is seeded beforehand straight into the services' databases (the setup is not what
is measured): an 85-year-old in a two-person 低保 household with an entitlement paid for last month
and this one, married, enrolled for the old-age allowance, with a home-care voucher and an open
service order; the death fell on the 11th of last month, so this month's payment is an
overpayment. Deaths are then notified open-loop at a fixed offered rate (each on schedule whether
or not the earlier ones finished): the health department POSTs /api/v1/partner/deaths, and a
clerk polls GET /api/v1/matters/{id}.

Measured per death: `internal` = from sending the notification to the first GET that shows the
internal steps done (assistance's benefits_stopped, care's care_stopped, marriage's
marriage_ended; the funeral's own step waits for a cremation, a human act); `all automatic` = to
the first GET that also shows the three departments' steps done (through the partner feed, the
simulator and the partner API). Read at the polling interval's resolution. Any non-2xx answer, a
step not `done`, a timeout or a dead letter is an error. Results go to bench/AFTER_DEATH.md with
--write.
"""

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

import requests  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402
from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.e2e import poll_delay  # noqa: E402
from bench.hops import queue_depth  # noqa: E402
from bench.machine import CpuMeter, CpuUse, cpu_lines, database_names, error_lines, percentile_cells, publish, run_stamp  # noqa: E402
from chassis.clock import LOCAL_ZONE  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from chassis.migrations import upgrade  # noqa: E402
from chassis.topology import dead_queue_name  # noqa: E402
from contracts.person import compose_resident_id  # noqa: E402
from contracts.subscriptions import SUBSCRIPTIONS  # noqa: E402
from gateway.auth import Issuer, issue_token  # noqa: E402
from gateway.partner_feed import PartnerFeedService  # noqa: E402
from gateway.progress import ProgressService  # noqa: E402
from gateway.service import GatewayService  # noqa: E402
from infra.partner_data import DEV_SOURCE_TOKEN, PartnerData, serve  # noqa: E402
from infra.partner_sim import PartnerSimulator, provision_simulated  # noqa: E402
from infra.partners import broker_for_vhost  # noqa: E402
from infra.scratch import BROKER_ADMIN_URL, Scratch  # noqa: E402
from services.assistance import models as a  # noqa: E402
from services.assistance.service import AssistanceService  # noqa: E402
from services.care import models as c  # noqa: E402
from services.care.service import CareService  # noqa: E402
from services.funeral.service import FuneralService  # noqa: E402
from services.marriage import models as m  # noqa: E402
from services.marriage.service import MarriageService  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ISSUER = Issuer.generate()  # the benchmark's own identity provider
JWKS_FILE = Path(tempfile.gettempdir()) / f"tongban-bench-jwks-{os.getpid()}.json"
TOWNSHIP, DISTRICT = "330602001", "330602"
INTERNAL = ("benefits_stopped", "care_stopped", "marriage_ended")
DEPARTMENTS = ("hukou_cancellation", "pension_and_survivors", "medical_insurance_closure")
PARTNERS = ("police", "human_resources", "medical_insurance")


@dataclass
class Timing:
    started: float
    notify_s: float | None = None
    internal_s: float | None = None
    automatic_s: float | None = None
    error: str | None = None


@dataclass
class Result:
    rate: float
    seconds: float
    poll: float
    offered: int = 0
    timings: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    dead_letters: int = 0
    cpu: CpuUse | None = None

    def ms(self, attr: str) -> list[float]:
        return [getattr(t, attr) * 1000 for t in self.timings if getattr(t, attr) is not None]


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def people(i: int) -> tuple[str, str]:
    return (
        compose_resident_id(DISTRICT, date(1941, 1, 1) + timedelta(days=i % 300), 11 + 2 * (i // 300)),
        compose_resident_id(DISTRICT, date(1946, 1, 1) + timedelta(days=i % 300), 500 + 2 * (i // 300)),
    )


def seed(urls: dict, count: int, today: date) -> date:
    """`count` deceased-to-be, written straight into assistance, care and marriage; returns the date
    of death (the 11th of last month)."""
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    died = last_month.replace(day=11)
    now = datetime.now(UTC)
    engines = {name: create_engine(urls[name]) for name in ("assistance", "care", "marriage")}
    with Session(engines["assistance"]) as s_a, Session(engines["care"]) as s_c, Session(engines["marriage"]) as s_m:
        for i in range(count):
            elder, spouse = people(i)
            household = str(uuid.uuid4())
            s_a.add(
                a.Household(
                    id=household,
                    region_code=TOWNSHIP,
                    address="越城区",
                    bank_account=f"62284800{i:08d}",
                    created_at=now,
                )
            )
            s_a.flush()
            s_a.add_all(
                [
                    a.Member(
                        id=str(uuid.uuid4()),
                        household_id=household,
                        resident_id=elder,
                        name="陈老伯",
                        relationship="head",
                        monthly_income_fen=30000,
                        joined_on=date(2026, 1, 1),
                    ),
                    a.Member(
                        id=str(uuid.uuid4()),
                        household_id=household,
                        resident_id=spouse,
                        name="林阿婆",
                        relationship="spouse",
                        monthly_income_fen=20000,
                        joined_on=date(2026, 1, 1),
                    ),
                ]
            )
            entitlement = a.Entitlement(
                household_id=household,
                programme="dibao",
                monthly_amount_fen=150000,
                starts_on=date(2026, 1, 1),
                policy_version="bench",
            )
            s_a.add(entitlement)
            s_a.flush()
            s_a.add_all(
                [
                    a.Payment(
                        cycle_id=f"{month:%Y-%m}",
                        entitlement_id=entitlement.id,
                        household_id=household,
                        kind="regular",
                        for_month=month,
                        amount_fen=150000,
                        bank_account="x",
                        policy_version="bench",
                        state="paid",
                    )
                    for month in (last_month, this_month)
                ]
            )
            s_c.add(
                c.Elder(
                    resident_id=elder,
                    name="陈老伯",
                    region_code=TOWNSHIP,
                    birth_date=date(1941, 1, 1),
                    sex="male",
                    registered_on=date(2026, 1, 1),
                    recorded_at=now,
                )
            )
            s_c.add(
                c.AllowanceEnrolment(
                    resident_id=elder,
                    region_code=TOWNSHIP,
                    starts_month=date(2026, 1, 1),
                    enrolled_on=date(2026, 1, 1),
                    policy_version="bench",
                )
            )
            s_c.add(
                c.VoucherEligibility(
                    resident_id=elder,
                    programme="dibao",
                    household_id=household,
                    region_code=TOWNSHIP,
                    monthly_fen=30000,
                    starts_on=date(2026, 1, 1),
                    policy_version="bench",
                )
            )
            s_c.add(
                c.ServiceOrder(
                    id=str(uuid.uuid4()),
                    resident_id=elder,
                    region_code=TOWNSHIP,
                    service="meals",
                    provider="bench-meals",
                    price_fen=3000,
                    for_month=this_month,
                    state="requested",
                    requested_by="bench",
                    requested_at=now,
                    updated_at=now,
                )
            )
            marriage = str(uuid.uuid4())
            s_m.add(
                m.Marriage(
                    id=marriage,
                    office_code=DISTRICT,
                    registered_on=date(1968, 5, 1),
                    party_a_id=elder,
                    party_a_name="陈老伯",
                    party_b_id=spouse,
                    party_b_name="林阿婆",
                    state="registered",
                    new_style_wedding_notice_given=True,
                    policy_version="bench",
                    registered_by="bench",
                )
            )
            s_m.flush()
            s_m.add_all(
                [m.Spouse(resident_id=elder, marriage_id=marriage), m.Spouse(resident_id=spouse, marriage_id=marriage)]
            )
        s_a.commit()
        s_c.commit()
        s_m.commit()
    for engine in engines.values():
        engine.dispose()
    return died


class System:
    def __init__(self, amqp_uri: str, urls: dict, containers: list, servers: list, partner_admin_uri: str):
        for name in ("assistance", "care", "marriage", "funeral"):
            upgrade(ROOT / "services" / name, urls[name])
        upgrade(ROOT / "gateway", urls["gateway"])
        self.partners = broker_for_vhost(partner_admin_uri, BROKER_ADMIN_URL)
        feed = self.partners.setup()
        common = {"AMQP_URI": amqp_uri, "PARTNER_AMQP_URI": feed["uri"], "LOG_LEVEL": "WARNING", "max_workers": 10}
        data_port = free_port()
        servers.append(serve(PartnerData(), data_port))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        for cls, config in (
            (
                AssistanceService,
                {
                    "DATABASE_URL": urls["assistance"],
                    "BANK_FILES_DIR": "/tmp/bench-bank-files",
                    "CHECK_SOURCES_URL": f"http://127.0.0.1:{data_port}",
                    "CHECK_SOURCES_TOKEN": DEV_SOURCE_TOKEN,
                },
            ),
            (CareService, {"DATABASE_URL": urls["care"]}),
            (
                MarriageService,
                {"DATABASE_URL": urls["marriage"], "E_CERTIFICATE_KEY": "bench-e-certificate-signing-key"},
            ),
            (FuneralService, {"DATABASE_URL": urls["funeral"]}),
            (ProgressService, {"DATABASE_URL": urls["gateway"]}),
            (PartnerFeedService, {"DATABASE_URL": urls["gateway"]}),
            (
                GatewayService,
                {
                    "DATABASE_URL": urls["gateway"],
                    **ISSUER.gateway_config(JWKS_FILE),
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                },
            ),
        ):
            if "WEB_SERVER_ADDRESS" not in config:
                config["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
            container = ServiceContainer(cls, {**common, **config})
            containers.append(container)
            container.start()
        self.amqp_uri = amqp_uri
        self.simulator = PartnerSimulator(provision_simulated(self.partners, PARTNERS), self.url, ISSUER)
        self.thread = eventlet.spawn(self.simulator.run)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.url + "/health/ready", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("gateway not ready")
            eventlet.sleep(0.1)

    def dead_letters(self) -> int:
        return sum(queue_depth(self.amqp_uri, dead_queue_name(q)) for q in SUBSCRIPTIONS)


def run_death(
    url: str, i: int, died: date, poll: float, timeout: float, errors: list, issuer: Issuer = ISSUER
) -> Timing:
    elder, _ = people(i)
    health = {"Authorization": f"Bearer {issue_token(issuer, 'health', 'partner')}"}
    clerk = {"Authorization": f"Bearer {issue_token(issuer, 'funeral-01', 'clerk', DISTRICT)}"}
    timing = Timing(started=time.perf_counter())

    def fail(what: str) -> Timing:
        timing.error = what
        errors.append(what)
        return timing

    with requests.Session() as http:
        try:
            answer = http.post(
                url + "/api/v1/partner/deaths",
                timeout=20,
                headers=health,
                json={
                    "deceased": {"resident_id": elder, "name": "陈老伯"},
                    "date_of_death": died.isoformat(),
                    "region_code": TOWNSHIP,
                    "reference": f"D-{i}",
                },
            )
            timing.notify_s = time.perf_counter() - timing.started
            if answer.status_code != 202:
                return fail(f"notify: {answer.status_code} {answer.text[:200]}")
            matter_id = answer.json()["matter_id"]
            while True:
                view = http.get(f"{url}/api/v1/matters/{matter_id}", headers=clerk, timeout=20)
                elapsed = time.perf_counter() - timing.started
                if view.status_code == 200:
                    steps = {s["step"]: s["state"] for s in view.json()["steps"]}
                    if any(state not in ("pending", "done") for state in steps.values()):
                        return fail(f"a step went {steps}")
                    if timing.internal_s is None and all(steps[s] == "done" for s in INTERNAL):
                        timing.internal_s = elapsed
                    if all(steps[s] == "done" for s in INTERNAL + DEPARTMENTS):
                        timing.automatic_s = elapsed
                        return timing
                elif view.status_code != 404:  # 404: the projection has not seen the matter yet
                    errors.append(f"poll: {view.status_code}")
                if elapsed > timeout:
                    return fail(f"not done within {timeout:g} s")
                eventlet.sleep(poll_delay(poll, elapsed))
        except Exception as exc:
            return fail(f"request failed: {exc!r}")


def measure(rate: float, seconds: float, poll: float, warmup: int) -> Result:
    result = Result(rate, seconds, poll)
    result.offered = int(round(rate * seconds))
    scratch = Scratch(prefix="bench")
    containers, servers = [], []
    try:
        amqp_uri = scratch.vhost()
        urls = {name: scratch.database(name) for name in ("assistance", "care", "marriage", "funeral", "gateway")}
        system = System(amqp_uri, urls, containers, servers, scratch.vhost("partners"))
        system.wait_ready()
        died = seed(urls, warmup + result.offered, datetime.now(LOCAL_ZONE).date())
        warm_errors: list = []
        for i in range(warmup):
            if run_death(system.url, i, died, poll, 30, warm_errors).error:
                raise RuntimeError(f"warm-up failed: {warm_errors}")
        pool = eventlet.GreenPool(10_000)
        meter = CpuMeter(database_names(*urls.values()))
        t0, threads = time.perf_counter(), []
        for k in range(result.offered):
            delay = t0 + k / rate - time.perf_counter()
            if delay > 0:
                eventlet.sleep(delay)
            threads.append(pool.spawn(run_death, system.url, warmup + k, died, poll, 60, result.errors))
        result.timings = [t.wait() for t in threads]
        result.cpu = meter.stop()
        result.dead_letters = system.dead_letters()
        if result.dead_letters:
            result.errors.append(f"{result.dead_letters} event(s) dead-lettered")
        system.simulator.stop()
        system.thread.wait()
        system.partners.delete_users()
        return result
    finally:
        for container in reversed(containers):
            container.kill()
        for server in servers:
            server.shutdown()
        left = scratch.close()
        if left:
            print(f"could not delete: {left}", file=sys.stderr)


def report(result: Result) -> str:
    def row(name, attr):
        return f"| {name} | {percentile_cells(result.ms(attr))} |"

    done = [t for t in result.timings if t.automatic_s is not None]
    cpu = result.cpu
    lines = [
        "# 身后一件事 latency (bench/after_death.py)",
        "",
        run_stamp(),
        "",
        f"Offered **{result.rate:g} deaths/s** open-loop for {result.seconds:g} s ({result.offered} deaths); "
        f"polled every {result.poll * 1000:.0f} ms; {len(done)} of {result.offered} completed; "
        f"**{len(result.errors)} errors**; {result.dead_letters} dead letters.",
        "",
        "| from the notification POST to … (ms) | p50 | p95 | p99 |",
        "| --- | --- | --- | --- |",
        row("its 202 answer", "notify_s"),
        row("**every internal step done** (assistance, care, marriage)", "internal_s"),
        row("every automatic step done (also police, human resources, medical insurance)", "automatic_s"),
        "",
    ]
    lines += cpu_lines(cpu)
    lines += [
        "Each death is one `death.notified` fanned out to three services and three partner queues, six "
        "`matter.step_reported` events folded by the progress view, an overpayment recorded per household "
        "(its second month paid after the death), the allowance ended, a voucher ended, an order cancelled "
        "and a marriage ended. The funeral's own step (the cremation certificate) is a human act and is not "
        "in the figures.",
        "",
    ]
    lines += error_lines(result.errors)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=2.0, help="deaths notified per second (offered)")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--poll", type=float, default=0.05)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write bench/AFTER_DEATH.md")
    args = parser.parse_args(argv)
    configure_logging("WARNING")
    result = measure(args.rate, args.seconds, args.poll, args.warmup)
    return publish(report(result), result.errors, ROOT / "bench" / "AFTER_DEATH.md" if args.write else None)


if __name__ == "__main__":
    sys.exit(main())
