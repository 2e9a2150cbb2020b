"""The allowance's payment ledger takes top-ups beside the month's ordinary payment, as every
ledger of chassis.payment_runs (version 2); the allowance pays none yet

Revision ID: 0015
Revises: 0014
"""

from chassis.payment_runs import add_payment_top_ups, drop_payment_top_ups

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    add_payment_top_ups("allowance_payment", "resident_id")


def downgrade():
    drop_payment_top_ups("allowance_payment", "resident_id")
