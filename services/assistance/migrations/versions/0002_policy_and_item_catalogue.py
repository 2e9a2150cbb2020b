"""Assistance policy parameters from the source documents, and the 14 linked items of 救助一件事.

Figures come from ../shared/domain/seed-notes (Shaoxing 000, Fuyang 001, Jiaxing 002, Changxing 004)
or from national rules; those the documents do not give are marked "assumed" in `source`, so a
bureau replaces them with its own versions (policy is data: add a version, never edit one).

Revision ID: 0002
Revises: 0001
"""

from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

from chassis.tables import policy_parameters

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SHAOXING, FUYANG, JIAXING, CHANGXING, NATIONAL = "330600", "330111", "330400", "330522", "000000"
D = date
POLICY = [
    # 低保 standard, fen per person per month
    (SHAOXING, "assistance.dibao_standard_monthly_fen", D(2016, 1, 1), 63000, "seed-000: 630元/月 (2016)"),
    (
        SHAOXING,
        "assistance.dibao_standard_monthly_fen",
        D(2020, 1, 1),
        85000,
        "seed-000: 850元/月 (2020), 10200元/人.年",
    ),
    (
        SHAOXING,
        "assistance.dibao_standard_monthly_fen",
        D(2025, 1, 1),
        108333,
        "seed-000: 13000元/人.年 by 2025 (÷12, half up)",
    ),
    (FUYANG, "assistance.dibao_standard_monthly_fen", D(2020, 1, 1), 57000, "seed-001: rural 6840元/年 (÷12)"),
    (CHANGXING, "assistance.dibao_standard_monthly_fen", D(2025, 1, 1), 112500, "seed-004: 13500元/年 by 2025 (÷12)"),
    (
        JIAXING,
        "assistance.dibao_standard_monthly_fen",
        D(2022, 1, 1),
        83334,
        "seed-002: ≥10000元/年 by 2022 (÷12, rounded up: at least)",
    ),
    # national rules and their local versions
    (NATIONAL, "assistance.edge_ratio", D(2021, 1, 1), "1.5", "national: 低保边缘 per-capita income ≤ 1.5× standard"),
    (NATIONAL, "assistance.tekun_basic_ratio", D(2021, 1, 1), "1.3", "seed-000: 特困基本生活标准 ≥ 1.3× 低保标准"),
    (
        NATIONAL,
        "assistance.tekun_care_monthly_fen",
        D(2021, 1, 1),
        {"full": 20000, "partial": 60000, "none": 120000},
        "assumed: care standard by self-care ability (seed-000 gives the rule, not the figures)",
    ),
    (
        NATIONAL,
        "assistance.increment_ratios",
        D(2021, 1, 1),
        {"aged_80_plus": "0.1", "minor": "0.1", "seriously_ill": "0.2", "severely_disabled": "0.2", "pregnant": "0.1"},
        "assumed: 分类施保 groups from seed-000 (80+, minors, seriously ill, severely disabled, pregnant); rates assumed",
    ),
    (
        NATIONAL,
        "assistance.temporary_grades",
        D(2021, 1, 1),
        {"A": 2, "B": 4, "C": 6, "D": 8, "E": 10},
        "seed-001: 临时救助 capped at 2-10× the monthly urban 低保 standard; grade letters assumed",
    ),
    (
        NATIONAL,
        "assistance.township_direct_threshold_fen",
        D(2021, 1, 1),
        200000,
        "seed-000: 2000元以下急难临时救助委托乡镇(街道)直接实施",
    ),
    (NATIONAL, "assistance.gradual_exit_months", D(2021, 1, 1), 12, "seed-002: 渐退期一年 (Jiaxing)"),
    (NATIONAL, "assistance.decision_working_days", D(2021, 1, 1), 20, "seed-001: 20个工作日内作出决定 (Fuyang)"),
    (NATIONAL, "assistance.notice_days", D(2021, 1, 1), 7, "national: 《最低生活保障审核确认办法》 公示期7天"),
    (NATIONAL, "assistance.approval_level", D(2021, 1, 1), "district", "seed-000: 街(镇)受理审核, 区民政局审批"),
    (NATIONAL, "assistance.asset_limit_per_person_fen", D(2021, 1, 1), 5000000, "assumed: deposits per member"),
    (
        NATIONAL,
        "calendar.holidays",
        D(2026, 1, 1),
        [
            "2026-01-01",
            "2026-02-16",
            "2026-02-17",
            "2026-02-18",
            "2026-02-19",
            "2026-02-20",
            "2026-02-23",
            "2026-04-06",
            "2026-05-01",
            "2026-05-04",
            "2026-05-05",
            "2026-06-19",
            "2026-09-25",
            "2026-10-01",
            "2026-10-02",
            "2026-10-05",
            "2026-10-06",
            "2026-10-07",
        ],
        "assumed: State Council holiday notice for 2026 (replace with the published one)",
    ),
    (
        NATIONAL,
        "calendar.makeup_workdays",
        D(2026, 1, 1),
        ["2026-02-14", "2026-02-28", "2026-09-27", "2026-10-10"],
        "assumed: 调休 working weekend days for 2026",
    ),
]

