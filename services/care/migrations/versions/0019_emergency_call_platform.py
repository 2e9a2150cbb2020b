"""emergency calls remember the platform that reported them, so a call sent again is answered as
the same call even after its device was retired

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("emergency_call", sa.Column("platform", sa.String(length=60), nullable=True))


def downgrade():
    with op.batch_alter_table("emergency_call") as batch:
        batch.drop_column("platform")
