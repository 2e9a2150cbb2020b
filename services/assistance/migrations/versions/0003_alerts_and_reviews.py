"""risk alerts of proactive discovery (主动发现), and how soon a caseworker visits

Revision ID: 0003
Revises: 0002
"""
from datetime import date, datetime, timezone

import sqlalchemy as sa
from alembic import op

from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VISIT_DAYS = ("000000", "assistance.alert_visit_days", date(2021, 1, 1), 7,
              "assumed: a caseworker visits a household within 7 days of a risk signal (replace with the local rule)")


def upgrade() -> None:
    op.create_table(
        "alert",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("source_event_id", sa.String(length=36), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("visit_due", sa.Date(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=80), nullable=True),
        sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
        sa.Column("resolved_by", sa.String(length=80), nullable=True),
        sa.Column("resolved_at", UtcDateTime(), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_event_id", "household_id", name="uq_alert_signal"),
    )
    op.create_index("ix_alert_household_id", "alert", ["household_id"])
    op.create_index("ix_alert_region_code", "alert", ["region_code"])
    op.create_index("ix_alert_state", "alert", ["state"])
    region, name, effective_from, value, source = VISIT_DAYS
    op.bulk_insert(policy_parameters, [{
        "region_code": region, "name": name, "effective_from": effective_from, "value": value, "source": source,
        "recorded_at": datetime(2026, 11, 29, tzinfo=timezone.utc), "recorded_by": "migration assistance 0003"}])


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM policy_parameters WHERE name = 'assistance.alert_visit_days' "
                       "AND recorded_by = 'migration assistance 0003'"))
    op.drop_index("ix_alert_state", table_name="alert")
    op.drop_index("ix_alert_region_code", table_name="alert")
    op.drop_index("ix_alert_household_id", table_name="alert")
    op.drop_table("alert")
