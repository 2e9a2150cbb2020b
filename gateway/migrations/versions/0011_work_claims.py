"""Work-queue claims (认领): which caseworker is working which case, so two do not work one

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    # the primary key is the record, not (record, caseworker): a second claim of a claimed case
    # cannot be inserted, whichever gateway instance takes it
    op.create_table(
        "work_claim",
        sa.Column("record_kind", sa.String(40), primary_key=True),
        sa.Column("record_id", sa.String(64), primary_key=True),
        sa.Column("queue", sa.String(60), nullable=False),
        sa.Column("claimed_by", sa.String(80), nullable=False, index=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("work_claim")
