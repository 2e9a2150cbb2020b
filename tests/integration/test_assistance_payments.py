"""The monthly payment run on real PostgreSQL: who is paid, idempotent freezes (also concurrent
ones), the frozen snapshot, the bank file, reconciliation, arrears paid exactly once, and back pay
(补发) paid once as a top-up beside the month's payment.

The fixture households and entitlements are inserted set-based (generate_series), in groups whose
expected treatment is written down next to them; the expectations are computed here in Python
from that table, not with the module's SQL.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import UTC, date, datetime

import eventlet
import psycopg2.extensions
import pytest
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from chassis.migrations import upgrade
from chassis.payment_runs import NO_BANK_ACCOUNT, CycleStateError, UnsupportedDatabase
from services.assistance.payments import (
    MARK_BACK_PAY_PAID,
    bank_batch,
    cycle_summary,
    freeze_cycle,
    mark_sent,
    reconcile,
    write_bank_file,
)
from tests.helpers import wait_for

MAY, JUNE, JULY = date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)
NOW = datetime(2026, 4, 28, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 5, 28, 2, 0, tzinfo=UTC)

# (first id, last id, starts_on, ends_on, gradual_exit_until, amount rule, paid in May?)
# Entitlement i belongs to household i. Households 291-300 have no bank account.
GROUPS = [
    (1, 200, "2025-01-01", None, None, "30000 + i * 10", True),  # active, open-ended
    (201, 230, "2025-01-01", "2026-03-31", None, "40000", False),  # ended before May
    (231, 250, "2025-01-01", "2026-03-31", "2026-07-31", "25000 + i", True),  # in gradual exit
    (251, 260, "2025-01-01", "2026-03-31", "2026-04-30", "25000", False),  # gradual exit over
    (261, 270, "2026-06-01", None, None, "50000", False),  # starts after May
    (271, 275, "2026-05-31", None, None, "60000 + i", True),  # starts on May's last day
    (276, 280, "2025-01-01", "2026-05-01", None, "70000 + i", True),  # ends on May's first day
    (281, 290, "2025-01-01", None, None, "0", False),  # nothing to pay
    (291, 300, "2025-01-01", None, None, "35000 + i", True),  # no bank account: recorded failed
]
NO_ACCOUNT = set(range(291, 301))


def amount_of(i: int) -> int:
    for lo, hi, _, _, _, rule, _ in GROUPS:
        if lo <= i <= hi:
            return eval(rule, {"i": i})  # the same expression the SQL uses
    raise KeyError(i)


def paid_in_may() -> set[int]:
    return {i for lo, hi, *_, paid in GROUPS if paid for i in range(lo, hi + 1)}


def seed(conn) -> None:
    conn.execute(
        text("""
        INSERT INTO household (id, region_code, address, bank_account, created_at)
        SELECT 'h-' || i, '330602001001', 'No. ' || i || ' Jiefang Road',
               CASE WHEN i > 290 THEN NULL ELSE '6228' || lpad(i::text, 15, '0') END,
               timestamptz '2025-01-01 00:00+00'
        FROM generate_series(1, 300) AS i""")
    )
    for lo, hi, starts, ends, exit_until, rule, _ in GROUPS:
        conn.execute(
            text(f"""
            INSERT INTO entitlement (id, household_id, programme, monthly_amount_fen, starts_on,
                                     ends_on, gradual_exit_until, policy_version)
            SELECT i, 'h-' || i, 'dibao', {rule}, CAST(:starts AS date), CAST(:ends AS date),
                   CAST(:exit_until AS date), 'zj-330602-2026-01'
            FROM generate_series(:lo, :hi) AS i"""),
            {"lo": lo, "hi": hi, "starts": starts, "ends": ends, "exit_until": exit_until},
        )
    conn.execute(text("SELECT setval(pg_get_serial_sequence('entitlement', 'id'), 1000)"))


@pytest.fixture
def engine(make_database):
    url = make_database("payments")
    upgrade("services/assistance", url)
    engine = create_engine(url)
    with engine.begin() as conn:
        seed(conn)
    yield engine
    engine.dispose()


@pytest.fixture
def green():
    """psycopg2 as the services run it (psycogreen): a blocked query yields to other green threads."""
    before = psycopg2.extensions.get_wait_callback()
    patch_psycopg()
    yield
    psycopg2.extensions.set_wait_callback(before)


@pytest.fixture(params=["copy", "green"])
def driver_mode(request):
    """psycopg2 as a script uses it (COPY available) or as the services do (psycogreen's wait
    callback: COPY unavailable, rows are streamed instead). Restores whatever was set before."""
    before = psycopg2.extensions.get_wait_callback()
    if request.param == "copy":
        psycopg2.extensions.set_wait_callback(None)
    else:
        patch_psycopg()
    yield request.param
    psycopg2.extensions.set_wait_callback(before)


def payments_of(conn, cycle_id: str) -> dict[int, tuple]:
    """entitlement id -> (kind, for_month, amount, bank account, policy version, state, reason)."""
    rows = conn.execute(
        text(
            "SELECT entitlement_id, kind, for_month, amount_fen, bank_account, policy_version, state, "
            "failure_reason FROM payment WHERE cycle_id = :c"
        ),
        {"c": cycle_id},
    ).all()
    out = {}
    for row in rows:
        assert row[0] not in out, f"entitlement {row[0]} twice in {cycle_id}"
        out[row[0]] = tuple(row[1:])
    return out


def frozen(engine, month=MAY, now=NOW):
    with engine.begin() as conn:
        return freeze_cycle(conn, month, now)


def sent(engine, month=MAY):
    summary = frozen(engine, month)
    with engine.begin() as conn:
        mark_sent(conn, summary.cycle_id)
    return summary


def ids_by_entitlement(conn, cycle_id: str) -> dict[int, int]:
    return dict(conn.execute(text("SELECT entitlement_id, id FROM payment WHERE cycle_id = :c"), {"c": cycle_id}).all())


# --- freezing ---------------------------------------------------------------------------------------


def test_the_cycle_pays_exactly_the_active_entitlements_with_the_right_total(engine):
    summary = frozen(engine)
    expected = paid_in_may()
    with_account = expected - NO_ACCOUNT
    total = sum(amount_of(i) for i in expected)

    assert summary.created and summary.cycle_id == "2026-05" and summary.state == "frozen"
    assert (summary.payments, summary.total_fen) == (len(expected), total)
    assert (summary.regular, summary.arrears) == (len(expected), 0)
    assert (summary.to_bank, summary.to_bank_fen) == (len(with_account), sum(amount_of(i) for i in with_account))
    assert (summary.without_account, summary.without_account_fen) == (10, sum(amount_of(i) for i in NO_ACCOUNT))
    with engine.connect() as conn:
        payments = payments_of(conn, "2026-05")
        cycle = conn.execute(text("SELECT month, state, frozen_at, payments, total_fen FROM payment_cycle")).all()
    assert set(payments) == expected
    assert cycle == [(MAY, "frozen", NOW, len(expected), total)]
    for i, (kind, for_month, amount, account, policy, state, reason) in payments.items():
        assert (kind, for_month, amount, policy) == ("regular", MAY, amount_of(i), "zj-330602-2026-01")
        if i in NO_ACCOUNT:
            assert (account, state, reason) == (None, "failed", NO_BANK_ACCOUNT)
        else:
            assert (account, state, reason) == (f"6228{i:015d}", "pending", None)


def test_freezing_the_same_month_twice_inserts_nothing_and_keeps_the_snapshot(engine):
    first = frozen(engine)
    with engine.begin() as conn:  # a household that becomes eligible after the freeze
        conn.execute(
            text(
                "INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, "
                "policy_version) VALUES ('h-205', 'tekun', 90000, '2026-05-10', 'v2')"
            )
        )
    second = frozen(engine, now=LATER)
    assert second.created is False
    assert (second.payments, second.total_fen, second.regular) == (first.payments, first.total_fen, first.regular)
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM payment")).scalar_one()
        frozen_at = conn.execute(text("SELECT frozen_at FROM payment_cycle")).scalar_one()
    assert count == len(paid_in_may())
    assert frozen_at == NOW


def test_two_concurrent_freezes_of_one_month_pay_nobody_twice(green, engine):
    with engine.connect() as first, engine.connect() as second:
        second.execute(text("SET application_name = 'second-freeze'"))
        second.commit()
        one = freeze_cycle(first, MAY, NOW)  # not committed yet
        other = eventlet.spawn(lambda: (freeze_cycle(second, MAY, LATER), second.commit())[0])

        def second_is_waiting():
            with engine.connect() as probe:
                return probe.execute(
                    text(
                        "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE application_name = 'second-freeze'"
                    )
                ).scalar()

        wait_for(second_is_waiting, timeout=10, what="the second freeze to wait for the first")
        first.commit()
        two = other.wait()
    assert one.created and not two.created
    assert (two.payments, two.total_fen) == (one.payments, one.total_fen)
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT count(*), count(DISTINCT entitlement_id) FROM payment")).one()
    assert tuple(counts) == (len(paid_in_may()), len(paid_in_may()))


def test_the_frozen_amounts_do_not_follow_later_edits(engine):
    frozen(engine)
    with engine.connect() as conn:
        before = payments_of(conn, "2026-05")
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE entitlement SET monthly_amount_fen = monthly_amount_fen + 5000, "
                "policy_version = 'zj-330602-2026-07'"
            )
        )
        conn.execute(
            text("UPDATE household SET bank_account = '9999' || right(bank_account, 15) WHERE bank_account IS NOT NULL")
        )
        conn.execute(text("UPDATE entitlement SET ends_on = '2026-04-30' WHERE id <= 100"))
    again = frozen(engine, now=LATER)
    with engine.connect() as conn:
        after = payments_of(conn, "2026-05")
        rows = list(bank_batch(conn, "2026-05"))
    assert after == before
    assert again.total_fen == sum(amount_of(i) for i in paid_in_may())
    assert {amount for _, _, amount in rows} == {before[i][2] for i in paid_in_may() - NO_ACCOUNT}
    assert not any(account.startswith("9999") for _, account, _ in rows)


def test_a_regular_payment_that_would_pay_a_month_twice_rolls_the_freeze_back(engine):
    with engine.begin() as conn:  # a stray live payment for entitlement 7, June (not through a cycle run)
        conn.execute(
            text("INSERT INTO payment_cycle VALUES ('manual-1', '2026-06-15', 'sent', :now, 1, 30070)"), {"now": NOW}
        )
        conn.execute(
            text(
                "INSERT INTO payment (cycle_id, entitlement_id, household_id, kind, for_month, "
                "amount_fen, bank_account, policy_version, state) VALUES ('manual-1', 7, 'h-7', "
                "'regular', '2026-06-01', 30070, 'x', 'v', 'pending')"
            )
        )
    with pytest.raises(IntegrityError, match="uq_payment_once"):
        frozen(engine, JUNE)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payment_cycle WHERE id = '2026-06'")).scalar_one() == 0
        assert conn.execute(text("SELECT count(*) FROM payment")).scalar_one() == 1


def test_freeze_wants_an_aware_time_and_postgresql(engine, tmp_path):
    with engine.begin() as conn, pytest.raises(ValueError, match="aware"):
        freeze_cycle(conn, MAY, datetime(2026, 4, 28, 2, 0))
    sqlite = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with sqlite.connect() as conn, pytest.raises(UnsupportedDatabase, match="PostgreSQL-only"):
        freeze_cycle(conn, MAY, NOW)
    sqlite.dispose()


# --- the bank batch ------------------------------------------------------------------------------


def test_the_bank_file_holds_the_pending_payments_and_its_control_totals(driver_mode, engine):
    summary = frozen(engine)
    out = io.StringIO()
    with engine.begin() as conn:
        rows, fen = write_bank_file(conn, "2026-05", out)
        streamed = list(bank_batch(conn, "2026-05", chunk=7))
        ids = ids_by_entitlement(conn, "2026-05")
        assert mark_sent(conn, "2026-05") == "sent"
        assert mark_sent(conn, "2026-05") == "sent"  # idempotent
    lines = list(csv.reader(io.StringIO(out.getvalue())))
    with_account = sorted(paid_in_may() - NO_ACCOUNT)
    want = sorted((ids[i], f"6228{i:015d}", amount_of(i)) for i in with_account)
    assert lines[0] == ["payment_id", "bank_account", "amount_fen"]
    assert [(int(a), b, int(c)) for a, b, c in lines[1:]] == want
    assert streamed == want
    assert (rows, fen) == (summary.to_bank, summary.to_bank_fen) == (len(want), sum(w[2] for w in want))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM payment_cycle")).scalar_one() == "sent"


def test_the_bank_file_can_be_a_temporary_file(driver_mode, engine):
    frozen(engine)
    with engine.begin() as conn, tempfile.NamedTemporaryFile("w+", suffix=".csv") as out:
        rows, _ = write_bank_file(conn, "2026-05", out)  # not an io.TextIOBase: psycopg2 would write bytes
        out.flush()
        out.seek(0)
        lines = out.read().splitlines()
    assert len(lines) == rows + 1 == len(paid_in_may() - NO_ACCOUNT) + 1
    assert lines[0] == "payment_id,bank_account,amount_fen"


# --- reconciliation -----------------------------------------------------------------------------

FAILING = {
    3: "account closed",
    50: "name mismatch",
    120: "account frozen",
    232: "account closed",
    273: "no such account",
}


def answers_for(conn, cycle_id: str, failing: dict[int, str], kind: str | None = None):
    """The bank's answers for every pending payment of the cycle: the payments of the entitlements
    in `failing` (of `kind`, if given) failed with the reason given, the others were paid."""
    pending = conn.execute(
        text("SELECT id, entitlement_id, kind FROM payment WHERE cycle_id = :c AND state = 'pending'"), {"c": cycle_id}
    ).all()
    return [
        (pid, "failed", failing[e]) if e in failing and kind in (None, k) else (pid, "paid", None)
        for pid, e, k in pending
    ]


def states(conn, cycle_id: str) -> dict[int, tuple[str, str | None]]:
    return {
        e: (s, r)
        for e, s, r in conn.execute(
            text("SELECT entitlement_id, state, failure_reason FROM payment WHERE cycle_id = :c"), {"c": cycle_id}
        )
    }


def test_reconcile_marks_paid_and_failed_and_reapplying_changes_nothing(driver_mode, engine):
    sent(engine)
    with engine.connect() as conn:
        answers = answers_for(conn, "2026-05", FAILING)
    with engine.begin() as conn:
        result = reconcile(conn, "2026-05", answers)
    with_account = paid_in_may() - NO_ACCOUNT
    assert (result.paid, result.failed, result.unchanged) == (len(with_account) - 5, 5, 0)
    assert (result.conflicts, result.unknown, result.pending, result.state) == ([], [], 0, "reconciled")
    with engine.connect() as conn:
        after = states(conn, "2026-05")
        cycle_state = conn.execute(text("SELECT state FROM payment_cycle")).scalar_one()
    assert cycle_state == "reconciled"
    assert {i: after[i] for i in FAILING} == {i: ("failed", reason) for i, reason in FAILING.items()}
    assert all(after[i] == ("paid", None) for i in with_account - set(FAILING))
    assert all(after[i] == ("failed", NO_BANK_ACCOUNT) for i in NO_ACCOUNT)

    with engine.begin() as conn:  # the same file again
        again = reconcile(conn, "2026-05", answers)
    assert (again.paid, again.failed, again.unchanged, again.conflicts) == (0, 0, len(answers), [])
    with engine.connect() as conn:
        assert states(conn, "2026-05") == after


def test_reconcile_refuses_paid_to_failed_and_reports_contradictions_and_strangers(driver_mode, engine):
    sent(engine)
    with engine.connect() as conn:
        ids = ids_by_entitlement(conn, "2026-05")
    with engine.begin() as conn:
        reconcile(conn, "2026-05", [(ids[1], "paid", None), (ids[2], "paid", None)])
    answers = [
        (ids[1], "failed", "account closed"),  # paid -> failed: refused
        (ids[4], "paid", None),
        (ids[4], "failed", "?"),  # contradicts itself
        (ids[5], "paid", None),
        (ids[5], "paid", None),  # said twice: one answer
        (999_999, "paid", None),
    ]  # no such payment
    with engine.begin() as conn:
        result = reconcile(conn, "2026-05", answers)
    assert result.conflicts == sorted([(ids[1], "paid", "failed"), (ids[4], "pending", "paid and failed")])
    assert result.unknown == [999_999]
    assert (result.paid, result.failed, result.state) == (1, 0, "sent")
    with engine.connect() as conn:
        now = states(conn, "2026-05")
    assert (now[1], now[2], now[4], now[5]) == (("paid", None), ("paid", None), ("pending", None), ("paid", None))
    assert result.pending == sum(1 for s, _ in now.values() if s == "pending") == len(paid_in_may() - NO_ACCOUNT) - 3


def test_reconcile_refuses_bad_statuses_and_unsent_cycles(engine):
    frozen(engine)
    with engine.connect() as conn:
        ids = ids_by_entitlement(conn, "2026-05")
    with engine.begin() as conn, pytest.raises(CycleStateError, match="send its batch"):
        reconcile(conn, "2026-05", [(ids[1], "paid", None)])
    with engine.begin() as conn, pytest.raises(CycleStateError, match="no payment cycle"):
        reconcile(conn, "2031-01", [])
    with engine.begin() as conn:
        mark_sent(conn, "2026-05")
    with engine.begin() as conn, pytest.raises(ValueError, match="'paid' or 'failed'"):
        reconcile(conn, "2026-05", [(ids[1], "paid", None), (ids[2], "returned", None)])
    with engine.connect() as conn:
        assert states(conn, "2026-05")[1] == ("pending", None)


def test_a_partial_answer_keeps_the_cycle_sent_until_the_rest_arrives(engine):
    sent(engine)
    with engine.connect() as conn:
        answers = answers_for(conn, "2026-05", {})
    with engine.begin() as conn:
        first = reconcile(conn, "2026-05", answers[:100])
    with engine.begin() as conn:
        rest = reconcile(conn, "2026-05", answers[100:])
    assert (first.paid, first.state, first.pending) == (100, "sent", len(answers) - 100)
    assert (rest.paid, rest.state, rest.pending) == (len(answers) - 100, "reconciled", 0)


def test_a_failed_payment_the_bank_paid_after_all_is_paid_unless_its_month_was_paid_again(engine):
    sent(engine)
    with engine.connect() as conn:
        ids = ids_by_entitlement(conn, "2026-05")
        answers = answers_for(conn, "2026-05", {3: "timeout", 50: "timeout"})
    with engine.begin() as conn:
        reconcile(conn, "2026-05", answers)
    sent(engine, JUNE)  # pays 3 and 50 again as arrears
    with engine.begin() as conn:
        late = reconcile(conn, "2026-05", [(ids[3], "paid", None)])
    assert late.conflicts == [(ids[3], "failed", "paid")] and late.paid == 0  # a double payment: refused
    reconcile_all(engine, "2026-06", {50: "timeout"}, kind="arrears")  # 50's arrears failed too...
    with engine.begin() as conn:  # ...and then the bank says May's payment to 50 went through
        late = reconcile(conn, "2026-05", [(ids[50], "paid", None)])
    assert (late.paid, late.conflicts) == (1, [])
    july = frozen(engine, JULY)
    with engine.connect() as conn:
        assert states(conn, "2026-05")[50] == ("paid", None)
        july_arrears = (
            conn.execute(text("SELECT entitlement_id FROM payment WHERE cycle_id = '2026-07' AND kind = 'arrears'"))
            .scalars()
            .all()
        )
    assert july.arrears == 0 and july_arrears == []  # May is paid for 50: nothing owed


# --- arrears ------------------------------------------------------------------------------------------


def reconcile_all(engine, cycle_id: str, failing: dict[int, str], kind: str | None = None):
    with engine.connect() as conn:
        answers = answers_for(conn, cycle_id, failing, kind)
    with engine.begin() as conn:
        return reconcile(conn, cycle_id, answers)


def test_failed_payments_are_paid_as_arrears_in_the_next_cycle_exactly_once(engine):
    sent(engine)
    reconcile_all(engine, "2026-05", FAILING)
    with engine.begin() as conn:
        conn.execute(text("UPDATE entitlement SET monthly_amount_fen = 99900 WHERE id = 3"))  # June's new amount
        conn.execute(text("UPDATE household SET bank_account = '6217000000000000050' WHERE id = 'h-50'"))
        conn.execute(text("UPDATE household SET bank_account = '6217000000000000291' WHERE id IN ('h-291', 'h-292')"))

    june = sent(engine, JUNE)
    # May's failures: the five the bank refused, and 291-292 whose households now have an account
    owed = set(FAILING) | {291, 292}
    paid_in_june = paid_in_may() - {276, 277, 278, 279, 280} | set(range(261, 271))  # ends 1 May; starts 1 June
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT entitlement_id, kind, for_month, amount_fen, bank_account, state "
                "FROM payment WHERE cycle_id = '2026-06'"
            )
        ).all()
    arrears = {r[0]: r for r in rows if r[1] == "arrears"}
    regular = {r[0]: r for r in rows if r[1] == "regular"}
    assert set(arrears) == owed
    assert set(regular) == paid_in_june
    assert all(r[2] == MAY and r[3] == amount_of(i) and r[5] == "pending" for i, r in arrears.items())
    assert arrears[50][4] == "6217000000000000050"  # the household's account now, not May's
    assert regular[3][3] == 99900 and arrears[3][3] == amount_of(3)
    june_regular_fen = sum(99900 if i == 3 else amount_of(i) for i in paid_in_june)
    assert (june.arrears, june.arrears_fen) == (len(owed), sum(amount_of(i) for i in owed))
    assert june.total_fen == june_regular_fen + june.arrears_fen

    assert frozen(engine, JUNE, LATER).payments == june.payments  # a re-run adds no second arrears
    reconcile_all(engine, "2026-06", {120: "account frozen"}, kind="arrears")  # May's arrears of 120 fails again

    july = frozen(engine, JULY)
    with engine.connect() as conn:
        july_arrears = conn.execute(
            text("SELECT entitlement_id, for_month FROM payment WHERE cycle_id = '2026-07' AND kind = 'arrears'")
        ).all()
        paid = dict(
            conn.execute(
                text(
                    "SELECT entitlement_id, count(*) FROM payment WHERE for_month = '2026-05-01' AND state = 'paid' "
                    "GROUP BY entitlement_id"
                )
            ).all()
        )
    # 120 failed twice for May (its regular and its arrears) and is owed once; June's regular 120 was paid
    assert sorted(july_arrears) == [(120, MAY)]
    assert july.arrears == 1
    assert set(paid) == (paid_in_may() - NO_ACCOUNT - {120}) | {291, 292}
    assert set(paid.values()) == {1}  # every May payment that went through, went through once


def test_a_month_after_a_death_is_paid_again_only_for_what_it_is_still_due(engine):
    """Deaths (on 20 April) found May's payments of 3 (its benefit recomputed for the survivors to
    123.45 yuan), 50 (it ended: nothing due) and 120 (a death revoked since), which then failed.
    June's arrears pay 3 only what May is still due, 50 nothing, and 120 in full again, like any
    failed payment without a death (232, 273)."""
    sent(engine)
    reconcile_all(engine, "2026-05", FAILING)
    with engine.begin() as conn:
        ids = ids_by_entitlement(conn, "2026-05")
        for entitlement, state, due in ((3, "applied", 12345), (50, "applied", 0), (120, "reversed", 0)):
            conn.execute(
                text(
                    "INSERT INTO death_record (case_id, resident_id, date_of_death, state, changes, recorded_at) "
                    "VALUES (:case, '330602194103010011', '2026-04-20', :state, '[]', now())"
                ),
                {"case": f"case-{entitlement}", "state": state},
            )
            conn.execute(
                text(
                    "INSERT INTO after_death_payment (case_id, entitlement_id, payment_id, cycle_id, for_month, "
                    "amount_fen, due_fen) VALUES (:case, :e, :p, '2026-05', :m, :a, :due)"
                ),
                {
                    "case": f"case-{entitlement}",
                    "e": entitlement,
                    "p": ids[entitlement],
                    "m": MAY,
                    "a": amount_of(entitlement),
                    "due": due,
                },
            )
    june = sent(engine, JUNE)
    with engine.connect() as conn:
        arrears = dict(
            conn.execute(
                text("SELECT entitlement_id, amount_fen FROM payment WHERE cycle_id = '2026-06' AND kind = 'arrears'")
            ).all()
        )
    assert arrears == {3: 12345, 120: amount_of(120), 232: amount_of(232), 273: amount_of(273)}
    assert (june.arrears, june.arrears_fen) == (4, sum(arrears.values()))


def test_two_cycles_frozen_at_once_do_not_both_pay_the_same_arrears(green, engine):
    sent(engine)
    reconcile_all(engine, "2026-05", FAILING)
    with engine.connect() as june, engine.connect() as july:
        july.execute(text("SET application_name = 'july-freeze'"))
        july.commit()
        in_june = freeze_cycle(june, JUNE, NOW)  # arrears inserted, not committed
        other = eventlet.spawn(lambda: (freeze_cycle(july, JULY, NOW), july.commit())[0])

        def july_is_waiting():
            with engine.connect() as probe:
                return probe.execute(
                    text("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE application_name = 'july-freeze'")
                ).scalar()

        wait_for(july_is_waiting, timeout=10, what="July's freeze to wait for June's arrears")
        june.commit()
        in_july = other.wait()
    assert (in_june.arrears, in_july.arrears) == (len(FAILING), 0)
    with engine.connect() as conn:
        live = conn.execute(
            text("SELECT count(*) FROM payment WHERE for_month = '2026-05-01' AND kind = 'arrears'")
        ).scalar_one()
        stored = cycle_summary(conn, "2026-07")
    assert live == len(FAILING)
    assert (stored.arrears, stored.payments) == (0, in_july.payments)


# --- back pay (补发): a revoked death's difference, paid as a top-up beside the month's payment ----------


def owe_back_pay(conn, entitlement_id: int, months: list[tuple[date, int, int]], state: str = "due") -> None:
    """A back-pay record as a revoked death leaves it: per month (month, owed, paid)."""
    conn.execute(
        text(
            "INSERT INTO back_pay (id, case_id, household_id, entitlement_id, months, amount_fen, state, recorded_at) "
            "VALUES (:id, 'case-1', :h, :e, CAST(:months AS json), :fen, :state, :now)"
        ),
        {
            "id": f"bp-{entitlement_id}-{state}-{len(months)}-{months[0][0]}-{months[0][1]}",
            "h": f"h-{entitlement_id}",
            "e": entitlement_id,
            "state": state,
            "now": NOW,
            "fen": sum(o - p for _, o, p in months),
            "months": json.dumps([{"month": m.isoformat(), "owed_fen": o, "paid_fen": p} for m, o, p in months]),
        },
    )


def live_per_month(conn) -> set[int]:
    """How many live payments each (entitlement, month, top-up or not) has: never more than one."""
    return set(
        conn.execute(
            text("SELECT count(*) FROM payment WHERE state <> 'failed' GROUP BY entitlement_id, for_month, top_up")
        ).scalars()
    )


def back_pay_states(conn) -> dict[int, str]:
    """The records' states by entitlement (8's was settled before the test: left out)."""
    return dict(conn.execute(text("SELECT entitlement_id, state FROM back_pay WHERE entitlement_id <> 8")).all())


def answer(engine, cycle_id: str, failing: set[tuple[int, str]]):
    """Every pending payment of the cycle paid, but those of (entitlement, kind) in `failing`."""
    with engine.connect() as conn:
        pending = conn.execute(
            text("SELECT id, entitlement_id, kind FROM payment WHERE cycle_id = :c AND state = 'pending'"),
            {"c": cycle_id},
        ).all()
    with engine.begin() as conn:
        return reconcile(
            conn,
            cycle_id,
            [(i, "failed", "account frozen") if (e, k) in failing else (i, "paid", None) for i, e, k in pending],
        )


def test_back_pay_is_paid_once_as_a_top_up_and_a_failed_one_as_arrears(engine):
    sent(engine)
    answer(engine, "2026-05", {(9, "regular")})  # 9's May payment fails: arrears' business
    with engine.begin() as conn:
        owe_back_pay(conn, 5, [(MAY, amount_of(5) + 1000, amount_of(5))])
        owe_back_pay(conn, 7, [(MAY, amount_of(7) + 500, amount_of(7))])
        # 7's May again (a second record names it), and April, which had no cycle: nothing for it
        owe_back_pay(conn, 7, [(MAY, amount_of(7) + 500, amount_of(7)), (date(2026, 4, 1), 100, 0)])
        owe_back_pay(conn, 8, [(MAY, amount_of(8) + 700, amount_of(8))], state="paid")  # settled already
        owe_back_pay(conn, 9, [(MAY, amount_of(9) + 200, amount_of(9))])  # the failed payment counts as paid
        owe_back_pay(conn, 291, [(MAY, amount_of(291) + 300, amount_of(291))])  # no bank account

    june = sent(engine, JUNE)
    assert (june.top_up, june.top_up_fen) == (4, 1000 + 500 + 200 + 300)
    assert (june.arrears, june.arrears_fen) == (1, amount_of(9))  # 9's May, beside 9's top-up for May
    # 291's top-up is recorded failed, as the regular payments of the households without an account
    assert (june.without_account, june.without_account_fen) == (11, sum(map(amount_of, NO_ACCOUNT)) + 300)
    assert frozen(engine, JUNE, LATER).payments == june.payments  # freezing again pays nothing twice
    with engine.connect() as conn:
        top_ups = conn.execute(
            text(
                "SELECT entitlement_id, for_month, amount_fen, bank_account, state FROM payment "
                "WHERE cycle_id = '2026-06' AND kind = 'top_up' AND top_up "
                "ORDER BY entitlement_id"
            )
        ).all()
        assert top_ups == [
            (5, MAY, 1000, "6228" + "5".zfill(15), "pending"),
            (7, MAY, 500, "6228" + "7".zfill(15), "pending"),
            (9, MAY, 200, "6228" + "9".zfill(15), "pending"),
            (291, MAY, 300, None, "failed"),
        ]
        assert live_per_month(conn) == {1}
    # 5's top-up paid; 7's and 9's (and 9's arrears) fail at the bank
    answer(engine, "2026-06", {(7, "top_up"), (9, "top_up"), (9, "arrears")})
    with engine.begin() as conn:
        conn.execute(MARK_BACK_PAY_PAID)
        assert back_pay_states(conn) == {5: "paid", 7: "due", 9: "due", 291: "due"}
        conn.execute(text("UPDATE household SET bank_account = '6217000000000000291' WHERE id = 'h-291'"))

    july = sent(engine, JULY)
    assert july.top_up == 0  # every month owed has its top-up: the failed ones come back as arrears
    with engine.connect() as conn:
        arrears = conn.execute(
            text(
                "SELECT entitlement_id, for_month, amount_fen, top_up FROM payment "
                "WHERE cycle_id = '2026-07' AND kind = 'arrears' "
                "ORDER BY entitlement_id, for_month, top_up"
            )
        ).all()
    assert arrears == [
        (7, MAY, 500, True),
        (9, MAY, amount_of(9), False),
        (9, MAY, 200, True),
        (291, MAY, amount_of(291), False),
        (291, MAY, 300, True),
        (291, JUNE, amount_of(291), False),
    ]
    answer(engine, "2026-07", set())
    with engine.begin() as conn:
        conn.execute(MARK_BACK_PAY_PAID)
        assert set(back_pay_states(conn).values()) == {"paid"}
        assert live_per_month(conn) == {1}
        paid_for_may = dict(
            conn.execute(
                text(
                    "SELECT entitlement_id, sum(amount_fen) FROM payment WHERE for_month = '2026-05-01' AND state = 'paid' "
                    "AND entitlement_id IN (5, 7, 8, 9, 291) GROUP BY entitlement_id"
                )
            ).all()
        )
    # each month paid what was owed: the ordinary payment and the difference, once
    assert paid_for_may == {
        5: amount_of(5) + 1000,
        7: amount_of(7) + 500,
        8: amount_of(8),
        9: amount_of(9) + 200,
        291: amount_of(291) + 300,
    }
    assert frozen(engine, date(2026, 8, 1)).top_up == 0


def test_a_second_live_top_up_for_a_month_is_refused(engine):
    sent(engine)
    answer(engine, "2026-05", set())
    with engine.begin() as conn:
        owe_back_pay(conn, 5, [(MAY, amount_of(5) + 1000, amount_of(5))])
    frozen(engine, JUNE)
    with pytest.raises(IntegrityError, match="uq_payment_once"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO payment (cycle_id, entitlement_id, household_id, kind, top_up, for_month, "
                "amount_fen, bank_account, policy_version, state) VALUES ('2026-06', 5, 'h-5', "
                "'top_up', true, '2026-05-01', 1000, 'x', 'v', 'pending')"
            )
        )
