"""Charity detection benchmark: `python -m bench.charity_detection [--organisations N] [--repeats R] [--write]`.

The hourly abnormal/dormant job (`CharityService.run_detection_job`, the same `_detect` the timer
runs) over a city's organisations, on this machine's PostgreSQL and RabbitMQ, on a scratch
database and vhost deleted at the end (even on failure). The charity service runs in this process
(a nameko container on the manual clock) and the job is called over RPC, as operations call it.

1. Not timed: migrate the charity schema; add a policy version for Keqiao (330603: dormant after 3
   missing reports; everywhere else the national 2), so the job meets regions that differ; then
   generate N organisations set-based (generate_series) over the six districts of Shaoxing, a
   quarter of them in a township, registered 2005-2025, 2% cancelled, with their annual reports:

   | share | reports | state on 1 June 2026 |
   | --- | --- | --- |
   | 80% | every year from registration to 2025 | active |
   | 8% | to 2024: 2025's is missing since 1 June 2026 | abnormal (newly) |
   | 4% | to 2023 | dormant (Keqiao: abnormal) |
   | 5% | to 2019 | dormant |
   | 3% | every year but 2022 | active |

   Every organisation is seeded `active`; then VACUUM ANALYZE and a CHECKPOINT.
2. Timed, three runs, each the RPC call (the commit included) on an otherwise idle service:
   - "first run, every state stale": the clock on 31 May 2026, the 2025 reports not due yet; every
     organisation that is abnormal or dormant by its history changes (the first run after the
     states were imported, or after the job was off for a long time);
   - "day after the deadline": the clock on 1 June 2026: the 2025 reports are late, the
     organisations that did not file them change (the hourly job's busiest run of the year);
   - "again, nothing changes": the same day once more.
3. After every run every organisation's state is checked against `rules.organisation_status`
   applied here with the policy values the bench set (not the service's policy look-up); the
   run's `changed` must equal the states that differ from before the run and the audit rows it
   wrote; the third run must change nothing.

`--repeats R` puts the seeded states back (and empties detection_run) and times the three runs
again, R times in all; the median and every repeat are reported. Per run: wall seconds, CPU
seconds of this process (the service and the RPC client), of the database's PostgreSQL backends,
of the whole machine (other work on the two cores included), and the SQL statements the service
issued during the call (the outbox relay's polls not counted). `--write` replaces this
configuration's block in bench/CHARITY_DETECTION.md (`--output`, `--label` to keep results of
other code apart).
"""

import warnings

