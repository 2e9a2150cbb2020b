"""the target of the eco-burial rate (节地生态安葬率, BRIEF §5) as policy versions: seed-000 表1
row 7 (Shaoxing, ≥70% by 2025), seed-002 (Jiaxing, 100% by 2022), seed-004 (Changxing, 90% by 2022).

Revision ID: 0005
Revises: 0004
"""

from datetime import date

from chassis.migrations import add_indicator_targets, remove_indicator_targets

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PLAN = date(2021, 1, 1)  # the 14th five-year plans
BY = "migration funeral 0005"
TARGETS = [
    (
        "330600",
        "eco_burial_rate",
        PLAN,
        0.70,
        "at_least",
        "seed-000 表1 row 7: 节地生态安葬率 ≥70% by 2025 (2020: 64%)",
    ),
    ("330400", "eco_burial_rate", PLAN, 1.0, "at_least", "seed-002 §1.0: 全市节地生态安葬率达到100% (2022)"),
    ("330522", "eco_burial_rate", PLAN, 0.90, "at_least", "seed-004: 全县节地生态安葬率达到90% (2022)"),
]


def upgrade():
    add_indicator_targets(TARGETS, BY)


def downgrade():
    remove_indicator_targets(BY)
