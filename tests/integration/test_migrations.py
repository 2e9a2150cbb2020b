"""Each service's alembic history builds exactly the tables its models declare, and goes back down."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import InternalError

from chassis.migrations import alembic_config, upgrade
from chassis.tables import chassis_metadata
from gateway.models import Base as GatewayBase
from services.assistance.models import Base as AssistanceBase
from services.care.models import Base as CareBase
from services.charity.models import Base as CharityBase
from services.funeral.models import Base as FuneralBase
from services.marriage.models import Base as MarriageBase

SERVICES = {"services/marriage": MarriageBase, "services/assistance": AssistanceBase, "services/care": CareBase,
            "services/charity": CharityBase, "services/funeral": FuneralBase, "gateway": GatewayBase}


@pytest.mark.parametrize("path", sorted(SERVICES))
def test_migrations_match_the_models(make_database, path):
    url = make_database("migrations")
    upgrade(path, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), [chassis_metadata, SERVICES[path].metadata])
        # the audit table is append-only, whatever the caller
        conn.execute(text("INSERT INTO audit_log (at, actor_id, actor_role, action, subject, outcome) "
                          "VALUES (now(), 'a', 'clerk', 'x', 'y', 'ok')"))
        with pytest.raises(InternalError, match="append-only"):
            conn.execute(text("UPDATE audit_log SET outcome = 'changed'"))
        conn.rollback()
    engine.dispose()
    assert diff == []
    from alembic import command
    command.downgrade(alembic_config(path, url), "base")
    engine = create_engine(url)
    with engine.connect() as conn:
        left = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                                 "AND tablename <> 'alembic_version'")).scalar()
    engine.dispose()
    assert left == 0


def test_assistance_0009_keeps_the_payments_deaths_already_recorded_found(make_database):
    """A death recorded before 0009 found the payments of cycles frozen before it, for months after
    the month of death: the revision keeps them, with what each month is still due (a revoked death's
    and a later cycle's payments are left out)."""
    url = make_database("migrations")
    upgrade("services/assistance", url, "0008")
    engine = create_engine(url)
    changes = '[{"household_id": "h-1", "member_id": "m-1", "benefits": [{"entitlement_id": 7, "after_fen": 40000}]}]'
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO payment_cycle (id, month, state, frozen_at, payments, total_fen) VALUES "
            "('2026-05', '2026-05-01', 'reconciled', '2026-05-01 00:00+08', 1, 1), "
            "('2026-06', '2026-06-01', 'sent', '2026-06-01 00:00+08', 1, 1), "
            "('2026-07', '2026-07-01', 'frozen', '2026-07-01 00:00+08', 1, 1)"))
        conn.execute(text(
            "INSERT INTO payment (id, cycle_id, entitlement_id, household_id, kind, for_month, amount_fen, "
            "policy_version, state) VALUES "
            "(1, '2026-05', 7, 'h-1', 'regular', '2026-05-01', 60000, 'v', 'paid'), "
            "(2, '2026-06', 7, 'h-1', 'regular', '2026-06-01', 60000, 'v', 'failed'), "
            "(3, '2026-07', 7, 'h-1', 'regular', '2026-07-01', 40000, 'v', 'pending')"))
        conn.execute(text(
            "INSERT INTO death_record (case_id, resident_id, date_of_death, state, changes, recorded_at) VALUES "
            "('case-1', '330602194103010011', '2026-05-20', 'applied', CAST(:c AS json), '2026-06-10 00:00+08'), "
            "('case-2', '330602194103010011', '2026-04-20', 'reversed', CAST(:c AS json), '2026-06-10 00:00+08')"),
            {"c": changes})
    upgrade("services/assistance", url)
    with engine.connect() as conn:
        links = conn.execute(text("SELECT case_id, entitlement_id, payment_id, cycle_id, for_month, amount_fen, "
                                  "due_fen FROM after_death_payment")).all()
        recovery_columns = {c for (c,) in conn.execute(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'recovery'"))}
    engine.dispose()
    assert [tuple(map(str, link)) for link in links] == [
        ("case-1", "7", "2", "2026-06", "2026-06-01", "60000", "40000")]
    assert {"written_off_fen", "refunded_fen"} <= recovery_columns
