"""the old-age allowance's monthly payment run: its ledger (chassis.payment_runs), the account each
person is paid to, and why an enrolment ended

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

from chassis.payment_runs import create_payment_run_tables, drop_payment_run_tables

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    create_payment_run_tables("allowance_payment", sa.Column("resident_id", sa.String(length=18), nullable=False))
    op.add_column("elder", sa.Column("bank_account", sa.String(length=40), nullable=True))
    op.add_column("allowance_enrolment", sa.Column("end_reason", sa.Text(), nullable=True))


def downgrade():
    op.drop_column("allowance_enrolment", "end_reason")
    op.drop_column("elder", "bank_account")
    drop_payment_run_tables("allowance_payment")
