"""慈善组织 and 公开募捐: charity organisations and public fundraising. A mixin of the charity
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select

from chassis import (
    Actor,
    InvalidInput,
    rpc,
)
from chassis.errors import refusals_as
from contracts.roles import CITIZEN
from services.charity import rules
from services.charity.exceptions import (
    DonationRefused,
    KeyReused,
    NotQualified,
    PolicyUnusable,
    Refused,
    SpendingRefused,
    UnknownCampaign,
)
from services.charity.models import (
    Campaign,
    Donation,
    Organisation,
    Spending,
)
from services.charity.schemas import (
    CampaignRequestSchema,
    DisclosureViewSchema,
    DonationRequestSchema,
    SpendingRequestSchema,
    dump,
    load,
)
from services.charity.shared import (
    _campaign_subject,
    _grade_in_force,
    _org_subject,
)


class Fundraising:
    """Mixed into the charity service; uses its db, audit, policy, clock."""

    # --- charity organisations and public fundraising ---------------------------------------------------

    @rpc
    def recognise_charity(self, actor, organisation_id):
        """慈善组织认定: a registered, active organisation."""
        actor = Actor.from_dict(actor)
        org = self._org(actor, organisation_id, for_update=True)
        if org.state != "active" or org.registration != "registered":
            reason = f"the organisation is {org.state}" if org.state != "active" else "a filed organisation"
            self.audit.record_refusal(actor, "charity.recognise", _org_subject(org), reason)
            raise Refused(
                "only a registered, active organisation is recognised as a charity",
                errors={"organisation_id": [reason]},
            )
        if org.charity_recognised_on is None:
            org.charity_recognised_on, org.updated_at = self.clock.today(), self.clock.now()
            self.audit.record(actor, "charity.recognise", _org_subject(org), "recognised")
        return self._org_view(org)

    @rpc
    def qualify_fundraising(self, actor, organisation_id):
        """公开募捐资格, with its legal preconditions (policy: years registered, grade)."""
        actor = Actor.from_dict(actor)
        org = self._org(actor, organisation_id, for_update=True)
        today = self.clock.today()
        years = self.policy.resolve("charity.fundraising_min_registered_years", org.region_code, today)
        grade = self.policy.resolve("charity.fundraising_min_grade", org.region_code, today)
        version = f"{years.version};{grade.version}"
        with refusals_as(PolicyUnusable):
            reasons = rules.qualification_refusals(
                rules.QualificationFacts(
                    org.state,
                    org.registration,
                    org.registered_on,
                    org.charity_recognised_on is not None,
                    _grade_in_force(org, today),
                ),
                today,
                years.value,
                grade.value,
            )
        if reasons:
            self.audit.record_refusal(
                actor, "charity.qualify", _org_subject(org), "; ".join(reasons), policy_version=version
            )
            raise NotQualified(
                "the organisation does not meet the conditions of the public-fundraising qualification",
                errors={"organisation_id": reasons},
            )
        if org.fundraising_qualified_on is None:
            org.fundraising_qualified_on, org.updated_at = today, self.clock.now()
            self.audit.record(actor, "charity.qualify", _org_subject(org), "qualified", policy_version=version)
        return self._org_view(org)

    @rpc
    def create_campaign(self, actor, request):
        """A campaign (or standing fund) with its plan, as a draft: it takes nothing until filed."""
        actor, data = Actor.from_dict(actor), load(CampaignRequestSchema, request)
        org = self._org(actor, data["organisation_id"])
        self._refuse_if_cancelled(org)
        if data["ends_on"] is not None and data["ends_on"] < data["starts_on"]:
            raise InvalidInput("a campaign ends after it starts", errors={"ends_on": ["before the start"]})
        outside = rules.campaign_region_refusal(org.region_code, data["region_code"])
        if outside:
            self.audit.record_refusal(actor, "campaign.create", _org_subject(org), outside)
            raise InvalidInput("the campaign aids outside its organisation's area", errors={"region_code": [outside]})
        campaign = Campaign(
            id=str(uuid.uuid4()),
            state="draft",
            created_at=self.clock.now(),
            **{**data, "needs": sorted(set(data["needs"]))},
        )
        self.db.add(campaign)
        self.audit.record(actor, "campaign.create", _campaign_subject(campaign), "draft", title=campaign.title)
        return self._campaign_view(campaign)

    @rpc
    def file_plan(self, actor, campaign_id):
        """募捐方案备案: only a qualified organisation files, before the campaign starts."""
        actor = Actor.from_dict(actor)
        campaign = self._campaign(campaign_id, for_update=True)
        org = self._org(actor, campaign.organisation_id, for_update=True)
        today = self.clock.today()
        errors = rules.filing_refusals(
            qualified=org.fundraising_qualified_on is not None,
            state=org.state,
            campaign_state=campaign.state,
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
            kind=campaign.kind,
            today=today,
        )
        if errors:
            self.audit.record_refusal(
                actor,
                "campaign.file",
                _campaign_subject(campaign),
                "; ".join(r for reasons in errors.values() for r in reasons),
            )
            problem = NotQualified if "organisation_id" in errors else Refused
            raise problem("the fundraising plan cannot be filed", errors=errors)
        campaign.state, campaign.filed_on = "filed", today
        self.audit.record(actor, "campaign.file", _campaign_subject(campaign), "filed")
        return self._campaign_view(campaign)

    @rpc
    def get_campaign(self, actor, campaign_id):
        actor = Actor.from_dict(actor)
        campaign = self._campaign(campaign_id)
        self._org(actor, campaign.organisation_id)
        return self._campaign_view(campaign)

    @rpc
    def donate(self, actor, campaign_id, request):
        """A donation, with its receipt; the channel's request id sent again is the same donation."""
        actor, data = Actor.from_dict(actor), load(DonationRequestSchema, request)
        campaign = self._campaign(campaign_id)
        # the organisation's row orders its receipts (and serialises its donations)
        org = self._org_by_id(campaign.organisation_id, for_update=True)
        if actor.role != CITIZEN:
            actor.require_staff_in(org.region_code)
        known = self.db.execute(
            select(Donation).where(Donation.campaign_id == campaign.id, Donation.request_id == data["request_id"])
        ).scalar()
        if known is not None:
            if (known.amount_fen, known.donor_name) != (data["amount_fen"], data["donor_name"]):
                raise KeyReused(
                    "this request id was used for another donation",
                    errors={"request_id": ["used already with another amount or donor"]},
                )
            return self._donation_view(known)
        today = self.clock.today()
        errors = rules.donation_refusals(
            campaign_state=campaign.state,
            organisation_state=org.state,
            starts_on=campaign.starts_on,
            ends_on=campaign.ends_on,
            today=today,
        )
        if errors:
            self.audit.record_refusal(
                actor, "campaign.donation", _campaign_subject(campaign), "; ".join(errors["campaign_id"])
            )
            raise DonationRefused("the campaign cannot take donations", errors=errors)
        issued = self.db.execute(
            select(func.count())
            .select_from(Donation)
            .join(Campaign, Campaign.id == Donation.campaign_id)
            .where(Campaign.organisation_id == org.id, Donation.received_on >= date(today.year, 1, 1))
        ).scalar_one()
        # numbered per organisation and year under its whole credit code: a shorter prefix would let
        # two organisations' receipts collide on the unique number
        donation = Donation(
            id=str(uuid.uuid4()),
            campaign_id=campaign.id,
            received_on=today,
            receipt_number=f"{org.credit_code}-{today.year}-{issued + 1:06d}",
            **data,
        )
        self.db.add(donation)
        self.audit.record(
            actor,
            "campaign.donation",
            _campaign_subject(campaign),
            "received",
            amount_fen=donation.amount_fen,
            receipt_number=donation.receipt_number,
        )
        return self._donation_view(donation)

    @rpc
    def record_spending(self, actor, campaign_id, request):
        """What the money paid for, recorded apart from the donations and never beyond them."""
        actor, data = Actor.from_dict(actor), load(SpendingRequestSchema, request)
        campaign = self._campaign(campaign_id, for_update=True)
        self._org(actor, campaign.organisation_id)
        known = self.db.execute(
            select(Spending).where(Spending.campaign_id == campaign.id, Spending.request_id == data["request_id"])
        ).scalar()
        if known is not None:
            if known.amount_fen != data["amount_fen"]:
                raise KeyReused(
                    "this request id was used for other spending",
                    errors={"request_id": ["used already with another amount"]},
                )
            return self._campaign_view(campaign)
        if campaign.state != "filed":
            raise SpendingRefused(
                "a campaign whose plan is not filed holds no money", errors={"campaign_id": ["the plan is not filed"]}
            )
        raised, spent = self._totals(campaign.id)
        refusal = rules.spending_refusal(data["amount_fen"], raised, spent)
        if refusal:
            self.audit.record_refusal(actor, "campaign.spending", _campaign_subject(campaign), refusal)
            raise SpendingRefused("the campaign cannot pay this", errors={"amount_fen": [refusal]})
        self.db.add(
            Spending(id=str(uuid.uuid4()), campaign_id=campaign.id, kind="project", recorded_by=actor.id, **data)
        )
        self.db.flush()
        self.audit.record(
            actor,
            "campaign.spending",
            _campaign_subject(campaign),
            "spent",
            amount_fen=data["amount_fen"],
            purpose=data["purpose"],
        )
        return self._campaign_view(campaign)

    @rpc
    def disclosure(self, campaign_id):
        """阳光慈善: anyone may read a filed campaign's totals; no person is named."""
        campaign = self.db.get(Campaign, str(campaign_id))
        if campaign is None or campaign.state != "filed":
            raise UnknownCampaign(f"no filed campaign {campaign_id}")
        org = self.db.get(Organisation, campaign.organisation_id)
        raised, donations = self.db.execute(
            select(func.coalesce(func.sum(Donation.amount_fen), 0), func.count(Donation.id)).where(
                Donation.campaign_id == campaign.id
            )
        ).one()
        spent, aid, beneficiaries = self.db.execute(
            select(
                func.coalesce(func.sum(Spending.amount_fen), 0),
                func.coalesce(func.sum(Spending.amount_fen).filter(Spending.kind == "aid"), 0),
                func.coalesce(func.sum(Spending.beneficiaries), 0),
            ).where(Spending.campaign_id == campaign.id)
        ).one()
        return dump(
            DisclosureViewSchema,
            {
                "campaign_id": campaign.id,
                "title": campaign.title,
                "organisation": org.name,
                "filed_on": campaign.filed_on,
                "starts_on": campaign.starts_on,
                "ends_on": campaign.ends_on,
                "target_fen": campaign.target_fen,
                "raised_fen": raised,
                "donations": donations,
                "spent_fen": spent,
                "aid_fen": aid,
                "beneficiaries": beneficiaries,
                "balance_fen": raised - spent,
            },
        )
