"""What ended a home-care voucher or a household's support (`ended_by`), and assistance's ends of
a benefit paired with their resumptions (`entitlement_end`), so that `assistance.entitlement_resumed`
reopens exactly what its end closed

Rows ended before this revision have no `ended_by` and no `entitlement_end`: a resumption of such
an end reopens nothing (as before), care's own death step still restores what it closed.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("voucher_eligibility", "supported_member"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("ended_by", sa.Text(), nullable=True))
    op.create_table(
        "entitlement_end",
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("ended", sa.Integer(), nullable=False),
        sa.Column("resumed", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("household_id", "programme", "ends_on"),
    )


def downgrade():
    op.drop_table("entitlement_end")
    for table in ("supported_member", "voucher_eligibility"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("ended_by")
