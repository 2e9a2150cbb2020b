"""补录: a marriage entered afterwards from historical evidence is marked so, with its evidence

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
    op.add_column("marriage", sa.Column("back_entered", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("marriage", sa.Column("evidence", sa.JSON()))


def downgrade():
    with op.batch_alter_table("marriage") as batch:
        batch.drop_column("evidence")
        batch.drop_column("back_entered")
