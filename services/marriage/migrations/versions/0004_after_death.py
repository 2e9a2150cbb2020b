"""身后一件事: the marriage a death ended, kept to restore it if the death is revoked

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "death_record",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("marriage_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["marriage_id"], ["marriage.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_death_record_resident_id", "death_record", ["resident_id"])


def downgrade():
    op.drop_table("death_record")
