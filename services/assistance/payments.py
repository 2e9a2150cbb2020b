"""The monthly payment run (社会化发放): freeze a cycle, hand the bank its batch, reconcile the answer.

A staged pipeline in the manner of OpenG2P (cycle frozen -> sent -> reconciled), every stage
idempotent and safe to retry, and every stage one or a few set-based SQL statements: there is no
Python loop per recipient anywhere in this module.

- `freeze_cycle(conn, month, now)` creates the cycle "YYYY-MM" and, in one SQL statement, a
  `regular` payment for every entitlement active in that month and an `arrears` payment for every
  earlier failed payment not yet paid again. Amount, bank account and policy version are copied
  into the payment rows: that copy *is* the frozen snapshot, so later edits to entitlements,
  households or policy do not change a frozen cycle. Freezing a month that already has a cycle
  inserts nothing and returns that cycle's summary; two runs of the same month at once serialize
  on the cycle's primary key. The partial unique index `uq_payment_once` (one pending-or-paid
  payment per entitlement and month, whatever the cycle) is the backstop: arrears, which two
  cycles could race for, use it as their ON CONFLICT arbiter; a regular payment that collided
  with it would roll the whole freeze back. Either way nobody is paid twice.
- `bank_batch(conn, cycle_id)` streams the pending payments (id, bank account, amount in fen);
  `write_bank_file(conn, cycle_id, out)` writes them as CSV (COPY when the driver allows it);
  `mark_sent(conn, cycle_id)` moves the cycle to "sent".
- `reconcile(conn, cycle_id, results)` applies the bank's answers (payment id, "paid" | "failed",
  reason) with one UPDATE ... FROM over a temporary table. Re-applying the same answers changes
  nothing; a paid payment never becomes failed (reported as a conflict); once no payment of the
  cycle is pending the cycle is "reconciled". A failed payment is paid again, as arrears, by the
  next cycle that is frozen.

Rules, stated once:
- Active in a month: starts_on <= last day of the month, and ends_on is NULL, or ends_on >= the
  first day, or gradual_exit_until >= the first day (渐退期: paid until the gradual exit ends).
  A month that is active for any part is paid in full; entitlements of 0 fen produce no payment.
- A household without a bank account gets its regular payment recorded as `failed` ("no bank
  account") at freeze time, so the cycle still shows what it owed; it is not in the bank batch,
  and it is paid as arrears by the first later cycle frozen once the household has an account.
- Arrears carry the amount and policy version of the payment that failed (what was owed for that
  month) and the household's bank account as of the new freeze (the old one may be why it failed).
  They are paid only for a month the entitlement still covers (the regular rule): an entitlement
  ended since, back to a date before that month (the recipient died), pays no arrears for it.

Every function takes a SQLAlchemy `Connection` and works inside the caller's transaction: the
caller commits (the cycle row and its payments commit together or not at all). Time is passed in;
nothing here reads the clock.

PostgreSQL only (the production database): ON CONFLICT on a partial unique index, DISTINCT ON,
COPY, temporary tables and `set_config` are used as they are. SQLite is not supported by this
module; every function raises UnsupportedDatabase on another dialect.
"""
from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO, Iterable, Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["CycleSummary", "ReconcileSummary", "CycleStateError", "NO_BANK_ACCOUNT",
           "cycle_id_of", "freeze_cycle", "cycle_summary", "bank_batch", "write_bank_file",
           "mark_sent", "reconcile"]

NO_BANK_ACCOUNT = "no bank account"
BANK_FILE_HEADER = ("payment_id", "bank_account", "amount_fen")
DEFAULT_WORK_MEM = "256MB"  # for the freeze and reconcile statements only (hash joins of 1M rows)
# JIT compiling these plans costs 0.5-1 s per statement at 1M rows and bought nothing measurable
# (the time goes to inserting, updating and foreign-key checks, not to evaluating expressions).
DEFAULT_JIT = "off"


