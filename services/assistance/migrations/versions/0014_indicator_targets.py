"""the targets of assistance's indicators (BRIEF §5) as policy versions: the 低保 standard of the
14th five-year plans (seed-000 Table 1 row 5 for Shaoxing; seed-004 for Changxing). The decision
time is judged against assistance.decision_working_days, already a version; the seeds set no
caseload or spending target (their figures are baselines), so none is added.

Revision ID: 0014
Revises: 0013
"""

from datetime import date

from chassis.migrations import add_indicator_targets, remove_indicator_targets

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

PLAN = date(2021, 1, 1)  # the 14th five-year plans
BY = "migration assistance 0014"
TARGETS = [
    (
        "330600",
        "dibao_standard_yearly_yuan",
        PLAN,
        13000,
        "at_least",
        "seed-000 表1 row 5: 城乡低保标准 13000元/人.年 by 2025 (2020: 10200)",
    ),
    (
        "330522",
        "dibao_standard_yearly_yuan",
        PLAN,
        13500,
        "at_least",
        "seed-004: 全县最低生活保障年标准达到13500元 by 2025 (与全市标准同步调整)",
    ),
]


def upgrade():
    add_indicator_targets(TARGETS, BY)


def downgrade():
    remove_indicator_targets(BY)
