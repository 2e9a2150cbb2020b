"""funeral's figure for the indicators in one place (BRIEF §5; chassis/indicators.py): the
eco-burial rate (节地生态安葬率) of the burials chosen in the year up to the day, revoked cases
left out. A mixin of the funeral service; the arithmetic is rules.eco_burial_rate."""

from __future__ import annotations

from sqlalchemy import func, select

from chassis import rpc
from chassis.indicators import indicator, indicator_request, report, target_of, year_to_date
from chassis.regions import region_prefix
from services.funeral import rules
from services.funeral.models import Burial, DeathCase


class Indicators:
    @rpc
    def region_indicators(self, actor, region_code, on):
        _, region_code, on = indicator_request(actor, region_code, on)
        start, end = year_to_date(on)
        burials, eco = self.db.execute(
            select(func.count(), func.count().filter(Burial.eco.is_(True)))
            .join(DeathCase, DeathCase.id == Burial.case_id)
            .where(
                Burial.region_code.startswith(region_prefix(region_code), autoescape=True),
                DeathCase.state != "revoked",
                Burial.chosen_on >= start,
                Burial.chosen_on <= end,
            )
        ).one()
        return report(
            "funeral",
            region_code,
            on,
            [
                indicator(
                    "eco_burial_rate",
                    "节地生态安葬率",
                    "ratio",
                    rules.eco_burial_rate(burials, eco),
                    target_of(self.policy, "indicator.eco_burial_rate", region_code, on),
                    {"burials": burials, "eco_burials": eco},
                )
            ],
        )
