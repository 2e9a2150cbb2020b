"""chassis job leases: a scheduled job runs once per period across this service's instances

Revision ID: 0006
Revises: 0005
"""

from chassis.migrations import create_chassis_tables_v4, drop_chassis_tables_v4

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables_v4()


def downgrade():
    drop_chassis_tables_v4()
