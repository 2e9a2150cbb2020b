"""Indicators in one place (一组数据看态势, BRIEF §5) over HTTP: every owner's figures for a region
and a day, gathered. Each service computes its own in its `region_indicators` RPC
(chassis/indicators.py); the one figure of the gateway's own data is the joint-handling rate of
救助一件事, a fold of the progress projection.

The region is checked against GB/T 2260 and the caller's area before any service is asked; a
service asked directly checks them again."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from chassis import Forbidden, Policy
from chassis.clock import LOCAL_ZONE
from chassis.indicators import indicator, report, target_of, year_to_date
from chassis.regions import region_prefix, require_known_division
from contracts.indicators import IndicatorsQuerySchema, RegionIndicatorsSchema
from contracts.matters import ASSISTANCE_LINKED_ITEMS
from gateway import progress_rules as rules
from gateway.api import route
from gateway.models import Matter, MatterStep

# the owners asked, in the order their figures are listed (the gateway's own come first)
OWNERS = ("assistance", "care", "funeral", "charity")


class IndicatorRoutes:
    policy = Policy()

    @route(
        "GET",
        "/api/v1/indicators",
        roles=("clerk", "admin"),
        tag="indicators",
        summary="Every indicator of the region (its sub-divisions included) on the day, each against its target",
        query=IndicatorsQuerySchema,
        response=RegionIndicatorsSchema,
    )
    def region_indicators(self, actor, body, query):
        region_code, on = require_known_division(query["region"], field="region"), query["date"]
        if not actor.covers(region_code):
            raise Forbidden(f"{region_code} is outside your area {actor.area}")
        figures = self._joint_handling(region_code, on)
        for owner in OWNERS:
            figures += getattr(self, owner).region_indicators(actor.as_dict(), region_code, on.isoformat())[
                "indicators"
            ]
        return {**report("gateway", region_code, on, []), "indicators": figures}

    def _joint_handling(self, region_code: str, on: date) -> list[dict]:
        """联办率 of 救助一件事: of the matters opened in the year up to the day and not revoked, the
        share of those decided (every step has an outcome) granted with no step rejected."""
        start, end = year_to_date(on)
        opened_from = datetime.combine(start, time(), LOCAL_ZONE)
        opened_before = datetime.combine(end + timedelta(days=1), time(), LOCAL_ZONE)
        by_matter: dict[str, list[str]] = {}
        for matter_id, state in self.db.execute(
            select(MatterStep.matter_id, MatterStep.state)
            .join(Matter, Matter.id == MatterStep.matter_id)
            .where(
                Matter.matter_type == ASSISTANCE_LINKED_ITEMS.name,
                Matter.region_code.startswith(region_prefix(region_code), autoescape=True),
                Matter.revoked_at.is_(None),
                Matter.opened_at >= opened_from,
                Matter.opened_at < opened_before,
            )
        ):
            by_matter.setdefault(matter_id, []).append(state)
        result = rules.joint_handling(list(by_matter.values()))
        return report(
            "gateway",
            region_code,
            on,
            [
                indicator(
                    "joint_handling_rate",
                    '救助"一件事"惠民联办率',
                    "ratio",
                    result.rate,
                    target_of(self.policy, "indicator.joint_handling_rate", region_code, on),
                    {"matters": result.matters, "decided": result.decided, "all_granted": result.all_granted},
                )
            ],
        )["indicators"]
