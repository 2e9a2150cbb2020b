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
    "drop_chassis_tables",
    "chassis_triggers_sql",
    "create_chassis_tables_v3",
    "drop_chassis_tables_v3",
]


def alembic_config(service_dir: str | Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(service_dir) / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(service_dir: str | Path, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service_dir, url), revision)


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


def drop_chassis_tables_v2() -> None:
    from alembic import op

    op.drop_table("command_log")


def create_chassis_tables_v3() -> None:
    """Version 3: the job leases (chassis.lease: a scheduled job runs once per period across instances)."""
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


def drop_chassis_tables_v3() -> None:
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
