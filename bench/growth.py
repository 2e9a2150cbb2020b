"""Measurement (g), cost growth (issue 15): how the time of the bureau's bulk jobs grows with their
size, each at three sizes a doubling apart, on scratch databases of the PostgreSQL the benchmark
is pointed at ($TONGBAN_TEST_PG) and a scratch vhost of its broker.

1. The payment run (社会化发放) at 1, 2 and 4 million recipients: bench.payment_run's generator,
   steps and checks, one round per size (freeze, bank batch, reconcile, the next month's freeze
   with arrears, the idempotent re-freeze), in this process, as the service's RPCs call the same
   chassis functions.
2. The old-age allowance enrolment (高龄津贴) over an elderly registry of 1.25, 2.5 and 5 million
   people with 100,000, 200,000 and 400,000 aged 80 or over and alive (and 1 % as many aged 80+ and
   deceased, who must not be enrolled), valid resident ID numbers, 120 townships of six districts.
   The care service runs as its own process (`nameko run --config infra/config/care.yaml`, as
   `make run` starts it) on the scratch database; this process calls its `run_allowance_job` RPC
   over the broker, twice: the first must enrol exactly the people generated as qualifying, the
   second nobody.
3. 动态复核, the periodic re-check of 25,000, 50,000 and 100,000 households whose review falls due
   within 30 days (one or two members, alternately; as many households again not due), against
   every data source of contracts.assistance.CHECK_SOURCES: the assistance service as its own
   process calls `run_review_checks`, which fetches every current member × every source through
   the economic check's client (a request per source per CHECK_BATCH_SIZE members,
   CHECK_CONCURRENCY in flight) from the partner simulator's data sources (`python -m
   infra.partner_sim data`, its own process) and stores the checks in batches. Checked: every due
   household got one complete check with one fetch per member per source, nobody else was asked,
   and a second run asks nobody.

Growth between two sizes is reported as the exponent k of t ∝ n^k (log of the time ratio over
log of the size ratio): k ≤ 1.15 reads "linear or better" (15 % for the noise of a shared 2-core
machine), above it "worse than linear". CPU seconds of every party (this process, the service
process, the simulator, PostgreSQL, the broker, the machine) are read from /proc per step.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import requests
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from bench import payment_run
from bench.machine import CpuMeter, CpuUse
from chassis.clock import LOCAL_ZONE
from chassis.migrations import upgrade
from chassis.topology import declare_topology
from contracts.assistance import CHECK_SOURCES
from infra.partner_data import DEV_SOURCE_TOKEN
from infra.scratch import Scratch
from services.care import rules as care_rules

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ADMIN = {"id": "bench-ops", "role": "admin"}
LINEAR = 1.15  # growth exponent up to which a doubling reads "linear or better"
HTTP_BASE = int(os.environ.get("BENCH_HTTP_BASE", "31000"))
CARE_PORT, ASSISTANCE_PORT, DATA_PORT = HTTP_BASE + 300, HTTP_BASE + 301, HTTP_BASE + 302
DISTRICTS = ("330602", "330603", "330604", "330624", "330681", "330683")  # Shaoxing's
TOWNSHIPS_PER_DISTRICT = 20
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643, as contracts.person


@dataclass(frozen=True)
class Sizes:
    payment: tuple[int, ...] = (1_000_000, 2_000_000, 4_000_000)
    elders: tuple[tuple[int, int], ...] = ((1_250_000, 100_000), (2_500_000, 200_000), (5_000_000, 400_000))
    households: tuple[int, ...] = (25_000, 50_000, 100_000)
    check_concurrency: int = 20

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            (20_000, 40_000, 80_000), ((50_000, 4_000), (100_000, 8_000), (200_000, 16_000)), (500, 1_000, 2_000)
        )


@dataclass
class Point:
    size: int
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    cpu: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> party -> CPU seconds
    facts: dict[str, object] = field(default_factory=dict)
    checks: list[str] = field(default_factory=list)


@dataclass
class Series:
    name: str
    unit: str  # what `size` counts
    timed: str  # the step whose growth is the verdict
    points: list[Point] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    judged: bool = True  # False at the quick sizes: fixed costs and noise dominate a second or two

    def exponents(self, step: str | None = None) -> list[float | None]:
        step = step or self.timed
        out: list[float | None] = []
        for a, b in zip(self.points, self.points[1:]):
            ta, tb = a.seconds.get(step), b.seconds.get(step)
            out.append(math.log(tb / ta) / math.log(b.size / a.size) if ta and tb and b.size != a.size else None)
        return out

    def verdict(self) -> str:
        ks = self.exponents()
        if self.failures or len(self.points) < 2 or None in ks:
            return "not measured"
        if not self.judged:
            return "not judged (quick sizes)"
        return "linear or better" if max(k for k in ks if k is not None) <= LINEAR else "worse than linear"

    def as_dict(self) -> dict:
        return {
            **asdict(self),
            "exponents": self.exponents(),
            "verdict": self.verdict(),
        }


def check(point: Point, what: str, got, want) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    point.checks.append(f"{what} = {want!r}")


# --- processes of the deployed topology ------------------------------------------------------------


def _ticks(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


class Child:
    """One OS process of the topology (a nameko service as `make run` starts it, or a simulator)."""

    def __init__(self, label: str, args: list[str], env: dict, ready_url: str, log_dir: Path):
        self.label, self.args, self.env, self.ready_url = label, args, env, ready_url
        self.log_path = log_dir / f"{label}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> None:
        env = {**os.environ, "PYTHONWARNINGS": "ignore:Eventlet is deprecated", "EVENTLET_TESTS": "1", **self.env}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        self.process = subprocess.Popen(
            self.args,
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} exited ({self.process.returncode}): {self.tail()}")
            try:
                if requests.get(self.ready_url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.label} not ready within {timeout:.0f} s: {self.tail()}")
            time.sleep(0.5)

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-1500:] if self.log_path.exists() else ""

    def cpu_seconds(self) -> float:
        return _ticks(self.process.pid) / os.sysconf("SC_CLK_TCK") if self.process else 0.0

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def nameko(config: str, service: str, env: dict, port: int, log_dir: Path, label: str) -> Child:
    return Child(
        label,
        [str(Path(sys.executable).parent / "nameko"), "run", "--config", config, service],
        env,
        f"http://127.0.0.1:{port}/health/ready",
        log_dir,
    )


class Window:
    """CPU of every party over one step."""

    def __init__(self, databases: tuple[str, ...], children: dict[str, Child]):
        self.children = children
        self.meter = CpuMeter(databases)
        self.before = {label: child.cpu_seconds() for label, child in children.items()}

    def stop(self) -> tuple[float, dict[str, float]]:
        use: CpuUse = self.meter.stop()
        parties = {label: child.cpu_seconds() - self.before[label] for label, child in self.children.items()}
        parties.update(bench=use.bench_process, postgres=use.postgres, rabbitmq=use.rabbitmq, machine=use.machine)
        return use.wall, {k: round(v, 2) for k, v in parties.items()}


def timed(point: Point, step: str, window: Window, call):
    result = call()
    point.seconds[step], point.cpu[step] = window.stop()
    print(f"  {step:<34} {point.seconds[step]:8.2f} s   CPU {point.cpu[step]}", flush=True)
    return result


# --- generated people -------------------------------------------------------------------------------


def resident_id_sql(first17: str) -> str:
    """SQL for an 18-character resident ID number from an expression of its first 17 digits."""
    terms = " + ".join(f"{w} * substr(p, {k + 1}, 1)::int" for k, w in enumerate(_WEIGHTS))
    return f"(SELECT p || substr('10X98765432', ({terms}) % 11 + 1, 1) FROM (SELECT {first17} AS p) AS id)"


def person_sql(i: str, base: date, direction: int, days: int = 7300) -> tuple[str, str, str]:
    """(resident ID, township, birth date) expressions for person number `i`: the district cycles
    fastest, then the birthday (`days` of them from `base`, forwards or backwards), then the
    sequence number, so the numbers stay unique while i < 6 × days × 1,000."""
    n = len(DISTRICTS)
    districts = "ARRAY[" + ", ".join(f"'{d}'" for d in DISTRICTS) + "]"
    district = f"({districts})[({i}) % {n} + 1]"
    born = f"(DATE '{base}' {'+' if direction > 0 else '-'} ((({i}) / {n}) % {days})::int)"
    first17 = f"{district} || to_char({born}, 'YYYYMMDD') || lpad(((({i}) / ({n} * {days})) % 1000)::text, 3, '0')"
    township = f"{district} || lpad(((({i}) / {n}) % {TOWNSHIPS_PER_DISTRICT} + 1)::text, 3, '0')"
    return resident_id_sql(first17), township, born


def local_today() -> date:
    return datetime.now(LOCAL_ZONE).date()


# --- 1. the payment run --------------------------------------------------------------------------------


def measure_payment(sizes: tuple[int, ...], scratch: Scratch) -> Series:
    series = Series("payment run", "recipients", "freeze + bank batch")
    for k, n in enumerate(sizes, 1):
        print(f"[growth] payment run over {n:,} recipients", flush=True)
        try:
            rnd = payment_run.one_round(k, n, scratch)
        except Exception as exc:
            series.failures.append(f"{n:,} recipients: {exc!r}")
            break
        finally:
            scratch.close()  # each size's database is dropped before the next: the disk holds one
        point = Point(n, seconds={**rnd.steps, "freeze + bank batch": rnd.freeze_and_batch}, checks=rnd.checks)
        point.cpu = {
            step: {"postgres backend": rnd.backend_cpu[step], "machine": rnd.machine_cpu[step]} for step in rnd.steps
        }
        point.facts["generation s (not timed)"] = round(rnd.generate_s, 1)
        series.points.append(point)
    return series


# --- 2. the old-age allowance enrolment ---------------------------------------------------------------------


def generate_elders(engine, n: int, qualifying: int, today: date) -> dict:
    """The registry: `qualifying` people aged 80 to 100 and alive, 1 % as many aged 80+ and deceased,
    and the rest aged 60 to 79; registered in the city since 2020-2024."""
    cutoff = care_rules.latest_birth_date_qualifying(today, 80)
    deceased = qualifying // 100
    younger = n - qualifying - deceased
    old = person_sql("i", cutoff, -1)
    young = person_sql("i", cutoff + timedelta(days=1), +1)
    insert = """INSERT INTO elder (resident_id, name, region_code, birth_date, sex, registered_on, recorded_at, deceased_on)
        SELECT id, '老人' || i, township, born, CASE WHEN substr(id, 17, 1)::int % 2 = 1 THEN 'male' ELSE 'female' END,
               DATE '2020-01-01' + (i % 1500), now(), {deceased}
        FROM (SELECT i, {rid} AS id, {township} AS township, {born} AS born
              FROM generate_series({first}, {last}) AS i) AS g"""
    with engine.begin() as conn:
        # the qualifying, then the deceased (numbers after theirs: other IDs), then the younger
        for (rid, township, born), dead, first, last in (
            (old, "NULL", 0, qualifying - 1),
            (old, "DATE '2026-01-15'", qualifying, qualifying + deceased - 1),
            (young, "NULL", 0, younger - 1),
        ):
            conn.execute(
                text(insert.format(deceased=dead, rid=rid, township=township, born=born, first=first, last=last))
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE elder"))
        conn.execute(text("CHECKPOINT"))
        counts = conn.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE birth_date <= :cutoff AND deceased_on IS NULL), "
                "count(DISTINCT region_code) FROM elder"
            ),
            {"cutoff": cutoff},
        ).one()
    return {"rows": counts[0], "qualifying": counts[1], "townships": counts[2], "cutoff": cutoff}


def measure_allowance(sizes, scratch: Scratch, log_dir: Path) -> Series:
    series = Series("old-age allowance enrolment", "registry rows", "enrolment")
    for k, (n, qualifying) in enumerate(sizes, 1):
        print(f"[growth] allowance enrolment over {n:,} people, {qualifying:,} aged 80+", flush=True)
        amqp = scratch.vhost(f"care{k}")
        url = scratch.database(f"care{k}")
        care = None
        try:
            upgrade("services/care", url)
            declare_topology(amqp)
            engine = create_engine(url)
            point = Point(n)
            started = time.perf_counter()
            today = local_today()
            made = generate_elders(engine, n, qualifying, today)
            point.facts["generation s (not timed)"] = round(time.perf_counter() - started, 1)
            check(point, "registry rows generated", made["rows"], n)
            check(point, "aged 80+ and alive (qualifying)", made["qualifying"], qualifying)
            point.facts["townships"] = made["townships"]
            care = nameko(
                "infra/config/care.yaml",
                "services.care.service:CareService",
                {
                    "AMQP_URI": amqp,
                    "CARE_DATABASE_URL": url,
                    "CARE_HTTP": f"127.0.0.1:{CARE_PORT}",
                    "LOG_LEVEL": "WARNING",
                    "JOB_TICK_SECONDS": "86400",  # the hourly job must not run beside the measured call
                    "BANK_FILES_DIR": str(log_dir / "bank-files"),
                    "AUDIT_CHECKPOINTS": str(log_dir / "audit-checkpoints"),
                },
                CARE_PORT,
                log_dir,
                "care",
            )
            care.start()
            databases = (url.rsplit("/", 1)[1],)
            with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=3600) as rpc:
                if local_today() != today:
                    raise RuntimeError("the local date changed during the generation: run again")
                first = timed(point, "enrolment", Window(databases, {"care": care}),
                              lambda: rpc.care.run_allowance_job(ADMIN))  # fmt: skip
                check(point, "enrolled by the first run", first["enrolled"], qualifying)
                again = timed(point, "second run (enrols nobody)", Window(databases, {"care": care}),
                              lambda: rpc.care.run_allowance_job(ADMIN))  # fmt: skip
                check(point, "enrolled by the second run", again["enrolled"], 0)
            with engine.connect() as conn:
                stored, right = conn.execute(
                    text(
                        "SELECT count(*), count(*) FILTER (WHERE e.birth_date <= :cutoff AND e.deceased_on IS NULL "
                        "AND a.region_code = e.region_code) FROM allowance_enrolment a JOIN elder e USING (resident_id)"
                    ),
                    {"cutoff": made["cutoff"]},
                ).one()
            check(
                point,
                "enrolments stored, each a qualifying person of the registry",
                (stored, right),
                (qualifying, qualifying),
            )
            engine.dispose()
            series.points.append(point)
        except Exception as exc:
            series.failures.append(f"{n:,} people: {exc!r}" + (f"; care: {care.tail()[-600:]}" if care else ""))
            break
        finally:
            if care is not None:
                care.stop()
            scratch.close()
    return series


# --- 3. 动态复核 --------------------------------------------------------------------------------------


def generate_households(engine, due: int, today: date) -> dict:
    """`due` households whose review falls due within 30 days and as many not due (next year), each
    with one member (even i) or two (odd i), one open dibao entitlement each."""
    head_id, township, _ = person_sql("i", date(1960, 1, 1), +1)
    second_id, _, _ = person_sql("i", date(1985, 1, 1), +1)
    total = 2 * due
    with engine.begin() as conn:
        conn.execute(
            text(f"""INSERT INTO household (id, region_code, address, bank_account, created_at)
                SELECT md5('h' || i)::uuid::text, {township}, '绍兴市 ' || i || ' 号', '6228' || lpad(i::text, 15, '0'), now()
                FROM generate_series(0, {total - 1}) AS i""")
        )
        for rid, relationship, which in ((head_id, "head", "TRUE"), (second_id, "spouse", "i % 2 = 1")):
            conn.execute(
                text(f"""INSERT INTO member (id, household_id, resident_id, name, relationship, monthly_income_fen,
                        employment_cost_fen, seriously_ill, severely_disabled, pregnant, single_person_listing, joined_on)
                    SELECT md5('{relationship}' || i)::uuid::text, md5('h' || i)::uuid::text, {rid}, '成员' || i,
                           '{relationship}', 0, 0, false, false, false, false, DATE '2024-01-01'
                    FROM generate_series(0, {total - 1}) AS i WHERE {which}""")
            )
        conn.execute(
            text(f"""INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, policy_version,
                    next_review_on)
                SELECT md5('h' || i)::uuid::text, 'dibao', 30000 + (i % 997) * 100, DATE '2025-01-01', 'bench',
                       CASE WHEN i < {due} THEN DATE '{today}' + (i % 30) ELSE DATE '{today}' + 200 + (i % 30) END
                FROM generate_series(0, {total - 1}) AS i""")
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE household, member, entitlement"))
        subjects = conn.execute(
            text(
                "SELECT count(*) FROM member m JOIN entitlement e USING (household_id) WHERE e.next_review_on <= :until"
            ),
            {"until": today + timedelta(days=30)},
        ).scalar_one()
    return {"subjects": subjects}


def measure_reviews(sizes: tuple[int, ...], concurrency: int, scratch: Scratch, log_dir: Path) -> Series:
    series = Series("动态复核 re-check", "households due", "re-check")
    data = Child(
        "partner-data",
        [sys.executable, "-m", "infra.partner_sim", "data", "--data-port", str(DATA_PORT)],
        {},
        f"http://127.0.0.1:{DATA_PORT}/",
        log_dir,
    )
    for k, households in enumerate(sizes, 1):
        print(f"[growth] 动态复核 of {households:,} households", flush=True)
        amqp = scratch.vhost(f"review{k}")
        url = scratch.database(f"review{k}")
        assistance = None
        try:
            data.start()  # afresh for each size: it keeps every query it was asked
            upgrade("services/assistance", url)
            declare_topology(amqp)
            engine = create_engine(url)
            point = Point(households)
            today = local_today()
            started = time.perf_counter()
            made = generate_households(engine, households, today)
            point.facts["generation s (not timed)"] = round(time.perf_counter() - started, 1)
            subjects = households + households // 2
            check(point, "members of the households due", made["subjects"], subjects)
            assistance = nameko(
                "infra/config/assistance.yaml",
                "services.assistance.service:AssistanceService",
                {
                    "AMQP_URI": amqp,
                    "ASSISTANCE_DATABASE_URL": url,
                    "ASSISTANCE_HTTP": f"127.0.0.1:{ASSISTANCE_PORT}",
                    "CHECK_SOURCES_URL": f"http://127.0.0.1:{DATA_PORT}",
                    "CHECK_SOURCES_TOKEN": DEV_SOURCE_TOKEN,
                    "CHECK_CONCURRENCY": str(concurrency),
                    "CHECK_TIMEOUT_SECONDS": "10",
                    "LOG_LEVEL": "WARNING",
                    "BANK_FILES_DIR": str(log_dir / "bank-files"),
                    "AUDIT_CHECKPOINTS": str(log_dir / "audit-checkpoints"),
                },
                ASSISTANCE_PORT,
                log_dir,
                "assistance",
            )
            assistance.start()
            databases = (url.rsplit("/", 1)[1],)
            parties = {"assistance": assistance, "partner data": data}
            with ClusterRpcProxy({"AMQP_URI": amqp}, timeout=7200) as rpc:
                first = timed(
                    point, "re-check", Window(databases, parties), lambda: rpc.assistance.run_review_checks(ADMIN)
                )
                fetches = subjects * len(CHECK_SOURCES)
                check(
                    point,
                    "first run (entitlements, complete, subjects, fetches, failed)",
                    tuple(first[k] for k in ("entitlements", "complete", "subjects", "fetches", "failed_fetches")),
                    (households, households, subjects, fetches, 0),
                )
                point.facts["batches"] = first["batches"]
                point.facts["fetches/s"] = round(fetches / point.seconds["re-check"])
                again = timed(point, "second run (asks nobody)", Window(databases, parties),
                              lambda: rpc.assistance.run_review_checks(ADMIN))  # fmt: skip
                check(point, "second run (entitlements, fetches)", (again["entitlements"], again["fetches"]), (0, 0))
            with engine.connect() as conn:
                stored = conn.execute(
                    text(
                        "SELECT count(DISTINCT c.id), count(f.id), count(DISTINCT f.resident_id), "
                        "count(*) FILTER (WHERE f.status <> 'ok') "
                        "FROM economic_check c JOIN check_fetch f ON f.check_id = c.id"
                    )
                ).one()
                not_due_asked = conn.execute(
                    text(
                        "SELECT count(*) FROM economic_check c JOIN entitlement e ON e.id = c.entitlement_id "
                        "WHERE e.next_review_on > :until"
                    ),
                    {"until": today + timedelta(days=30)},
                ).scalar_one()
            check(
                point, "stored (checks, fetch rows, people, failed)", tuple(stored), (households, fetches, subjects, 0)
            )
            check(point, "checks of households not due", not_due_asked, 0)
            engine.dispose()
            series.points.append(point)
        except Exception as exc:
            tail = f"; assistance: {assistance.tail()[-600:]}" if assistance else ""
            series.failures.append(f"{households:,} households: {exc!r}{tail}")
            break
        finally:
            if assistance is not None:
                assistance.stop()
            data.stop()
            scratch.close()
    return series


# --- all three, and the report ----------------------------------------------------------------------


@dataclass
class Growth:
    sizes: Sizes
    series: list[Series] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [f"(g) {s.name}: {f}" for s in self.series for f in s.failures]

    def as_dict(self) -> dict:
        return {"sizes": asdict(self.sizes), "series": [s.as_dict() for s in self.series]}


def measure(sizes: Sizes, parts=("payment", "allowance", "review")) -> Growth:
    growth = Growth(sizes)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    scratch = Scratch(prefix="bench_g")
    try:
        if "payment" in parts:
            growth.series.append(measure_payment(sizes.payment, scratch))
        if "allowance" in parts:
            growth.series.append(measure_allowance(sizes.elders, scratch, log_dir))
        if "review" in parts:
            growth.series.append(measure_reviews(sizes.households, sizes.check_concurrency, scratch, log_dir))
    finally:
        failures = scratch.close()
        if failures:
            growth.series.append(Series("cleanup", "", "", failures=failures))
    for series in growth.series:
        series.judged = sizes != Sizes.quick()
    return growth


def _k(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def summary_rows(growth: Growth) -> list[tuple[str, str, str]]:
    """(goal, result, verdict) per series, for the summary table."""
    rows = []
    for s in growth.series:
        if not s.unit:
            continue
        times = ", ".join(f"{p.size:,}: {p.seconds.get(s.timed, float('nan')):.1f} s" for p in s.points)
        ks = ", ".join(_k(k) for k in s.exponents())
        result = f"{s.timed} — {times or 'no size measured'}; growth exponent per doubling {ks or '—'}"
        if s.failures:
            result += f"; FAILED: {s.failures[0][:300]}"
        rows.append((f"(g) {s.name} ({s.unit})", result, s.verdict()))
    return rows


def render(growth: Growth) -> list[str]:
    lines = [
        "",
        "## (g) Cost growth",
        "",
        "What each series does is in the docstring of `bench/growth.py`. Growth exponent k: t ∝ n^k "
        f"between two sizes; k ≤ {LINEAR} reads linear or better. CPU seconds per party over each step "
        "(`machine` = all cores, everyone).",
    ]
    for s in growth.series:
        if not s.unit:
            lines += ["", f"Cleanup failures: {s.failures}"]
            continue
        steps = list(dict.fromkeys(step for p in s.points for step in p.seconds))
        lines += [
            "",
            f"### {s.name}: {s.verdict()}",
            "",
            f"| {s.unit} | " + " | ".join(f"{st} s" for st in steps) + " | CPU s of the timed step | facts |",
        ]
        lines.append("| --- " * (len(steps) + 3) + "|")
        for p in s.points:
            cpu = ", ".join(f"{k} {v:g}" for k, v in p.cpu.get(s.timed, {}).items()) or (
                ", ".join(f"{k} {v:g}" for k, v in p.cpu.get("freeze", {}).items()) + " (freeze)"
            )
            facts = ", ".join(f"{k} {v}" for k, v in p.facts.items())
            lines.append(
                f"| {p.size:,} | "
                + " | ".join(f"{p.seconds[st]:.2f}" if st in p.seconds else "—" for st in steps)
                + f" | {cpu} | {facts} |"
            )
        for step in (s.timed, *[st for st in steps if st != s.timed]):
            ks = s.exponents(step)
            if any(k is not None for k in ks):
                lines.append(f"\nGrowth exponent of {step}: " + ", ".join(_k(k) for k in ks))
        if s.points:
            lines += ["", "Checks that passed at the largest size: " + "; ".join(s.points[-1].checks)]
        lines += [f"- FAILED: {f}" for f in s.failures]
    return lines


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(v.replace("_", "")) for v in text.split(","))


def _pairs(text: str) -> tuple[tuple[int, int], ...]:
    return tuple((int(a.replace("_", "")), int(b.replace("_", ""))) for a, b in (v.split(":") for v in text.split(",")))


def write(growth: Growth, facts: dict, command: str, started: datetime) -> None:
    """bench/GROWTH.md and GROWTH.json: this script's own run (`make bench` puts the same section
    into RESULTS.md when it runs (g) itself)."""
    body = [
        "# Cost growth (issue 15)",
        "",
        f"Written by `{command}` on {started:%Y-%m-%d %H:%M} UTC (finished {datetime.now(UTC):%H:%M} UTC).",
        "",
        "| measurement | result |",
        "| --- | --- |",
        *[f"| {goal} | {result} — **{verdict}** |" for goal, result, verdict in summary_rows(growth)],
        *render(growth),
        "",
        "## Machine",
        "",
        "| fact | value |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in facts.items()],
        "",
    ]
    (HERE / "GROWTH.md").write_text("\n".join(body), encoding="utf-8")
    (HERE / "GROWTH.json").write_text(
        json.dumps(
            {"started": started.isoformat(), "command": command, **growth.as_dict(), "machine": facts},
            ensure_ascii=False,
            indent=1,
            default=str,
        ),  # fmt: skip
        encoding="utf-8",
    )


def main(argv=None) -> int:
    import argparse

    from bench.machine import machine_facts

    parser = argparse.ArgumentParser(description="(g) cost growth alone; `make bench` runs it too")
    parser.add_argument("--quick", action="store_true", help="small sizes (a minute or two), to check the checks")
    parser.add_argument("--only", choices=("payment", "allowance", "review"), action="append")
    parser.add_argument("--payment", type=_ints, help="recipients, e.g. 1000000,2000000,4000000")
    parser.add_argument("--elders", type=_pairs, help="registry:aged80+, e.g. 1250000:100000,2500000:200000")
    parser.add_argument("--households", type=_ints, help="households due, e.g. 25000,50000,100000")
    parser.add_argument("--concurrency", type=int, help="CHECK_CONCURRENCY of the assistance process")
    parser.add_argument("--write", action="store_true", help="write bench/GROWTH.md and GROWTH.json")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    sizes = Sizes.quick() if args.quick else Sizes()
    sizes = Sizes(
        args.payment or sizes.payment,
        args.elders or sizes.elders,
        args.households or sizes.households,
        args.concurrency or sizes.check_concurrency,
    )
    started, facts = datetime.now(UTC), machine_facts()
    print(f"load average at start: {facts['load average at start']}; sizes {sizes}", flush=True)
    growth = measure(sizes, tuple(args.only or ("payment", "allowance", "review")))
    print("\n".join(render(growth)))
    if args.write:
        write(growth, facts, "python -m bench.growth " + " ".join(sys.argv[1:] if argv is None else argv), started)
    return 1 if growth.failures else 0


if __name__ == "__main__":
    sys.exit(main())
