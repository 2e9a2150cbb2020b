"""idempotency records, matter progress projection; chassis tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:06:38.335457
"""

import sqlalchemy as sa
from alembic import op

from chassis.migrations import create_chassis_tables, drop_chassis_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables()
    op.create_table(
        "idempotency_record",
        sa.Column("principal", sa.String(length=80), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key"),
    )
    op.create_table(
        "matter",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matter_type", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opened_by", sa.String(length=40), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_matter_region_code"), "matter", ["region_code"], unique=False)
    op.create_table(
        "matter_step",
        sa.Column("matter_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matter.id"],
        ),
        sa.PrimaryKeyConstraint("matter_id", "step"),
    )
    op.create_table(
        "matter_subject",
        sa.Column("matter_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matter.id"],
        ),
        sa.PrimaryKeyConstraint("matter_id", "resident_id"),
    )
    op.create_index(op.f("ix_matter_subject_resident_id"), "matter_subject", ["resident_id"], unique=False)
    op.create_table(
        "step_report",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("matter_id", sa.String(length=36), nullable=False),
        sa.Column("step", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("reported_by", sa.String(length=40), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("applied", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["matter_id"],
            ["matter.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    op.create_index(op.f("ix_step_report_matter_id"), "step_report", ["matter_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_step_report_matter_id"), table_name="step_report")
    op.drop_table("step_report")
    op.drop_index(op.f("ix_matter_subject_resident_id"), table_name="matter_subject")
    op.drop_table("matter_subject")
    op.drop_table("matter_step")
    op.drop_index(op.f("ix_matter_region_code"), table_name="matter")
    op.drop_table("matter")
    op.drop_table("idempotency_record")
    drop_chassis_tables()
