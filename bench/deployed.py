"""Measurement (d): the deployed system, every process of `make run` (infra.run), under load.

`infra.run` starts the topology as `make run` does (marriage, assistance, care, charity, funeral,
the gateway process with progress and partner feed, the webhooks process, the partner simulator
answering as every department, the webhook simulator), on a scratch vhost pair and scratch
databases of the broker and PostgreSQL the benchmark is pointed at ($TONGBAN_TEST_AMQP,
$TONGBAN_TEST_BROKER_ADMIN, $TONGBAN_TEST_PG), with HTTP ports from $BENCH_HTTP_BASE (default
31000). This process only drives the load over HTTP and reads /proc; everything measured runs in
the children, each its own OS process as in a deployment.

What is measured, in this order:

1. 结婚生育户口一件事 offered open-loop at each rate of `marriage_rates` (matters/s) for
   `step_seconds` each: a citizen applies, a clerk registers, the citizen polls GET
   /api/v1/matters/{id} until "waiting" (bench.e2e.run_matter). Latency first POST → "waiting".
2. 身后一件事 offered open-loop at `death_rate`: the health department notifies a death
   (seeded beforehand straight into the databases, bench.after_death.seed), a clerk polls until
   every internal step is done (assistance, care, marriage) and then every automatic one.
3. Reads with wrk against the gateway process: `/health/live` (the HTTP layer's own speed, the
   baseline), `GET /api/v1/matters/{id}` (citizens, each their own matter, a Lua script rotating
   over them) and the clerk's work queue `GET /api/v1/assistance/applications` (50 rows, seeded),
   each at -c16 and -c64.

CPU seconds are read from /proc per child process (by name), for the PostgreSQL server and the
broker the benchmark uses (found by their listening ports, so other servers on the machine are
not counted) and for the whole machine, over each measured window.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import eventlet
import psycopg2
import requests
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from bench import after_death, e2e
from bench.hops import percentile
from bench.machine import TICK, _machine_jiffies
from chassis.clock import LOCAL_ZONE
from gateway.auth import dev_issuer, issue_token
from infra.partners import broker_from
from infra.scratch import AMQP_HOST, BROKER_ADMIN_URL, PG_ADMIN_DSN, Scratch
from services.assistance import models as a

ROOT = Path(__file__).resolve().parent.parent
HTTP_BASE = int(os.environ.get("BENCH_HTTP_BASE", "31000"))
QUEUE_AREA = "330603"  # the clerk's district in the work-queue read (no other bench data lives there)
QUEUE_ROWS = 50
NAMEKO_PROCESSES = ("marriage", "assistance", "care", "charity", "funeral", "gateway", "webhooks")


# --- CPU of a set of processes ---------------------------------------------------------------------


def _ticks(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if int(raw[raw.rindex(")") + 2 :].split()[1]) == pid:
            out.append(int(entry))
    return out


def listener_pid(port: int) -> int | None:
    """The process listening on a TCP port of this machine (ss -ltnp)."""
    ss = shutil.which("ss")
    if ss is None:
        return None
    out = subprocess.run([ss, "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
    found = re.search(r"pid=(\d+)", out)
    return int(found.group(1)) if found else None


@dataclass
class Cpu:
    """CPU seconds over one window, by party, and the window's length."""

    wall: float
    by_process: dict[str, float]
    postgres: float
    rabbitmq: float
    load_generator: float  # this process
    machine: float

    @property
    def system(self) -> float:
        return sum(self.by_process.values()) + self.postgres + self.rabbitmq

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.system - self.load_generator)

    def cores(self, seconds: float) -> float:
        return seconds / self.wall if self.wall else 0.0

    def as_dict(self) -> dict:
        return {
            "wall_s": round(self.wall, 2),
            "cores": {k: round(self.cores(v), 3) for k, v in self.by_process.items()}
            | {
                "postgres": round(self.cores(self.postgres), 3),
                "rabbitmq": round(self.cores(self.rabbitmq), 3),
                "load_generator": round(self.cores(self.load_generator), 3),
                "machine": round(self.cores(self.machine), 3),
                "other": round(self.cores(self.other), 3),
            },
        }


