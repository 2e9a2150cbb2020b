"""A matter can be revoked (身后一件事 made in error); its owners then report their steps reversed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("matter") as batch:
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("matter") as batch:
        batch.drop_column("revoked_at")
