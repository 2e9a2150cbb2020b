"""the Charity Law as amended on 2023-12-29 (in force 2024-09-05) as a policy version

《全国人民代表大会常务委员会关于修改〈中华人民共和国慈善法〉的决定》 (2023-12-29, in force
2024-09-05), art. 22 as amended: 依法登记满一年的慈善组织, 可以向办理其登记的民政部门申请公开募捐资格
(two years under the 2016 text). A new version from that date; the 2016 one stays for the days before
(a decision is always judged by the law of its day). The seed notes do not give the amendment's text:
the one-year figure is the amendment's as published; the bureau verifies it against the gazette.

Revision ID: 0004
Revises: 0003
"""

from datetime import UTC, date, datetime

from alembic import op

from chassis.regions import NATIONAL
from chassis.tables import policy_parameters

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AMENDED = date(2024, 9, 5)


def upgrade():
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": NATIONAL,
                "name": "charity.fundraising_min_registered_years",
                "effective_from": AMENDED,
                "value": 1,
                "source": "慈善法 (2023年修正, 2024-09-05施行) 第22条: 依法登记满一年的慈善组织, 可以申请公开募捐资格",
                "recorded_at": datetime.now(UTC),
                "recorded_by": "migration charity 0003",
            }
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration charity 0003"))
