"""family care beds (家庭养老床位)

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "family_bed",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("institution", sa.String(length=40), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("established_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("assessed_level", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_index("ix_family_bed_institution", "family_bed", ["institution"])
    op.create_index("ix_family_bed_region_code", "family_bed", ["region_code"])


def downgrade():
    op.drop_index("ix_family_bed_region_code", table_name="family_bed")
    op.drop_index("ix_family_bed_institution", table_name="family_bed")
    op.drop_table("family_bed")
