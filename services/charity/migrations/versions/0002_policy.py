"""charity policy parameters: annual-report deadline and the abnormal / dormant thresholds, grade
validity, the public-fundraising preconditions, the same-need window of the assistance link, the
time-bank rate, the lottery-fund share for elderly care, organisations per 10,000 residents

Values the documents or the law give carry their source; the others are marked "assumed" so the
bureau adds its own versions (policy is data: add a version, never edit one).

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

PLAN = date(2021, 1, 1)  # the 14th five-year plans
SHAOXING, JIAXING, CHANGXING = "330600", "330400", "330522"
POLICY = [
    (
        NATIONAL,
        "charity.annual_report_deadline",
        PLAN,
        "05-31",
        "社会团体登记管理条例 art. 28: the annual report reaches the registration authority by 31 May",
    ),
    (
        NATIONAL,
        "charity.abnormal_after_missing_reports",
        PLAN,
        1,
        "社会组织信用信息管理办法 (2018): a report not filed in time puts the organisation in the "
        "活动异常名录 (assumed reading: one report)",
    ),
    (
        NATIONAL,
        "charity.dormant_after_missing_reports",
        PLAN,
        2,
        "assumed: no annual report for two years marks a dormant (僵尸) organisation (issue 6; the "
        "documents name 僵尸 organisations without a threshold)",
    ),
    (
        NATIONAL,
        "charity.grade_valid_years",
        PLAN,
        5,
        "社会组织评估管理办法 (2010): an evaluation grade is valid for 5 years",
    ),
    (
        NATIONAL,
        "charity.fundraising_min_registered_years",
        date(2016, 9, 1),
        2,
        "慈善法 (2016) art. 22: 依法登记满二年的慈善组织 may apply for the public-fundraising qualification "
        "(the 2023 amendment is reported to lower it to one year from 2024-09-05: add that version once verified)",
    ),
    (
        NATIONAL,
        "charity.fundraising_min_grade",
        date(2016, 9, 1),
        "3A",
        "assumed: 慈善组织公开募捐管理办法 (2016) art. 5 read as an evaluation grade of 3A or better",
    ),
    (
        NATIONAL,
        "charity.same_need_window_days",
        PLAN,
        365,
        "assumed: a person aided by charity for a need is not aided again for it within a year (一户一条救助链)",
    ),
    (
        NATIONAL,
        "charity.time_bank_credit_percent",
        PLAN,
        100,
        "assumed: one minute of volunteer service banks one minute of care (时间银行)",
    ),
    (
        SHAOXING,
        "charity.lottery_elderly_min_ratio",
        PLAN,
        0.55,
        "seed-000: 福利彩票公益金用于发展养老服务比重达到55%以上",
    ),
    (
        JIAXING,
        "charity.lottery_elderly_min_ratio",
        PLAN,
        0.55,
        "seed-002 art. 十五: 福利彩票公益金至少55%用于支持发展养老服务",
    ),
    (
        SHAOXING,
        "charity.organisations_per_10k_target",
        PLAN,
        {"all": 46, "registered": 16},
        "seed-000: 每万人拥有登记和备案社会组织达到46个,其中登记社会组织不低于16个 (2025)",
    ),
    (
        JIAXING,
        "charity.organisations_per_10k_target",
        PLAN,
        {"all": 42},
        "seed-002: 每万人拥有登记和备案社会组织达到42个 (2022)",
    ),
    (
        CHANGXING,
        "charity.organisations_per_10k_target",
        PLAN,
        {"all": 48},
        "seed-004: 每万人拥有登记和备案社会组织达到48个 (2022)",
    ),
]


def upgrade():
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": effective,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration charity 0002",
            }
            for region, name, effective, value, source in POLICY
        ],
    )


def downgrade():
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration charity 0002"))
