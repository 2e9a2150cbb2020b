"""elderly registry, old-age allowance enrolments and job runs; chassis tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from chassis.migrations import create_chassis_tables, drop_chassis_tables
from chassis.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables()
    op.create_table(
        "elder",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(length=6), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_index("ix_elder_region_code", "elder", ["region_code"])
    op.create_index("ix_elder_birth_date", "elder", ["birth_date"])
    op.create_table(
        "allowance_enrolment",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("starts_month", sa.Date(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_index("ix_allowance_enrolment_region_code", "allowance_enrolment", ["region_code"])
    op.create_table(
        "allowance_job_run",
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("enrolled", sa.Integer(), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_on"),
    )


def downgrade():
    op.drop_table("allowance_job_run")
    op.drop_index("ix_allowance_enrolment_region_code", table_name="allowance_enrolment")
    op.drop_table("allowance_enrolment")
    op.drop_index("ix_elder_birth_date", table_name="elder")
    op.drop_index("ix_elder_region_code", table_name="elder")
    op.drop_table("elder")
    drop_chassis_tables()
