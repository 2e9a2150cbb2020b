"""Wearable devices registered to a person, with the platform operating them: emergency calls are
taken only from that platform, for that person, while the registration is in force

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "device_registration",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=60), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("platform", sa.String(length=60), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("retired_on", sa.Date(), nullable=True),
        sa.Column("retire_reason", sa.Text(), nullable=True),
        sa.Column("registered_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_device_registration_device_id", "device_registration", ["device_id"])
    op.create_index("ix_device_registration_resident_id", "device_registration", ["resident_id"])
    op.create_index("ix_device_registration_region_code", "device_registration", ["region_code"])
    op.create_index(
        "uq_device_registration_in_service",
        "device_registration",
        ["device_id"],
        unique=True,
        postgresql_where=sa.text("retired_on IS NULL"),
        sqlite_where=sa.text("retired_on IS NULL"),
    )


def downgrade():
    op.drop_index("uq_device_registration_in_service", table_name="device_registration")
    op.drop_index("ix_device_registration_region_code", table_name="device_registration")
    op.drop_index("ix_device_registration_resident_id", table_name="device_registration")
    op.drop_index("ix_device_registration_device_id", table_name="device_registration")
    op.drop_table("device_registration")
