"""身后一件事: the old-age allowance paid for months after a death, recorded for recovery (追回),
one per death, recounted as its date is corrected or the bank answers, cancelled on a revocation

Revision ID: 0023
Revises: 0022
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "allowance_recovery",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_allowance_recovery_resident_id", "allowance_recovery", ["resident_id"])


def downgrade():
    op.drop_index("ix_allowance_recovery_resident_id", table_name="allowance_recovery")
    op.drop_table("allowance_recovery")
