"""Payment-run benchmark: `python -m bench.payment_run [--recipients N] [--rounds R] [--write]`.

On a scratch PostgreSQL database (created here, migrated with the assistance service's alembic
history, dropped at the end even on failure):

1. generate N households (each with a bank account) and N entitlements, set-based with
   generate_series; 1% of the entitlements have ended but are in their gradual-exit period (still
   paid), and N/100 more have ended for good or start later (not paid). Then VACUUM ANALYZE.
   Not timed.
2. time `freeze_cycle` for one month: the cycle row, the one INSERT ... SELECT that snapshots
   amount, bank account and policy version into N payment rows, the cycle totals, and the commit.
3. time the bank batch: `write_bank_file` (COPY ... TO STDOUT as CSV into a temporary file) and
   `mark_sent`, and the commit.
4. time `reconcile` with every payment paid except 1% failed (the answers are built in Python
   first, not timed: they stand for the bank's file), and the commit.
5. time freezing the next month, which pays the 1% failed as arrears besides N regular payments.
6. time re-running step 2 for the same month: it must insert nothing.

Every step's result is checked against totals computed here from the generator's formulas
(payments, fen, arrears, states); a wrong number fails the run (exit 1). `--rounds R` repeats
steps 2-6 on R fresh databases and reports each round and the median. Target: freeze + batch for
1,000,000 recipients under 30 s on this 2-core machine. `--write` rewrites bench/PAYMENT_RUN.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.machine import CpuMeter, machine_facts, on_scratch, show
from chassis.migrations import upgrade
from infra.scratch import Scratch
from services.assistance.payments import cycle_summary, freeze_cycle, mark_sent, reconcile, write_bank_file

HERE = Path(__file__).resolve().parent
TARGET_S = 30.0
MONTH = date(2026, 5, 1)
NEXT = date(2026, 6, 1)
NOW = datetime(2026, 4, 28, 1, 0, tzinfo=UTC)
FAIL_EVERY = 100  # 1% of the answers are "failed"


def amount(i: int) -> int:
    """Entitlement i's monthly amount in fen (the SQL below computes the same)."""
    return 30_000 + (i % 997) * 100


GENERATE = [
    # households 1..N, ids like real ones (36-character uuids), all with a bank account
    """INSERT INTO household (id, region_code, address, bank_account, created_at)
       SELECT md5(i::text)::uuid::text, '3306' || lpad((i % 1000)::text, 8, '0'),
              'No. ' || i || ' Jiefang Road, Shaoxing', '6228' || lpad(i::text, 15, '0'),
              timestamptz '2025-01-01 00:00+00'
       FROM generate_series(1, :n) AS i""",
    # entitlements 1..N, one per household, active; every 100th has ended but is in gradual exit
    """INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, ends_on,
                                gradual_exit_until, exit_reason, policy_version)
       SELECT md5(i::text)::uuid::text, 'dibao', 30000 + (i % 997) * 100,
              date '2025-01-01' + (i % 365),
              CASE WHEN i % 100 = 0 THEN date '2026-03-31' END,
              CASE WHEN i % 100 = 0 THEN date '2026-09-30' END,
              CASE WHEN i % 100 = 0 THEN 'income above the standard' END,
              'zj-3306-2026-01'
       FROM generate_series(1, :n) AS i""",
    # N/100 entitlements that are not paid in May 2026: half ended in April, half start in June
    """INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, ends_on,
                                policy_version)
       SELECT md5(i::text)::uuid::text, 'tekun', 99900,
              CASE WHEN i % 2 = 0 THEN date '2025-06-01' ELSE date '2026-06-01' END,
              CASE WHEN i % 2 = 0 THEN date '2026-04-30' END, 'zj-3306-2026-01'
       FROM generate_series(1, :n / 100) AS i""",
]


TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """CPU seconds used so far by one PostgreSQL backend (it runs on this machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Round:
    number: int
    steps: dict[str, float] = field(default_factory=dict)  # wall seconds
    backend_cpu: dict[str, float] = field(default_factory=dict)  # the bench's own backend
    machine_cpu: dict[str, float] = field(default_factory=dict)  # all cores, everybody
    generate_s: float = 0.0
    checks: list[str] = field(default_factory=list)

    @property
    def freeze_and_batch(self) -> float:
        return self.steps["freeze"] + self.steps["bank batch"]


def check(rnd: Round, what: str, got, want) -> None:
    if got != want:
        raise AssertionError(f"{what}: got {got!r}, want {want!r}")
    rnd.checks.append(f"{what} = {want}")


def timed(rnd: Round, name: str, engine, step):
    """Run `step(conn)` in one transaction, commit included in the time."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()
        meter, before = CpuMeter(), backend_cpu(pid)
        with conn.begin():
            result = step(conn)
        use, cpu = meter.stop(), backend_cpu(pid) - before
    rnd.steps[name] = use.wall
    rnd.backend_cpu[name] = cpu
    rnd.machine_cpu[name] = use.machine
    print(
        f"  {name:<28} {use.wall:7.2f} s wall, {cpu:6.2f} s CPU in its PostgreSQL backend, "
        f"{use.machine:6.2f} s CPU on the machine (2 cores)",
        flush=True,
    )
    return result