class UnsupportedDatabase(Exception):
    """The payment run's set-based SQL needs PostgreSQL (the embedded SQLite default cannot run it)."""


class CycleStateError(Exception):
    """The cycle is missing, or not in a state that allows the step asked for."""


@dataclass(frozen=True)
class CycleSummary:
    cycle_id: str
    month: date
    state: str
    created: bool  # False when the cycle already existed and nothing was inserted
    payments: int  # every payment of the cycle (regular and arrears, whatever their state)
    total_fen: int
    regular: int
    arrears: int
    arrears_fen: int
    to_bank: int  # pending at freeze: what the bank batch holds
    to_bank_fen: int
    without_account: int  # regular payments recorded failed because the household had no account
    without_account_fen: int


@dataclass(frozen=True)
class ReconcileSummary:
    cycle_id: str
    paid: int  # payments moved to paid by this call
    failed: int  # payments moved to failed by this call
    unchanged: int  # answers that repeat what is already recorded (a re-applied file)
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)  # (id, recorded, reported)
    unknown: list[int] = field(default_factory=list)  # ids that are not payments of this cycle
    pending: int = 0  # payments of the cycle still waiting for an answer
    state: str = ""  # the cycle's state afterwards


def _require_postgresql(conn: Connection) -> None:
    if conn.dialect.name != "postgresql":
        raise UnsupportedDatabase(f"the payment run is PostgreSQL-only, not {conn.dialect.name}")


