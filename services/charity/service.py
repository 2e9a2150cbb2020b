"""Charity (慈善, 社会组织, 志愿, 福彩): entrypoints only move data between the wire, the rules
(`rules.py`) and the database.

Social organisations are registered (or filed), changed, cancelled, report yearly and are graded;
a daily job, idempotent and driven by the injectable clock, derives from the annual reports which
are abnormal (异常名录) or dormant (僵尸) and brings back those that report late. A recognised
charity with the public-fundraising qualification files a campaign's plan (募捐方案备案) before the
campaign takes any donation; donations (with receipts) and spending are separate ledgers
(募用分离), and the public disclosure (阳光慈善) shows totals and counts, never a person.

Assistance refers households its aid leaves uncovered (`assistance.household_referred`); charity
matches the need to a campaign or fund of the area, pays the aid from it and answers with
`charity.referral_answered`, declining a need already aided, so one household has one chain of
assistance. Volunteers' service is recorded once per service-point record and credited to the time
bank once (`charity.service_recorded`); care's orders paid with credits are debited once per order
from `care.credits_requested` and given back on `care.order_cancelled`, answered by
`charity.credits_answered`; the idempotent redemption command stays for providers and caseworkers.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from chassis import (
    Actor,
    Audit,
    Clock,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    NotFound,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    rpc,
)
from chassis.lease import Lease
from chassis.policy import PolicyMissing
from chassis.regions import region_prefix, require_region_code
from contracts.person import InvalidResidentId, ResidentId
from contracts.roles import ADMIN
from services.charity import rules
from services.charity.assistance_link import AssistanceLink
from services.charity.exceptions import (
    Conflict,
    UnknownCampaign,
    UnknownOrganisation,
)
from services.charity.fundraising import Fundraising
from services.charity.indicators import Indicators
from services.charity.lottery_funds import LotteryFunds
from services.charity.models import (
    AnnualReport,
    Campaign,
    Donation,
    Organisation,
    Referral,
    RegionPopulation,
    ServiceRecord,
    Spending,
    TimeBankEntry,
    Volunteer,
)
from services.charity.organisations import SocialOrganisations
from services.charity.schemas import (
    CampaignViewSchema,
    DonationViewSchema,
    OrganisationViewSchema,
    PopulationSchema,
    StatisticsViewSchema,
    VolunteerViewSchema,
    dump,
    load,
)
from services.charity.shared import (
    _grade_in_force,
)
from services.charity.time_bank import TimeBank


class CharityService(SocialOrganisations, Fundraising, AssistanceLink, TimeBank, LotteryFunds, Indicators, Operable):
    name = "charity"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    lease = Lease()  # the hourly job: once an hour across instances
    log = Logger()
    metrics = WorkerMetrics()

    # --- statistics ---------------------------------------------------------------------------------

    @rpc
    def set_population(self, actor, request):
        """The region's resident population for a year (from the statistics bureau)."""
        actor, data = Actor.from_dict(actor), load(PopulationSchema, request)
        if actor.role != ADMIN:
            raise Forbidden("population figures are entered by the bureau's data office (admin)")
        row = self.db.get(RegionPopulation, (data["region_code"], data["year"]), with_for_update=True)
        if row is None:
            self.db.add(RegionPopulation(**data))
        else:
            row.residents = data["residents"]
        self.audit.record(actor, "population.set", f"region-{data['region_code']}", "set", **data)
        return data

    @rpc
    def statistics(self, actor, region_code):
        """The region's indicators today: organisations per 10,000 residents against the target,
        graded share, abnormal and dormant, fundraising, referrals aided, volunteers, lottery."""
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code)
        today = self.clock.today()
        prefix = region_prefix(region_code)
        here = Organisation.region_code.startswith(prefix, autoescape=True)
        living = Organisation.state != "cancelled"
        graded = (Organisation.grade.is_not(None)) & (Organisation.grade_valid_until >= today)
        organisations, registered, graded_count, abnormal, dormant, charities, qualified = self.db.execute(
            select(
                func.count(),
                func.count().filter(Organisation.registration == "registered"),
                func.count().filter(graded),
                func.count().filter(Organisation.state == "abnormal"),
                func.count().filter(Organisation.state == "dormant"),
                func.count().filter(Organisation.charity_recognised_on.is_not(None)),
                func.count().filter(Organisation.fundraising_qualified_on.is_not(None)),
            ).where(here, living)
        ).one()
        residents = self.db.execute(
            select(RegionPopulation.residents)
            .where(RegionPopulation.region_code == region_code, RegionPopulation.year <= today.year)
            .order_by(RegionPopulation.year.desc())
            .limit(1)
        ).scalar()
        target = self._optional_policy("charity.organisations_per_10k_target", region_code, today)
        campaigns = select(Campaign.id).where(Campaign.region_code.startswith(prefix, autoescape=True))
        raised = self.db.execute(
            select(func.coalesce(func.sum(Donation.amount_fen), 0)).where(Donation.campaign_id.in_(campaigns))
        ).scalar_one()
        spent = self.db.execute(
            select(func.coalesce(func.sum(Spending.amount_fen), 0)).where(Spending.campaign_id.in_(campaigns))
        ).scalar_one()
        aided = self.db.execute(
            select(func.count())
            .select_from(Referral)
            .where(Referral.region_code.startswith(prefix, autoescape=True), Referral.outcome == "aided")
        ).scalar_one()
        volunteers_here = Volunteer.region_code.startswith(prefix, autoescape=True)
        volunteers = self.db.execute(select(func.count()).select_from(Volunteer).where(volunteers_here)).scalar_one()
        minutes = self.db.execute(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0))
            .join(Volunteer, Volunteer.id == ServiceRecord.volunteer_id)
            .where(volunteers_here)
        ).scalar_one()
        return dump(
            StatisticsViewSchema,
            {
                "region_code": region_code,
                "on": today,
                "organisations": organisations,
                "registered": registered,
                "residents": residents,
                "organisations_per_10k": rules.per_10k(organisations, residents),
                "registered_per_10k": rules.per_10k(registered, residents),
                "target_per_10k": (target.value or {}).get("all") if target else None,
                "registered_target_per_10k": (target.value or {}).get("registered") if target else None,
                "graded_ratio": rules.ratio(graded_count, organisations),
                "abnormal": abnormal,
                "dormant": dormant,
                "charities": charities,
                "fundraising_qualified": qualified,
                "raised_fen": int(raised),
                "spent_fen": int(spent),
                "referrals_aided": aided,
                "volunteers": volunteers,
                "service_minutes": int(minutes),
                "lottery": self._lottery(region_code, today.year),
            },
        )

    # --- shared ------------------------------------------------------------------------------------

    def _optional_policy(self, name: str, region_code: str, on: date):
        """A parameter that may have no version for the region (then the indicator is not judged)."""
        try:
            return self.policy.resolve(name, region_code, on)
        except PolicyMissing:
            return None

    def _org(self, actor: Actor, organisation_id, for_update: bool = False) -> Organisation:
        """The organisation, for staff of its area (the one load-and-authorise signature)."""
        org = self._org_by_id(organisation_id, for_update)
        actor.require_staff_in(org.region_code)
        return org

    def _org_by_id(self, organisation_id, for_update: bool = False) -> Organisation:
        """The organisation, for what the service does itself (events, jobs) or shows anyone."""
        org = self.db.get(Organisation, str(organisation_id), with_for_update=for_update)
        if org is None:
            raise UnknownOrganisation(f"no organisation {organisation_id}", errors={"organisation_id": ["unknown"]})
        return org

    @staticmethod
    def _refuse_if_cancelled(org: Organisation) -> None:
        if org.state == "cancelled":
            raise Conflict(
                f"the organisation was cancelled on {org.cancelled_on}", errors={"organisation_id": ["cancelled"]}
            )

    def _report_years(self, organisation_id: str) -> list[int]:
        return list(
            self.db.execute(
                select(AnnualReport.year)
                .where(AnnualReport.organisation_id == organisation_id)
                .order_by(AnnualReport.year)
            ).scalars()
        )

    def _org_view(self, org: Organisation) -> dict:
        today = self.clock.today()
        in_force = _grade_in_force(org, today)
        return dump(
            OrganisationViewSchema,
            {
                "organisation_id": org.id,
                "credit_code": org.credit_code,
                "name": org.name,
                "kind": org.kind,
                "registration": org.registration,
                "region_code": org.region_code,
                "legal_representative": org.legal_representative,
                "registered_on": org.registered_on,
                "state": org.state,
                "state_reason": org.state_reason,
                "grade": in_force,
                "grade_valid_until": org.grade_valid_until if in_force else None,
                "report_years": self._report_years(org.id),
                "charity_recognised_on": org.charity_recognised_on,
                "fundraising_qualified_on": org.fundraising_qualified_on,
                "cancelled_on": org.cancelled_on,
            },
        )

    def _campaign(self, campaign_id, for_update: bool = False) -> Campaign:
        campaign = self.db.get(Campaign, str(campaign_id), with_for_update=for_update)
        if campaign is None:
            raise UnknownCampaign(f"no campaign {campaign_id}", errors={"campaign_id": ["unknown"]})
        return campaign

    def _totals(self, campaign_id: str) -> tuple[int, int]:
        raised = self.db.execute(
            select(func.coalesce(func.sum(Donation.amount_fen), 0)).where(Donation.campaign_id == campaign_id)
        ).scalar_one()
        spent = self.db.execute(
            select(func.coalesce(func.sum(Spending.amount_fen), 0)).where(Spending.campaign_id == campaign_id)
        ).scalar_one()
        return int(raised), int(spent)

    def _campaign_view(self, campaign: Campaign) -> dict:
        raised, spent = self._totals(campaign.id)
        return dump(
            CampaignViewSchema,
            {
                "campaign_id": campaign.id,
                "organisation_id": campaign.organisation_id,
                "title": campaign.title,
                "kind": campaign.kind,
                "needs": campaign.needs,
                "region_code": campaign.region_code,
                "target_fen": campaign.target_fen,
                "starts_on": campaign.starts_on,
                "ends_on": campaign.ends_on,
                "state": campaign.state,
                "filed_on": campaign.filed_on,
                "raised_fen": raised,
                "spent_fen": spent,
                "balance_fen": raised - spent,
            },
        )

    def _donation_view(self, donation: Donation) -> dict:
        return dump(
            DonationViewSchema,
            {
                "donation_id": donation.id,
                "campaign_id": donation.campaign_id,
                "amount_fen": donation.amount_fen,
                "receipt_number": donation.receipt_number,
                "received_on": donation.received_on,
            },
        )

    def _volunteer(self, resident_id: str, for_update: bool = False) -> Volunteer:
        try:
            number = ResidentId.parse(resident_id).number
        except InvalidResidentId as exc:
            raise InvalidInput("not a resident ID number", errors={"resident_id": [exc.reason]}) from None
        query = select(Volunteer).where(Volunteer.resident_id == number)
        volunteer = self.db.execute(query.with_for_update() if for_update else query).scalar()
        if volunteer is None:
            raise NotFound("no registered volunteer with this ID", errors={"resident_id": ["not a volunteer"]})
        return volunteer

    def _balance(self, volunteer_id: str) -> int:
        return int(
            self.db.execute(
                select(func.coalesce(func.sum(TimeBankEntry.minutes), 0)).where(
                    TimeBankEntry.volunteer_id == volunteer_id
                )
            ).scalar_one()
        )

    def _volunteer_view(self, volunteer: Volunteer) -> dict:
        served = self.db.execute(
            select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(ServiceRecord.volunteer_id == volunteer.id)
        ).scalar_one()
        return dump(
            VolunteerViewSchema,
            {
                "volunteer_id": volunteer.id,
                "resident_id": volunteer.resident_id,
                "name": volunteer.name,
                "region_code": volunteer.region_code,
                "registered_on": volunteer.registered_on,
                "service_minutes": int(served),
                "credit_minutes": self._balance(volunteer.id),
            },
        )
