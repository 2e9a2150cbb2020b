"""Assistance's figures for the indicators in one place (BRIEF §5; chassis/indicators.py): the
caseload and spending by programme, the 低保 standard in force, and the time from application to
decision. A mixin of the assistance service, each figure one set-based query, the arithmetic in
rules.py.

- Caseload: households with an entitlement of the programme in force on the day (a stock).
- Spending: what the bank paid (payments `paid`, ordinary, arrears, back pay and top-ups alike)
  for the months of the year up to the day; what is recovered after a death is not netted off.
- The standard: `assistance.dibao_standard_monthly_fen` in force, as 元/人.年 like the documents'
  targets (`indicator.dibao_standard_yearly_yuan`).
- Decision time: the mean working days from the application's day to its decision, over the
  decisions of the year up to the day, against the legal limit in force
  (`assistance.decision_working_days`, counted by the law from acceptance: measured from the
  application, the figure is the citizen's wait, and stricter).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import and_, func, or_, select

from chassis import rpc
from chassis.clock import LOCAL_ZONE
from chassis.indicators import indicator, indicator_request, report, target_of, year_to_date
from chassis.policy import PolicyMissing
from chassis.regions import region_prefix
from contracts.assistance import PROGRAMMES
from services.assistance import rules
from services.assistance.models import Application, Entitlement, Household, Payment


class Indicators:
    @rpc
    def region_indicators(self, actor, region_code, on):
        _, region_code, on = indicator_request(actor, region_code, on)
        return report(
            "assistance",
            region_code,
            on,
            [
                *self._caseload_and_spending(region_code, on),
                self._dibao_standard(region_code, on),
                self._decision_time(region_code, on),
            ],
        )

    def _caseload_and_spending(self, region_code: str, on: date) -> list[dict]:
        here = Household.region_code.startswith(region_prefix(region_code), autoescape=True)
        in_force = and_(Entitlement.starts_on <= on, or_(Entitlement.ends_on.is_(None), Entitlement.ends_on >= on))
        caseload = dict(
            self.db.execute(
                select(Entitlement.programme, func.count(func.distinct(Entitlement.household_id)))
                .join(Household, Household.id == Entitlement.household_id)
                .where(here, in_force)
                .group_by(Entitlement.programme)
            ).all()
        )
        start, end = year_to_date(on)
        spending = dict(
            self.db.execute(
                select(Entitlement.programme, func.sum(Payment.amount_fen))
                .join(Entitlement, Entitlement.id == Payment.entitlement_id)
                .join(Household, Household.id == Payment.household_id)
                .where(here, Payment.state == "paid", Payment.for_month >= start, Payment.for_month <= end)
                .group_by(Entitlement.programme)
            ).all()
        )
        figures = []
        for programme in PROGRAMMES:
            households = int(caseload.get(programme, 0))
            paid = int(spending.get(programme) or 0)
            figures.append(
                indicator(
                    "assistance_caseload",
                    "救助对象: households with the programme in force",
                    "households",
                    households,
                    target_of(self.policy, f"indicator.assistance_caseload.{programme}", region_code, on),
                    {"households": households},
                    programme=programme,
                )
            )
            figures.append(
                indicator(
                    "assistance_spending",
                    "救助资金: paid for the months of the year so far",
                    "fen",
                    paid,
                    target_of(self.policy, f"indicator.assistance_spending.{programme}", region_code, on),
                    {"paid_fen": paid},
                    programme=programme,
                )
            )
        return figures

    def _dibao_standard(self, region_code: str, on: date) -> dict:
        try:
            standard = self.policy.resolve("assistance.dibao_standard_monthly_fen", region_code, on)
            monthly, value = standard.value, rules.yearly_standard_yuan(standard.value)
        except PolicyMissing:
            monthly = value = None
        return indicator(
            "dibao_standard",
            "城乡低保标准 in force",
            "yuan/person/year",
            value,
            target_of(self.policy, "indicator.dibao_standard_yearly_yuan", region_code, on),
            {"monthly_fen": monthly} if monthly is not None else {},
        )

    def _decision_time(self, region_code: str, on: date) -> dict:
        start, end = year_to_date(on)
        rows = self.db.execute(
            select(Application.applied_at, Application.decided_on).where(
                Application.region_code.startswith(region_prefix(region_code), autoescape=True),
                Application.decided_on >= start,
                Application.decided_on <= end,
            )
        ).all()
        pairs = [(applied.astimezone(LOCAL_ZONE).date(), decided) for applied, decided in rows]
        try:
            # the calendars of the earliest application's year onwards (one reaching back into
            # the year before counts that year's holidays)
            holidays, makeups = set(), set()
            for year in range(min([a for a, _ in pairs], default=on).year, on.year + 1):
                h, m, _ = self._calendar(region_code, date(year, 1, 1) if year < on.year else on)
                holidays |= h
                makeups |= m
            value = rules.mean_decision_working_days(pairs, frozenset(holidays), frozenset(makeups))
        except PolicyMissing:
            value = None  # no calendar for the region: working days cannot be counted
        return indicator(
            "decision_working_days",
            "申请到审批: working days from application to decision (mean)",
            "working_days",
            value,
            target_of(self.policy, "assistance.decision_working_days", region_code, on, comparison="at_most"),
            {"decisions": len(pairs)},
        )
