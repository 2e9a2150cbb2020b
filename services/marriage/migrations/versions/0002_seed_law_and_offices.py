"""National marriage-law parameters (Civil Code) and the first registration offices.

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CIVIL_CODE = date(2021, 1, 1)  # 《中华人民共和国民法典》 in force
LAW = [
    ("marriage.minimum_age.male", 22, "民法典 第1047条: 男不得早于二十二周岁"),
    ("marriage.minimum_age.female", 20, "民法典 第1047条: 女不得早于二十周岁"),
    ("divorce.cooling_off_days", 30, "民法典 第1077条: 收到离婚登记申请之日起三十日内可撤回"),
    ("divorce.certificate_window_days", 30, "民法典 第1077条: 期限届满后三十日内双方应亲自申请发给离婚证"),
]
OFFICES = [
    ("330602", "绍兴市越城区婚姻登记处", 30, 4),
    ("330603", "绍兴市柯桥区婚姻登记处", 30, 4),
    ("330604", "绍兴市上虞区婚姻登记处", 30, 4),
    ("330111", "杭州市富阳区婚姻登记处", 30, 4),
    ("330481", "海宁市婚姻登记处", 30, 4),
]

office = sa.table("office", sa.column("code"), sa.column("name"), sa.column("slot_minutes"), sa.column("slot_capacity"))


def upgrade():
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
                "recorded_by": "migration 0002",
            }
            for name, value, source in LAW
        ],
    )
    op.bulk_insert(office, [{"code": c, "name": n, "slot_minutes": m, "slot_capacity": k} for c, n, m, k in OFFICES])


def downgrade():
    op.execute(office.delete())
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration 0002"))
