"""social organisations, charity campaigns, donations, spending and referrals, volunteers and the
time bank, welfare-lottery allocations; chassis tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from chassis.migrations import (
    create_chassis_tables,
    create_chassis_tables_v2,
    drop_chassis_tables,
    drop_chassis_tables_v2,
)
from chassis.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_chassis_tables()
    create_chassis_tables_v2()
    op.create_table(
        "aid_recipient",
        sa.Column("referral_id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("need", sa.String(length=20), nullable=False),
        sa.Column("aided_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("referral_id", "resident_id"),
    )
    op.create_index("ix_aid_recipient_person_need", "aid_recipient", ["resident_id", "need"], unique=False)
    op.create_table(
        "annual_report",
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("income_fen", sa.BigInteger(), nullable=False),
        sa.Column("expenditure_fen", sa.BigInteger(), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("organisation_id", "year"),
    )
    op.create_table(
        "campaign",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("needs", sa.JSON(), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("target_fen", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_campaign_organisation_id"), "campaign", ["organisation_id"], unique=False)
    op.create_index(op.f("ix_campaign_region_code"), "campaign", ["region_code"], unique=False)
    op.create_table(
        "detection_run",
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("last_run_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_on"),
    )
    op.create_table(
        "donation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("donor_name", sa.String(length=120), nullable=True),
        sa.Column("donor_kind", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("receipt_number", sa.String(length=40), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "request_id", name="uq_donation_request"),
        sa.UniqueConstraint("receipt_number"),
    )
    op.create_index(op.f("ix_donation_campaign_id"), "donation", ["campaign_id"], unique=False)
    op.create_table(
        "lottery_allocation",
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("reference"),
    )
    op.create_index(op.f("ix_lottery_allocation_region_code"), "lottery_allocation", ["region_code"], unique=False)
    op.create_table(
        "organisation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("registration", sa.String(length=12), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("legal_representative", sa.String(length=60), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("state_reason", sa.Text(), nullable=True),
        sa.Column("state_since", sa.Date(), nullable=False),
        sa.Column("grade", sa.String(length=2), nullable=True),
        sa.Column("graded_on", sa.Date(), nullable=True),
        sa.Column("grade_valid_until", sa.Date(), nullable=True),
        sa.Column("charity_recognised_on", sa.Date(), nullable=True),
        sa.Column("fundraising_qualified_on", sa.Date(), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("credit_code"),
    )
    op.create_index(op.f("ix_organisation_region_code"), "organisation", ["region_code"], unique=False)
    op.create_index(op.f("ix_organisation_state"), "organisation", ["state"], unique=False)
    op.create_table(
        "organisation_change",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("organisation_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_organisation_change_organisation_id"), "organisation_change", ["organisation_id"], unique=False
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("household_id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("need", sa.String(length=20), nullable=False),
        sa.Column("requested_fen", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_referral_household_id"), "referral", ["household_id"], unique=False)
    op.create_index(op.f("ix_referral_region_code"), "referral", ["region_code"], unique=False)
    op.create_table(
        "region_population",
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("residents", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "year"),
    )
    op.create_table(
        "service_record",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("activity", sa.String(length=200), nullable=False),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("volunteer_id", "request_id", name="uq_service_record_request"),
    )
    op.create_index(op.f("ix_service_record_volunteer_id"), "service_record", ["volunteer_id"], unique=False)
    op.create_table(
        "spending",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("campaign_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("beneficiaries", sa.Integer(), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "request_id", name="uq_spending_request"),
    )
    op.create_index(op.f("ix_spending_campaign_id"), "spending", ["campaign_id"], unique=False)
    op.create_table(
        "time_bank_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("volunteer_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=90), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=True),
        sa.Column("by", sa.String(length=80), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index(op.f("ix_time_bank_entry_volunteer_id"), "time_bank_entry", ["volunteer_id"], unique=False)
    op.create_table(
        "volunteer",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("resident_id"),
    )
    op.create_index(op.f("ix_volunteer_region_code"), "volunteer", ["region_code"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_volunteer_region_code"), table_name="volunteer")
    op.drop_table("volunteer")
    op.drop_index(op.f("ix_time_bank_entry_volunteer_id"), table_name="time_bank_entry")
    op.drop_table("time_bank_entry")
    op.drop_index(op.f("ix_spending_campaign_id"), table_name="spending")
    op.drop_table("spending")
    op.drop_index(op.f("ix_service_record_volunteer_id"), table_name="service_record")
    op.drop_table("service_record")
    op.drop_table("region_population")
    op.drop_index(op.f("ix_referral_region_code"), table_name="referral")
    op.drop_index(op.f("ix_referral_household_id"), table_name="referral")
    op.drop_table("referral")
    op.drop_index(op.f("ix_organisation_change_organisation_id"), table_name="organisation_change")
    op.drop_table("organisation_change")
    op.drop_index(op.f("ix_organisation_state"), table_name="organisation")
    op.drop_index(op.f("ix_organisation_region_code"), table_name="organisation")
    op.drop_table("organisation")
    op.drop_index(op.f("ix_lottery_allocation_region_code"), table_name="lottery_allocation")
    op.drop_table("lottery_allocation")
    op.drop_index(op.f("ix_donation_campaign_id"), table_name="donation")
    op.drop_table("donation")
    op.drop_table("detection_run")
    op.drop_index(op.f("ix_campaign_region_code"), table_name="campaign")
    op.drop_index(op.f("ix_campaign_organisation_id"), table_name="campaign")
    op.drop_table("campaign")
    op.drop_table("annual_report")
    op.drop_index("ix_aid_recipient_person_need", table_name="aid_recipient")
    op.drop_table("aid_recipient")
    drop_chassis_tables_v2()
    drop_chassis_tables()
