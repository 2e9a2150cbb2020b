"""care's figures for the indicators in one place (BRIEF §5; chassis/indicators.py): 70+
assessment coverage, the nursing-bed ratio and dementia beds per 10,000 elderly. A mixin of the
care service: one set-based query each, the arithmetic in rules.region_figures.

The denominators are care's own registry (imported from the population registry, 户籍人口): the
people aged 60+ (elderly) and 70+ registered by the day and living on it. Institutions keep their
beds as last registered, without history, so beds are today's whatever the day asked.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, or_, select

from chassis import rpc
from chassis.indicators import indicator, indicator_request, report, target_of
from chassis.regions import region_prefix
from services.care import rules
from services.care.models import Assessment, Elder, Institution


class Indicators:
    def _elderly_counts(self, living: tuple, on: date) -> tuple[int, int, int]:
        """Of the elders `living` selects: those 60 and over on `on`, those 70 and over, and those
        70 and over with an assessment in force that day (BRIEF §5's ratios are made of these)."""
        born_60 = rules.latest_birth_date_qualifying(on, 60)
        born_70 = rules.latest_birth_date_qualifying(on, 70)
        elderly, aged_70 = self.db.execute(
            select(
                func.count().filter(Elder.birth_date <= born_60), func.count().filter(Elder.birth_date <= born_70)
            ).where(*living)
        ).one()
        assessed_70 = self.db.execute(
            select(func.count(func.distinct(Assessment.resident_id)))
            .join(Elder, Elder.resident_id == Assessment.resident_id)
            .where(*living, Elder.birth_date <= born_70, Assessment.assessed_on <= on, Assessment.valid_until >= on)
        ).scalar_one()
        return elderly, aged_70, assessed_70

    @rpc
    def region_indicators(self, actor, region_code, on):
        _, region_code, on = indicator_request(actor, region_code, on)
        prefix = region_prefix(region_code)
        living = (
            Elder.region_code.startswith(prefix, autoescape=True),
            Elder.registered_on <= on,
            or_(Elder.deceased_on.is_(None), Elder.deceased_on > on),
        )
        elderly, aged_70, assessed_70 = self._elderly_counts(living, on)
        beds, nursing, dementia = self.db.execute(
            select(
                func.coalesce(
                    func.sum(Institution.ordinary_beds + Institution.nursing_beds + Institution.dementia_beds), 0
                ),
                func.coalesce(func.sum(Institution.nursing_beds), 0),
                func.coalesce(func.sum(Institution.dementia_beds), 0),
            ).where(Institution.region_code.startswith(prefix, autoescape=True))
        ).one()
        figures = rules.region_figures(
            elderly=elderly,
            aged_70_plus=aged_70,
            assessed_70_plus=assessed_70,
            beds=int(beds),
            nursing_beds=int(nursing),
            dementia_beds=int(dementia),
        )

        def target(name):
            return target_of(self.policy, f"indicator.{name}", region_code, on)

        return report(
            "care",
            region_code,
            on,
            [
                indicator(
                    "assessment_coverage_70_plus",
                    "70周岁以上老年人能力评估覆盖率",
                    "ratio",
                    figures.assessment_coverage_70_plus,
                    target("assessment_coverage_70_plus"),
                    {"aged_70_plus": aged_70, "assessed_70_plus": assessed_70},
                ),
                indicator(
                    "nursing_bed_ratio",
                    "养老机构护理型床位占比",
                    "ratio",
                    figures.nursing_bed_ratio,
                    target("nursing_bed_ratio"),
                    {"beds": int(beds), "nursing_beds": int(nursing)},
                ),
                indicator(
                    "dementia_beds_per_10k_elderly",
                    "每万老年人口拥有养老机构认知障碍床位数",
                    "per_10k",
                    figures.dementia_beds_per_10k_elderly,
                    target("dementia_beds_per_10k_elderly"),
                    {"dementia_beds": int(dementia), "elderly": elderly},
                ),
            ],
        )
