"""households referred to charity and charity's answers (政府救助与慈善救助衔接)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "charity_referral",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("need", sa.String(length=20), nullable=False),
        sa.Column("coverage", sa.String(length=10), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("referred_at", UtcDateTime(), nullable=False),
        sa.Column("referred_by", sa.String(length=80), nullable=False),
        sa.Column("aid_fen", sa.BigInteger(), nullable=True),
        sa.Column("campaign_id", sa.String(length=36), nullable=True),
        sa.Column("organisation", sa.String(length=120), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["household_id"], ["household.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_charity_referral_household_id", "charity_referral", ["household_id"])


def downgrade():
    op.drop_index("ix_charity_referral_household_id", table_name="charity_referral")
    op.drop_table("charity_referral")
