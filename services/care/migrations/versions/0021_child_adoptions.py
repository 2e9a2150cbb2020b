"""child welfare records the adoption of a child a welfare institution raised (收养登记)

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "child_adoption",
        sa.Column("adoption_id", sa.String(36), primary_key=True),
        sa.Column("child_resident_id", sa.String(18), nullable=False, index=True),
        sa.Column("institution_code", sa.String(40), nullable=False),
        sa.Column("adopted_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
    )


def downgrade():
    op.drop_table("child_adoption")
