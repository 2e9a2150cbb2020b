"""admissions to and discharges from institutions, with 集中供养 placements

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "admission",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("institution", sa.String(length=40), nullable=False),
        sa.Column("bed_type", sa.String(length=10), nullable=False),
        sa.Column("admitted_on", sa.Date(), nullable=False),
        sa.Column("discharged_on", sa.Date(), nullable=True),
        sa.Column("discharge_reason", sa.Text(), nullable=True),
        sa.Column("concentrated_support", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_admission_resident_id", "admission", ["resident_id"])
    op.create_index("ix_admission_institution", "admission", ["institution"])


def downgrade():
    op.drop_index("ix_admission_institution", table_name="admission")
    op.drop_index("ix_admission_resident_id", table_name="admission")
    op.drop_table("admission")
