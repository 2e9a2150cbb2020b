"""The tamper-evident audit against the real PostgreSQL: the funeral service runs as the
services' database role, its audit rows are sealed into a hash chain with checkpoints in a file,
and the verify command finds a row changed behind its back; the role itself can append to the
audit and read it, but not change, delete or truncate it, nor drop or disable its triggers."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import psycopg2
import psycopg2.errors
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.migrations import upgrade
from contracts.person import compose_resident_id
from infra.scratch import as_service_role
from services.funeral.service import FuneralService
from tests.helpers import wait_for

DISTRICT = "330602"
HEALTH = {"id": "health", "role": "partner"}


def notice(seq: int) -> dict:
    return {
        "deceased": {"resident_id": compose_resident_id(DISTRICT, date(1940, 1, 1), seq), "name": "赵老"},
        "date_of_death": "2026-06-01",
        "region_code": "330602001",
        "reference": f"D-{seq}",
    }


def audit_command(*args: str) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "chassis.audit", *args], capture_output=True, text=True, timeout=120
    )
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def as_owner(url: str, *statements: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def test_a_changed_audit_row_is_found_by_the_verify_command(
    make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path
):
    url = make_database("funeral")
    upgrade("services/funeral", url)
    checkpoints = tmp_path / "audit"
    # the service connects as the services' role, and seals its audit every 0.1 s
    start_service(
        FuneralService,
        {
            **base_config,
            "DATABASE_URL": as_service_role(url),
            "AUDIT_CHECKPOINTS": str(checkpoints),
            "AUDIT_SEAL_SECONDS": 0.1,
        },
    )
    manual_clock.set_local_date(date(2026, 6, 10))
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        for seq in (11, 13, 15):
            proxy.funeral.notify_death(HEALTH, notice(seq))
    file = checkpoints / "funeral.jsonl"
    engine = create_engine(url)

    def sealed():
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM audit_seal")).scalar() == 3 and file.exists()

    wait_for(sealed, what="the three notices' audit rows sealed")
    engine.dispose()
    code, report = audit_command("verify", "--database", url, "--checkpoints", str(file))
    assert (code, report["intact"], report["sealed"], report["problems"]) == (0, True, 3, [])
    assert report["checkpoints"] >= 1

    # the owner changes the second row's outcome behind the service's back
    as_owner(
        url,
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "UPDATE audit_log SET outcome = 'joined' WHERE id = (SELECT audit_id FROM audit_seal WHERE position = 2)",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
    )
    code, report = audit_command("verify", "--database", url, "--checkpoints", str(file))
    assert code == 1 and not report["intact"]
    assert any("(seal 2) was changed" in p for p in report["problems"]), report

    # and rewrites the seals to match: the checkpoint outside the database still disagrees
    from chassis.audit import chain_hash  # the same hashing an intruder could run

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE audit_seal DISABLE TRIGGER audit_seal_append_only"))
        previous = ""
        rows = conn.execute(
            text(
                "SELECT s.position, a.id, a.txid, to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
                "AS at, a.actor_id, a.actor_role, a.actor_area, a.action, a.subject, a.outcome, a.reason, "
                "a.policy_version, a.details::text AS details FROM audit_seal s JOIN audit_log a ON a.id = s.audit_id "
                "ORDER BY s.position"
            )
        ).all()
        for row in rows:
            previous = chain_hash(previous, row)
            conn.execute(
                text("UPDATE audit_seal SET chain_hash = :h WHERE position = :p"), {"h": previous, "p": row.position}
            )
        conn.execute(text("ALTER TABLE audit_seal ENABLE TRIGGER audit_seal_append_only"))
    engine.dispose()
    code, report = audit_command("verify", "--database", url, "--checkpoints", str(file))
    assert code == 1
    assert not any("was changed" in p for p in report["problems"])  # the seals were made to agree
    assert any("differs from its checkpoint" in p for p in report["problems"]), report


def test_the_services_role_cannot_change_delete_or_unprotect_the_audit(make_database):
    url = make_database("funeral")
    upgrade("services/funeral", url)
    dsn = as_service_role(url).replace("postgresql+psycopg2://", "postgresql://")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cursor = conn.cursor()
    try:
        cursor.execute(
            "INSERT INTO audit_log (at, actor_id, actor_role, action, subject, outcome) "
            "VALUES (now(), 'system', 'system', 'test.append', 'x', 'ok') RETURNING id, txid"
        )
        audit_id, txid = cursor.fetchone()
        assert txid is not None  # set by the trigger
        cursor.execute("SELECT count(*) FROM audit_log")
        assert cursor.fetchone() == (1,)
        for refused in (
            f"DELETE FROM audit_log WHERE id = {audit_id}",
            f"UPDATE audit_log SET outcome = 'changed' WHERE id = {audit_id}",
            "TRUNCATE audit_log",
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "DELETE FROM audit_seal",
            "DROP TABLE audit_log",
        ):
            with pytest.raises((psycopg2.errors.InsufficientPrivilege,)):
                cursor.execute(refused)
        # what a service needs of its other tables it has
        cursor.execute("SELECT count(*) FROM death_case")
        cursor.execute("DELETE FROM inbox")
        cursor.execute("SELECT count(*) FROM audit_log WHERE id = %s AND outcome = 'ok'", (audit_id,))
        assert cursor.fetchone() == (1,)
    finally:
        conn.close()
