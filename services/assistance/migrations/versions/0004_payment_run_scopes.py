"""the payment run's ledger as the chassis declares it (chassis.payment_runs): a cycle belongs to a
scope (assistance's is always '', one city-wide cycle a month), unique by scope and month

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("payment_cycle", sa.Column("scope", sa.String(length=12), server_default=sa.text("''"),
                                             nullable=False))
    op.drop_constraint("payment_cycle_month_key", "payment_cycle", type_="unique")
    op.create_unique_constraint("uq_payment_cycle_month", "payment_cycle", ["scope", "month"])


def downgrade():
    op.drop_constraint("uq_payment_cycle_month", "payment_cycle", type_="unique")
    op.create_unique_constraint("payment_cycle_month_key", "payment_cycle", ["month"])
    op.drop_column("payment_cycle", "scope")
