"""the target of the joint-handling rate of 救助一件事 (惠民联办率, BRIEF §5), the one indicator
computed from the gateway's own data (the progress projection), as policy versions: seed-000 表1
row 6 (Shaoxing, 100% by 2025; 70% in 2020) and seed-004 (Changxing, 100%).

Revision ID: 0010
Revises: 0009
"""

from datetime import date

from chassis.migrations import add_indicator_targets, remove_indicator_targets

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

PLAN = date(2021, 1, 1)  # the 14th five-year plans
BY = "migration gateway 0010"
TARGETS = [
    ("330600", "joint_handling_rate", PLAN, 1.0, "at_least", 'seed-000 表1 row 6: 救助"一件事"惠民联办率 100% by 2025'),
    ("330522", "joint_handling_rate", PLAN, 1.0, "at_least", 'seed-004: 救助"一件事"惠民联办率100%'),
]


def upgrade():
    add_indicator_targets(TARGETS, BY)


def downgrade():
    remove_indicator_targets(BY)
