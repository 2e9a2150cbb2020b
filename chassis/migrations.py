"""Alembic, the same way for every service: `upgrade(service_dir, url)` and a shared env.py body.

Each service keeps its revisions in `<service>/migrations/versions`; its env.py calls
`run_env(Base.metadata)`. The chassis tables (outbox, inbox, audit, policy) are part of every
service's target metadata, and `protect_audit_log` makes the audit table append-only.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from chassis.relay import NOTIFY_CHANNEL
from chassis.tables import chassis_metadata

__all__ = [
    "upgrade",
    "run_env",
    "alembic_config",
    "create_chassis_tables",
    "create_chassis_tables_v3",
    "drop_chassis_tables",
    "drop_chassis_tables_v3",
    "grant_service_role",
    "ensure_service_role",
    "service_role_url",
    "chassis_triggers_sql",
    "create_chassis_tables_v4",
    "drop_chassis_tables_v4",
    "add_indicator_targets",
    "remove_indicator_targets",
]


def alembic_config(service_dir: str | Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(service_dir) / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service_dir: str | Path, url: str, revision: str = "head", service_role: str | None = None) -> None:
    """Migrate as the database's owner, then grant the services' role (`service_role`, default
    env TONGBAN_DB_SERVICE_ROLE or "tongban_service", if it exists) what a service needs: every
    table read and written, except the audit (audit_log, audit_seal), which it may only read and
    append to. Not being the owner, it can neither drop nor disable their triggers."""
    command.upgrade(alembic_config(service_dir, url), revision)
    grant_service_role(url, service_role)


SERVICE_ROLE = "tongban_service"
APPEND_ONLY = ("audit_log", "audit_seal")


def service_role_name(role: str | None = None) -> str:
    import os

    return role or os.environ.get("TONGBAN_DB_SERVICE_ROLE") or SERVICE_ROLE


def ensure_service_role(admin_dsn: str, password: str, role: str | None = None) -> str:
    """The services' role on the server of `admin_dsn` (LOGIN, owning nothing), made if missing; an
    existing one keeps its password (another deployment on the server may use it). Its name."""
    import contextlib

    import psycopg2

    role = service_role_name(role)
    conn = psycopg2.connect(admin_dsn)
    conn.autocommit = True
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if cursor.fetchone() is None:
            # another process may make it at the same moment: DuplicateObject, or the catalogue's
            # unique index when both got past the check above (seen: CI's two shards at once)
            with contextlib.suppress(psycopg2.errors.DuplicateObject, psycopg2.errors.UniqueViolation):
                quoted = role.replace('"', '""')
                cursor.execute(f'CREATE ROLE "{quoted}" LOGIN PASSWORD %s', (password,))
    finally:
        conn.close()
    return role


def service_role_url(url: str, password: str, role: str | None = None) -> str:
    """The same database's URL, connecting as the services' role."""
    from urllib.parse import quote

    scheme, rest = url.split("://", 1)
    host_and_path = rest.split("@", 1)[-1]
    return f"{scheme}://{quote(service_role_name(role), safe='')}:{quote(password, safe='')}@{host_and_path}"


def grant_service_role(url: str, role: str | None = None) -> bool:
    """The grants of `upgrade` (idempotent). False when the role does not exist or the database is
    not PostgreSQL (nothing to grant)."""
    from sqlalchemy import create_engine, text

    role = service_role_name(role)
    engine = create_engine(url)
    try:
        if engine.dialect.name != "postgresql":
            return False
        with engine.begin() as conn:
            if not conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                return False
            quoted = conn.dialect.identifier_preparer.quote(role)
            database = conn.dialect.identifier_preparer.quote(
                str(conn.execute(text("SELECT current_database()")).scalar())
            )
            for statement in (
                f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {quoted}",
                f"GRANT USAGE ON SCHEMA public TO {quoted}",
                f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
                f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
                f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM {quoted}",
                *(
                    f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {table} FROM {quoted}"
                    for table in APPEND_ONLY
                    if conn.execute(text("SELECT to_regclass(:t)"), {"t": table}).scalar()
                ),
            ):
                conn.execute(text(statement))
        return True
    finally:
        engine.dispose()


def run_env(service_metadata) -> None:
    from alembic import context
    from sqlalchemy import create_engine

    target = [chassis_metadata, service_metadata]
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic's sqlalchemy.url is not set (chassis.migrations.upgrade sets it)")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target, render_as_batch=connection.dialect.name == "sqlite"
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def chassis_triggers_sql() -> list[str]:
    """PostgreSQL triggers of the chassis tables:
    - audit_log refuses UPDATE and DELETE (append-only, whoever asks);
    - an insert into outbox NOTIFYs the relay, delivered on commit: a statement trigger saves the
      writer a round trip per transaction (SQLite relays poll instead)."""
    return [
        """CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only()""",
        f"""CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
           BEGIN PERFORM pg_notify('{NOTIFY_CHANNEL}', ''); RETURN NULL; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
           FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()""",
    ]


def create_chassis_tables() -> None:
    """Version 1 of the chassis tables, created by every service's first revision.

    A later change to chassis.tables adds a `create_chassis_tables_v2` here, called from a new
    revision of each service, so old revisions keep meaning what they meant.
    """
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("actor_area", sa.String(length=12), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_subject", "audit_log", ["subject"], unique=False)
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=160), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=120), nullable=False),
        sa.Column("exchange", sa.String(length=80), nullable=False),
        sa.Column("routing_key", sa.String(length=160), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    op.create_table(
        "policy_parameters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("region_code", "name", "effective_from", name="uq_policy_version"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in chassis_triggers_sql():
            op.execute(statement)


def create_chassis_tables_v2() -> None:
    """Version 2: the command log (chassis.entrypoints.Rpc answers a redelivered command from it)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "command_log",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("entrypoint", sa.String(length=160), nullable=False),
        sa.Column("reply", sa.Text(), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )


