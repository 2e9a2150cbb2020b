"""身后一件事: what care stopped on a death (to restore it on revocation), reviews of children whose
last caregiver died, and the caregiver's ID on the child

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("child") as batch:
        batch.add_column(sa.Column("guardian_resident_id", sa.String(length=18), nullable=True))
    op.create_index("ix_child_guardian_resident_id", "child", ["guardian_resident_id"])
    op.create_table(
        "death_record",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("reversed_at", UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_death_record_resident_id", "death_record", ["resident_id"])
    op.create_table(
        "child_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("child_resident_id", sa.String(length=18), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_child_review_child_resident_id", "child_review", ["child_resident_id"])
    op.create_index("ix_child_review_village_code", "child_review", ["village_code"])
    op.create_index("ix_child_review_case_id", "child_review", ["case_id"])


def downgrade():
    op.drop_table("child_review")
    op.drop_table("death_record")
    op.drop_index("ix_child_guardian_resident_id", table_name="child")
    with op.batch_alter_table("child") as batch:
        batch.drop_column("guardian_resident_id")