warnings.filterwarnings("ignore", message="(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import UTC, date, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from nameko.containers import ServiceContainer  # noqa: E402
from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402
from sqlalchemy import create_engine, event, insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from bench.machine import CpuMeter, CpuUse, database_names, machine_facts, on_scratch, show  # noqa: E402
from chassis.clock import manual_clock  # noqa: E402
from chassis.logs import configure_logging  # noqa: E402
from chassis.migrations import upgrade  # noqa: E402
from chassis.tables import policy_parameters  # noqa: E402
from infra.scratch import Scratch  # noqa: E402
from services.charity import rules  # noqa: E402
from services.charity.service import CharityService  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ADMIN = {"id": "bench-ops", "role": "admin"}
BEFORE_DEADLINE, AFTER_DEADLINE = date(2026, 5, 31), date(2026, 6, 1)
LABEL = "24,000 organisations"
KEEP_FACTS = ("nproc", "cpu", "memory", "load average at start", "PostgreSQL", "PostgreSQL settings", "code")

# the policy the bench sets and checks against (migration 0002 gives the national values)
DEADLINE, ABNORMAL_AFTER, DORMANT_AFTER = "05-31", 1, 2
KEQIAO, KEQIAO_DORMANT_AFTER = "330603", 3

SEED = [
    """CREATE TABLE bench_seed AS
       SELECT i, md5('organisation-' || i)::uuid::text AS id,
              (ARRAY['330602', '330603', '330604', '330624', '330681', '330683'])[1 + i % 6]
                || CASE WHEN (i / 6) % 4 = 0 THEN '001' ELSE '' END AS region_code,
              date '2005-01-01' + ((i::bigint * 7919) % 7600)::int AS registered_on,
              CASE WHEN i % 100 < 80 THEN 2025 WHEN i % 100 < 88 THEN 2024 WHEN i % 100 < 92 THEN 2023
                   WHEN i % 100 < 97 THEN 2019 ELSE 2025 END AS last_year,
              CASE WHEN i % 100 >= 97 THEN 2022 END AS skipped_year,
              i % 50 = 49 AS cancelled
       FROM generate_series(1, :n) AS i""",
    """INSERT INTO organisation (id, credit_code, name, kind, registration, region_code, legal_representative,
                                registered_on, state, state_reason, state_since, cancelled_on, updated_at)
       SELECT id, '5133' || lpad(i::text, 13, '0') || 'X', '社会组织' || i,
              (ARRAY['social_group', 'social_service_institution', 'foundation'])[1 + i % 3],
              CASE WHEN i % 10 = 0 THEN 'filed' ELSE 'registered' END, region_code, '法人' || i, registered_on,
              CASE WHEN cancelled THEN 'cancelled' ELSE 'active' END, CASE WHEN cancelled THEN '注销' END,
              CASE WHEN cancelled THEN date '2026-01-15' ELSE registered_on END,
              CASE WHEN cancelled THEN date '2026-01-15' END, timestamptz '2026-01-15 00:00+00'
       FROM bench_seed""",
    """INSERT INTO annual_report (organisation_id, year, income_fen, expenditure_fen, submitted_on)
       SELECT s.id, y, 1000000 + (s.i % 997) * 1000, 900000 + (s.i % 991) * 1000, make_date(y + 1, 4, 15)
       FROM bench_seed s, generate_series(extract(year FROM s.registered_on)::int, s.last_year) AS y
       WHERE s.skipped_year IS DISTINCT FROM y""",
]
RESET = [  # the seeded states back, for the next repeat
    """UPDATE organisation o SET state = CASE WHEN s.cancelled THEN 'cancelled' ELSE 'active' END,
              state_reason = CASE WHEN s.cancelled THEN '注销' END,
              state_since = CASE WHEN s.cancelled THEN date '2026-01-15' ELSE s.registered_on END
       FROM bench_seed s WHERE s.id = o.id""",
    "DELETE FROM detection_run",
]
RUNS = (
    ("first run, every state stale", BEFORE_DEADLINE),
    ("day after the deadline", AFTER_DEADLINE),
    ("again, nothing changes", AFTER_DEADLINE),
)


@dataclass
class Run:
    name: str
    on: date
    changed: int
    cpu: CpuUse
    statements: int


@dataclass
class Repeat:
    runs: list[Run] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def check(rep: Repeat, what: str, got, want) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    rep.checks.append(f"{what} = {want!r}")


def expected_state(region_code: str, registered_on: date, years: list[int], on: date) -> str:
    dormant_after = KEQIAO_DORMANT_AFTER if region_code.startswith(KEQIAO) else DORMANT_AFTER
    return rules.organisation_status(registered_on, years, on, DEADLINE, ABNORMAL_AFTER, dormant_after).state


def states(engine) -> dict[str, tuple]:
    """Every organisation's (state, state_since), and its region, registration and report years."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT o.id, o.state, o.state_since, o.region_code, o.registered_on, "
                "       coalesce(array_agg(r.year) FILTER (WHERE r.year IS NOT NULL), '{}') "
                "FROM organisation o LEFT JOIN annual_report r ON r.organisation_id = o.id GROUP BY o.id"
            )
        ).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def audit_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'organisation.state'")).scalar_one()


class StatementCount:
    """SQL statements sent by any engine of this process while counting (the relay's outbox polls
    left out: they run on their own timer, not for the job)."""

    def __init__(self):
        self.count = 0
        self.counting = False
        event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn, _cursor, statement, *_):
        if self.counting and "outbox" not in statement:
            self.count += 1

    def close(self):
        event.remove(Engine, "before_cursor_execute", self._seen)


def timed_run(rpc, engine, dbname: str, counter: StatementCount, rep: Repeat, name: str, on: date) -> Run:
    manual_clock.set_local_date(on)
    before, audited = states(engine), audit_rows(engine)
    counter.count, counter.counting = 0, True
    meter = CpuMeter(databases=(dbname,))
    try:
        answer = rpc.run_detection_job(ADMIN)
    finally:
        cpu, counter.counting = meter.stop(), False
    after = states(engine)
    run = Run(name, on, answer["changed"], cpu, counter.count)
    print(
        f"  {name:<30} changed {run.changed:>6,}  {cpu.wall:6.2f} s wall  {cpu.bench_process:6.2f} s CPU here  "
        f"{cpu.postgres:6.2f} s PostgreSQL  {cpu.machine:6.2f} s machine  {run.statements:>7,} statements",
        flush=True,
    )
    moved = [oid for oid in after if after[oid][0] != before[oid][0]]
    check(rep, f"{name}: changed = states that differ from before the run", run.changed, len(moved))
    check(rep, f"{name}: changed = audit rows written", audit_rows(engine) - audited, run.changed)
    wrong = [
        oid
        for oid, (state, _, region, registered, years) in after.items()
        if state != "cancelled" and state != expected_state(region, registered, sorted(years), on)
    ]
    check(rep, f"{name}: organisations whose state is not what rules.organisation_status gives", len(wrong), 0)
    check(
        rep,
        f"{name}: changed organisations whose state_since is not the run's day",
        sum(after[oid][1] != on for oid in moved),
        0,
    )
    return run


def seed(engine, n: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(policy_parameters).values(
                region_code=KEQIAO,
                name="charity.dormant_after_missing_reports",
                effective_from=date(2021, 1, 1),
                value=KEQIAO_DORMANT_AFTER,
                source="bench",
                recorded_at=datetime.now(UTC),
                recorded_by="bench",
            )
        )
        for statement in SEED:
            conn.execute(text(statement), {"n": n})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE organisation, annual_report, bench_seed"))
        conn.execute(text("CHECKPOINT"))


def measure(n: int, repeats: int, scratch: Scratch) -> tuple[list[Repeat], dict]:
    url, amqp_uri = scratch.database("charity"), scratch.vhost("charity")
    upgrade(ROOT / "services" / "charity", url)
    engine = create_engine(url)
    container = ServiceContainer(
        CharityService,
        {"AMQP_URI": amqp_uri, "DATABASE_URL": url, "CLOCK": "manual", "LOG_LEVEL": "WARNING", "max_workers": 4},
    )
    counter = StatementCount()
    try:
        seed(engine, n)
        with engine.connect() as conn:
            seeded = {
                "organisations": conn.execute(text("SELECT count(*) FROM organisation")).scalar_one(),
                "cancelled": conn.execute(
                    text("SELECT count(*) FROM organisation WHERE state = 'cancelled'")
                ).scalar_one(),
                "annual reports": conn.execute(text("SELECT count(*) FROM annual_report")).scalar_one(),
                "regions": conn.execute(text("SELECT count(DISTINCT region_code) FROM organisation")).scalar_one(),
            }
        print(f"seeded {seeded}", flush=True)
        container.start()
        done: list[Repeat] = []
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=1800) as proxy:
            for number in range(1, repeats + 1):
                if number > 1:
                    with engine.begin() as conn:
                        for statement in RESET:
                            conn.execute(text(statement))
                print(f"repeat {number}/{repeats}", flush=True)
                rep = Repeat()
                for name, on in RUNS:
                    rep.runs.append(timed_run(proxy.charity, engine, database_names(url)[0], counter, rep, name, on))
                check(rep, "the last run changed nothing", rep.runs[-1].changed, 0)
                after = states(engine)
                rep.checks.append(
                    "states after the runs: "
                    + ", ".join(f"{state} {k:,}" for state, k in sorted(Counter(v[0] for v in after.values()).items()))
                )
                done.append(rep)
        return done, seeded
    finally:
        counter.close()
        try:
            container.stop()
        except Exception:
            container.kill()
        engine.dispose()


def report(repeats: list[Repeat], seeded: dict) -> str:
    lines = [
        f"organisations: {seeded['organisations']:,} ({seeded['cancelled']:,} of them cancelled) in "
        f"{seeded['regions']} regions, {seeded['annual reports']:,} annual reports; repeats: {len(repeats)} "
        "(median, then each repeat)",
        "",
        "| run | changed | wall s, median | wall s, each | CPU s here (service + client) | "
        "CPU s PostgreSQL | CPU s machine | SQL statements |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k, (name, on) in enumerate(RUNS):
        runs = [rep.runs[k] for rep in repeats]
        lines.append(
            f"| {name} ({on:%d %b}) | {runs[0].changed:,} | **{statistics.median(r.cpu.wall for r in runs):.2f}** | "
            f"{', '.join(f'{r.cpu.wall:.2f}' for r in runs)} | "
            f"{', '.join(f'{r.cpu.bench_process:.2f}' for r in runs)} | "
            f"{', '.join(f'{r.cpu.postgres:.2f}' for r in runs)} | "
            f"{', '.join(f'{r.cpu.machine:.1f}' for r in runs)} | "
            f"{', '.join(f'{r.statements:,}' for r in runs)} |"
        )
    return "\n".join(lines)


def write_results(path: Path, label: str, text_report: str, repeats: list[Repeat], facts: dict, args) -> None:
    """Replace the block between this label's markers in `path` (added at the end when missing)."""
    begin, end = f"<!-- results: {label} -->", f"<!-- end results: {label} -->"
    body = path.read_text() if path.exists() else "# Charity detection benchmark\n"
    if begin in body and end in body:
        head, rest = body.split(begin, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = body.rstrip("\n") + "\n\n", "\n"
    machine = "\n".join(f"- {k}: {v}" for k, v in facts.items() if k in KEEP_FACTS)
    command = (
        f".venv/bin/python -m bench.charity_detection --organisations {args.organisations} "
        f"--repeats {args.repeats} --write" + (f' --label "{label}"' if label != LABEL else "")
    )
    block = (
        f"{begin}\n### Results: {label}\n\nMeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`{command}`.\n\n{text_report}\n\nMachine:\n{machine}\n\n"
        "Checks that passed (last repeat):\n" + "\n".join(f"- {c}" for c in repeats[-1].checks) + f"\n{end}"
    )
    path.write_text(head + block + tail)
    print(f"wrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--organisations", type=int, default=24_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="write the results block")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "CHARITY_DETECTION.md")
    parser.add_argument("--label", default=LABEL)
    args = parser.parse_args(argv)
    if args.organisations < 100 or args.repeats < 1:
        parser.error("--organisations must be at least 100 and --repeats at least 1")
    configure_logging("WARNING")
    facts = machine_facts()
    print(
        f"charity detection over {args.organisations:,} organisations, {args.repeats} repeat(s); "
        f"load average {facts['load average at start']}",
        flush=True,
    )
    measured, ok = on_scratch(lambda scratch, out: out.append(measure(args.organisations, args.repeats, scratch)))
    repeats, seeded = measured[0] if measured else ([], {})
    if repeats:
        text_report = report(repeats, seeded)
        show(text_report, repeats[-1].checks)
        if args.write and ok:
            write_results(args.output, args.label, text_report, repeats, facts, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
