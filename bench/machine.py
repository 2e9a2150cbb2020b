"""What the machine is, and where its CPU went during a measurement (Linux /proc)."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import psycopg2
from kombu import Connection

from infra.scratch import AMQP_HOST, PG_ADMIN_DSN, Scratch

TICK = os.sysconf("SC_CLK_TCK")


def _run(*cmd: str) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except Exception as exc:
        return f"unknown ({exc!r})"


def machine_facts() -> dict[str, str]:
    facts = {
        "nproc": _run("nproc"),
        "cpu": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or "unknown",
        ),
        "memory": next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            ),
            "unknown",
        ),
        "kernel": platform.release(),
        "python --version": _run("python", "--version") or "unknown",
        "bench interpreter": f"Python {platform.python_version()} (.venv)",
        "load average at start": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
    }
    try:
        with Connection(f"amqp://{AMQP_HOST}/") as conn:
            conn.connect()
            props = conn.connection.server_properties
            facts["RabbitMQ"] = (
                f"{props.get('product', 'RabbitMQ')} {props.get('version', '?')} ({props.get('platform', '?')})"
            )
    except Exception as exc:
        facts["RabbitMQ"] = f"unknown ({exc!r})"
    try:
        conn = psycopg2.connect(PG_ADMIN_DSN)
        try:
            cur = conn.cursor()
            cur.execute("SELECT version()")
            facts["PostgreSQL"] = cur.fetchone()[0]
            cur.execute("SELECT current_setting('synchronous_commit'), current_setting('fsync')")
            facts["PostgreSQL settings"] = "synchronous_commit={}, fsync={}".format(*cur.fetchone())
        finally:
            conn.close()
    except Exception as exc:
        facts["PostgreSQL"] = f"unknown ({exc!r})"
    head = _run("git", "log", "-1", "--format=%h %cI %s")
    changed = [
        line.split(None, 1)[-1] for line in _run("git", "status", "--porcelain", "--untracked-files=no").splitlines()
    ]
    dirty = [path for path in changed if not path.startswith("bench/")]
    facts["code"] = f"git {head}" + (f"; uncommitted changes in {', '.join(dirty)}" if dirty else "")
    facts["packages"] = ", ".join(
        f"{p} {version(p)}"
        for p in ("nameko", "eventlet", "kombu", "amqp", "SQLAlchemy", "psycopg2-binary", "marshmallow")
    )
    return facts


# --- CPU accounting --------------------------------------------------------------------------------


def _machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all cores since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
    return total - idle, total


def _process_ticks(names: tuple[str, ...], keep=None) -> dict[int, int]:
    """utime + stime of every live process whose command name is in `names` (and, when given,
    whose command line passes `keep`), by pid."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            if name not in names:
                continue
            if keep is not None and not keep(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")):
                continue
        except OSError:  # the process ended meanwhile
            continue
        rest = raw[raw.rindex(")") + 2 :].split()
        out[int(pid)] = int(rest[11]) + int(rest[12])  # fields 14 and 15 of stat
    return out


def _ours_or_shared(databases: tuple[str, ...]):
    """PostgreSQL processes that work for us: the backends of our databases, and the server's own
    processes (WAL writer, checkpointer …) that work for everyone; not other databases' backends."""

    def keep(cmdline: str) -> bool:
        if any(f" {db} " in cmdline or cmdline.endswith(f" {db}") for db in databases):
            return True
        serves_a_client = "(" in cmdline or "autovacuum worker" in cmdline or "parallel worker" in cmdline
        return not serves_a_client

    return keep


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuUse:
    """CPU seconds spent during a measurement, by whom; and its wall-clock length."""

    wall: float
    bench_process: float  # this Python process: every service, the relay, the load generator
    postgres: float  # PostgreSQL processes (see CpuMeter); a backend that exited meanwhile is missed
    rabbitmq: float  # the whole broker: other users of it are counted too
    machine: float  # all cores, everything (other work on the machine included)

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.bench_process - self.postgres - self.rabbitmq)

    def per_event_ms(self, events: int) -> dict[str, float]:
        return {
            k: 1000 * getattr(self, k) / events for k in ("bench_process", "postgres", "rabbitmq", "other", "machine")
        }


