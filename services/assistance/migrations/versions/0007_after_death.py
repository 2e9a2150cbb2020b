"""身后一件事: what a death changed (to undo it on revocation), overpayments with their recovery,
and back pay after a revocation

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

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "death_record",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("reversed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_death_record_resident_id", "death_record", ["resident_id"])
    op.create_table(
        "overpayment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("entitlement_id", _Id, nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_overpayment_case_id", "overpayment", ["case_id"])
    op.create_index("ix_overpayment_household_id", "overpayment", ["household_id"])
    op.create_table(
        "recovery",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("overpayment_id", sa.String(length=36), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("recovered_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["overpayment_id"], ["overpayment.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("overpayment_id"),
    )
    op.create_table(
        "back_pay",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("entitlement_id", _Id, nullable=False),
        sa.Column("months", sa.JSON(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_back_pay_case_id", "back_pay", ["case_id"])
    op.create_index("ix_back_pay_household_id", "back_pay", ["household_id"])


def downgrade():
    for table in ("back_pay", "recovery", "overpayment", "death_record"):
        op.drop_table(table)
