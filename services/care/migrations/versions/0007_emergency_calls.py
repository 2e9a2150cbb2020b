"""emergency calls from wearable devices, with dispatch and response time

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "emergency_call",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=60), nullable=False),
        sa.Column("device_call_id", sa.String(length=60), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("raised_at", UtcDateTime(), nullable=False),
        sa.Column("dispatched_at", UtcDateTime(), nullable=True),
        sa.Column("responder", sa.String(length=80), nullable=True),
        sa.Column("arrived_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "device_call_id", name="uq_emergency_call_device"),
    )
    op.create_index("ix_emergency_call_resident_id", "emergency_call", ["resident_id"])
    op.create_index("ix_emergency_call_region_code", "emergency_call", ["region_code"])
    op.create_index("ix_emergency_call_state", "emergency_call", ["state"])


def downgrade():
    op.drop_index("ix_emergency_call_state", table_name="emergency_call")
    op.drop_index("ix_emergency_call_region_code", table_name="emergency_call")
    op.drop_index("ix_emergency_call_resident_id", table_name="emergency_call")
    op.drop_table("emergency_call")
