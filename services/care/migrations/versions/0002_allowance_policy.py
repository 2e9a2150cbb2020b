"""old-age allowance (高龄津贴) policy: qualifying age, first month, amounts by age band

The documents say the allowance covers everyone aged 80 and over (seed-001: "高龄津贴惠及所有80岁
以上老年人"; seed-003: 尊老金 for people aged 80+) but give no amounts: the bands below are marked
"assumed" so a bureau adds its own versions (policy is data: add a version, never edit one).

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, date, datetime

from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FROM = date(2021, 1, 1)
POLICY = [
    ("care.allowance_qualifying_age", 80, "seed-001/003: 高龄津贴 / 尊老金 for everyone aged 80 and over"),
    ("care.allowance_start", "birthday_month", "assumed: paid from the month of the 80th birthday (自年满当月起)"),
    (
        "care.allowance_bands_fen",
        {"80": 5000, "90": 10000, "100": 50000},
        "assumed: 50 / 100 / 500 yuan a month from 80 / 90 / 100 (the documents give no amounts)",
    ),
]


def upgrade():
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": name,
                "effective_from": FROM,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration care 0002",
            }
            for name, value, source in POLICY
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration care 0002"))
