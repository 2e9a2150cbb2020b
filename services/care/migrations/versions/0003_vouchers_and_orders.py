"""home-care vouchers (养老服务补贴) from assistance's approvals, service orders, drawdowns

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

POLICY = [
    ("care.voucher_min_age", 60, "seed notes: 特困, 低保 elderly get government-paid home-care services; 60 = 老年人"),
    (
        "care.voucher_monthly_fen",
        {"tekun": 60000, "dibao": 30000},
        "assumed: 600 / 300 yuan a month of home-care services (the documents give no amounts)",
    ),
]


def upgrade():
    op.create_table(
        "voucher_eligibility",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("monthly_fen", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", "programme"),
    )
    op.create_index("ix_voucher_eligibility_household_id", "voucher_eligibility", ["household_id"])
    op.create_table(
        "service_order",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("provider", sa.String(length=60), nullable=False),
        sa.Column("price_fen", sa.Integer(), nullable=False),
        sa.Column("for_month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("requested_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_order_resident_id", "service_order", ["resident_id"])
    op.create_index("ix_service_order_region_code", "service_order", ["region_code"])
    op.create_index("ix_service_order_provider", "service_order", ["provider"])
    op.create_table(
        "voucher_drawdown",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("voucher_fen", sa.Integer(), nullable=False),
        sa.Column("copay_fen", sa.Integer(), nullable=False),
        sa.Column("drawn_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("order_id"),
    )
    op.create_index("ix_voucher_drawdown_person_month", "voucher_drawdown", ["resident_id", "month"])
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": name,
                "effective_from": date(2021, 1, 1),
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration care 0003",
            }
            for name, value, source in POLICY
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration care 0003"))
    op.drop_index("ix_voucher_drawdown_person_month", table_name="voucher_drawdown")
    op.drop_table("voucher_drawdown")
    op.drop_index("ix_service_order_provider", table_name="service_order")
    op.drop_index("ix_service_order_region_code", table_name="service_order")
    op.drop_index("ix_service_order_resident_id", table_name="service_order")
    op.drop_table("service_order")
    op.drop_index("ix_voucher_eligibility_household_id", table_name="voucher_eligibility")
    op.drop_table("voucher_eligibility")
