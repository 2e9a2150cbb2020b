"""The monthly payment run (社会化发放) every paying service shares: freeze a cycle, hand the bank its
batch, reconcile the answer. No domain here: what is paid to whom comes from the service.

A staged pipeline in the manner of OpenG2P (cycle frozen -> sent -> reconciled), every stage
idempotent and safe to retry, and every stage one or a few set-based SQL statements: there is no
Python loop per payee anywhere in this module.

A service declares its ledger once (`PaymentTables`, in its models: the two tables, named after
the ledger, with the column naming what is paid, the *payee*: assistance's entitlement, care's
allowance enrolment) and its run (`PaymentRun`, with two SQL SELECTs of its own: the payees of a
month with their amount, bank account and policy version; and each account holder's bank account
now). Its own alembic revision creates the tables (`create_payment_run_tables`), as every service
creates the chassis tables.

- `run.freeze(conn, month, now, scope=...)` creates the cycle of (scope, month) and, in one SQL
  statement, a `regular` payment for every payee the service's SELECT returns for that month and
  an `arrears` payment for every earlier failed payment of the same scope not yet paid again.
  Amount, bank account and policy version are copied into the payment rows: that copy *is* the
  frozen snapshot, so later edits to what the payees are drawn from do not change a frozen cycle.
  Freezing a month that already has a cycle inserts nothing and returns that cycle's summary; two
  runs of the same month at once serialize on the cycle's primary key. The partial unique index
  `uq_<ledger>_once` (one pending-or-paid *ordinary* payment and at most one pending-or-paid
  *top-up* per payee and month, whatever the cycle: unique on (payee, for_month, top_up)) is the
  backstop: arrears, back pay and top-ups, which two cycles could race for, use it as their ON
  CONFLICT arbiter; a regular payment that collided with it would roll the whole freeze back.
  Nobody is paid twice.
- A service whose payees can become entitled for months already frozen (care: an enrolment made
  after the freeze, from the birthday's month) gives a `back_pay` SELECT: the next cycle pays
  those months (kind `back_pay`), once.
- A service that paid a month short and owes the difference (assistance: a revoked death had
  reduced or stopped the benefit) gives a `top_up` SELECT of (payee, carried, for_month, amount
  owed on top, bank account, policy version): the next cycle pays each such month once, as kind
  `top_up`, a payment of its own beside the month's ordinary one (the `top_up` column is true). A
  month that has any top-up already, live or failed, gets no second one: a failed top-up is paid
  again as arrears (which keep `top_up` true), like any failed payment.
- A *scope* splits the run into independent cycles (care: one per paying district, "330602-2026-05");
  the empty scope is one city-wide cycle per month ("2026-05", assistance). Scopes must not overlap:
  if they did, the unique index would refuse the second cycle's overlapping payments.
- `run.bank_batch(conn, cycle_id)` streams the pending payments (id, bank account, amount in fen);
  `run.write_bank_file(conn, cycle_id, out)` writes them as CSV (COPY when the driver allows it);
  `run.claim_for_sending` refuses a second batch; `run.mark_sent(conn, cycle_id)` moves the cycle
  to "sent". `BankFiles` is the folder the bank collects batches from.
- `run.withhold(conn, payee, from_month, reason)` takes a payee's pending payments out of the
  batches of cycles frozen but not yet sent (a death): recorded failed with the reason.
- `run.reconcile(conn, cycle_id, results)` applies the bank's answers (payment id, "paid" |
  "failed", reason) with one UPDATE ... FROM over a temporary table. Re-applying the same answers
  changes nothing; a paid payment never becomes failed (reported as a conflict); once no payment
  of the cycle is pending the cycle is "reconciled". A failed payment is paid again, as arrears,
  by the next cycle of its scope that is frozen.

Rules, stated once:
- A payee the service's SELECT returns with 0 fen produces no payment.
- A payee without a bank account gets its regular payment recorded as `failed` ("no bank
  account") at freeze time, so the cycle still shows what it owed; it is not in the bank batch,
  and it is paid as arrears by the first later cycle frozen once the holder has an account.
- Arrears carry the amount and policy version of the payment that failed (what was owed for that
  month) and the holder's bank account as of the new freeze (the old one may be why it failed).
  A service may say a month is owed less than the payment that failed (`arrears_amount`): then
  that is what arrears pay, and nothing when it is 0.

Every method takes a SQLAlchemy `Connection` and works inside the caller's transaction: the
caller commits (the cycle row and its payments commit together or not at all). Time is passed in;
nothing here reads the clock.

PostgreSQL only (the production database): ON CONFLICT on a partial unique index, DISTINCT ON,
COPY, temporary tables and `set_config` are used as they are. Every method raises
UnsupportedDatabase on another dialect.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import IO

from nameko.extensions import DependencyProvider
from sqlalchemy import (
    text,
)
from sqlalchemy.engine import Connection

from chassis import payment_sql as sql
from chassis.errors import Problem
from chassis.metrics import PAYMENT_RUN_PAYMENTS, PAYMENT_RUN_SECONDS, PAYMENT_RUN_STEPS
from chassis.payment_cycles import (
    CycleNotReady,
    CycleStateError,
    CycleSummary,
    ReconcileSummary,
    UnknownCycle,
    UnsupportedDatabase,
    as_problems,
    cycle_id_of,
    cycle_summary,
)
from chassis.payment_tables import (
    PaymentTables,
    add_payment_top_ups,
    create_payment_run_tables,
    drop_payment_run_tables,
    drop_payment_top_ups,
)

__all__ = [
    "PaymentTables",
    "PaymentRun",
    "CycleSummary",
    "ReconcileSummary",
    "CycleStateError",
    "UnsupportedDatabase",
    "NO_BANK_ACCOUNT",
    "BANK_FILE_HEADER",
    "cycle_id_of",
    "BankFiles",
    "create_payment_run_tables",
    "drop_payment_run_tables",
    "add_payment_top_ups",
    "drop_payment_top_ups",
    "CycleNotReady",
    "as_problems",
]

NO_BANK_ACCOUNT = "no bank account"
BANK_FILE_HEADER = ("payment_id", "bank_account", "amount_fen")
DEFAULT_WORK_MEM = "256MB"  # for the freeze and reconcile statements only (hash joins of 1M rows)
# JIT compiling these plans costs 0.5-1 s per statement at 1M rows and bought nothing measurable
# (the time goes to inserting, updating and foreign-key checks, not to evaluating expressions).
DEFAULT_JIT = "off"


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise UnsupportedDatabase(f"the payment run is PostgreSQL-only, not {conn.dialect.name}")


def _month_bounds(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


@contextmanager
def _local_settings(conn: Connection, **settings: str | None):
    """Set PostgreSQL settings for the statements inside (SET LOCAL), then put back what they were
    in the caller's transaction. A None value leaves that setting alone."""
    previous = {}
    for name, value in settings.items():
        if value is not None:
            previous[name] = conn.execute(text("SELECT current_setting(:n)"), {"n": name}).scalar_one()
            conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})
    yield  # on an error the transaction is aborted and its rollback undoes the SET LOCAL anyway
    for name, value in previous.items():
        conn.execute(text("SELECT set_config(:n, :v, true)"), {"n": name, "v": value})


