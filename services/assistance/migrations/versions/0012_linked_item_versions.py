"""救助一件事: the linked-item catalogue managed as versions (add, change as a new version, retire)

Revision ID: 0012
Revises: 0011
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("linked_item", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "linked_item_version",
        sa.Column("code", sa.String(40), sa.ForeignKey("linked_item.code"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("programmes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("recorded_by", sa.String(80), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    # the catalogue as the migrations seeded it is each item's version 1
    now = datetime.now(UTC)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO linked_item_version "
            "(code, version, title, owner, deadline_days, programmes, active, recorded_at, recorded_by, reason) "
            "SELECT code, 1, title, owner, deadline_days, programmes, active, :now, 'migration assistance 0011', "
            "'the catalogue as first seeded' FROM linked_item"
        ),
        {"now": now},
    )


def downgrade():
    op.drop_table("linked_item_version")
    with op.batch_alter_table("linked_item") as batch:
        batch.drop_column("version")
