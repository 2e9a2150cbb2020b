"""Matter steps carry their own spec (title, deadline, phase), so matter types whose steps are
data (救助一件事's linked items) fold like the fixed ones; birth notices are remembered so a repeated
hospital notification is one birth.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("matter_step") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("title", sa.String(length=200), nullable=False, server_default=""))
        batch.add_column(sa.Column("deadline_days", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("starts_on", sa.String(length=120), nullable=True))
    with op.batch_alter_table("matter_step") as batch:  # defaults only carried existing rows over
        batch.alter_column("position", server_default=None)
        batch.alter_column("title", server_default=None)
        batch.alter_column("deadline_days", server_default=None)
    op.create_table(
        "birth_notice",
        sa.Column("hospital", sa.String(length=120), nullable=False),
        sa.Column("birth_certificate_number", sa.String(length=40), nullable=False),
        sa.Column("birth_id", sa.String(length=36), nullable=False),
        sa.Column("matter_id", sa.String(length=36), nullable=True),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("hospital", "birth_certificate_number"),
        sa.UniqueConstraint("birth_id"),
    )


def downgrade():
    op.drop_table("birth_notice")
    with op.batch_alter_table("matter_step") as batch:
        for column in ("starts_on", "deadline_days", "title", "position"):
            batch.drop_column(column)
