"""households, applications, economic checks, entitlements, payments; chassis tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 08:27:50.959176
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
        "household",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("bank_account", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_household_region_code"), "household", ["region_code"], unique=False)
    op.create_table(
        "payment_cycle",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("month"),
    )
    op.create_table(
        "application",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_by", sa.String(length=80), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("decision_due", sa.Date(), nullable=True),
        sa.Column("approval_level", sa.String(length=10), nullable=False),
        sa.Column("notice_ends", sa.Date(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("monthly_amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=True),
        sa.Column("matter_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_application_household_id"), "application", ["household_id"], unique=False)
    op.create_index(op.f("ix_application_region_code"), "application", ["region_code"], unique=False)
    op.create_index(op.f("ix_application_state"), "application", ["state"], unique=False)
    op.create_table(
        "member",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("monthly_income_fen", sa.BigInteger(), nullable=False),
        sa.Column("employment_cost_fen", sa.BigInteger(), nullable=False),
        sa.Column("seriously_ill", sa.Boolean(), nullable=False),
        sa.Column("severely_disabled", sa.Boolean(), nullable=False),
        sa.Column("pregnant", sa.Boolean(), nullable=False),
        sa.Column("single_person_listing", sa.Boolean(), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("left_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_member_household_id"), "member", ["household_id"], unique=False)
    op.create_index(op.f("ix_member_resident_id"), "member", ["resident_id"], unique=False)
    op.create_table(
        "application_transition",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("from_state", sa.String(length=20), nullable=True),
        sa.Column("to_state", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("actor_id", sa.String(length=80), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_application_transition_application_id"), "application_transition", ["application_id"], unique=False
    )
    op.create_table(
        "economic_check",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_economic_check_application_id"), "economic_check", ["application_id"], unique=False)
    op.create_table(
        "entitlement",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("programme", sa.String(length=30), nullable=False),
        sa.Column("monthly_amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("gradual_exit_until", sa.Date(), nullable=True),
        sa.Column("exit_reason", sa.Text(), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("application_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["application.id"],
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["household.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_entitlement_active", "entitlement", ["starts_on", "ends_on"], unique=False)
    op.create_index(op.f("ix_entitlement_household_id"), "entitlement", ["household_id"], unique=False)
    op.create_table(
        "check_fetch",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("check_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["economic_check.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_check_fetch_check_id"), "check_fetch", ["check_id"], unique=False)
    op.create_table(
        "payment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=20), nullable=False),
        sa.Column("entitlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("for_month", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_account", sa.String(length=40), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        # no foreign keys: see models.Payment (checking them was half of a 1M-row payment run)
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payment_cycle_state", "payment", ["cycle_id", "state"], unique=False)
    op.create_index(
        "uq_payment_once",
        "payment",
        ["entitlement_id", "for_month"],
        unique=True,
        postgresql_where=sa.text("state <> 'failed'"),
        sqlite_where=sa.text("state <> 'failed'"),
    )


def downgrade():
    op.drop_index(
        "uq_payment_once",
        table_name="payment",
        postgresql_where=sa.text("state <> 'failed'"),
        sqlite_where=sa.text("state <> 'failed'"),
    )
    op.drop_index("ix_payment_cycle_state", table_name="payment")
    op.drop_table("payment")
    op.drop_index(op.f("ix_check_fetch_check_id"), table_name="check_fetch")
    op.drop_table("check_fetch")
    op.drop_index(op.f("ix_entitlement_household_id"), table_name="entitlement")
    op.drop_index("ix_entitlement_active", table_name="entitlement")
    op.drop_table("entitlement")
    op.drop_index(op.f("ix_economic_check_application_id"), table_name="economic_check")
    op.drop_table("economic_check")
    op.drop_index(op.f("ix_application_transition_application_id"), table_name="application_transition")
    op.drop_table("application_transition")
    op.drop_index(op.f("ix_member_resident_id"), table_name="member")
    op.drop_index(op.f("ix_member_household_id"), table_name="member")
    op.drop_table("member")
    op.drop_index(op.f("ix_application_state"), table_name="application")
    op.drop_index(op.f("ix_application_region_code"), table_name="application")
    op.drop_index(op.f("ix_application_household_id"), table_name="application")
    op.drop_table("application")
    op.drop_table("payment_cycle")
    op.drop_index(op.f("ix_household_region_code"), table_name="household")
    op.drop_table("household")
    drop_chassis_tables()
