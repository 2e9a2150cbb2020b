"""risk alerts of proactive discovery (主动发现) and how soon a caseworker visits; the periodic
re-check (复核) of entitlements and how often it comes; newborn members known by their birth
certificate until the hukou gives them a resident ID

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SEEDS = [
    (
        "000000",
        "assistance.alert_visit_days",
        date(2021, 1, 1),
        7,
        "assumed: a caseworker visits a household within 7 days of a risk signal (replace with the local rule)",
    ),
    (
        "000000",
        "assistance.review_months",
        date(2021, 1, 1),
        {"dibao": 12, "dibao_edge": 12, "tekun": 12, "disability_living": 12, "disability_care": 12},
        "national 《最低生活保障审核确认办法》: households with stable income re-checked yearly, others every "
        "six months; 12 assumed for every programme until a region adds its own version",
    ),
]


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
    op.add_column("entitlement", sa.Column("next_review_on", sa.Date(), nullable=True))
    with op.batch_alter_table("member") as batch:  # batch: SQLite rebuilds the table
        batch.alter_column("resident_id", existing_type=sa.String(length=18), nullable=True)
        batch.add_column(sa.Column("birth_certificate_number", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("birth_date", sa.Date(), nullable=True))
    op.create_index("ix_entitlement_next_review_on", "entitlement", ["next_review_on"])
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": effective_from,
                "value": value,
                "source": source,
                "recorded_at": datetime(2026, 11, 29, tzinfo=UTC),
                "recorded_by": "migration assistance 0003",
            }
            for region, name, effective_from, value, source in SEEDS
        ],
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM policy_parameters WHERE recorded_by = 'migration assistance 0003'"))
    with op.batch_alter_table("member") as batch:
        batch.drop_column("birth_date")
        batch.drop_column("birth_certificate_number")
        batch.alter_column("resident_id", existing_type=sa.String(length=18), nullable=False)
    with op.batch_alter_table("entitlement") as batch:  # batch: SQLite rebuilds the table
        batch.drop_index("ix_entitlement_next_review_on")
        batch.drop_column("next_review_on")
    op.drop_index("ix_alert_state", table_name="alert")
    op.drop_index("ix_alert_region_code", table_name="alert")
    op.drop_index("ix_alert_household_id", table_name="alert")
    op.drop_table("alert")
