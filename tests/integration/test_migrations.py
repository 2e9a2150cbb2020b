"""Each service's alembic history builds exactly the tables its models declare, and goes back down."""

from datetime import UTC, datetime

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

SERVICES = {
    "services/marriage": MarriageBase,
    "services/assistance": AssistanceBase,
    "services/care": CareBase,
    "services/charity": CharityBase,
    "services/funeral": FuneralBase,
    "gateway": GatewayBase,
}


@pytest.mark.parametrize("path", sorted(SERVICES))
def test_migrations_match_the_models(make_database, path):
    url = make_database("migrations")
    upgrade(path, url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), [chassis_metadata, SERVICES[path].metadata])
        # the audit table is append-only, whatever the caller
        conn.execute(
            text(
                "INSERT INTO audit_log (at, actor_id, actor_role, action, subject, outcome) "
                "VALUES (now(), 'a', 'clerk', 'x', 'y', 'ok')"
            )
        )
        with pytest.raises(InternalError, match="append-only"):
            conn.execute(text("UPDATE audit_log SET outcome = 'changed'"))
        conn.rollback()
    engine.dispose()
    assert diff == []
    from alembic import command

    command.downgrade(alembic_config(path, url), "base")
    engine = create_engine(url)
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalar()
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
        conn.execute(
            text(
                "INSERT INTO payment_cycle (id, month, state, frozen_at, payments, total_fen) VALUES "
                "('2026-05', '2026-05-01', 'reconciled', '2026-05-01 00:00+08', 1, 1), "
                "('2026-06', '2026-06-01', 'sent', '2026-06-01 00:00+08', 1, 1), "
                "('2026-07', '2026-07-01', 'frozen', '2026-07-01 00:00+08', 1, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO payment (id, cycle_id, entitlement_id, household_id, kind, for_month, amount_fen, "
                "policy_version, state) VALUES "
                "(1, '2026-05', 7, 'h-1', 'regular', '2026-05-01', 60000, 'v', 'paid'), "
                "(2, '2026-06', 7, 'h-1', 'regular', '2026-06-01', 60000, 'v', 'failed'), "
                "(3, '2026-07', 7, 'h-1', 'regular', '2026-07-01', 40000, 'v', 'pending')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO death_record (case_id, resident_id, date_of_death, state, changes, recorded_at) VALUES "
                "('case-1', '330602194103010011', '2026-05-20', 'applied', CAST(:c AS json), '2026-06-10 00:00+08'), "
                "('case-2', '330602194103010011', '2026-04-20', 'reversed', CAST(:c AS json), '2026-06-10 00:00+08')"
            ),
            {"c": changes},
        )
    upgrade("services/assistance", url)
    with engine.connect() as conn:
        links = conn.execute(
            text(
                "SELECT case_id, entitlement_id, payment_id, cycle_id, for_month, amount_fen, "
                "due_fen FROM after_death_payment"
            )
        ).all()
        recovery_columns = {
            c
            for (c,) in conn.execute(
                text("SELECT column_name FROM information_schema.columns WHERE table_name = 'recovery'")
            )
        }
    engine.dispose()
    assert [tuple(map(str, link)) for link in links] == [
        ("case-1", "7", "2", "2026-06", "2026-06-01", "60000", "40000")
    ]
    assert {"written_off_fen", "refunded_fen"} <= recovery_columns


def test_gateway_0005_has_restated_steps_read_as_their_latest_report(make_database):
    """Before 0005 a step kept its owner's first word, the later reports set aside ('ignored'): the
    revision folds those steps again, so a step restated after a corrected date of death reads as
    the restatement; a word that may not follow (done after a rejection) stays set aside."""
    url = make_database("migrations")
    upgrade("gateway", url, "0004")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO matter (id, matter_type, region_code, opened_at, opened_by) VALUES "
                "('m-1', 'after_death', '330602', '2026-06-10 10:00+08', 'funeral')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO matter_step (matter_id, step, position, owner, title, deadline_days, state, started_at, "
                "deadline, reported_at, reason) VALUES "
                "('m-1', 'benefits_stopped', 1, 'assistance', 't', 5, 'done', '2026-06-10 10:00+08', "
                "'2026-06-15 10:00+08', '2026-06-10 10:01+08', 'as of 2026-06-02'), "
                "('m-1', 'hukou_cancellation', 4, 'police', 't', 10, 'rejected', '2026-06-10 10:00+08', "
                "'2026-06-20 10:00+08', '2026-06-10 11:00+08', 'address'), "
                "('m-1', 'care_stopped', 2, 'care', 't', 5, 'pending', '2026-06-10 10:00+08', "
                "'2026-06-15 10:00+08', NULL, NULL)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO step_report (event_id, matter_id, step, state, reported_by, reported_at, reason, applied) "
                "VALUES ('e-1', 'm-1', 'benefits_stopped', 'done', 'assistance', '2026-06-10 10:01+08', "
                "'as of 2026-06-02', 'yes'), "
                "('e-2', 'm-1', 'benefits_stopped', 'done', 'assistance', '2026-06-11 10:01+08', "
                "'corrected to 2026-05-20', 'ignored'), "
                "('e-3', 'm-1', 'benefits_stopped', 'rejected', 'police', '2026-06-12 10:01+08', 'not mine', 'refused'), "
                "('e-4', 'm-1', 'hukou_cancellation', 'rejected', 'police', '2026-06-10 11:00+08', 'address', 'yes'), "
                "('e-5', 'm-1', 'hukou_cancellation', 'done', 'police', '2026-06-11 11:00+08', NULL, 'ignored')"
            )
        )
    upgrade("gateway", url)
    with engine.connect() as conn:
        steps = {
            row.step: (row.state, row.reason)
            for row in conn.execute(text("SELECT step, state, reason FROM matter_step WHERE matter_id = 'm-1'"))
        }
        applied = dict(conn.execute(text("SELECT event_id, applied FROM step_report")).all())
        restated_at = conn.execute(text("SELECT reported_at FROM matter_step WHERE step = 'benefits_stopped'")).scalar()
    engine.dispose()
    assert steps == {
        "benefits_stopped": ("done", "corrected to 2026-05-20"),
        "hukou_cancellation": ("rejected", "address"),
        "care_stopped": ("pending", None),
    }
    assert restated_at == datetime(2026, 6, 11, 2, 1, tzinfo=UTC)
    assert applied == {"e-1": "yes", "e-2": "yes", "e-3": "refused", "e-4": "yes", "e-5": "ignored"}
