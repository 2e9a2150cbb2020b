"""补发: the payment ledger takes top-ups, the difference owed for a month paid short (a revoked
death's back pay), paid beside the month's ordinary payment (chassis.payment_runs, version 2)

Revision ID: 0008
Revises: 0007
"""

from chassis.payment_runs import add_payment_top_ups, drop_payment_top_ups

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    add_payment_top_ups("payment", "entitlement_id")


def downgrade():
    drop_payment_top_ups("payment", "entitlement_id")
