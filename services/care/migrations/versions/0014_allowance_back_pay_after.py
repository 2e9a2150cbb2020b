"""A resumed allowance (a revoked death) is paid back for the months frozen while it was ended

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("allowance_enrolment") as batch:
        batch.add_column(sa.Column("back_pay_after", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("allowance_enrolment") as batch:
        batch.drop_column("back_pay_after")