class Meter:
    """CPU from now until `stop()` of the topology's processes, the database and the broker."""

    def __init__(self, topology: Topology):
        self.topology = topology
        self.wall = time.perf_counter()
        self.before = self._sample()
        self.busy = _machine_jiffies()[0]
        usage = os.times()
        self.me = usage.user + usage.system

    def _sample(self) -> dict[int, tuple[str, int]]:
        out = {}
        for label, pid in self.topology.pids().items():
            ticks = _ticks(pid)
            if ticks is not None:
                out[pid] = (label, ticks)
        return out

    def stop(self) -> Cpu:
        wall = time.perf_counter() - self.wall
        after = self._sample()
        sums: dict[str, float] = {}
        for pid, (label, ticks) in after.items():
            start = self.before.get(pid, (label, 0))[1]
            sums[label] = sums.get(label, 0.0) + (ticks - start) / TICK
        usage = os.times()
        return Cpu(
            wall=wall,
            by_process={k: v for k, v in sums.items() if k not in ("postgres", "rabbitmq")},
            postgres=sums.get("postgres", 0.0),
            rabbitmq=sums.get("rabbitmq", 0.0),
            load_generator=usage.user + usage.system - self.me,
            machine=(_machine_jiffies()[0] - self.busy) / TICK,
        )


# --- the topology ------------------------------------------------------------------------------------


