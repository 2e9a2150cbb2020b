"""members of supported households, whatever their age: the daily job grants the home-care
voucher to those who reach the voucher age after their household's approval

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "supported_member",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id", "programme"),
    )
    op.create_index("ix_supported_member_household_id", "supported_member", ["household_id"])
    op.create_index("ix_supported_member_birth_date", "supported_member", ["birth_date"])


def downgrade():
    op.drop_index("ix_supported_member_birth_date", table_name="supported_member")
    op.drop_index("ix_supported_member_household_id", table_name="supported_member")
    op.drop_table("supported_member")