class _TextSink:
    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, data) -> int:
        return self.out.write(data.decode() if isinstance(data, bytes) else data)


def _raw_cursor(conn: Connection):
    """A psycopg2 cursor that can COPY, or None (another driver, or psycopg2 in green mode, where
    psycogreen's wait callback makes COPY unavailable)."""
    if conn.dialect.driver != "psycopg2":
        return None
    import psycopg2.extensions

    if psycopg2.extensions.get_wait_callback() is not None:
        return None
    raw = conn.connection.dbapi_connection
    return None if raw is None else raw.cursor()


_RUN_STEPS = ("freeze", "send", "reconcile")


def _measured(step: str):
    """Count a run's step by outcome (ok; refused: a state or rule said no; failed: anything else,
    what the operations team is alerted to) and time it."""

    def decorate(fn):
        @functools.wraps(fn)
        def measured(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                result = fn(self, *args, **kwargs)
            except (CycleStateError, Problem, ValueError):
                PAYMENT_RUN_STEPS.labels(self.tables.name, step, "refused").inc()
                raise
            except Exception:
                PAYMENT_RUN_STEPS.labels(self.tables.name, step, "failed").inc()
                raise
            PAYMENT_RUN_STEPS.labels(self.tables.name, step, "ok").inc()
            PAYMENT_RUN_SECONDS.labels(self.tables.name, step).observe(time.perf_counter() - started)
            return result

        return measured

    return decorate


class PaymentRun:
    """One service's payment run over its `PaymentTables`.

    `payees`: a SELECT of the month's payees, columns named `<payee>`, the carried columns,
    `amount_fen`, `bank_account` (NULL: none) and `policy_version`; it may use `:first` and
    `:last` (the month's first and last day), `:scope`, and any parameter the caller passes to
    `freeze`. `accounts`: a SELECT of `<holder>` and `bank_account` as they are now (arrears go
    there). `arrears_due`: a condition on the failed payment `f` that says its month is still owed
    (an entitlement ended since, back to before that month, because the payee died, owes nothing
    for it); every failed payment is owed by default. `arrears_amount`: an expression on `f` of
    what is still owed for its month, in fen (default `f.amount_fen`, what the failed payment was
    for); a service that learnt since that the month is owed less (assistance: a recipient died
    and the household is due the survivors' amount for months after the death) says so here, and
    0 pays nothing. `back_pay` and `top_up`: optional SELECTs
    of the same columns plus `for_month` (see the module's docstring). `file_prefix` keeps two
    services' bank files in one folder apart.
    """

    def __init__(
        self,
        tables: PaymentTables,
        *,
        payees: str,
        accounts: str,
        back_pay: str | None = None,
        top_up: str | None = None,
        arrears_due: str = "TRUE",
        arrears_amount: str = "f.amount_fen",
        file_prefix: str = "",
    ):
        self.tables = tables
        self.file_prefix = file_prefix
        for step in _RUN_STEPS:  # every series exists from the start, at 0
            for outcome in ("ok", "refused", "failed"):
                PAYMENT_RUN_STEPS.labels(tables.name, step, outcome)
            PAYMENT_RUN_SECONDS.labels(tables.name, step)
        for outcome in ("paid", "failed"):
            PAYMENT_RUN_PAYMENTS.labels(tables.name, outcome)
        names = {
            "payment": tables.name,
            "cycle": tables.cycle_name,
            "payee": tables.payee,
            "holder": tables.holder,
            "carried": "".join(f", {c}" for c in tables.carried),
            "f_carried": "".join(f", f.{c}" for c in tables.carried),
            "s_carried": "".join(f", s.{c}" for c in tables.carried),
        }
        self._names = names
        back = sql.BACK_PAY.format(**names, back_pay=back_pay) if back_pay else ""
        top = sql.TOP_UP.format(**names, top_up=top_up) if top_up else ""
        self._freeze = text(
            sql.FREEZE.format(
                **names,
                payees=payees,
                accounts=accounts,
                back_pay=back,
                top_up=top,
                arrears_due=arrears_due,
                arrears_amount=arrears_amount,
                back_pay_union=" UNION ALL SELECT * FROM back_pay" if back_pay else "",
                top_up_union=" UNION ALL SELECT * FROM top_up" if top_up else "",
            )
        )
        self._tally = text(sql.TALLY.format(**names))
        self._classify = text(sql.CLASSIFY.format(**names))
        self._repaid = text(sql.REPAID.format(**names))
        self._apply = text(sql.APPLY.format(**names))

    def file_name(self, cycle_id: str) -> str:
        return f"{self.file_prefix}{cycle_id}.csv"

    @_measured("freeze")
    def freeze(
        self,
        conn: Connection,
        month: date,
        now: datetime,
        *,
        scope: str = "",
        params: dict | None = None,
        work_mem: str | None = DEFAULT_WORK_MEM,
        jit: str | None = DEFAULT_JIT,
    ) -> CycleSummary:
        """Freeze the payment cycle of `month` (any day of it) and `scope` at `now`; idempotent.

        Creates the cycle and its payments when the month has no cycle of that scope yet; otherwise
        inserts nothing and returns the existing cycle's summary (`created=False`). Two concurrent
        calls for the same cycle serialize on its primary key: the second waits for the first to
        commit, then finds the cycle. `params` go to the service's payee SELECT. `work_mem` and
        `jit` are set for this call only (SET LOCAL, then restored; None leaves the session's value).
        """
        _require_postgresql(conn)
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        first, last = _month_bounds(month)
        cycle_id = cycle_id_of(first, scope)
        created = (
            conn.execute(
                text(
                    f"INSERT INTO {self.tables.cycle_name} (id, scope, month, state, frozen_at, payments, total_fen) "
                    "VALUES (:id, :scope, :month, 'frozen', :now, 0, 0) ON CONFLICT DO NOTHING RETURNING id"
                ),
                {"id": cycle_id, "scope": scope, "month": first, "now": now},
            ).first()
            is not None
        )
        if not created:
            return self.summary(conn, cycle_id)
        with _local_settings(conn, work_mem=work_mem, jit=jit):
            rows = conn.execute(
                self._freeze,
                {
                    **(params or {}),
                    "cycle_id": cycle_id,
                    "first": first,
                    "last": last,
                    "scope": scope,
                    "no_account": NO_BANK_ACCOUNT,
                },
            ).all()
        tally = [(kind, state, kind != "arrears" and state == "failed", n, fen) for kind, state, n, fen in rows]
        payments, total = sum(r[3] for r in tally), sum(r[4] for r in tally)
        cycle = conn.execute(
            text(
                f"UPDATE {self.tables.cycle_name} SET payments = :n, total_fen = :fen WHERE id = :id "
                "RETURNING id, month, state, scope"
            ),
            {"n": payments, "fen": total, "id": cycle_id},
        ).one()
        return cycle_summary(cycle, True, tally)

    def summary(self, conn: Connection, cycle_id: str) -> CycleSummary:
        """The cycle's payments as the payment table holds them now (`created` is False).

        `to_bank` counts the payments still pending (after reconciliation: none)."""
        _require_postgresql(conn)
        cycle = self._cycle(conn, cycle_id)
        tally = conn.execute(self._tally, {"cycle_id": cycle_id, "no_account": NO_BANK_ACCOUNT}).all()
        return cycle_summary(cycle, False, tally)

    def scope_of(self, conn: Connection, cycle_id: str) -> str:
        """The cycle's scope (who may work on it is the service's business); CycleStateError if none."""
        _require_postgresql(conn)
        return self._cycle(conn, cycle_id).scope

    def _cycle_state(self, conn: Connection, cycle_id: str, lock: str = "") -> str:
        """The cycle's state; `lock` "UPDATE" or "SHARE" locks its row until the caller's commit."""
        return self._cycle(conn, cycle_id, lock).state

    def _cycle(self, conn: Connection, cycle_id: str, lock: str = ""):
        """The cycle's row (id, month, state, scope), locked as `lock` says; UnknownCycle if none."""
        cycle = conn.execute(
            text(
                f"SELECT id, month, state, scope FROM {self.tables.cycle_name} WHERE id = :id"
                + (f" FOR {lock}" if lock else "")
            ),
            {"id": cycle_id},
        ).first()
        if cycle is None:
            raise UnknownCycle(f"no payment cycle {cycle_id}")
        return cycle

    def _batch(self, cycle_id_sql: str) -> str:
        return sql.BATCH.format(payment=self.tables.name, cycle_id=cycle_id_sql)

    def bank_batch(self, conn: Connection, cycle_id: str, *, chunk: int = 10_000) -> Iterator[tuple[int, str, int]]:
        """The cycle's pending payments for the bank, (payment id, bank account, amount in fen), in id
        order, streamed from a server-side cursor `chunk` rows at a time (read them before the
        transaction ends). Raises CycleStateError at once for a cycle that does not exist."""
        _require_postgresql(conn)
        self._cycle_state(conn, cycle_id)
        # per statement: Connection.execution_options() would change the caller's connection for good
        result = conn.execute(
            text(self._batch(":cycle_id")),
            {"cycle_id": cycle_id},
            execution_options={"stream_results": True, "yield_per": chunk},
        )
        return (tuple(row) for row in result)

    def write_bank_file(self, conn: Connection, cycle_id: str, out: IO[str]) -> tuple[int, int]:
        """Write the bank batch as CSV (header `payment_id,bank_account,amount_fen`) to the text file
        `out`; returns (rows, total fen), the control totals the bank checks the file against.

        Uses COPY when the driver allows it, else streams rows. The cycle row is locked FOR SHARE, so
        a reconciliation cannot change the pending set between the totals and the file."""
        _require_postgresql(conn)
        self._cycle_state(conn, cycle_id, lock="SHARE")
        count, total = conn.execute(
            text(
                f"SELECT count(*), coalesce(sum(amount_fen), 0)::bigint FROM {self.tables.name} "
                "WHERE cycle_id = :cycle_id AND state = 'pending'"
            ),
            {"cycle_id": cycle_id},
        ).one()
        cursor = _raw_cursor(conn)
        if cursor is not None:
            sink = out if isinstance(out, io.TextIOBase) else _TextSink(out)  # psycopg2 writes bytes else
            quoted = conn.execute(text("SELECT quote_literal(:v)"), {"v": cycle_id}).scalar_one()
            with cursor:
                cursor.copy_expert(f"COPY ({self._batch(quoted)}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
                written = cursor.rowcount
        else:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(BANK_FILE_HEADER)
            written = 0
            for chunk in conn.execute(
                text(self._batch(":cycle_id")),
                {"cycle_id": cycle_id},
                execution_options={"stream_results": True, "yield_per": 10_000},
            ).partitions():
                writer.writerows(chunk)
                written += len(chunk)
        if written != count:
            raise RuntimeError(f"bank file of {cycle_id} has {written} rows, the cycle {count} pending")
        return count, total

    def claim_for_sending(self, conn: Connection, cycle_id: str) -> None:
        """Lock the cycle for its batch and refuse one already sent: a second file of the same pending
        payments could have the bank pay them twice. Take this before `write_bank_file`."""
        _require_postgresql(conn)
        state = self._cycle_state(conn, cycle_id, lock="UPDATE")
        if state != "frozen":
            raise CycleStateError(f"cycle {cycle_id} is {state}: its batch went to the bank already")

    def withhold(self, conn: Connection, payee, from_month: date, reason: str) -> list[tuple[int, str, date, int]]:
        """The payee is not entitled from `from_month` on (a death): its pending payments of those
        months in cycles frozen but not yet sent are taken out of their batches, recorded `failed`
        with `reason` (so the month is paid again as arrears only if the service's `arrears_due`
        says it is owed again, e.g. after a revoked death). Payments already with the bank are
        left as they are (to recall, or recover). The cycles are locked first: a batch being sent
        at the same moment is written either with the payment (then it is left) or without it.
        Returns (payment id, cycle id, for_month, amount) of what was withheld."""
        _require_postgresql(conn)
        payment, cycle = self.tables.name, self.tables.cycle_name
        frozen = (
            conn.execute(
                text(
                    f"SELECT c.id FROM {cycle} c WHERE c.state = 'frozen' AND c.id IN "
                    f"(SELECT cycle_id FROM {payment} WHERE {self.tables.payee} = :payee AND for_month >= :from_month "
                    "AND state = 'pending') ORDER BY c.id FOR UPDATE"
                ),
                {"payee": payee, "from_month": from_month},
            )
            .scalars()
            .all()
        )
        if not frozen:
            return []
        rows = conn.execute(
            text(
                f"UPDATE {payment} p SET state = 'failed', failure_reason = :reason "
                f"FROM {cycle} c WHERE c.id = p.cycle_id AND c.state = 'frozen' AND p.cycle_id = ANY(:cycles) "
                f"AND p.{self.tables.payee} = :payee AND p.for_month >= :from_month AND p.state = 'pending' "
                "RETURNING p.id, p.cycle_id, p.for_month, p.amount_fen"
            ),
            {"payee": payee, "from_month": from_month, "reason": reason, "cycles": list(frozen)},
        ).all()
        return sorted((int(r.id), r.cycle_id, r.for_month, int(r.amount_fen)) for r in rows)

    @_measured("send")
    def mark_sent(self, conn: Connection, cycle_id: str) -> str:
        """frozen -> sent (the batch went to the bank). Idempotent; returns the cycle's state."""
        _require_postgresql(conn)
        state = self._cycle_state(conn, cycle_id, lock="UPDATE")
        if state == "frozen":
            conn.execute(text(f"UPDATE {self.tables.cycle_name} SET state = 'sent' WHERE id = :id"), {"id": cycle_id})
            return "sent"
        return state

    @_measured("reconcile")
    def reconcile(
        self,
        conn: Connection,
        cycle_id: str,
        results: Iterable[tuple[int, str, str | None]],
        *,
        work_mem: str | None = DEFAULT_WORK_MEM,
        jit: str | None = DEFAULT_JIT,
    ) -> ReconcileSummary:
        """Apply the bank's answers for a sent cycle: (payment id, "paid" | "failed", reason or None).

        Idempotent: an answer that repeats what is recorded changes nothing (`unchanged`). Refused and
        reported in `conflicts`, nothing changed: paid -> failed; two different answers for one payment
        in the same call; failed -> paid when the month was already paid again (arrears). Ids that are
        not payments of this cycle are reported in `unknown`. The cycle becomes "reconciled" once none
        of its payments is pending. Holds the cycle row FOR UPDATE: reconciliations of one cycle take
        turns. Raises ValueError (nothing changed) for a status other than "paid" or "failed".
        """
        _require_postgresql(conn)
        state = self._cycle_state(conn, cycle_id, lock="UPDATE")
        if state not in ("sent", "reconciled"):
            raise CycleStateError(f"cycle {cycle_id} is {state}: send its batch before reconciling")
        with _local_settings(conn, work_mem=work_mem, jit=jit):
            _load_results(conn, list(results))
            conn.execute(self._classify, {"cycle_id": cycle_id})
            conn.execute(text("ANALYZE bank_answer"))
            conn.execute(self._repaid)
            changed: dict[str, int] = {row[0]: row[1] for row in conn.execute(self._apply, {"cycle_id": cycle_id})}
            outcomes = conn.execute(sql.OUTCOMES).all()
        conn.execute(text("DROP TABLE IF EXISTS pg_temp.bank_result, pg_temp.bank_answer"))
        unchanged = 0
        conflicts, unknown = [], []
        for what, recorded, reported, payment_id, n in outcomes:
            if what == "unchanged":
                unchanged += n
            elif what == "conflict":
                conflicts.append((payment_id, recorded, reported))
            else:
                unknown.append(payment_id)
        pending = conn.execute(
            text(f"SELECT count(*) FROM {self.tables.name} WHERE cycle_id = :id AND state = 'pending'"),
            {"id": cycle_id},
        ).scalar_one()
        if pending == 0 and state != "reconciled":
            conn.execute(
                text(f"UPDATE {self.tables.cycle_name} SET state = 'reconciled' WHERE id = :id"), {"id": cycle_id}
            )
            state = "reconciled"
        PAYMENT_RUN_PAYMENTS.labels(self.tables.name, "paid").inc(changed.get("paid", 0))
        PAYMENT_RUN_PAYMENTS.labels(self.tables.name, "failed").inc(changed.get("failed", 0))
        return ReconcileSummary(
            cycle_id=cycle_id,
            paid=changed.get("paid", 0),
            failed=changed.get("failed", 0),
            unchanged=unchanged,
            conflicts=sorted(conflicts),
            unknown=sorted(unknown),
            pending=pending,
            state=state,
        )


def _load_results(conn: Connection, results: list[tuple[int, str, str | None]]) -> None:
    """The answers into the temporary table bank_result (COPY when the driver allows it)."""
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.bank_result, pg_temp.bank_answer"))
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE bank_result "
            "(payment_id bigint NOT NULL, status text NOT NULL, reason text) ON COMMIT DROP"
        )
    )
    cursor = _raw_cursor(conn)
    if cursor is not None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(results)
        buffer.seek(0)
        with cursor:
            cursor.copy_expert("COPY bank_result FROM STDIN WITH (FORMAT csv)", buffer)
    else:
        ids, statuses, reasons = (list(column) for column in zip(*results)) if results else ([], [], [])
        conn.execute(
            text(
                "INSERT INTO bank_result SELECT * FROM unnest(CAST(:ids AS bigint[]), "
                "CAST(:statuses AS text[]), CAST(:reasons AS text[]))"
            ),
            {"ids": ids, "statuses": statuses, "reasons": reasons},
        )
    bad = conn.execute(
        text("SELECT payment_id, status FROM bank_result WHERE status NOT IN ('paid', 'failed') LIMIT 5")
    ).all()
    if bad:
        raise ValueError(f"bank results must be 'paid' or 'failed': {bad}")
    conn.execute(text("ANALYZE bank_result"))  # temporary tables have no autovacuum: plan on facts


class BankFiles(DependencyProvider):
    """The folder the bank collects payment batches from (an SFTP drop in production).

    Config `BANK_FILES_DIR` (default `var/bank-files`). Gives the worker a function that writes a
    file there atomically: the bank never sees half a batch."""

    def setup(self):
        self.directory = Path(self.container.config.get("BANK_FILES_DIR", "var/bank-files"))

    def get_dependency(self, worker_ctx):
        return self.write

    def write(self, name: str, produce) -> tuple[Path, object]:
        """`produce(text_file)` writes the content; returns the final path and what produce returned."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.directory / name
        # a name of its own per writer: two writers never share a half-written file
        handle, partial_name = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".partial")
        partial = Path(partial_name)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                result = produce(out)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, final)
        return final, result
