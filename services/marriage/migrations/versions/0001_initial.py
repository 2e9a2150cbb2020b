"""marriage registry, appointments, divorces, certificates; chassis tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:06:38.452176
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
        "certificate_serial",
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("office_code", "year", "kind"),
    )
    op.create_table(
        "office",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("slot_capacity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "appointment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("slot_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("party_a_id", sa.String(length=18), nullable=False),
        sa.Column("party_a_name", sa.String(length=60), nullable=False),
        sa.Column("party_b_id", sa.String(length=18), nullable=False),
        sa.Column("party_b_name", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("matter_id", sa.String(length=36), nullable=True),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("booked_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_code"],
            ["office.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appointment_slot", "appointment", ["office_code", "slot_start"], unique=False)
    op.create_table(
        "marriage",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("party_a_id", sa.String(length=18), nullable=False),
        sa.Column("party_a_name", sa.String(length=60), nullable=False),
        sa.Column("party_b_id", sa.String(length=18), nullable=False),
        sa.Column("party_b_name", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("matter_id", sa.String(length=36), nullable=True),
        sa.Column("new_style_wedding_notice_given", sa.Boolean(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["office_code"],
            ["office.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_marriage_party_a_id"), "marriage", ["party_a_id"], unique=False)
    op.create_index(op.f("ix_marriage_party_b_id"), "marriage", ["party_b_id"], unique=False)
    op.create_table(
        "divorce",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("marriage_id", sa.String(length=36), nullable=False),
        sa.Column("office_code", sa.String(length=6), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("cooling_off_ends", sa.Date(), nullable=False),
        sa.Column("certificate_window_ends", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=18), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["marriage_id"],
            ["marriage.id"],
        ),
        sa.ForeignKeyConstraint(
            ["office_code"],
            ["office.code"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_divorce_marriage_id"), "divorce", ["marriage_id"], unique=False)
    op.create_table(
        "spouse",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("marriage_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["marriage_id"],
            ["marriage.id"],
        ),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_table(
        "certificate",
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("marriage_id", sa.String(length=36), nullable=False),
        sa.Column("divorce_id", sa.String(length=36), nullable=True),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["divorce_id"],
            ["divorce.id"],
        ),
        sa.ForeignKeyConstraint(
            ["marriage_id"],
            ["marriage.id"],
        ),
        sa.PrimaryKeyConstraint("number"),
    )
    op.create_index(op.f("ix_certificate_marriage_id"), "certificate", ["marriage_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_certificate_marriage_id"), table_name="certificate")
    op.drop_table("certificate")
    op.drop_table("spouse")
    op.drop_index(op.f("ix_divorce_marriage_id"), table_name="divorce")
    op.drop_table("divorce")
    op.drop_index(op.f("ix_marriage_party_b_id"), table_name="marriage")
    op.drop_index(op.f("ix_marriage_party_a_id"), table_name="marriage")
    op.drop_table("marriage")
    op.drop_index("ix_appointment_slot", table_name="appointment")
    op.drop_table("appointment")
    op.drop_table("office")
    op.drop_table("certificate_serial")
    drop_chassis_tables()
