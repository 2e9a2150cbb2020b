"""charity's figures for the indicators in one place (BRIEF §5; chassis/indicators.py): social
organisations per 10,000 residents (all, and registered) and the share of the year's welfare-lottery
funds allocated to elderly care. A mixin of the charity service; the arithmetic is rules.per_10k
and rules.lottery_share, the targets the versions charity already keeps
(`charity.organisations_per_10k_target`, `charity.lottery_elderly_min_ratio`).

- Organisations: registered or filed by the day and not cancelled by it.
- Residents: the region's resident population of the day's year or the latest before it, as the
  statistics bureau's figure is entered (`set_population`, for that very division code).
- Lottery: the allocations of the day's year (they are recorded by year, not by day).
"""

from __future__ import annotations

from sqlalchemy import and_, func, not_, select

from chassis import rpc
from chassis.errors import PolicyUnusable, refusals_as
from chassis.indicators import Target, indicator, indicator_request, report
from chassis.regions import region_prefix
from services.charity import rules
from services.charity.models import LotteryAllocation, Organisation, RegionPopulation


class Indicators:
    @rpc
    def region_indicators(self, actor, region_code, on):
        _, region_code, on = indicator_request(actor, region_code, on)
        prefix = region_prefix(region_code)
        cancelled = and_(Organisation.state == "cancelled", Organisation.state_since <= on)
        organisations, registered = self.db.execute(
            select(func.count(), func.count().filter(Organisation.registration == "registered")).where(
                Organisation.region_code.startswith(prefix, autoescape=True),
                Organisation.registered_on <= on,
                not_(cancelled),
            )
        ).one()
        residents = self.db.execute(
            select(RegionPopulation.residents)
            .where(RegionPopulation.region_code == region_code, RegionPopulation.year <= on.year)
            .order_by(RegionPopulation.year.desc())
            .limit(1)
        ).scalar()
        targets = self._optional_policy("charity.organisations_per_10k_target", region_code, on)

        def per_10k_target(key):
            figure = (targets.value or {}).get(key) if targets else None
            return Target(float(figure), "at_least", targets.version, targets.source) if figure is not None else None

        by_purpose = {
            purpose: int(amount)
            for purpose, amount in self.db.execute(
                select(LotteryAllocation.purpose, func.sum(LotteryAllocation.amount_fen))
                .where(
                    LotteryAllocation.region_code.startswith(prefix, autoescape=True), LotteryAllocation.year == on.year
                )
                .group_by(LotteryAllocation.purpose)
            ).all()
        }
        minimum = self._optional_policy("charity.lottery_elderly_min_ratio", region_code, on)
        with refusals_as(PolicyUnusable):
            share = rules.lottery_share(by_purpose, minimum.value if minimum else None)
            lottery_target = Target.of(minimum, "at_least") if minimum else None
        people = {"residents": residents} if residents is not None else {}
        return report(
            "charity",
            region_code,
            on,
            [
                indicator(
                    "organisations_per_10k",
                    "每万人拥有登记和备案社会组织",
                    "per_10k",
                    rules.per_10k(organisations, residents),
                    per_10k_target("all"),
                    {"organisations": organisations, **people},
                ),
                indicator(
                    "registered_organisations_per_10k",
                    "其中登记社会组织 (registered, not filed)",
                    "per_10k",
                    rules.per_10k(registered, residents),
                    per_10k_target("registered"),
                    {"registered": registered, **people},
                ),
                indicator(
                    "lottery_elderly_care_share",
                    "福利彩票公益金用于发展养老服务比重",
                    "ratio",
                    share.ratio,
                    lottery_target,
                    {"total_fen": share.total_fen, "elderly_care_fen": share.elderly_care_fen},
                    met=share.met,  # judged in whole fen: 55% of 1,000,000 fen is met by 550,000
                ),
            ],
        )