def create_chassis_tables_v3() -> None:
    """Version 3: the tamper-evident audit (chassis.audit seal / verify). audit_log gets the
    inserting transaction's id (a trigger sets it, whatever the insert says, so no row can be
    slipped in behind the seal); audit_seal holds the hash chain, append-only like audit_log.
    Rows recorded before are chained first, in id order (txid 0)."""
    import sqlalchemy as sa
    from alembic import op

    op.add_column("audit_log", sa.Column("txid", sa.BigInteger(), nullable=True))
    op.create_table(
        "audit_seal",
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("position"),
        sa.UniqueConstraint("audit_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in audit_chain_sql():
            op.execute(statement)


def audit_chain_sql() -> list[str]:
    """PostgreSQL: audit_log's rows take their transaction's id; audit_seal is append-only. The
    old rows' txid is 0; the append-only trigger is set aside for that one statement only."""
    return [
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
        "UPDATE audit_log SET txid = 0",
        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only",
        """CREATE OR REPLACE FUNCTION audit_log_txid() RETURNS trigger AS $$
           BEGIN NEW.txid := txid_current(); RETURN NEW; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_log_txid BEFORE INSERT ON audit_log
           FOR EACH ROW EXECUTE FUNCTION audit_log_txid()""",
        """CREATE OR REPLACE FUNCTION audit_seal_is_append_only() RETURNS trigger AS $$
           BEGIN RAISE EXCEPTION 'audit_seal is append-only'; END $$ LANGUAGE plpgsql""",
        """CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_seal
           FOR EACH ROW EXECUTE FUNCTION audit_seal_is_append_only()""",
        """CREATE TRIGGER audit_seal_no_truncate BEFORE TRUNCATE ON audit_seal
           FOR EACH STATEMENT EXECUTE FUNCTION audit_seal_is_append_only()""",
        """CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
           FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only()""",
    ]


def drop_chassis_tables_v3() -> None:
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER IF EXISTS audit_log_txid ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_txid()")
    op.drop_table("audit_seal")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_seal_is_append_only()")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("txid")


def drop_chassis_tables_v2() -> None:
    from alembic import op

    op.drop_table("command_log")


def create_chassis_tables_v4() -> None:
    """Version 4: the job leases (chassis.lease: a scheduled job runs once per period across instances)."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "job_leases",
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("job"),
    )


def drop_chassis_tables_v4() -> None:
    from alembic import op

    op.drop_table("job_leases")


def drop_chassis_tables() -> None:
    import sqlalchemy as sa
    from alembic import op

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS outbox_inserted ON outbox")
        op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_is_append_only()")
    op.drop_table("policy_parameters")
    op.drop_index(
        "ix_outbox_unsent",
        table_name="outbox",
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    )
    op.drop_table("outbox")
    op.drop_table("inbox")
    op.drop_index("ix_audit_subject", table_name="audit_log")
    op.drop_table("audit_log")


def add_indicator_targets(rows, recorded_by: str) -> None:
    """Targets of the indicators (chassis.indicators) as policy versions: rows of (region, name,
    effective_from, target, comparison, source); `name` without its `indicator.` prefix."""
    from datetime import UTC, datetime

    from alembic import op

    from chassis.tables import policy_parameters

    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": f"indicator.{name}",
                "effective_from": effective,
                "value": {"target": target, "comparison": comparison},
                "source": source,
                "recorded_at": now,
                "recorded_by": recorded_by,
            }
            for region, name, effective, target, comparison, source in rows
        ],
    )


def remove_indicator_targets(recorded_by: str) -> None:
    from alembic import op

    from chassis.tables import policy_parameters

    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == recorded_by))
