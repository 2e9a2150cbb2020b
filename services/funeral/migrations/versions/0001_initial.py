"""funeral cases, notices, bookings, burials, niches, cremation certificates; chassis tables;
the policy of fees, the 惠民殡葬 waiver and the eco-burial reward

The documents give the reward's ceiling (seed-000: 生态安葬奖励 "最高每例1万元", Shaoxing) and
say 惠民殡葬 policies are in force (seed-001, seed-002) but name no fees, no waived items and no
amount per form: those rows are marked "assumed" so a bureau adds its own versions.

Revision ID: 0001
Revises:
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.migrations import (
    create_chassis_tables,
    create_chassis_tables_v2,
    drop_chassis_tables,
    drop_chassis_tables_v2,
)
from chassis.regions import NATIONAL
from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FROM = date(2021, 1, 1)
SHAOXING = "330600"
POLICY = [
    (
        NATIONAL,
        "funeral.basic_service_fees_fen",
        {"transport": 30000, "cremation": 40000},
        "assumed: 300 / 400 yuan for transport of the remains and cremation (the documents give no fees)",
    ),
    (
        NATIONAL,
        "funeral.fee_waiver_kinds",
        ["transport", "cremation"],
        "assumed: 惠民殡葬 waives the basic services (seed-001/002 say the policy is in force, not its items)",
    ),
    (
        NATIONAL,
        "funeral.eco_burial_reward_fen",
        {"tree": 500000, "lawn": 500000, "flower_bed": 500000, "sea": 1000000, "niche": 200000},
        "assumed: amounts per form (the documents give only the ceiling)",
    ),
    (NATIONAL, "funeral.eco_burial_reward_cap_fen", 1000000, "assumed: Shaoxing's ceiling taken as the default"),
    (SHAOXING, "funeral.eco_burial_reward_cap_fen", 1000000, "seed-000: 生态安葬奖励政策, 奖励标准提高到最高每例1万元"),
]


def upgrade():
    create_chassis_tables()
    create_chassis_tables_v2()
    op.create_table(
        "death_case",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("matter_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("date_conflict", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("opened_at", UtcDateTime(), nullable=False),
        sa.Column("cremated_on", sa.Date(), nullable=True),
        sa.Column("cremation_certificate", sa.String(length=30), nullable=True),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=80), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("matter_id"),
        sa.UniqueConstraint("cremation_certificate"),
    )
    op.create_index("ix_death_case_region_code", "death_case", ["region_code"])
    op.create_index(
        "uq_death_case_standing",
        "death_case",
        ["resident_id"],
        unique=True,
        postgresql_where=sa.text("state <> 'revoked'"),
        sqlite_where=sa.text("state <> 'revoked'"),
    )
    op.create_table(
        "death_notice",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=True),
        sa.Column("date_of_death", sa.Date(), nullable=False),
        sa.Column("place_of_death", sa.Text(), nullable=True),
        sa.Column("reported_by", sa.String(length=80), nullable=False),
        sa.Column("informant_relationship", sa.String(length=30), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "reference", name="uq_death_notice_reference"),
    )
    op.create_index("ix_death_notice_case_id", "death_notice", ["case_id"])
    op.create_table(
        "booking",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("scheduled_at", UtcDateTime(), nullable=False),
        sa.Column("funeral_home", sa.String(length=120), nullable=False),
        sa.Column("fee_fen", sa.BigInteger(), nullable=False),
        sa.Column("waived_fen", sa.BigInteger(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("booked_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "kind", name="uq_booking_kind"),
    )
    op.create_index("ix_booking_case_id", "booking", ["case_id"])
    op.create_table(
        "burial",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("form", sa.String(length=12), nullable=False),
        sa.Column("eco", sa.Boolean(), nullable=False),
        sa.Column("reward_fen", sa.BigInteger(), nullable=False),
        sa.Column("niche_id", sa.Integer(), nullable=True),
        sa.Column("chosen_on", sa.Date(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_burial_region_code", "burial", ["region_code"])
    op.create_table(
        "niche",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("facility", sa.String(length=40), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id"),
        sa.UniqueConstraint("facility", "position", name="uq_niche_position"),
    )
    op.create_index("ix_niche_region_code", "niche", ["region_code"])
    op.create_table(
        "certificate_serial",
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_serial", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "year"),
    )
    op.create_table(
        "date_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("reported_dates", sa.JSON(), nullable=False),
        sa.Column("confirmed", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_date_review_case_id", "date_review", ["case_id"])
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": FROM,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration funeral 0001",
            }
            for region, name, value, source in POLICY
        ],
    )


def downgrade():
    for table in ("date_review", "certificate_serial", "niche", "burial", "booking", "death_notice", "death_case"):
        op.drop_table(table)
    drop_chassis_tables_v2()
    drop_chassis_tables()
