"""the payment run's ledger as the chassis declares it (chassis.payment_runs): a cycle belongs to a
scope (assistance's is always '', one city-wide cycle a month), unique by scope and month

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# 0001 left the month's unique constraint unnamed: PostgreSQL named it, SQLite (the dev default,
# whose ALTERs alembic runs by copying the table) gets the name from this convention
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_name() -> str:
    return "payment_cycle_month_key" if op.get_bind().dialect.name == "postgresql" else "uq_payment_cycle_month"


def upgrade():
    old = _old_name()
    with op.batch_alter_table("payment_cycle", naming_convention=_SQLITE_NAMES) as batch:
        batch.add_column(sa.Column("scope", sa.String(length=12), server_default=sa.text("''"), nullable=False))
        batch.drop_constraint(old, type_="unique")
        batch.create_unique_constraint("uq_payment_cycle_month", ["scope", "month"])


def downgrade():
    old = _old_name()
    with op.batch_alter_table("payment_cycle", naming_convention=_SQLITE_NAMES) as batch:
        batch.drop_constraint("uq_payment_cycle_month", type_="unique")
        batch.create_unique_constraint(old, ["month"])
        batch.drop_column("scope")
