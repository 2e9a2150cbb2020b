"""child welfare: children followed (located to village and household), screenings, child directors;
the orphans' basic living allowance by region and date

Revision ID: 0005
Revises: 0004
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters
from chassis.types import UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SHAOXING, FUYANG = "330600", "330111"
POLICY = [
    (
        SHAOXING,
        "care.child_allowance_fen",
        date(2020, 1, 1),
        {"institution": 204000, "community": 163500},
        "seed-000: 福利机构养育孤儿每人每月2040元, 社会散居孤儿每人每月1635元 (2020, 市区)",
    ),
    (
        FUYANG,
        "care.child_allowance_fen",
        date(2020, 1, 1),
        {"institution": 145000, "community": 105000},
        "BRIEF 3.2 (Fuyang 1450 / 1050); seed-001: 散居孤儿 from 600 to 1050 yuan a month",
    ),
    (
        NATIONAL,
        "care.child_allowance_fen",
        date(2021, 1, 1),
        {"institution": 0, "community": 0},
        "assumed: no amount where the region has not set one (add the region's version)",
    ),
    (
        NATIONAL,
        "care.follow_up_days",
        date(2021, 1, 1),
        {"red": 1, "orange": 3, "yellow": 7, "green": 30},
        "assumed: 四色管理 follow-up within 1 / 3 / 7 / 30 days (replace with the local rule)",
    ),
]


def upgrade():
    op.create_table(
        "child",
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("placement", sa.String(length=12), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("household", sa.String(length=120), nullable=False),
        sa.Column("guardian", sa.String(length=60), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("registered_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("resident_id"),
    )
    op.create_index("ix_child_village_code", "child", ["village_code"])
    op.create_table(
        "screening",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("resident_id", sa.String(length=18), nullable=False),
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("screened_on", sa.Date(), nullable=False),
        sa.Column("follow_up_due", sa.Date(), nullable=False),
        sa.Column("followed_up_on", sa.Date(), nullable=True),
        sa.Column("screened_by", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_screening_resident_id", "screening", ["resident_id"])
    op.create_index("ix_screening_village_code", "screening", ["village_code"])
    op.create_table(
        "child_director",
        sa.Column("village_code", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("phone", sa.String(length=13), nullable=False),
        sa.Column("appointed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("village_code"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": effective_from,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration care 0005",
            }
            for region, name, effective_from, value, source in POLICY
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration care 0005"))
    op.drop_table("child_director")
    op.drop_index("ix_screening_village_code", table_name="screening")
    op.drop_index("ix_screening_resident_id", table_name="screening")
    op.drop_table("screening")
    op.drop_index("ix_child_village_code", table_name="child")
    op.drop_table("child")