class Topology:
    """`python -m infra.run` on scratch vhosts and databases, stopped and cleaned up by `stop()`."""

    def __init__(self, scratch: Scratch, log_path: Path):
        self.scratch = scratch
        self.amqp_uri = scratch.vhost("deployed")
        partner_uri = scratch.vhost("partners")
        self.partner_vhost = urlsplit(partner_uri).path.lstrip("/")
        self.prefix = f"{scratch.prefix}_d"
        self.databases = [f"{self.prefix}_{name}" for name in ("marriage", "assistance", "care", "charity",
                                                                 "funeral", "gateway")]  # fmt: skip
        pg_base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
        self.urls = {db.rsplit("_", 1)[1]: f"{pg_base}/{db}" for db in self.databases}
        ports = {
            "GATEWAY_HTTP": 0,
            "MARRIAGE_HTTP": 101,
            "ASSISTANCE_HTTP": 102,
            "CARE_HTTP": 103,
            "CHARITY_HTTP": 104,
            "FUNERAL_HTTP": 105,
            "WEBHOOKS_HTTP": 106,
        }
        self.env = {
            **os.environ,
            **{k: f"127.0.0.1:{HTTP_BASE + v}" for k, v in ports.items()},
            "AMQP_URI": self.amqp_uri,
            "RABBIT_ADMIN_URL": BROKER_ADMIN_URL,
            "PARTNER_VHOST": self.partner_vhost,
            "PARTNER_CREDENTIALS": str(Path(tempfile.gettempdir()) / f"{self.prefix}-partners.json"),
            "TONGBAN_PG": PG_ADMIN_DSN,
            "TONGBAN_DB_PREFIX": self.prefix,
            "WEBHOOK_SIM_PORT": str(HTTP_BASE + 210),
            "PARTNER_DATA_PORT": str(HTTP_BASE + 200),
            "PARTNER_SIM_METRICS_PORT": str(HTTP_BASE + 201),
            "INSTANCE_PORT_STEP": "10",
            "LOG_LEVEL": "WARNING",
            "BANK_FILES_DIR": str(Path(tempfile.gettempdir()) / f"{self.prefix}-bank-files"),
            "PYTHONWARNINGS": "ignore:Eventlet is deprecated",
        }
        self.url = f"http://{self.env['GATEWAY_HTTP']}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._pids: dict[str, int] = {}
        self.issuer = dev_issuer()  # infra.run's gateway trusts the development issuer

    def start(self, timeout: float = 240.0) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.run"],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while b"[tongban] ready:" not in self.log_path.read_bytes():
            if self.process.poll() is not None:
                raise RuntimeError(f"infra.run exited ({self.process.returncode}); see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"infra.run not ready within {timeout:.0f} s; see {self.log_path}")
            eventlet.sleep(0.5)
        # the simulators start last: wait until the partner simulator serves its metrics
        e2e_wait(f"http://127.0.0.1:{self.env['PARTNER_SIM_METRICS_PORT']}/metrics", deadline)
        self._find_pids()

    def _find_pids(self) -> None:
        assert self.process is not None
        for pid in _children(self.process.pid):
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
            text = " ".join(cmdline)
            if "infra.partner_sim" in text:
                self._pids["partner-simulator"] = pid
            elif "infra.webhook_sim" in text:
                self._pids["webhook-simulator"] = pid
            else:
                config = next((c for c in cmdline if c.startswith("infra/config/")), "")
                self._pids[Path(config).stem or f"pid {pid}"] = pid
        pg = listener_pid(int(urlsplit(PG_ADMIN_DSN).port or 5432))
        if pg is not None:
            self._postmaster = pg
        broker = listener_pid(int(AMQP_HOST.rsplit(":", 1)[1]) if ":" in AMQP_HOST.rsplit("@", 1)[-1] else 5672)
        if broker is not None:
            self._pids["rabbitmq"] = broker

    def pids(self) -> dict[str, int]:
        """label -> pid; PostgreSQL's backends (children of the postmaster) each under "postgres"."""
        out = dict(self._pids)
        postmaster = getattr(self, "_postmaster", None)
        if postmaster is not None:
            for k, pid in enumerate([postmaster, *_children(postmaster)]):
                out[f"postgres#{k}"] = pid
        return out

    def gateway_pid(self) -> int:
        return self._pids["gateway"]

    def stop(self) -> list[str]:
        failures = []
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # infra.run stops its children and itself
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                failures.append("infra.run did not stop within 30 s: killed")
        with contextlib.suppress(Exception):
            broker_from(self.amqp_uri, BROKER_ADMIN_URL, self.partner_vhost).delete_users()
        try:
            conn = psycopg2.connect(PG_ADMIN_DSN)
            conn.autocommit = True
            for db in self.databases:
                conn.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            conn.close()
        except Exception as exc:
            failures.append(f"databases: {exc!r}")
        Path(self.env["PARTNER_CREDENTIALS"]).unlink(missing_ok=True)
        shutil.rmtree(self.env["BANK_FILES_DIR"], ignore_errors=True)
        return failures


def e2e_wait(url: str, deadline: float) -> None:
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in time")
        eventlet.sleep(0.5)


def _fold_cpu(cpu: Cpu) -> Cpu:
    """PostgreSQL's processes under one name."""
    pg = sum(v for k, v in cpu.by_process.items() if k.startswith("postgres#"))
    cpu.by_process = {k: v for k, v in cpu.by_process.items() if not k.startswith("postgres#")}
    cpu.postgres += pg
    return cpu


# --- load: the one-matters -----------------------------------------------------------------------


@dataclass
class LoadStep:
    what: str  # "marriage" | "after-death"
    rate: float
    seconds: float
    poll: float
    offered: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, of those that finished
    posts: list[float] = field(default_factory=list)  # each POST's own latency
    errors: list[str] = field(default_factory=list)
    achieved_start_rate: float | None = None
    completion_rate: float | None = None
    gets: int = 0
    cpu: Cpu | None = None
    automatic: list[float] = field(default_factory=list)  # after-death: also the departments' steps

    def pct(self, p: float, values=None) -> float | None:
        value = percentile(self.latencies if values is None else values, p)
        return None if value is None else 1000 * value

    def as_dict(self) -> dict:
        return {
            "what": self.what,
            "offered_rate": self.rate,
            "seconds": self.seconds,
            "poll_s": self.poll,
            "offered": self.offered,
            "finished": len(self.latencies),
            "errors": len(self.errors),
            "error_examples": self.errors[:5],
            "achieved_start_rate": self.achieved_start_rate,
            "completion_rate": self.completion_rate,
            "gets": self.gets,
            "latency_ms": {f"p{p}": self.pct(p) for p in (50, 95, 99)},
            "post_ms": {f"p{p}": self.pct(p, self.posts) for p in (50, 99)},
            "automatic_ms": {f"p{p}": self.pct(p, self.automatic) for p in (50, 99)} if self.automatic else None,
            "cpu": self.cpu.as_dict() if self.cpu else None,
        }


def _rates(starts: list[float]) -> float | None:
    starts = sorted(starts)
    return (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else None


def offer(rate: float, seconds: float, spawn_one) -> list:
    """Start `spawn_one(k)` open-loop at `rate` per second for `seconds`; the green threads."""
    pool = eventlet.GreenPool(20_000)
    threads = []
    t0 = time.perf_counter()
    for k in range(int(round(rate * seconds))):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            eventlet.sleep(delay)
        threads.append(pool.spawn(spawn_one, k))
    return threads


class Load:
    def __init__(self, topology: Topology):
        self.topology = topology
        self.next_couple = 0
        self.today = datetime.now(LOCAL_ZONE).date()
        self.matters: list[tuple[str, str]] = []  # (matter id, the citizen's resident id) that reached "waiting"

    def marriage(self, rate: float, seconds: float, poll: float, timeout: float) -> LoadStep:
        step = LoadStep("marriage", rate, seconds, poll)
        first = self.next_couple
        step.offered = int(round(rate * seconds))
        self.next_couple += step.offered
        issuer, url = self.topology.issuer, self.topology.url
        meter = Meter(self.topology)

        def one(k):
            c = e2e.couple(first + k, self.today)
            return c, e2e.run_matter(url, c, poll, timeout, step.errors, issuer=issuer)

        results = [t.wait() for t in offer(rate, seconds, one)]
        step.cpu = _fold_cpu(meter.stop())
        timings = [t for _, t in results]
        step.latencies = [t.waiting_s for t in timings if t.waiting_s is not None and t.error is None]
        step.posts = [v for t in timings for v in (t.apply_s, t.register_s) if v is not None]
        step.gets = sum(t.polls for t in timings)
        step.achieved_start_rate = _rates([t.started for t in timings])
        step.completion_rate = _rates([t.started + t.waiting_s for t in timings if t.waiting_s is not None])
        self.matters += [(t.matter_id, c.husband["resident_id"]) for c, t in results if t.matter_id]
        return step

    def after_death(self, rate: float, seconds: float, poll: float, timeout: float) -> LoadStep:
        step = LoadStep("after-death", rate, seconds, poll)
        step.offered = int(round(rate * seconds))
        urls = {k: v for k, v in self.topology.urls.items() if k in ("assistance", "care", "marriage")}
        died = after_death.seed(urls, step.offered + 1, self.today)
        issuer, url = self.topology.issuer, self.topology.url
        warm: list[str] = []
        if after_death.run_death(url, 0, died, poll, 60, warm, issuer=issuer).error:
            step.errors.append(f"warm-up death failed: {warm}")
            return step
        meter = Meter(self.topology)
        timings = [
            t.wait()
            for t in offer(
                rate, seconds, lambda k: after_death.run_death(url, k + 1, died, poll, timeout, step.errors, issuer)
            )
        ]
        step.cpu = _fold_cpu(meter.stop())
        step.latencies = [t.internal_s for t in timings if t.internal_s is not None and t.error is None]
        step.automatic = [t.automatic_s for t in timings if t.automatic_s is not None]
        step.posts = [t.notify_s for t in timings if t.notify_s is not None]
        step.achieved_start_rate = _rates([t.started for t in timings])
        step.completion_rate = _rates([t.started + t.internal_s for t in timings if t.internal_s is not None])
        return step


# --- reads with wrk -------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    name: str
    connections: int
    seconds: float
    requests_per_s: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    non_2xx: int = 0
    socket_errors: int = 0
    gateway_cores: float | None = None
    busiest: str = ""  # the parties that spent the most CPU during the read, in cores
    output: str = ""

    def as_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k != "output"}
        return d


_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNIT[unit]


def parse_wrk(result: WrkResult, out: str) -> WrkResult:
    result.output = out
    if found := re.search(r"Requests/sec:\s+([\d.]+)", out):
        result.requests_per_s = float(found.group(1))
    if found := re.search(r"^\s+50%\s+(\S+)", out, re.M):
        result.p50_ms = _ms(found.group(1))
    if found := re.search(r"^\s+99%\s+(\S+)", out, re.M):
        result.p99_ms = _ms(found.group(1))
    if found := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        result.non_2xx = int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        result.socket_errors = sum(int(g) for g in found.groups())
    return result


LUA_ROTATE = """-- each request: the next (path, token) pair, so every citizen reads their own matter
local pairs = {%s}
local i = 0
request = function()
  i = i %% #pairs + 1
  return wrk.format("GET", pairs[i][1], {["Authorization"] = "Bearer " .. pairs[i][2]})
end
"""


class Reads:
    def __init__(self, topology: Topology, workdir: Path):
        self.topology = topology
        self.workdir = workdir

    def seed_queue(self) -> None:
        """QUEUE_ROWS applications in the clerk's district, straight into assistance's database."""
        engine = create_engine(self.topology.urls["assistance"])
        now = datetime.now(UTC)
        with Session(engine) as s:
            for i in range(QUEUE_ROWS):
                household = str(uuid.uuid4())
                s.add(a.Household(id=household, region_code=f"{QUEUE_AREA}001", address="柯桥区",
                                  bank_account=f"62284801{i:08d}", created_at=now))  # fmt: skip
                s.flush()
                s.add(
                    a.Application(
                        id=str(uuid.uuid4()),
                        household_id=household,
                        programme="dibao",
                        state="checking",
                        region_code=f"{QUEUE_AREA}001",
                        channel="caseworker",
                        applied_at=now - timedelta(minutes=i),
                        applied_by="bench",
                        accepted_on=date.today(),
                        decision_due=date.today() + timedelta(days=20 + i % 7),
                    )
                )
            s.commit()
        engine.dispose()

    def wrk(self, name: str, connections: int, seconds: float, url: str, args: list[str]) -> WrkResult:
        result = WrkResult(name, connections, seconds)
        meter = Meter(self.topology)
        done = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s", *args, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
        cpu = _fold_cpu(meter.stop())
        result.gateway_cores = cpu.cores(cpu.by_process.get("gateway", 0.0))
        result.busiest = _top_cpu(cpu, 3)
        return parse_wrk(result, done.stdout + done.stderr)

    def measure(self, matters: list[tuple[str, str]], seconds: float) -> list[WrkResult]:
        if not shutil.which("wrk"):
            raise RuntimeError("wrk is not installed (apt-get install wrk): the reads are measured with it")
        issuer, base = self.topology.issuer, self.topology.url
        pairs = ", ".join(
            f'{{"/api/v1/matters/{quote(m)}", "{issue_token(issuer, rid, "citizen", ttl_seconds=3600)}"}}'
            for m, rid in matters[:200]
        )
        script = self.workdir / "matters.lua"
        script.write_text(LUA_ROTATE % pairs, encoding="utf-8")
        self.seed_queue()
        clerk = issue_token(issuer, "caseworker-bench", "clerk", QUEUE_AREA)  # staff: 10 minutes
        queue = requests.get(base + "/api/v1/assistance/applications", headers={"Authorization": f"Bearer {clerk}"})
        rows = len(queue.json().get("applications", [])) if queue.ok else 0
        if rows != QUEUE_ROWS:
            raise RuntimeError(f"the work queue answered {queue.status_code} with {rows} rows, not {QUEUE_ROWS}")
        out = []
        for c in (16, 64):
            out.append(self.wrk("health", c, seconds, base + "/health/live", []))
            out.append(self.wrk("matter", c, seconds, base + "/", ["-s", str(script)]))
            out.append(
                self.wrk(
                    "queue",
                    c,
                    seconds,
                    base + "/api/v1/assistance/applications",
                    ["-H", f"Authorization: Bearer {clerk}"],
                )  # fmt: skip
            )
        return out


# --- profile ----------------------------------------------------------------------------------------------


def top_frames(raw: Path, n: int = 25) -> list[tuple[str, float]]:
    """The functions with the most samples anywhere on the stack (py-spy raw = collapsed stacks)."""
    inclusive: dict[str, int] = {}
    total = 0
    for line in raw.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame] = inclusive.get(frame, 0) + int(count)
    ranked = sorted(inclusive.items(), key=lambda kv: -kv[1])[:n]
    return [(frame, 100 * c / total) for frame, c in ranked] if total else []


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


