"""the tamper-evident audit: audit_log rows take their transaction's id, and audit_seal holds
their hash chain (chassis.audit seal / verify; chassis.migrations.create_chassis_tables_v3)

Revision ID: 0024
Revises: 0023
"""

from chassis.migrations import create_chassis_tables_v3, drop_chassis_tables_v3

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables_v3()


def downgrade():
    drop_chassis_tables_v3()
