"""the targets of care's indicators (BRIEF §5) as policy versions, from the seeds' indicator
tables: nursing-type beds and dementia beds per 10,000 elderly (seed-000 表1 rows 1-2, Shaoxing),
nursing beds (seed-002, Jiaxing; seed-003, Wuxi Xinwu) and the 70+ assessment (seed-003). Shaoxing's
plan sets no assessment target (seed-000 §0: not mentioned), so none is added for it.

Revision ID: 0025
Revises: 0024
"""

from datetime import date

from chassis.migrations import add_indicator_targets, remove_indicator_targets

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

PLAN = date(2021, 1, 1)  # the 14th five-year plans
SHAOXING, JIAXING, XINWU = "330600", "330400", "320214"
BY = "migration care 0025"
TARGETS = [
    (SHAOXING, "nursing_bed_ratio", PLAN, 0.58, "at_least", "seed-000 表1 row 1: 养老机构护理型床位占比 58% by 2025"),
    (
        SHAOXING,
        "dementia_beds_per_10k_elderly",
        PLAN,
        20,
        "at_least",
        "seed-000 表1 row 2: 每万老年人口拥有养老机构认知障碍床位数 20张 by 2025",
    ),
    (JIAXING, "nursing_bed_ratio", PLAN, 0.55, "at_least", "seed-002 §1.0: 护理型床位占机构床位的55%以上 (2022)"),
    (XINWU, "nursing_bed_ratio", PLAN, 0.90, "at_least", "seed-003: 机构护理型床位占比达到90%以上 (by 2023)"),
    (
        XINWU,
        "assessment_coverage_70_plus",
        PLAN,
        1.0,
        "at_least",
        "seed-003: 70周岁以上户籍老年人能力与需求双评估全覆盖 (14th FYP)",
    ),
]


def upgrade():
    add_indicator_targets(TARGETS, BY)


def downgrade():
    remove_indicator_targets(BY)
