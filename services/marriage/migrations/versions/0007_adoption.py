"""收养登记: the adoption register, and the Civil Code's ages and counts for it as policy

Revision ID: 0007
Revises: 0006
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CIVIL_CODE = date(2021, 1, 1)
LAW = [
    ("adoption.adopter_min_age", 30, "民法典 第1098条(五): 收养人年满三十周岁"),
    ("adoption.adult_age", 18, "民法典 第17条/第1093条: 被收养人为未成年人 (不满十八周岁)"),
    ("adoption.consent_age", 8, "民法典 第1104条: 收养八周岁以上未成年人的, 应当征得被收养人的同意"),
    ("adoption.single_opposite_sex_age_gap", 40, "民法典 第1102条: 无配偶者收养异性子女, 年龄应当相差四十周岁以上"),
    ("adoption.max_existing_children", 1, "民法典 第1098条(一): 无子女或者只有一名子女"),
    ("adoption.max_adoptees_childless", 2, "民法典 第1100条: 无子女的收养人可以收养两名子女"),
    ("adoption.max_adoptees_with_child", 1, "民法典 第1100条: 有子女的收养人只能收养一名子女"),
]


def upgrade():
    op.create_table(
        "adoption",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("office_code", sa.String(6), sa.ForeignKey("office.code"), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("adopter_a_id", sa.String(18), nullable=False, index=True),
        sa.Column("adopter_a_name", sa.String(60), nullable=False),
        sa.Column("adopter_b_id", sa.String(18), index=True),
        sa.Column("adopter_b_name", sa.String(60)),
        sa.Column("adoptee_id", sa.String(18), nullable=False, index=True),
        sa.Column("adoptee_name", sa.String(60), nullable=False),
        sa.Column("adoptee_birth_date", sa.Date(), nullable=False),
        sa.Column("category", sa.String(24), nullable=False),
        sa.Column("placer_kind", sa.String(12), nullable=False),
        sa.Column("placer_name", sa.String(120), nullable=False),
        sa.Column("institution_code", sa.String(40)),
        sa.Column("certificate_number", sa.String(40), nullable=False, unique=True),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("dissolved_on", sa.Date()),
        sa.Column("dissolution_certificate_number", sa.String(40), unique=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("registered_by", sa.String(80), nullable=False),
    )
    # one standing adoption per child: two clerks registering the same child cannot both succeed
    op.create_index(
        "uq_adoption_standing",
        "adoption",
        ["adoptee_id"],
        unique=True,
        postgresql_where=sa.text("state = 'registered'"),
        sqlite_where=sa.text("state = 'registered'"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": name,
                "effective_from": CIVIL_CODE,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration marriage 0006",
            }
            for name, value, source in LAW
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration marriage 0006"))
    op.drop_index("uq_adoption_standing", "adoption")
    op.drop_table("adoption")