# --- the whole measurement ----------------------------------------------------------------------------

MARRIAGE_GOAL_RATE, MARRIAGE_GOAL_P99_MS = 50.0, 100.0
DEATH_GOAL_P99_MS = 200.0
READ_GOAL_RATIO, READ_GOAL_P99_MS, QUEUE_GOAL_RATIO = 0.8, 20.0, 0.3
MATTER_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 90.0


@dataclass
class Deployed:
    marriage: list[LoadStep] = field(default_factory=list)
    death: LoadStep | None = None
    reads: list[WrkResult] = field(default_factory=list)
    idle: Cpu | None = None
    profiles: dict[str, list] = field(default_factory=dict)  # label -> top frames (function, % of samples)
    drained: list[str] = field(default_factory=list)  # how long the queues took to empty after each step
    failures: list[str] = field(default_factory=list)

    def read(self, name: str, connections: int) -> WrkResult | None:
        return next((r for r in self.reads if r.name == name and r.connections == connections), None)

    def ratio(self, name: str, connections: int) -> float | None:
        r, h = self.read(name, connections), self.read("health", connections)
        return r.requests_per_s / h.requests_per_s if r and h and r.requests_per_s and h.requests_per_s else None

    def as_dict(self) -> dict:
        return {
            "marriage": [s.as_dict() for s in self.marriage],
            "after_death": self.death.as_dict() if self.death else None,
            "reads": [r.as_dict() for r in self.reads],
            "read_ratios": {f"{n}@{c}": self.ratio(n, c) for n in ("matter", "queue") for c in (16, 64)},
            "idle_cpu": self.idle.as_dict() if self.idle else None,
            "profiles": self.profiles,
            "drained": self.drained,
            "failures": self.failures,
        }


