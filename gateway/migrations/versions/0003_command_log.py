"""The chassis command log: a redelivered RPC command is answered, not run again.

Revision ID: 0003
Revises: 0002
"""

from chassis.migrations import create_chassis_tables_v2, drop_chassis_tables_v2

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_chassis_tables_v2()


def downgrade() -> None:
    drop_chassis_tables_v2()
