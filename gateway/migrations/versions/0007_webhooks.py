"""Signed webhooks: partners' endpoints, the types approved for them, requests to widen, the
webhook outbox (one row per event and endpoint) and the delivery log.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partner", sa.String(40), nullable=False, index=True),
        sa.Column("organisation", sa.String(80)),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("pending_event_types", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(80), nullable=False),
        sa.Column("previous_secret", sa.String(80)),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True)),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column("disabled_reason", sa.Text()),
    )
    op.create_table(
        "webhook_grant",
        sa.Column("partner", sa.String(40), primary_key=True),
        sa.Column("event_type", sa.String(120), primary_key=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(80), nullable=False),
    )
    op.create_table(
        "webhook_approval",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("partner", sa.String(40), nullable=False, index=True),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.Column("decided_by", sa.String(80)),
    )
    op.create_table(
        "webhook_message",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("source", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("matter_id", sa.String(36)),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("last_status", sa.Integer()),
        sa.Column("last_error", sa.Text()),
    )
    # the deliverer's two questions: what is due, and is an earlier one of this person still pending
    op.create_index(
        "ix_webhook_message_pending",
        "webhook_message",
        ["next_attempt_at"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_webhook_message_subject", "webhook_message", ["endpoint_id", "subject", "state"])
    op.create_index("ix_webhook_message_committed", "webhook_message", ["endpoint_id", "event_time"])
    op.create_table(
        "webhook_attempt",
        sa.Column("id", _BigId, primary_key=True, autoincrement=True),
        sa.Column("endpoint_id", sa.String(36), nullable=False, index=True),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer()),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
    )


def downgrade():
    for table in ("webhook_attempt", "webhook_message", "webhook_approval", "webhook_grant", "webhook_endpoint"):
        op.drop_table(table)