class CpuMeter:
    """CPU used from now until `stop()`. With `databases`, PostgreSQL's figure counts only the
    backends of those databases (and the server's own processes); without, every PostgreSQL process."""

    PG, MQ = ("postgres",), ("beam.smp",)

    def __init__(self, databases: tuple[str, ...] | None = None):
        self.keep_pg = None if databases is None else _ours_or_shared(databases)
        self.wall = time.perf_counter()
        self.me = _self_cpu()
        self.pg = _process_ticks(self.PG, self.keep_pg)
        self.mq = _process_ticks(self.MQ)
        self.busy = _machine_jiffies()[0]

    def stop(self) -> CpuUse:
        wall = time.perf_counter() - self.wall
        me = _self_cpu() - self.me

        def delta(before: dict, names, keep=None) -> float:
            return sum(t - before.get(pid, 0) for pid, t in _process_ticks(names, keep).items()) / TICK

        return CpuUse(
            wall=wall,
            bench_process=me,
            postgres=delta(self.pg, self.PG, self.keep_pg),
            rabbitmq=delta(self.mq, self.MQ),
            machine=(_machine_jiffies()[0] - self.busy) / TICK,
        )


def database_names(*urls: str) -> tuple[str, ...]:
    return tuple(url.rsplit("/", 1)[1] for url in urls)


def on_scratch(work) -> tuple[list, bool]:
    """Run `work(scratch, results)` on throwaway databases and vhosts, dropped afterwards whatever
    happens; what it appended to `results` survives a failure part-way. Returns the results and
    whether all went well (no exception, everything dropped)."""
    scratch, results, ok = Scratch(prefix="bench"), [], True
    try:
        work(scratch, results)
    except Exception:
        traceback.print_exc()
        ok = False
    finally:
        failures = scratch.close()
        if failures:
            print("could not drop:", failures, file=sys.stderr)
            ok = False
    return results, ok


def show(text_report: str, checks) -> None:
    """Print a benchmark's report and the checks its last measurement passed."""
    print()
    print(text_report)
    print("\nchecks passed:", *(f"  {c}" for c in checks), sep="\n")


# --- what every latency report says the same way ---------------------------------------------------

REPORT_FACTS = ("nproc", "cpu", "load average at start", "RabbitMQ", "packages")


def percentile(values, p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


def run_stamp(keep: tuple[str, ...] = REPORT_FACTS) -> str:
    """The report's first line: when, and the facts of the machine it ran on."""
    facts = ", ".join(f"{k} {v}" for k, v in machine_facts().items() if k in keep)
    return f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on this machine: {facts}."


def percentile_cells(values, ps=(50, 95, 99)) -> str:
    """p50 | p95 | p99 of `values` as table cells, whole numbers ("—" for none)."""
    cells = (percentile(values, p) for p in ps)
    return " | ".join("—" if v is None else f"{v:.0f}" for v in cells)


def cpu_lines(cpu: CpuUse | None) -> list[str]:
    if cpu is None:
        return []
    return [
        f"CPU over the run: this process {cpu.bench_process:.1f} s, PostgreSQL {cpu.postgres:.1f} s, "
        f"RabbitMQ {cpu.rabbitmq:.1f} s in {cpu.wall:.1f} s of wall clock (2 cores).",
        "",
    ]


def error_lines(errors: list) -> list[str]:
    return ["Errors (first 10):", ""] + [f"- {e}" for e in errors[:10]] + [""] if errors else []


def publish(text: str, errors: list, path: Path | None) -> int:
    """Print the report, write it to `path` when asked; the exit status says whether anything failed."""
    print(text)
    if path is not None:
        path.write_text(text, encoding="utf-8")
    return 0 if not errors else 1