def queued_messages(amqp_uri: str) -> dict[str, int]:
    """Messages (ready + unacked) of every queue of the vhost that holds any, from the management API."""
    import base64
    import urllib.request

    vhost = urlsplit(amqp_uri).path.lstrip("/")
    token = base64.b64encode(AMQP_HOST.split("@")[0].encode()).decode()
    request = urllib.request.Request(
        f"{BROKER_ADMIN_URL.rstrip('/')}/api/queues/{quote(vhost, safe='')}?columns=name,messages",
        headers={"Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return {q["name"]: q["messages"] for q in json.load(answer) if q.get("messages")}


def drain(topology: Topology, label: str, result: Deployed) -> None:
    """Wait for the queues to empty, so one step's backlog does not land on the next; a dead
    letter never drains, and is a failure of the step."""
    started = time.monotonic()
    while True:
        queued = queued_messages(topology.amqp_uri) | queued_messages(f"amqp://x/{topology.partner_vhost}")
        dead = {name: n for name, n in queued.items() if name.endswith(".dead")}
        live = {name: n for name, n in queued.items() if name not in dead}
        waited = time.monotonic() - started
        if not live or waited > DRAIN_TIMEOUT_S:
            result.drained.append(f"{label}: {waited:.0f} s" + (f", still queued: {live}" if live else ""))
            if dead:
                result.failures.append(f"after {label}: dead letters {dead}")
            return
        eventlet.sleep(1.0)


def profiled(topology: Topology, label: str, seconds: float, workdir: Path, result: Deployed, work):
    """Run `work()` while py-spy samples the gateway process; keep the top frames."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = workdir / f"profile-{label}.txt"
    child = None
    if Path(spy).exists():
        child = subprocess.Popen(
            [spy, "record", "-p", str(topology.gateway_pid()), "-d", f"{seconds:g}", "-r", "97", "-f", "raw",
             "-o", str(raw), "--nonblocking"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        return work()
    finally:
        if child is not None:
            while child.poll() is None:
                eventlet.sleep(0.2)
            if raw.exists():
                result.profiles[label] = [[f, round(p, 1)] for f, p in top_frames(raw)]
                shutil.copy(raw, ROOT / "bench" / f"profile-gateway-{label}.txt")
        else:
            result.failures.append("py-spy not installed: no profile")


def measure_reads(topology: Topology, matters: list, p, tmp: Path, result: Deployed) -> None:
    reads = Reads(topology, tmp)
    result.reads = reads.measure(matters, p.wrk_seconds)
    result.reads.append(
        profiled(
            topology,
            "matter-read",
            p.profile_seconds,
            tmp,
            result,
            lambda: reads.wrk(
                "matter (profiled)", 16, p.profile_seconds, topology.url + "/", ["-s", str(tmp / "matters.lua")]
            ),
        )  # fmt: skip
    )


def measure(scratch: Scratch, p) -> Deployed:
    result = Deployed()
    tmp = Path(tempfile.mkdtemp(prefix="bench-deployed-"))
    topology = Topology(scratch, tmp / "infra-run.log")
    try:
        topology.start()
        load = Load(topology)
        warm = load.marriage(1.0, 3, p.poll, MATTER_TIMEOUT_S)  # first connections, caches: not counted
        if warm.errors or len(warm.latencies) != warm.offered:
            raise RuntimeError(f"warm-up matters failed: {warm.errors[:3]}")
        meter = Meter(topology)
        eventlet.sleep(5)
        result.idle = _fold_cpu(meter.stop())
        rates = sorted(p.marriage_rates)
        for k, rate in enumerate(rates):
            if k == len(rates) - 1:
                step = profiled(topology, "marriage", p.profile_seconds, tmp, result,
                                lambda r=rate: load.marriage(r, p.step_seconds, p.poll, MATTER_TIMEOUT_S))  # fmt: skip
            else:
                step = load.marriage(rate, p.step_seconds, p.poll, MATTER_TIMEOUT_S)
            result.marriage.append(step)
            drain(topology, f"marriage {rate:g}/s", result)
            if k == 0:  # the reads, on a quiet system with the first step's matters to read
                measure_reads(topology, load.matters, p, tmp, result)
        result.death = load.after_death(p.death_rate, p.death_seconds, p.poll, MATTER_TIMEOUT_S)
        drain(topology, f"after-death {p.death_rate:g}/s", result)
    except Exception as exc:
        result.failures.append(f"{exc!r}")
        import traceback

        traceback.print_exc()
    finally:
        result.failures += topology.stop()
        if topology.log_path.exists():  # the processes' own output, for a look after a failure
            (ROOT / "var").mkdir(exist_ok=True)
            shutil.copy(topology.log_path, ROOT / "var" / "bench-deployed-infra-run.log")
        shutil.rmtree(tmp, ignore_errors=True)
    return result


# --- report -----------------------------------------------------------------------------------------


def _f(value, fmt="{:.0f}") -> str:
    return "—" if value is None else fmt.format(value)


def _top_cpu(cpu: Cpu | None, n: int = 4) -> str:
    if cpu is None:
        return "—"
    parts = sorted([*cpu.by_process.items(), ("postgres", cpu.postgres), ("rabbitmq", cpu.rabbitmq)],
                   key=lambda kv: -kv[1])[:n]  # fmt: skip
    return ", ".join(f"{k} {cpu.cores(v):.2f}" for k, v in parts)


def verdicts(d: Deployed) -> list[tuple[str, str, bool | None]]:
    """(goal, result, met) for the summary table."""
    out = []
    top = next((s for s in d.marriage if s.rate == MARRIAGE_GOAL_RATE), None)
    if top is not None:
        p99 = top.pct(99)
        met = (not top.errors and len(top.latencies) == top.offered and p99 is not None
               and p99 <= MARRIAGE_GOAL_P99_MS
               and (top.achieved_start_rate or 0) >= 0.98 * top.rate)  # fmt: skip
        out.append(
            (
                f"marriage one-matter at {MARRIAGE_GOAL_RATE:g}/s: p99 ≤ {MARRIAGE_GOAL_P99_MS:g} ms, 0 errors",
                f'p99 {_f(p99)} ms; {len(top.latencies)}/{top.offered} reached "waiting"; '
                f"{len(top.errors)} errors; achieved {_f(top.achieved_start_rate, '{:.1f}')}/s started, "
                f"{_f(top.completion_rate, '{:.1f}')}/s completed",
                met,
            )
        )
    if d.death is not None:
        s, p99 = d.death, d.death.pct(99)
        met = not s.errors and len(s.latencies) == s.offered and p99 is not None and p99 <= DEATH_GOAL_P99_MS
        out.append(
            (
                f"after-death at {s.rate:g}/s: every internal step p99 ≤ {DEATH_GOAL_P99_MS:g} ms, 0 errors",
                f"p99 {_f(p99)} ms; {len(s.latencies)}/{s.offered} done; {len(s.errors)} errors",
                met,
            )
        )
    for c in (16, 64):
        r, ratio = d.read("matter", c), d.ratio("matter", c)
        if r is None:
            continue
        met = ratio is not None and ratio >= READ_GOAL_RATIO and not r.non_2xx
        if c == 16:
            met = met and r.p99_ms is not None and r.p99_ms <= READ_GOAL_P99_MS
        else:
            r16 = d.read("matter", 16)
            met = met and bool(
                r16 and r.requests_per_s and r16.requests_per_s and r.requests_per_s >= r16.requests_per_s
            )
        out.append(
            (
                f"matter read at -c{c}: ≥ {READ_GOAL_RATIO}× /health/live"
                + (f", p99 ≤ {READ_GOAL_P99_MS:g} ms" if c == 16 else ", throughput ≥ that at -c16"),
                f"{_f(r.requests_per_s)} req/s = {_f(ratio, '{:.2f}')}×; p99 {_f(r.p99_ms, '{:.1f}')} ms; "
                f"non-2xx {r.non_2xx}",
                met,
            )
        )
    for c in (16, 64):
        r, ratio = d.read("queue", c), d.ratio("queue", c)
        if r is not None:
            out.append(
                (
                    f"work queue ({QUEUE_ROWS} rows) at -c{c}: ≥ {QUEUE_GOAL_RATIO}× /health/live",
                    f"{_f(r.requests_per_s)} req/s = {_f(ratio, '{:.2f}')}×; p99 {_f(r.p99_ms, '{:.1f}')} ms",
                    ratio is not None and ratio >= QUEUE_GOAL_RATIO and not r.non_2xx,
                )
            )
    return out


def render(d: Deployed, p) -> list[str]:
    lines = [
        "",
        "## (d) the deployed topology: every process of `make run`",
        "",
        "`python -m infra.run` on scratch vhosts and databases (bench/deployed.py): 7 nameko processes "
        "(marriage, assistance, care, charity, funeral, gateway with progress and partner feed, webhooks), the "
        "partner simulator and the webhook simulator, each its own OS process; this process only drives HTTP "
        f"load. A client polls its matter every {1000 * p.poll:.0f} ms for its first second, then every 500 ms "
        "(so a latency above 1 s reads up to 0.5 s late). The queues are left to drain between steps.",
        "",
        "### One-matters, offered open-loop",
        "",
        "| one-matter | offered /s | achieved start /s | completed /s | finished / offered | errors "
        "| p50 / p95 / p99 ms | POSTs p50 / p99 ms | GETs | cores busy: machine (top processes) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in [*d.marriage, *([d.death] if d.death else [])]:
        lines.append(
            f"| {'结婚生育户口 → waiting' if s.what == 'marriage' else '身后 → internal steps done'} | {s.rate:g} | "
            f"{_f(s.achieved_start_rate, '{:.1f}')} | {_f(s.completion_rate, '{:.1f}')} | "
            f"{len(s.latencies)} / {s.offered} | {len(s.errors)} | "
            f"{_f(s.pct(50))} / {_f(s.pct(95))} / {_f(s.pct(99))} | "
            f"{_f(s.pct(50, s.posts))} / {_f(s.pct(99, s.posts))} | {s.gets} | "
            f"{_f(s.cpu.cores(s.cpu.machine) if s.cpu else None, '{:.2f}')} ({_top_cpu(s.cpu)}) |"
        )
    if d.death is not None and d.death.automatic:
        lines += [
            "",
            f"身后一件事 with the departments' steps too (police, human resources, medical insurance through "
            f"the partner feed and simulator): p50 / p99 {_f(d.death.pct(50, d.death.automatic))} / "
            f"{_f(d.death.pct(99, d.death.automatic))} ms.",
        ]
    errors = [e for s in [*d.marriage, *([d.death] if d.death else [])] for e in s.errors[:3]]
    if errors:
        lines += ["", "First errors:", ""] + [f"- `{e[:200]}`" for e in errors[:8]]
    if d.drained:
        lines += ["", "Queues drained after each step: " + "; ".join(d.drained) + "."]
    if d.idle is not None:
        lines += ["", f"Idle (5 s, no load): machine {d.idle.cores(d.idle.machine):.2f} cores ({_top_cpu(d.idle)})."]
    lines += [
        "",
        "### Reads (wrk -t2, the gateway process alone answering)",
        "",
        "| read | connections | requests/s | × /health/live | p50 ms | p99 ms | non-2xx | socket errors "
        "| gateway process cores | busiest (cores) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in d.reads:
        ratio = d.ratio(r.name, r.connections) if r.name in ("matter", "queue") else None
        lines.append(
            f"| {r.name} | {r.connections} | {_f(r.requests_per_s)} | {_f(ratio, '{:.2f}')} | "
            f"{_f(r.p50_ms, '{:.1f}')} | {_f(r.p99_ms, '{:.1f}')} | {r.non_2xx} | {r.socket_errors} | "
            f"{_f(r.gateway_cores, '{:.2f}')} | {r.busiest} |"
        )
    lines += [
        "",
        "`health` is `/health/live`; `matter` is `GET /api/v1/matters/{id}`, each request the next of up to 200 "
        "citizens reading their own matter (citizen token, subject checked); `queue` is a clerk's "
        f"`GET /api/v1/assistance/applications` ({QUEUE_ROWS} rows of their district).",
    ]
    for label, frames in d.profiles.items():
        lines += ["", f"py-spy of the gateway process during {label} (share of samples with the function on the "
                  f"stack, top 12; raw stacks in bench/profile-gateway-{label}.txt):", ""]  # fmt: skip
        lines += [f"- {pct:.0f} % `{frame[:160]}`" for frame, pct in frames[:12]]
    if d.failures:
        lines += ["", "Problems:", ""] + [f"- {f}" for f in d.failures]
    return lines
