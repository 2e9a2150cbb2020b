"""Tables the chassis keeps in every service's own database (each service migrates them with alembic).

- outbox: events written in the same transaction as the state change they report.
- inbox: (consumer, event id) pairs already handled; the unique key makes handlers idempotent.
- audit_log: who did what, when, why and under which policy version; append-only.
- policy_parameters: amounts, ratios, thresholds and legal periods, versioned by region and date.
- command_log: the reply to each RPC command that changed something, kept with the change, so a
  request the broker delivers again (its worker died after the commit, before the ack) is
  answered from here instead of running twice.
- job_leases: which period each scheduled job last ran for (chassis.lease), so N instances run an
  hourly job once an hour between them.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from chassis.types import UtcDateTime

__all__ = [
    "chassis_metadata",
    "outbox",
    "inbox",
    "audit_log",
    "audit_seal",
    "policy_parameters",
    "command_log",
    "job_leases",
]

chassis_metadata = MetaData()

# BigInteger primary keys become INTEGER on SQLite so they still auto-increment there.
_Id = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    chassis_metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    # the AMQP message id: the event's id, or for a partner's filtered copy an id derived from it
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(120), nullable=False),
    Column("exchange", String(80), nullable=False),
    Column("routing_key", String(160), nullable=False),
    Column("body", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", UtcDateTime),  # after a refusal (unroutable, nacked): not before this
    Column("last_error", Text),
    Index("ix_outbox_unsent", "id", postgresql_where=text("sent_at IS NULL"), sqlite_where=text("sent_at IS NULL")),
)

inbox = Table(
    "inbox",
    chassis_metadata,
    Column("consumer", String(160), primary_key=True),
    Column("event_id", String(36), primary_key=True),
    Column("handled_at", UtcDateTime, nullable=False),
)

audit_log = Table(
    "audit_log",
    chassis_metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor_id", String(80), nullable=False),
    Column("actor_role", String(40), nullable=False),
    Column("actor_area", String(12)),
    Column("action", String(80), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("reason", Text),
    Column("policy_version", Text),
    Column("details", JSON),
    # the inserting transaction (txid_current(), set by a trigger whatever the insert says): the
    # seal chains rows in (txid, id) order, and seals only transactions that have all ended
    Column("txid", BigInteger),
    Index("ix_audit_subject", "subject"),
)

# The hash chain over audit_log (chassis.audit seal / verify): one row per audit row, in chain
# order, each hash covering the one before it; append-only like audit_log, and its head is
# copied to a checkpoint file outside the database at every seal.
audit_seal = Table(
    "audit_seal",
    chassis_metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("audit_id", BigInteger, nullable=False, unique=True),
    Column("txid", BigInteger, nullable=False),
    Column("chain_hash", String(64), nullable=False),
    Column("sealed_at", UtcDateTime, nullable=False),
)

policy_parameters = Table(
    "policy_parameters",
    chassis_metadata,
    Column("id", _Id, primary_key=True, autoincrement=True),
    Column("region_code", String(12), nullable=False),  # "000000" = national
    Column("name", String(120), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("value", JSON, nullable=False),
    Column("source", Text, nullable=False),  # the document the figure comes from
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("recorded_by", String(80), nullable=False),
    UniqueConstraint("region_code", "name", "effective_from", name="uq_policy_version"),
)

command_log = Table(
    "command_log",
    chassis_metadata,
    Column("request_id", String(64), primary_key=True),  # the RPC request's correlation id
    Column("entrypoint", String(160), nullable=False),
    Column("reply", Text, nullable=False),  # as nameko serialised it (JSON)
    Column("handled_at", UtcDateTime, nullable=False),
)

job_leases = Table(
    "job_leases",
    chassis_metadata,
    Column("job", String(120), primary_key=True),
    Column("period_start", UtcDateTime, nullable=False),  # the period it last ran for
    Column("holder", String(120), nullable=False),  # host:pid of the instance that ran it
    Column("taken_at", UtcDateTime, nullable=False),
    Column("runs", Integer, nullable=False),  # every run ever: one per period, never two
)
