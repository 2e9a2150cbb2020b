"""Charity (慈善, 社会组织, 志愿, 福彩) over HTTP: social organisations, charity fundraising with
public disclosure, volunteers and the time bank, welfare-lottery funds and the region's
statistics. Rules and area scoping live in the charity service; these routes check the role,
validate the body against the contract and pass the caller along."""

from __future__ import annotations

from chassis import ServiceRpc
from contracts import charity as c
from contracts.roles import ADMIN, CITIZEN, CLERK, PARTNER, STAFF
from gateway.api import route

ORGS = "/api/v1/charity/organisations"
CAMPAIGNS = "/api/v1/charity/campaigns"
VOLUNTEERS = "/api/v1/charity/volunteers"


class CharityRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    charity = ServiceRpc("charity")

    # --- social organisations ---

    @route(
        "POST",
        ORGS,
        roles=STAFF,
        tag="charity",
        status=201,
        summary="Register (登记) or file (备案) a social organisation",
        body=c.OrganisationRequestSchema,
        response=c.OrganisationViewSchema,
    )
    def register_organisation(self, actor, body):
        return self.charity.register_organisation(actor.as_dict(), body)

    @route(
        "GET",
        ORGS + "/<organisation_id>",
        roles=STAFF,
        tag="charity",
        summary="An organisation: state (active, abnormal, dormant, cancelled), grade, reports, qualifications",
        response=c.OrganisationViewSchema,
    )
    def get_organisation(self, actor, body, organisation_id):
        return self.charity.get_organisation(actor.as_dict(), organisation_id)

    @route(
        "POST",
        ORGS + "/<organisation_id>/changes",
        roles=STAFF,
        tag="charity",
        summary="变更登记: change the name or legal representative, with the reason",
        body=c.OrganisationChangeSchema,
        response=c.OrganisationViewSchema,
    )
    def change_organisation(self, actor, body, organisation_id):
        return self.charity.change_organisation(actor.as_dict(), organisation_id, body)

    @route(
        "POST",
        ORGS + "/<organisation_id>/cancellation",
        roles=STAFF,
        tag="charity",
        summary="注销登记: cancel the organisation",
        body=c.CancellationSchema,
        response=c.OrganisationViewSchema,
    )
    def cancel_organisation(self, actor, body, organisation_id):
        return self.charity.cancel_organisation(actor.as_dict(), organisation_id, body)

    @route(
        "POST",
        ORGS + "/<organisation_id>/annual-reports",
        roles=STAFF,
        tag="charity",
        status=201,
        summary="年度报告 for a completed year (a late one brings an abnormal organisation back)",
        body=c.AnnualReportSchema,
        response=c.OrganisationViewSchema,
    )
    def submit_annual_report(self, actor, body, organisation_id):
        return self.charity.submit_annual_report(actor.as_dict(), organisation_id, body)

    @route(
        "POST",
        ORGS + "/<organisation_id>/grade",
        roles=STAFF,
        tag="charity",
        summary="等级评估: record the evaluation grade (1A–5A)",
        body=c.GradeRequestSchema,
        response=c.OrganisationViewSchema,
    )
    def grade_organisation(self, actor, body, organisation_id):
        return self.charity.grade_organisation(actor.as_dict(), organisation_id, body)

    @route(
        "POST",
        ORGS + "/<organisation_id>/charity-recognition",
        roles=STAFF,
        tag="charity",
        summary="慈善组织认定: recognise a registered organisation as a charity",
        response=c.OrganisationViewSchema,
    )
    def recognise_charity(self, actor, body, organisation_id):
        return self.charity.recognise_charity(actor.as_dict(), organisation_id)

    @route(
        "POST",
        ORGS + "/<organisation_id>/fundraising-qualification",
        roles=STAFF,
        tag="charity",
        summary="公开募捐资格: grant it when the legal preconditions hold (refusals list each one)",
        response=c.OrganisationViewSchema,
    )
    def qualify_fundraising(self, actor, body, organisation_id):
        return self.charity.qualify_fundraising(actor.as_dict(), organisation_id)

    @route(
        "POST",
        "/api/v1/charity/detection-job",
        roles=(ADMIN,),
        tag="charity",
        summary="Run the daily abnormal / dormant (僵尸) detection now (idempotent)",
        response=c.DetectionJobViewSchema,
    )
    def run_detection_job(self, actor, body):
        return self.charity.run_detection_job(actor.as_dict())

    @route(
        "POST",
        "/api/v1/charity/populations",
        roles=(ADMIN,),
        tag="charity",
        summary="A region's resident population for a year (denominator of organisations per 10,000)",
        body=c.PopulationSchema,
        response=c.PopulationSchema,
    )
    def set_population(self, actor, body):
        return self.charity.set_population(actor.as_dict(), body)

    # --- fundraising ---

    @route(
        "POST",
        CAMPAIGNS,
        roles=STAFF,
        tag="charity",
        status=201,
        summary="A campaign or standing fund with its plan (募捐方案), as a draft",
        body=c.CampaignRequestSchema,
        response=c.CampaignViewSchema,
    )
    def create_campaign(self, actor, body):
        return self.charity.create_campaign(actor.as_dict(), body)

    @route(
        "GET",
        CAMPAIGNS + "/<campaign_id>",
        roles=STAFF,
        tag="charity",
        summary="A campaign with raised, spent and balance",
        response=c.CampaignViewSchema,
    )
    def get_campaign(self, actor, body, campaign_id):
        return self.charity.get_campaign(actor.as_dict(), campaign_id)

    @route(
        "POST",
        CAMPAIGNS + "/<campaign_id>/filing",
        roles=STAFF,
        tag="charity",
        summary="募捐方案备案: file the plan (only with the public-fundraising qualification, before the start)",
        response=c.CampaignViewSchema,
    )
    def file_plan(self, actor, body, campaign_id):
        return self.charity.file_plan(actor.as_dict(), campaign_id)

    @route(
        "POST",
        CAMPAIGNS + "/<campaign_id>/donations",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="charity",
        status=201,
        summary="A donation with its receipt (only once the plan is filed; the same request id is the same donation)",
        body=c.DonationRequestSchema,
        response=c.DonationViewSchema,
    )
    def donate(self, actor, body, campaign_id):
        return self.charity.donate(actor.as_dict(), campaign_id, body)

    @route(
        "POST",
        CAMPAIGNS + "/<campaign_id>/spending",
        roles=STAFF,
        tag="charity",
        status=201,
        summary="募用分离: what the money paid for, recorded apart from donations, never beyond them",
        body=c.SpendingRequestSchema,
        response=c.CampaignViewSchema,
    )
    def record_spending(self, actor, body, campaign_id):
        return self.charity.record_spending(actor.as_dict(), campaign_id, body)

    @route(
        "GET",
        CAMPAIGNS + "/<campaign_id>/disclosure",
        roles=None,
        tag="charity",
        summary="阳光慈善: a filed campaign's totals for anyone (no donor or beneficiary named)",
        response=c.DisclosureViewSchema,
    )
    def campaign_disclosure(self, actor, body, campaign_id):
        return self.charity.disclosure(campaign_id)

    # --- volunteers and the time bank ---

    @route(
        "POST",
        VOLUNTEERS,
        roles=STAFF,
        tag="charity",
        status=201,
        summary="Register a volunteer by real name",
        body=c.VolunteerRequestSchema,
        response=c.VolunteerViewSchema,
    )
    def register_volunteer(self, actor, body):
        return self.charity.register_volunteer(actor.as_dict(), body)

    @route(
        "GET",
        VOLUNTEERS + "/<resident_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="charity",
        summary="A volunteer: service time and time-bank balance",
        response=c.VolunteerViewSchema,
    )
    def get_volunteer(self, actor, body, resident_id):
        return self.charity.get_volunteer(actor.as_dict(), resident_id)

    @route(
        "POST",
        VOLUNTEERS + "/<resident_id>/service-records",
        roles=STAFF,
        tag="charity",
        status=201,
        summary="Record service time (the service point's request id sent again is the same record)",
        body=c.ServiceRecordRequestSchema,
        response=c.VolunteerViewSchema,
    )
    def record_volunteer_service(self, actor, body, resident_id):
        return self.charity.record_service(actor.as_dict(), resident_id, body)

    @route(
        "POST",
        "/api/v1/charity/time-bank/redemptions",
        roles=(CLERK, PARTNER, ADMIN),
        tag="charity",
        status=201,
        summary="Redeem time-bank credits for care (care providers or caseworkers; the same key is "
        "the same redemption)",
        body=c.RedemptionRequestSchema,
        response=c.RedemptionViewSchema,
    )
    def redeem_time_credits(self, actor, body):
        return self.charity.redeem_time_credits(actor.as_dict(), body)

    # --- welfare-lottery funds and statistics ---

    @route(
        "POST",
        "/api/v1/charity/lottery-allocations",
        roles=STAFF,
        tag="charity",
        status=201,
        summary="福彩公益金: allocate by purpose and region; answers the year's elderly-care share against the rule",
        body=c.LotteryAllocationSchema,
        response=c.LotteryReportSchema,
    )
    def allocate_lottery_funds(self, actor, body):
        return self.charity.allocate_lottery_funds(actor.as_dict(), body)

    @route(
        "GET",
        "/api/v1/charity/lottery/<region_code>/<int:year>",
        roles=STAFF,
        tag="charity",
        summary="The region's lottery-fund allocations in a year, by purpose, with the ≥55% elderly-care check",
        response=c.LotteryReportSchema,
    )
    def lottery_report(self, actor, body, region_code, year):
        return self.charity.lottery_report(actor.as_dict(), region_code, year)

    @route(
        "GET",
        "/api/v1/charity/statistics/<region_code>",
        roles=STAFF,
        tag="charity",
        summary="Organisations per 10,000 residents against the target, graded share, abnormal and dormant, "
        "fundraising, referrals aided, volunteers, lottery funds",
        response=c.StatisticsViewSchema,
    )
    def charity_statistics(self, actor, body, region_code):
        return self.charity.statistics(actor.as_dict(), region_code)