ALL = ["dibao", "dibao_edge", "tekun"]
ITEMS = [
    ("medical_assistance", "医疗救助 medical assistance", "medical_insurance", 10, ALL + ["temporary"]),
    ("education_assistance", "教育救助 education assistance", "education", 20, ALL),
    ("housing_assistance", "住房救助 housing assistance", "housing", 30, ALL),
    ("employment_assistance", "就业救助 employment assistance", "human_resources", 20, ["dibao", "dibao_edge"]),
    ("water_discount", "水费减免 water discount", "water", 10, ["dibao", "tekun"]),
    ("electricity_discount", "电费减免 electricity discount", "electricity", 10, ["dibao", "tekun"]),
    ("gas_discount", "燃气补贴 gas subsidy", "gas", 10, ["dibao", "tekun"]),
    ("price_subsidy", "价格临时补贴 price-linked subsidy", "development_reform", 15, ["dibao", "tekun"]),
    ("legal_aid", "法律援助 legal aid", "justice", 15, ALL),
    ("funeral_fee_waiver", "惠民殡葬 basic funeral fee waiver", "assistance", 1, ["dibao", "tekun"]),
    ("holiday_subsidy", "元旦春节生活补贴 holiday living subsidy", "assistance", 1, ["dibao", "tekun"]),
    ("telecom_discount", "通信资费优惠 telecom discount", "telecom", 10, ["dibao", "tekun"]),
    ("cable_tv_discount", "有线电视收视费减免 cable TV fee waiver", "broadcasting", 10, ["dibao", "tekun"]),
    ("public_transport_discount", "公交优惠 public transport discount", "transport", 10, ["dibao", "tekun"]),
]

linked_item = sa.table(
    "linked_item",
    sa.column("code"),
    sa.column("title"),
    sa.column("owner"),
    sa.column("deadline_days"),
    sa.column("programmes", sa.JSON),
    sa.column("active"),
)


def upgrade():
    op.create_table(
        "linked_item",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=40), nullable=False),
        sa.Column("deadline_days", sa.Integer(), nullable=False),
        sa.Column("programmes", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        policy_parameters,
        [
            {
                "region_code": region,
                "name": name,
                "effective_from": start,
                "value": value,
                "source": source,
                "recorded_at": now,
                "recorded_by": "migration assistance 0002",
            }
            for region, name, start, value, source in POLICY
        ],
    )
    op.bulk_insert(
        linked_item,
        [
            {"code": c, "title": t, "owner": o, "deadline_days": d, "programmes": p, "active": True}
            for c, t, o, d, p in ITEMS
        ],
    )


def downgrade():
    op.drop_table("linked_item")
    op.execute(policy_parameters.delete().where(policy_parameters.c.recorded_by == "migration assistance 0002"))
