"""身后一件事: which correction of the date of death a death record stands on, so a correction
that waited in retry while a later one was handled is recognised as stale

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("death_record", sa.Column("date_revision", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("death_record") as batch:
        batch.drop_column("date_revision")