def one_round(number: int, n: int, scratch: Scratch) -> Round:
    rnd = Round(number)
    url = scratch.database(f"payrun{number}")
    upgrade("services/assistance", url)
    engine = create_engine(url)
    try:
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in GENERATE:
                conn.execute(text(statement), {"n": n})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE household, entitlement, payment, payment_cycle"))
            conn.execute(text("CHECKPOINT"))  # the generation's WAL is not flushed inside a step
        rnd.generate_s = time.perf_counter() - started
        print(f"round {number}: generated {n:,} households, {n + n // 100:,} entitlements in {rnd.generate_s:.1f} s")

        gradual = n // 100
        want_total = sum(amount(i) for i in range(1, n + 1))
        failed_ids: list[int] = []

        summary = timed(rnd, "freeze", engine, lambda conn: freeze_cycle(conn, MONTH, NOW))
        check(rnd, "payments frozen", summary.payments, n)
        check(rnd, "total fen frozen", summary.total_fen, want_total)
        check(rnd, "payments to the bank", (summary.to_bank, summary.to_bank_fen), (n, want_total))
        with engine.connect() as conn:
            stored = conn.execute(
                text("SELECT payments, total_fen, state FROM payment_cycle WHERE id = '2026-05'")
            ).one()
            in_exit = conn.execute(
                text(
                    "SELECT count(*) FROM payment p JOIN entitlement e ON e.id = p.entitlement_id "
                    "WHERE p.cycle_id = '2026-05' AND e.ends_on < '2026-05-01'"
                )
            ).scalar_one()
        check(rnd, "cycle row (payments, total, state)", tuple(stored), (n, want_total, "frozen"))
        check(rnd, "paid in gradual exit", in_exit, gradual)

        with tempfile.NamedTemporaryFile("w+", suffix=".csv") as bank_file:

            def batch(conn):
                rows = write_bank_file(conn, summary.cycle_id, bank_file)
                mark_sent(conn, summary.cycle_id)
                return rows

            rows, fen = timed(rnd, "bank batch", engine, batch)
            bank_file.flush()
            check(rnd, "bank file control totals", (rows, fen), (n, want_total))
            bank_file.seek(0)
            header = bank_file.readline().strip()
            lines = sum(1 for _ in bank_file)
            check(rnd, "bank file lines after the header", (header, lines), ("payment_id,bank_account,amount_fen", n))
            size_mb = Path(bank_file.name).stat().st_size / 1e6
        rnd.checks.append(f"bank file size = {size_mb:.1f} MB")

        with engine.connect() as conn:
            ids = conn.execute(text("SELECT id, amount_fen FROM payment WHERE cycle_id = '2026-05' ORDER BY id")).all()
        answers = [
            (pid, "failed", "account closed") if k % FAIL_EVERY == 0 else (pid, "paid", None)
            for k, (pid, _) in enumerate(ids)
        ]
        failed_ids = [pid for k, (pid, _) in enumerate(ids) if k % FAIL_EVERY == 0]
        failed_fen = sum(fen for k, (_, fen) in enumerate(ids) if k % FAIL_EVERY == 0)
        del ids
        result = timed(rnd, "reconcile", engine, lambda conn, answers=answers: reconcile(conn, "2026-05", answers))
        check(
            rnd,
            "reconciled (paid, failed, conflicts, pending, state)",
            (result.paid, result.failed, len(result.conflicts), result.pending, result.state),
            (n - len(failed_ids), len(failed_ids), 0, 0, "reconciled"),
        )
        del answers

        want_next_regular = n  # the gradual exits run to September, so all N are paid in June too,
        starting_in_june = (n // 100 + 1) // 2  # and the tekun entitlements that start on 1 June
        nxt = timed(rnd, "freeze next (with arrears)", engine, lambda conn: freeze_cycle(conn, NEXT, NOW))
        check(
            rnd,
            "next cycle (regular, arrears, arrears fen)",
            (nxt.regular, nxt.arrears, nxt.arrears_fen),
            (want_next_regular + starting_in_june, len(failed_ids), failed_fen),
        )
        check(rnd, "next cycle total fen", nxt.total_fen, want_total + starting_in_june * 99900 + failed_fen)

        again = timed(rnd, "freeze again (idempotent)", engine, lambda conn: freeze_cycle(conn, MONTH, NOW))
        check(
            rnd,
            "re-run inserts nothing (created, payments, total)",
            (again.created, again.payments, again.total_fen),
            (False, n, want_total),
        )
        with engine.connect() as conn:
            count = conn.execute(
                text("SELECT count(*) FROM payment WHERE for_month = '2026-05-01' AND state <> 'failed'")
            ).scalar_one()
            reloaded = cycle_summary(conn, "2026-05")
        check(rnd, "live May payments after everything", count, n)
        check(rnd, "May cycle after reconcile (state, pending)", (reloaded.state, reloaded.to_bank), ("reconciled", 0))
    finally:
        engine.dispose()
    return rnd


def settings() -> dict[str, str]:
    import psycopg2

    from infra.scratch import PG_ADMIN_DSN

    conn = psycopg2.connect(PG_ADMIN_DSN)
    try:
        cur = conn.cursor()
        out = {}
        for name in (
            "shared_buffers",
            "work_mem",
            "maintenance_work_mem",
            "max_wal_size",
            "synchronous_commit",
            "wal_level",
            "checkpoint_timeout",
            "jit",
        ):
            cur.execute("SELECT current_setting(%s)", (name,))
            out[name] = cur.fetchone()[0]
        return out
    finally:
        conn.close()


def report(rounds: list[Round], n: int) -> str:
    names = list(rounds[0].steps)
    med = {name: statistics.median(r.steps[name] for r in rounds) for name in names}
    fb = statistics.median(r.freeze_and_batch for r in rounds)
    lines = [f"recipients: {n:,}; rounds: {len(rounds)} (median, then each round)", ""]
    lines.append(
        "| step | wall s, median | wall s, each round | backend CPU s, each round | machine CPU s, each round |"
    )
    lines.append("|---|---|---|---|---|")
    for name in names:
        each = ", ".join(f"{r.steps[name]:.2f}" for r in rounds)
        cpu = ", ".join(f"{r.backend_cpu[name]:.2f}" for r in rounds)
        machine = ", ".join(f"{r.machine_cpu[name]:.1f}" for r in rounds)
        lines.append(f"| {name} | {med[name]:.2f} | {each} | {cpu} | {machine} |")
    each = ", ".join(f"{r.freeze_and_batch:.2f}" for r in rounds)
    cpu = ", ".join(f"{r.backend_cpu['freeze'] + r.backend_cpu['bank batch']:.2f}" for r in rounds)
    lines.append(f"| **freeze + bank batch** | **{fb:.2f}** | {each} | {cpu} | |")
    total = statistics.median(sum(r.steps.values()) for r in rounds)
    lines.append(f"| all steps | {total:.2f} | | | |")
    under = sum(1 for r in rounds if r.freeze_and_batch < TARGET_S)
    lines += [
        "",
        f"target: freeze + bank batch < {TARGET_S:.0f} s -> "
        + ("met" if fb < TARGET_S else "NOT met")
        + f" by the median; rounds under it: {under} of {len(rounds)}",
        f"generation (not timed): {statistics.median(r.generate_s for r in rounds):.1f} s",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="rewrite bench/PAYMENT_RUN.md's results block")
    args = parser.parse_args(argv)
    if args.recipients < 100:
        parser.error("--recipients must be at least 100")
    facts = machine_facts()
    print(
        f"payment run over {args.recipients:,} recipients, {args.rounds} round(s); "
        f"load average {facts['load average at start']}",
        flush=True,
    )

    def all_rounds(scratch: Scratch, rounds: list) -> None:
        for number in range(1, args.rounds + 1):
            rounds.append(one_round(number, args.recipients, scratch))
            failures = scratch.close()  # each round on a fresh database; free the disk now
            if failures:
                print("could not drop:", failures, file=sys.stderr)

    rounds, ok = on_scratch(all_rounds)
    if rounds:
        text_report = report(rounds, args.recipients)
        show(text_report, rounds[-1].checks)
        if args.write and ok:
            write_results(text_report, rounds, facts, args)
    return 0 if ok else 1


def write_results(text_report: str, rounds: list[Round], facts: dict, args) -> None:
    """Replace the block between this configuration's markers in bench/PAYMENT_RUN.md (added at
    the end when missing); the text around the blocks is left as it is."""
    path = HERE / "PAYMENT_RUN.md"
    label = "1,000,000 recipients" if args.recipients == 1_000_000 else f"{args.recipients:,} recipients"
    begin, end = f"<!-- results: {label} -->", f"<!-- end results: {label} -->"
    body = path.read_text() if path.exists() else "# Payment run benchmark\n"
    if begin in body and end in body:
        head, rest = body.split(begin, 1)
        tail = rest.split(end, 1)[1]
    else:
        head, tail = body.rstrip("\n") + "\n\n", "\n"
    facts = {**facts, "code": facts.get("code", "?").split(";")[0]}  # not the list of others' edits
    machine = "\n".join(f"- {k}: {v}" for k, v in facts.items() if k not in ("RabbitMQ", "packages"))
    pg = ", ".join(f"{k}={v}" for k, v in settings().items())
    command = f".venv/bin/python -m bench.payment_run --recipients {args.recipients} --rounds {args.rounds} --write"
    block = (
        f"{begin}\n### Results: {label}\n\nMeasured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`{command}`.\n\n{text_report}\n\nMachine:\n{machine}\n- PostgreSQL server settings: {pg}\n"
        f"- set by freeze_cycle and reconcile for their own statements: work_mem=256MB, jit=off (SET LOCAL)\n\n"
        "Checks that passed (last round):\n" + "\n".join(f"- {c}" for c in rounds[-1].checks) + f"\n{end}"
    )
    path.write_text(head + block + tail)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
