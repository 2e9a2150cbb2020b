"""动态复核 in bulk: an economic check may be a periodic re-check of an entitlement instead of an
application's check; it names the entitlement and the review date (the cycle) it was made for.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("economic_check") as batch:  # batch: SQLite rebuilds the table
        batch.alter_column("application_id", existing_type=sa.String(36), nullable=True)
        batch.add_column(
            sa.Column(
                "entitlement_id",
                sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                sa.ForeignKey("entitlement.id", name="fk_economic_check_entitlement"),  # batch mode needs a name
                nullable=True,
            )
        )
        batch.add_column(sa.Column("for_review_on", sa.Date(), nullable=True))
        batch.create_index("ix_economic_check_review", ["entitlement_id", "for_review_on"])
        batch.create_check_constraint(
            "ck_economic_check_subject",
            "application_id IS NOT NULL OR (entitlement_id IS NOT NULL AND for_review_on IS NOT NULL)",
        )


def downgrade():
    op.execute("DELETE FROM check_fetch WHERE check_id IN (SELECT id FROM economic_check WHERE application_id IS NULL)")
    op.execute("DELETE FROM economic_check WHERE application_id IS NULL")
    with op.batch_alter_table("economic_check") as batch:
        batch.drop_constraint("ck_economic_check_subject", type_="check")
        batch.drop_index("ix_economic_check_review")
        batch.drop_column("for_review_on")
        batch.drop_column("entitlement_id")
        batch.alter_column("application_id", existing_type=sa.String(36), nullable=False)