def cycle_id_of(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


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


# One statement, two inserts: the regular payments of the month, and the arrears of earlier failed
# payments; the frozen values are copied here.
# - Regular payments need no ON CONFLICT: no payment for this month can exist before its cycle (a
#   failed payment is only ever paid again for its own, earlier, month), and this statement only
#   runs in the transaction that created the cycle row, which a concurrent run of the same month
#   waits for (primary key) and then leaves alone. Should a live payment for the month exist all
#   the same, uq_payment_once refuses the row and the whole freeze rolls back: nobody is paid twice.
#   (ON CONFLICT's speculative insertion costs about 4-10 s more per million rows; bench/PAYMENT_RUN.md.)
# - Arrears can race: two cycles frozen at once may both find the same failed payment. ON CONFLICT
#   on the partial unique index uq_payment_once skips the one that comes second.
_FREEZE = text("""
WITH arrears AS (
    INSERT INTO payment (cycle_id, entitlement_id, household_id, kind, for_month, amount_fen,
                         bank_account, policy_version, state, failure_reason)
    SELECT DISTINCT ON (f.entitlement_id, f.for_month)
           :cycle_id, f.entitlement_id, f.household_id, 'arrears', f.for_month, f.amount_fen,
           h.bank_account, f.policy_version, 'pending', NULL
    FROM payment_cycle c
    JOIN payment f ON f.cycle_id = c.id AND f.state = 'failed'
    JOIN household h ON h.id = f.household_id AND h.bank_account IS NOT NULL
    JOIN entitlement e ON e.id = f.entitlement_id
    WHERE c.month < :first
      AND (e.ends_on IS NULL OR e.ends_on >= f.for_month OR e.gradual_exit_until >= f.for_month)
      AND NOT EXISTS (SELECT 1 FROM payment live
                      WHERE live.entitlement_id = f.entitlement_id AND live.for_month = f.for_month
                        AND live.state <> 'failed')
    ORDER BY f.entitlement_id, f.for_month, f.id DESC
    ON CONFLICT (entitlement_id, for_month) WHERE state <> 'failed' DO NOTHING
    RETURNING kind, state, amount_fen
), regular AS (
    INSERT INTO payment (cycle_id, entitlement_id, household_id, kind, for_month, amount_fen,
                         bank_account, policy_version, state, failure_reason)
    SELECT :cycle_id, e.id, e.household_id, 'regular', CAST(:first AS date), e.monthly_amount_fen,
           h.bank_account, e.policy_version,
           CASE WHEN h.bank_account IS NULL THEN 'failed' ELSE 'pending' END,
           CASE WHEN h.bank_account IS NULL THEN CAST(:no_account AS text) END
    FROM entitlement e
    JOIN household h ON h.id = e.household_id
    WHERE e.starts_on <= :last
      AND (e.ends_on IS NULL OR e.ends_on >= :first OR e.gradual_exit_until >= :first)
      AND e.monthly_amount_fen > 0
    RETURNING kind, state, amount_fen
)
SELECT kind, state, count(*) AS n, coalesce(sum(amount_fen), 0)::bigint AS fen
FROM (SELECT * FROM arrears UNION ALL SELECT * FROM regular) AS inserted
GROUP BY kind, state
""")

_TALLY = text("""
SELECT kind, state, failure_reason = :no_account AS no_account, count(*) AS n,
       coalesce(sum(amount_fen), 0)::bigint AS fen
FROM payment WHERE cycle_id = :cycle_id GROUP BY 1, 2, 3
""")


def _summary(cycle_row, created: bool, tally: Iterable) -> CycleSummary:
    """`tally`: (kind, state, recorded without a bank account, count, fen) groups of the cycle."""
    counts = dict.fromkeys(("payments", "total_fen", "regular", "arrears", "arrears_fen", "to_bank",
                            "to_bank_fen", "without_account", "without_account_fen"), 0)
    for kind, state, no_account, n, fen in tally:
        counts["payments"] += n
        counts["total_fen"] += fen
        counts[kind] += n
        if kind == "arrears":
            counts["arrears_fen"] += fen
        if state == "pending":
            counts["to_bank"] += n
            counts["to_bank_fen"] += fen
        elif kind == "regular" and state == "failed" and no_account:
            counts["without_account"] += n
            counts["without_account_fen"] += fen
    return CycleSummary(cycle_id=cycle_row.id, month=cycle_row.month, state=cycle_row.state,
                        created=created, **counts)


def freeze_cycle(conn: Connection, month: date, now: datetime, *, work_mem: str | None = DEFAULT_WORK_MEM,
                 jit: str | None = DEFAULT_JIT) -> CycleSummary:
    """Freeze the payment cycle of `month` (any day of it) at `now`; idempotent.

    Creates the cycle and its payments when the month has no cycle yet; otherwise inserts nothing
    and returns the existing cycle's summary (`created=False`). Two concurrent calls for the same
    month serialize on the cycle's primary key: the second waits for the first to commit, then
    finds the cycle. `work_mem` and `jit` are set for this call only (SET LOCAL, then restored;
    None leaves the session's value).
    """
    _require_postgresql(conn)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    first, last = _month_bounds(month)
    cycle_id = cycle_id_of(first)
    created = conn.execute(text(
        "INSERT INTO payment_cycle (id, month, state, frozen_at, payments, total_fen) "
        "VALUES (:id, :month, 'frozen', :now, 0, 0) ON CONFLICT DO NOTHING RETURNING id"),
        {"id": cycle_id, "month": first, "now": now}).first() is not None
    if not created:
        return cycle_summary(conn, cycle_id)
    with _local_settings(conn, work_mem=work_mem, jit=jit):
        rows = conn.execute(_FREEZE, {"cycle_id": cycle_id, "first": first, "last": last,
                                      "no_account": NO_BANK_ACCOUNT}).all()
    tally = [(kind, state, kind == "regular" and state == "failed", n, fen)
             for kind, state, n, fen in rows]
    payments, total = sum(r[3] for r in tally), sum(r[4] for r in tally)
    cycle = conn.execute(text(
        "UPDATE payment_cycle SET payments = :n, total_fen = :fen WHERE id = :id "
        "RETURNING id, month, state"), {"n": payments, "fen": total, "id": cycle_id}).one()
    return _summary(cycle, True, tally)


def cycle_summary(conn: Connection, cycle_id: str) -> CycleSummary:
    """The cycle's payments as the payment table holds them now (`created` is False).

    `to_bank` counts the payments still pending (after reconciliation: none)."""
    _require_postgresql(conn)
    cycle = conn.execute(text("SELECT id, month, state FROM payment_cycle WHERE id = :id"),
                         {"id": cycle_id}).first()
    if cycle is None:
        raise CycleStateError(f"no payment cycle {cycle_id}")
    tally = conn.execute(_TALLY, {"cycle_id": cycle_id, "no_account": NO_BANK_ACCOUNT}).all()
    return _summary(cycle, False, tally)


def _cycle_state(conn: Connection, cycle_id: str, lock: str = "") -> str:
    """The cycle's state; `lock` "UPDATE" or "SHARE" locks its row until the caller's commit."""
    state = conn.execute(text("SELECT state FROM payment_cycle WHERE id = :id"
                              + (f" FOR {lock}" if lock else "")), {"id": cycle_id}).scalar()
    if state is None:
        raise CycleStateError(f"no payment cycle {cycle_id}")
    return state


_BATCH = "SELECT id AS payment_id, bank_account, amount_fen FROM payment WHERE cycle_id = {} AND state = 'pending' ORDER BY id"


def bank_batch(conn: Connection, cycle_id: str, *, chunk: int = 10_000) -> Iterator[tuple[int, str, int]]:
    """The cycle's pending payments for the bank, (payment id, bank account, amount in fen), in id
    order, streamed from a server-side cursor `chunk` rows at a time (read them before the
    transaction ends). Raises CycleStateError at once for a cycle that does not exist."""
    _require_postgresql(conn)
    _cycle_state(conn, cycle_id)
    # per statement: Connection.execution_options() would change the caller's connection for good
    result = conn.execute(text(_BATCH.format(":cycle_id")), {"cycle_id": cycle_id},
                          execution_options={"stream_results": True, "yield_per": chunk})
    return (tuple(row) for row in result)


def _raw_cursor(conn: Connection):
    """A psycopg2 cursor that can COPY, or None (another driver, or psycopg2 in green mode, where
    psycogreen's wait callback makes COPY unavailable)."""
    if conn.dialect.driver != "psycopg2":
        return None
    import psycopg2.extensions
    if psycopg2.extensions.get_wait_callback() is not None:
        return None
    return conn.connection.dbapi_connection.cursor()


class _TextSink:
    def __init__(self, out: IO[str]):
        self.out = out

    def write(self, data) -> int:
        return self.out.write(data.decode() if isinstance(data, bytes) else data)


def write_bank_file(conn: Connection, cycle_id: str, out: IO[str]) -> tuple[int, int]:
    """Write the bank batch as CSV (header `payment_id,bank_account,amount_fen`) to the text file
    `out`; returns (rows, total fen), the control totals the bank checks the file against.

    Uses COPY when the driver allows it, else streams rows. The cycle row is locked FOR SHARE, so
    a reconciliation cannot change the pending set between the totals and the file."""
    _require_postgresql(conn)
    _cycle_state(conn, cycle_id, lock="SHARE")
    count, total = conn.execute(text(
        "SELECT count(*), coalesce(sum(amount_fen), 0)::bigint FROM payment "
        "WHERE cycle_id = :cycle_id AND state = 'pending'"), {"cycle_id": cycle_id}).one()
    cursor = _raw_cursor(conn)
    if cursor is not None:
        sink = out if isinstance(out, io.TextIOBase) else _TextSink(out)  # psycopg2 writes bytes else
        quoted = conn.execute(text("SELECT quote_literal(:v)"), {"v": cycle_id}).scalar_one()
        with cursor:
            cursor.copy_expert(f"COPY ({_BATCH.format(quoted)}) TO STDOUT WITH (FORMAT csv, HEADER)", sink)
            written = cursor.rowcount
    else:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(BANK_FILE_HEADER)
        written = 0
        for chunk in conn.execute(text(_BATCH.format(":cycle_id")), {"cycle_id": cycle_id},
                                  execution_options={"stream_results": True, "yield_per": 10_000}).partitions():
            writer.writerows(chunk)
            written += len(chunk)
    if written != count:
        raise RuntimeError(f"bank file of {cycle_id} has {written} rows, the cycle {count} pending")
    return count, total


def claim_for_sending(conn: Connection, cycle_id: str) -> None:
    """Lock the cycle for its batch and refuse one already sent: a second file of the same pending
    payments could have the bank pay them twice. Take this before `write_bank_file`."""
    _require_postgresql(conn)
    state = _cycle_state(conn, cycle_id, lock="UPDATE")
    if state != "frozen":
        raise CycleStateError(f"cycle {cycle_id} is {state}: its batch went to the bank already")


def mark_sent(conn: Connection, cycle_id: str) -> str:
    """frozen -> sent (the batch went to the bank). Idempotent; returns the cycle's state."""
    _require_postgresql(conn)
    state = _cycle_state(conn, cycle_id, lock="UPDATE")
    if state == "frozen":
        conn.execute(text("UPDATE payment_cycle SET state = 'sent' WHERE id = :id"), {"id": cycle_id})
        return "sent"
    return state


def _load_results(conn: Connection, results: Iterable[tuple[int, str, str | None]]) -> None:
    """The answers into the temporary table bank_result (COPY when the driver allows it)."""
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.bank_result, pg_temp.bank_answer"))
    conn.execute(text("CREATE TEMPORARY TABLE bank_result "
                      "(payment_id bigint NOT NULL, status text NOT NULL, reason text) ON COMMIT DROP"))
    cursor = _raw_cursor(conn)
    if cursor is not None:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(results)
        buffer.seek(0)
        with cursor:
            cursor.copy_expert("COPY bank_result FROM STDIN WITH (FORMAT csv)", buffer)
    else:
        ids, statuses, reasons = (list(column) for column in zip(*results)) if results else ([], [], [])
        conn.execute(text(
            "INSERT INTO bank_result SELECT * FROM unnest(CAST(:ids AS bigint[]), "
            "CAST(:statuses AS text[]), CAST(:reasons AS text[]))"),
            {"ids": ids, "statuses": statuses, "reasons": reasons})
    bad = conn.execute(text("SELECT payment_id, status FROM bank_result "
                            "WHERE status NOT IN ('paid', 'failed') LIMIT 5")).all()
    if bad:
        raise ValueError(f"bank results must be 'paid' or 'failed': {bad}")
    conn.execute(text("ANALYZE bank_result"))  # temporary tables have no autovacuum: plan on facts


# Each payment's one answer (two different answers for one payment in one call contradict each
# other), next to what is recorded now; in payment id order, so that the UPDATE below walks the
# payment table and its indexes in order instead of jumping around (measured on 1M answers: the
# same UPDATE in hash order took twice as long).
_CLASSIFY = text("""
CREATE TEMPORARY TABLE bank_answer ON COMMIT DROP AS
SELECT a.payment_id, a.status, a.contradicts, a.reason, p.id IS NOT NULL AS known, p.state,
       p.entitlement_id, p.for_month, false AS repaid
FROM (SELECT payment_id, min(status) AS status, min(status) <> max(status) AS contradicts,
             max(reason) AS reason
      FROM bank_result GROUP BY payment_id) AS a
LEFT JOIN payment p ON p.id = a.payment_id AND p.cycle_id = :cycle_id
ORDER BY a.payment_id
""")

# A failed payment the bank now says it paid, whose month was already paid again (arrears): a
# double payment, for a person to sort out. Few rows, each probing uq_payment_once.
_REPAID = text("""
UPDATE bank_answer a SET repaid = true
WHERE a.status = 'paid' AND a.state = 'failed' AND NOT a.contradicts
  AND EXISTS (SELECT 1 FROM payment live WHERE live.entitlement_id = a.entitlement_id
                AND live.for_month = a.for_month AND live.state <> 'failed')
""")

# What may change: pending -> paid | failed; failed -> paid while the month has no other live
# payment (the bank paid after all; if its arrears are live, that is a double payment: a conflict).
_APPLY = text("""
WITH changed AS (
    UPDATE payment p SET state = a.status,
                         failure_reason = CASE WHEN a.status = 'failed' THEN a.reason END
    FROM bank_answer a
    WHERE p.id = a.payment_id AND p.cycle_id = :cycle_id
      AND a.known AND NOT a.contradicts AND NOT a.repaid
      AND (p.state = 'pending' OR (p.state = 'failed' AND a.status = 'paid'))
    RETURNING p.state
)
SELECT state, count(*) FROM changed GROUP BY state
""")

_OUTCOMES = text("""
SELECT 'unchanged' AS what, NULL AS recorded, NULL AS reported, NULL::bigint AS payment_id, count(*) AS n
FROM bank_answer WHERE known AND NOT contradicts AND state = status
UNION ALL
SELECT 'conflict', state, CASE WHEN contradicts THEN 'paid and failed' ELSE status END, payment_id, 1
FROM bank_answer WHERE known AND (contradicts OR (state = 'paid' AND status = 'failed') OR repaid)
UNION ALL
SELECT 'unknown', NULL, NULL, payment_id, 1 FROM bank_answer WHERE NOT known
""")


def reconcile(conn: Connection, cycle_id: str, results: Iterable[tuple[int, str, str | None]], *,
              work_mem: str | None = DEFAULT_WORK_MEM, jit: str | None = DEFAULT_JIT) -> ReconcileSummary:
    """Apply the bank's answers for a sent cycle: (payment id, "paid" | "failed", reason or None).

    Idempotent: an answer that repeats what is recorded changes nothing (`unchanged`). Refused and
    reported in `conflicts`, nothing changed: paid -> failed; two different answers for one payment
    in the same call; failed -> paid when the month was already paid again (arrears). Ids that are
    not payments of this cycle are reported in `unknown`. The cycle becomes "reconciled" once none
    of its payments is pending. Holds the cycle row FOR UPDATE: reconciliations of one cycle take
    turns. Raises ValueError (nothing changed) for a status other than "paid" or "failed".
    """
    _require_postgresql(conn)
    state = _cycle_state(conn, cycle_id, lock="UPDATE")
    if state not in ("sent", "reconciled"):
        raise CycleStateError(f"cycle {cycle_id} is {state}: send its batch before reconciling")
    if not isinstance(results, (list, tuple)):
        results = list(results)
    with _local_settings(conn, work_mem=work_mem, jit=jit):
        _load_results(conn, results)
        conn.execute(_CLASSIFY, {"cycle_id": cycle_id})
        conn.execute(text("ANALYZE bank_answer"))
        conn.execute(_REPAID)
        changed = dict(conn.execute(_APPLY, {"cycle_id": cycle_id}).all())
        outcomes = conn.execute(_OUTCOMES).all()
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
    pending = conn.execute(text(
        "SELECT count(*) FROM payment WHERE cycle_id = :id AND state = 'pending'"), {"id": cycle_id}).scalar_one()
    if pending == 0 and state != "reconciled":
        conn.execute(text("UPDATE payment_cycle SET state = 'reconciled' WHERE id = :id"), {"id": cycle_id})
        state = "reconciled"
    return ReconcileSummary(cycle_id=cycle_id, paid=changed.get("paid", 0), failed=changed.get("failed", 0),
                            unchanged=unchanged, conflicts=sorted(conflicts), unknown=sorted(unknown),
                            pending=pending, state=state)
