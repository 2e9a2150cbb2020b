"""chassis job leases: a scheduled job runs once per period across this service's instances

Revision ID: 0003
Revises: 0002
"""

from chassis.migrations import create_chassis_tables_v4, drop_chassis_tables_v4

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables_v4()


def downgrade():
    drop_chassis_tables_v4()
