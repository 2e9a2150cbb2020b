"""福彩公益金: welfare-lottery funds. A mixin of the charity
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from chassis import (
    Actor,
    InvalidInput,
    rpc,
)
from chassis.errors import refusals_as
from chassis.regions import region_prefix, require_region_code
from services.charity import rules
from services.charity.exceptions import (
    KeyReused,
    PolicyUnusable,
)
from services.charity.models import (
    LotteryAllocation,
)
from services.charity.schemas import (
    LotteryAllocationSchema,
    LotteryReportSchema,
    dump,
    load,
)


class LotteryFunds:
    """Mixed into the charity service; uses its db, audit, clock."""

    # --- welfare-lottery funds (福彩公益金) --------------------------------------------------------------

    @rpc
    def allocate_lottery_funds(self, actor, request):
        """An allocation by purpose and region; the document's reference sent again is the same one.
        The answer is the region's year so far, with the elderly-care share against the rule."""
        actor, data = Actor.from_dict(actor), load(LotteryAllocationSchema, request)
        actor.require_staff_in(data["region_code"])
        known = self.db.get(LotteryAllocation, data["reference"])
        if known is not None:
            if (known.region_code, known.year, known.purpose, known.amount_fen) != (
                data["region_code"],
                data["year"],
                data["purpose"],
                data["amount_fen"],
            ):
                raise KeyReused(
                    "this reference was used for another allocation",
                    errors={"reference": ["used already with other content"]},
                )
        else:
            self.db.add(LotteryAllocation(recorded_by=actor.id, recorded_at=self.clock.now(), **data))
            self.db.flush()
            self.audit.record(
                actor,
                "lottery.allocate",
                f"lottery-{data['region_code']}-{data['year']}",
                data["purpose"],
                amount_fen=data["amount_fen"],
                reference=data["reference"],
            )
        return self._lottery(data["region_code"], data["year"])

    @rpc
    def lottery_report(self, actor, region_code, year):
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        if not isinstance(year, int) or not 1990 <= year <= 2100:
            raise InvalidInput("not a year", errors={"year": ["1990 to 2100"]})
        actor.require_staff_in(region_code)
        return self._lottery(region_code, year)

    def _lottery(self, region_code: str, year: int) -> dict:
        prefix = region_prefix(region_code)
        by_purpose = dict(
            self.db.execute(
                select(LotteryAllocation.purpose, func.sum(LotteryAllocation.amount_fen))
                .where(
                    LotteryAllocation.region_code.startswith(prefix, autoescape=True), LotteryAllocation.year == year
                )
                .group_by(LotteryAllocation.purpose)
            ).all()
        )
        by_purpose = {k: int(v) for k, v in by_purpose.items()}
        minimum = self._optional_policy("charity.lottery_elderly_min_ratio", region_code, date(year, 12, 31))
        with refusals_as(PolicyUnusable):
            share = rules.lottery_share(by_purpose, minimum.value if minimum else None)
        return dump(
            LotteryReportSchema,
            {
                "region_code": region_code,
                "year": year,
                "total_fen": share.total_fen,
                "by_purpose_fen": by_purpose,
                "elderly_care_ratio": share.ratio,
                "minimum_ratio": minimum.value if minimum else None,
                "met": share.met,
                "policy_version": minimum.version if minimum else None,
            },
        )
