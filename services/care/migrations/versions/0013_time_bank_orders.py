"""home-care orders paid with time-bank credits (时间银行): the order's payment, its minutes and the
time bank's answer; the minutes each service costs as policy

Revision ID: 0013
Revises: 0012
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

POLICY = [
    (
        NATIONAL,
        "care.time_bank_minutes",
        date(2021, 1, 1),
        {
            "meals": 30,
            "cleaning": 120,
            "emergency_help": 60,
            "bathing": 60,
            "mobility": 60,
            "medical_help": 90,
            "recreation": 60,
        },
        "assumed: the time-bank minutes each home-care service costs, about its usual duration (seed-002-003 "
        "[003]: 养老服务时间银行积分兑换; the documents give no exchange table)",
    ),
]


def upgrade():
    op.add_column("service_order", sa.Column("payment", sa.String(length=10), nullable=False, server_default="voucher"))
    op.add_column("service_order", sa.Column("credit_minutes", sa.Integer(), nullable=True))
    op.add_column("service_order", sa.Column("credits_state", sa.String(length=10), nullable=True))
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": effective,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration care 0013",
            }
            for region, name, effective, value, source in POLICY
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration care 0013"))
    op.drop_column("service_order", "credits_state")
    op.drop_column("service_order", "credit_minutes")
    op.drop_column("service_order", "payment")
