"""ability assessments (能力评估) and institutions with their beds by type

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "assessment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("assessor", sa.String(length=80), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_assessment_resident_id", "assessment", ["resident_id"])
    op.create_index("ix_assessment_region_code", "assessment", ["region_code"])
    op.create_table(
        "institution",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("ownership", sa.String(length=20), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("ordinary_beds", sa.Integer(), nullable=False),
        sa.Column("nursing_beds", sa.Integer(), nullable=False),
        sa.Column("dementia_beds", sa.Integer(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_institution_region_code", "institution", ["region_code"])
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": "care.assessment_valid_months",
                "effective_from": date(2021, 1, 1),
                "value": 12,
                "source": "assumed: re-assessment every 12 months (replace with the local rule)",
                "recorded_at": datetime.now(UTC),
                "recorded_by": "migration care 0004",
            }
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration care 0004"))
    op.drop_index("ix_institution_region_code", table_name="institution")
    op.drop_table("institution")
    op.drop_index("ix_assessment_region_code", table_name="assessment")
    op.drop_index("ix_assessment_resident_id", table_name="assessment")
    op.drop_table("assessment")
