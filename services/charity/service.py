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

import uuid
from datetime import date, timedelta

from sqlalchemy import String, Text, cast, column, func, select, update, values

from chassis import (
    SYSTEM,
    Actor,
    Audit,
    AuditEntry,
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
    handle_event,
    rpc,
)
from chassis.db import dialect_insert
from chassis.errors import refusals_as
from chassis.lease import Lease, leased_job
from chassis.policy import PolicyMissing
from chassis.regions import region_covers, region_prefix, require_region_code
from contracts.partners import CARE_PROVIDERS
from contracts.person import InvalidResidentId, ResidentId
from contracts.roles import ADMIN, CITIZEN, PARTNER, SYSTEM_ROLE
from services.charity import rules
from services.charity.exceptions import (
    Conflict,
    DonationRefused,
    KeyReused,
    NotQualified,
    PolicyUnusable,
    RedemptionRefused,
    Refused,
    SpendingRefused,
    UnknownCampaign,
    UnknownOrganisation,
)
from services.charity.indicators import Indicators
from services.charity.models import (
    AidRecipient,
    AnnualReport,
    Campaign,
    DetectionRun,
    Donation,
    LotteryAllocation,
    Organisation,
    OrganisationChange,
    Referral,
    RegionPopulation,
    ServiceRecord,
    Spending,
    TimeBankEntry,
    Volunteer,
)
from services.charity.schemas import (
    AnnualReportSchema,
    CampaignRequestSchema,
    CampaignViewSchema,
    CancellationSchema,
    DetectionJobViewSchema,
    DisclosureViewSchema,
    DonationRequestSchema,
    DonationViewSchema,
    GradeRequestSchema,
    LotteryAllocationSchema,
    LotteryReportSchema,
    OrganisationChangeSchema,
    OrganisationRequestSchema,
    OrganisationViewSchema,
    PopulationSchema,
    RedemptionRequestSchema,
    RedemptionViewSchema,
    ServiceRecordRequestSchema,
    SpendingRequestSchema,
    StatisticsViewSchema,
    VolunteerRequestSchema,
    VolunteerViewSchema,
    dump,
    load,
)


class CharityService(Indicators, Operable):
    name = "charity"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    lease = Lease()  # the hourly job: once an hour across instances
    log = Logger()
    metrics = WorkerMetrics()

    # --- social organisations (社会组织) ---------------------------------------------------------------

    @rpc
    def register_organisation(self, actor, request):
        """成立登记 (or 备案 of a community organisation) with the bureau of the area."""
        actor, data = Actor.from_dict(actor), load(OrganisationRequestSchema, request)
        actor.require_staff_in(data["region_code"])
        if data["registered_on"] > self.clock.today():
            raise InvalidInput("a registration cannot be in the future", errors={"registered_on": ["in the future"]})
        if self.db.execute(select(Organisation.id).where(Organisation.credit_code == data["credit_code"])).first():
            raise Conflict(
                "an organisation with this credit code is registered already",
                errors={"credit_code": ["registered already"]},
            )
        org = Organisation(
            id=str(uuid.uuid4()), state="active", state_since=data["registered_on"], updated_at=self.clock.now(), **data
        )
        self.db.add(org)
        self.audit.record(
            actor,
            "organisation.register",
            _org_subject(org),
            "registered",
            kind=org.kind,
            registration=org.registration,
        )
        return self._org_view(org)

    @rpc
    def get_organisation(self, actor, organisation_id):
        actor = Actor.from_dict(actor)
        org = self._org(organisation_id)
        actor.require_staff_in(org.region_code)
        return self._org_view(org)

    @rpc
    def change_organisation(self, actor, organisation_id, request):
        """变更登记: each changed field kept with its value before."""
        actor, data = Actor.from_dict(actor), load(OrganisationChangeSchema, request)
        org = self._org(organisation_id, for_update=True, staff=actor)
        self._refuse_if_cancelled(org)
        changed = {
            f: data[f] for f in ("name", "legal_representative") if data[f] is not None and data[f] != getattr(org, f)
        }
        if not changed:
            raise InvalidInput(
                "nothing changes", errors={"name": ["give a new value"], "legal_representative": ["give a new value"]}
            )
        now = self.clock.now()
        for field, value in changed.items():
            self.db.add(
                OrganisationChange(
                    organisation_id=org.id,
                    field=field,
                    before=getattr(org, field),
                    after=value,
                    reason=data["reason"],
                    changed_at=now,
                    changed_by=actor.id,
                )
            )
            setattr(org, field, value)
        org.updated_at = now
        self.audit.record(
            actor, "organisation.change", _org_subject(org), "changed", reason=data["reason"], fields=sorted(changed)
        )
        return self._org_view(org)

    @rpc
    def cancel_organisation(self, actor, organisation_id, request):
        """注销登记: the organisation, its recognition and qualification end; its campaigns stop."""
        actor, data = Actor.from_dict(actor), load(CancellationSchema, request)
        org = self._org(organisation_id, for_update=True, staff=actor)
        self._refuse_if_cancelled(org)
        if data["cancelled_on"] < org.registered_on:
            raise InvalidInput(
                "a cancellation cannot come before the registration",
                errors={"cancelled_on": [f"before {org.registered_on}"]},
            )
        org.state, org.state_reason, org.state_since = "cancelled", data["reason"], data["cancelled_on"]
        org.cancelled_on, org.updated_at = data["cancelled_on"], self.clock.now()
        self.audit.record(actor, "organisation.cancel", _org_subject(org), "cancelled", reason=data["reason"])
        return self._org_view(org)

    @rpc
    def submit_annual_report(self, actor, organisation_id, request):
        """年度报告 for a completed year; a late one brings an abnormal or dormant organisation back."""
        actor, data = Actor.from_dict(actor), load(AnnualReportSchema, request)
        org = self._org(organisation_id, for_update=True, staff=actor)
        self._refuse_if_cancelled(org)
        today = self.clock.today()
        refusal = rules.report_year_refusal(data["year"], org.registered_on, today, self._report_years(org.id))
        if refusal:
            raise Refused("the annual report cannot be taken", errors={"year": [refusal]})
        self.db.add(AnnualReport(organisation_id=org.id, submitted_on=today, **data))
        self.db.flush()
        self.audit.record(actor, "organisation.annual_report", _org_subject(org), "submitted", year=data["year"])
        self._settle_states(actor, today, [org.id])
        return self._org_view(org)

    @rpc
    def grade_organisation(self, actor, organisation_id, request):
        """等级评估: the grade (1A–5A) and until when it counts (policy)."""
        actor, data = Actor.from_dict(actor), load(GradeRequestSchema, request)
        org = self._org(organisation_id, for_update=True, staff=actor)
        self._refuse_if_cancelled(org)
        if data["graded_on"] > self.clock.today():
            raise InvalidInput("an evaluation cannot be in the future", errors={"graded_on": ["in the future"]})
        years = self.policy.resolve("charity.grade_valid_years", org.region_code, data["graded_on"])
        with refusals_as(PolicyUnusable):
            valid_until = rules.grade_valid_until(data["graded_on"], years.value)
        org.grade, org.graded_on, org.grade_valid_until = data["grade"], data["graded_on"], valid_until
        org.updated_at = self.clock.now()
        self.audit.record(
            actor,
            "organisation.grade",
            _org_subject(org),
            data["grade"],
            policy_version=years.version,
            valid_until=valid_until,
        )
        return self._org_view(org)

    # --- abnormal and dormant organisations: the daily job ---------------------------------------------

    @leased_job("charity.organisation_detection", every=timedelta(hours=1))
    def detect_hourly(self):
        """Hourly, so a process that was down at midnight catches up within the hour; the state is
        derived from the reports, so running it again changes nothing."""
        self._detect(SYSTEM)

    @rpc
    def run_detection_job(self, actor):
        actor = Actor.from_dict(actor)
        if actor.role != ADMIN:
            raise Forbidden("only operations (admin) start the job by hand")
        return self._detect(actor)

    def _detect(self, actor: Actor) -> dict:
        today = self.clock.today()
        changed = self._settle_states(actor, today)
        insert = dialect_insert(self.db, DetectionRun.__table__)
        runs, changed_today = self.db.execute(
            insert.values(run_on=today, runs=1, changed=changed, last_run_at=self.clock.now())
            .on_conflict_do_update(
                index_elements=["run_on"],
                set_={
                    "runs": DetectionRun.runs + 1,
                    "changed": DetectionRun.changed + changed,
                    "last_run_at": insert.excluded.last_run_at,
                },
            )
            .returning(DetectionRun.runs, DetectionRun.changed)
        ).one()
        if changed:
            self.log.info("organisations.state_changed", changed=changed)
        return dump(
            DetectionJobViewSchema,
            {"run_on": today, "changed": changed, "changed_today": changed_today, "runs_today": runs},
        )

    def _settle_states(self, actor: Actor, today: date, organisation_ids: list[str] | None = None) -> int:
        """Set the state the annual reports give, for every organisation not cancelled (the job) or
        for those given (one, after its annual report); returns how many changed (each audited).

        Set-based: one read of the organisations with their report years, the policy resolved once
        per region, the pure rule per organisation, then only those whose state changes are locked,
        read again and written in one UPDATE. The second read, under the locks, is what makes it
        safe to run beside the clerks: an annual report is only ever added under its organisation's
        lock (`submit_annual_report`), so a report committed after the first read is seen, and
        anything that changed the state in between is too. The UPDATE is guarded by the state read
        as well, so a row changed since is never overwritten even where there are no row locks
        (SQLite)."""
        policies: dict[str, tuple] = {}  # region → its three detection parameters, for this run

        def moves(rows) -> list:
            found = []
            for row in rows:
                params = policies.get(row.region_code)
                if params is None:
                    params = policies[row.region_code] = tuple(
                        self.policy.resolve(name, row.region_code, today) for name in _DETECTION_POLICY
                    )
                years = [int(year) for year in row.years.split(",")] if row.years else []
                with refusals_as(PolicyUnusable):
                    status = rules.organisation_status(row.registered_on, years, today, *(p.value for p in params))
                if status.state != row.state:
                    found.append((row, status, params))
            return found

        candidates = moves(self._standing(organisation_ids))
        if not candidates:
            return 0
        ids = [row.id for row, _, _ in candidates]
        for chunk in _chunks(ids):
            self.db.execute(
                select(Organisation.id).where(Organisation.id.in_(chunk)).order_by(Organisation.id).with_for_update()
            ).all()
        confirmed = moves(self._standing(ids))
        now, written = self.clock.now(), set()
        for chunk in _chunks(confirmed):
            read = (
                values(
                    column("id", String),
                    column("state_read", String),
                    column("state", String),
                    column("reason", Text),
                    name="settled",
                )
                .data([(row.id, row.state, status.state, status.reason) for row, status, _ in chunk])
                .cte("settled")
            )
            written.update(
                self.db.execute(
                    update(Organisation)
                    .where(Organisation.id == read.c.id, Organisation.state == read.c.state_read)
                    .values(state=read.c.state, state_reason=read.c.reason, state_since=today, updated_at=now)
                    .returning(Organisation.id)
                    .execution_options(synchronize_session="fetch")
                ).scalars()
            )
        return self.audit.record_many(
            actor,
            "organisation.state",
            [
                AuditEntry(
                    _org_subject(row),
                    status.state,
                    status.reason,
                    ";".join(p.version for p in params),
                    {"before": row.state, "missing_years": list(status.missing_years)},
                )
                for row, status, params in confirmed
                if row.id in written
            ],
        )

    def _standing(self, organisation_ids: list[str] | None = None) -> list:
        """Organisations not cancelled (all, or those given) with what their state is derived from:
        region, registration date, state, and the years reported (comma-separated, or None): one
        query (one per chunk of the ids given)."""
        if organisation_ids is None:
            return self.db.execute(_standing_query()).all()
        return [row for chunk in _chunks(organisation_ids) for row in self.db.execute(_standing_query(chunk)).all()]

    # --- charity organisations and public fundraising ---------------------------------------------------

    @rpc
    def recognise_charity(self, actor, organisation_id):
        """慈善组织认定: a registered, active organisation."""
        actor = Actor.from_dict(actor)
        org = self._org(organisation_id, for_update=True, staff=actor)
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
        org = self._org(organisation_id, for_update=True, staff=actor)
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
        org = self._org(data["organisation_id"], staff=actor)
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
        org = self._org(campaign.organisation_id, for_update=True, staff=actor)
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
        self._org(campaign.organisation_id, staff=actor)
        return self._campaign_view(campaign)

    @rpc
    def donate(self, actor, campaign_id, request):
        """A donation, with its receipt; the channel's request id sent again is the same donation."""
        actor, data = Actor.from_dict(actor), load(DonationRequestSchema, request)
        campaign = self._campaign(campaign_id)
        # the organisation's row orders its receipts (and serialises its donations)
        org = self._org(campaign.organisation_id, for_update=True)
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
        self._org(campaign.organisation_id, staff=actor)
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

    # --- the assistance–charity link (政府救助与慈善救助衔接) ------------------------------------------

    @handle_event("assistance.household_referred")
    def on_household_referred(self, event):
        """Match the need to an open campaign or fund of the area, pay the aid from it, answer.
        A need any member was aided for within the policy's window is declined: helped once."""
        data = event.data
        if self.db.get(Referral, data["referral_id"]) is not None:
            return  # answered already (a copy of the event under another id)
        today = self.clock.today()
        # every open campaign is locked first, so two referrals neither spend the same money nor
        # both find the person not yet aided: what is read below is read after the other's commit
        open_campaigns = list(
            self.db.execute(
                select(Campaign, Organisation.name)
                .join(Organisation, Organisation.id == Campaign.organisation_id)
                .where(
                    Campaign.state == "filed",
                    Organisation.state == "active",
                    Campaign.starts_on <= today,
                    (Campaign.ends_on.is_(None)) | (Campaign.ends_on >= today),
                )
                .order_by(Campaign.id)
                .with_for_update(of=Campaign)
            ).all()
        )
        window = self.policy.resolve("charity.same_need_window_days", data["region_code"], today)
        since = today - timedelta(days=int(window.value))
        members = [m["resident_id"] for m in data["members"]]
        before = self.db.execute(
            select(AidRecipient.aided_on, AidRecipient.referral_id)
            .where(
                AidRecipient.resident_id.in_(members), AidRecipient.need == data["need"], AidRecipient.aided_on >= since
            )
            .order_by(AidRecipient.aided_on.desc())
            .limit(1)
        ).first()
        aided_before = f"on {before.aided_on} (referral {before.referral_id})" if before else None
        candidates = []
        for campaign, org_name in open_campaigns:
            if not region_covers(campaign.region_code, data["region_code"]):
                continue
            raised, spent = self._totals(campaign.id)
            candidates.append(
                rules.Candidate(
                    campaign.id, org_name, campaign.kind, tuple(campaign.needs), campaign.region_code, raised - spent
                )
            )
        match = rules.match_referral(data["need"], data["region_code"], data["requested_fen"], candidates, aided_before)
        campaign_id = match.campaign.campaign_id if match.campaign else None
        self.db.add(
            Referral(
                id=data["referral_id"],
                household_id=data["household_id"],
                region_code=data["region_code"],
                need=data["need"],
                requested_fen=data["requested_fen"],
                outcome=match.outcome,
                campaign_id=campaign_id,
                amount_fen=match.amount_fen,
                reason=match.reason,
                answered_on=today,
            )
        )
        if match.outcome == "aided":
            self.db.add(
                Spending(
                    id=str(uuid.uuid4()),
                    campaign_id=campaign_id,
                    request_id=f"referral-{data['referral_id']}",
                    kind="aid",
                    amount_fen=match.amount_fen,
                    purpose=f"{data['need']} aid on referral",
                    beneficiaries=len(members),
                    spent_on=today,
                    recorded_by="assistance-referral",
                )
            )
            self.db.add_all(
                [
                    AidRecipient(referral_id=data["referral_id"], resident_id=m, need=data["need"], aided_on=today)
                    for m in members
                ]
            )
        self.outbox.record(
            "charity.referral_answered",
            f"referral-{data['referral_id']}",
            {
                "referral_id": data["referral_id"],
                "household_id": data["household_id"],
                "need": data["need"],
                "outcome": match.outcome,
                "amount_fen": match.amount_fen,
                "campaign_id": campaign_id,
                "organisation": match.campaign.organisation if match.campaign else None,
                "reason": match.reason,
            },
        )
        self.audit.record(
            SYSTEM,
            "referral.answer",
            f"referral-{data['referral_id']}",
            match.outcome,
            reason=match.reason,
            policy_version=window.version,
            amount_fen=match.amount_fen,
            campaign_id=campaign_id,
            cause=f"{event.type} {event.id}",
        )

    # --- volunteers and the time bank (时间银行) ------------------------------------------------------

    @rpc
    def register_volunteer(self, actor, request):
        actor, data = Actor.from_dict(actor), load(VolunteerRequestSchema, request)
        actor.require_staff_in(data["region_code"])
        person = ResidentId.parse(data["resident_id"])
        if self.db.execute(select(Volunteer.id).where(Volunteer.resident_id == person.number)).first():
            raise Conflict("this person is a registered volunteer already", errors={"resident_id": ["registered"]})
        volunteer = Volunteer(
            id=str(uuid.uuid4()),
            resident_id=person.number,
            name=data["name"],
            region_code=data["region_code"],
            registered_on=self.clock.today(),
        )
        self.db.add(volunteer)
        self.audit.record(actor, "volunteer.register", f"volunteer-{volunteer.id}", "registered")
        return self._volunteer_view(volunteer)

    @rpc
    def get_volunteer(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        volunteer = self._volunteer(resident_id)
        if actor.role == CITIZEN:
            if actor.id != volunteer.resident_id:
                raise Forbidden("a citizen sees only their own volunteer record")
        else:
            actor.require_staff_in(volunteer.region_code)
        return self._volunteer_view(volunteer)

    @rpc
    def record_service(self, actor, resident_id, request):
        """志愿服务记录: once per service-point record; the time bank credits it from the event."""
        actor, data = Actor.from_dict(actor), load(ServiceRecordRequestSchema, request)
        volunteer = self._volunteer(resident_id, for_update=True)
        actor.require_staff_in(volunteer.region_code)
        known = self.db.execute(
            select(ServiceRecord).where(
                ServiceRecord.volunteer_id == volunteer.id, ServiceRecord.request_id == data["request_id"]
            )
        ).scalar()
        if known is not None:
            if (known.minutes, known.served_on) != (data["minutes"], data["served_on"]):
                raise KeyReused(
                    "this request id was used for another record",
                    errors={"request_id": ["used already with other minutes or day"]},
                )
            return self._volunteer_view(volunteer)
        if data["served_on"] > self.clock.today():
            raise InvalidInput("service cannot be recorded ahead", errors={"served_on": ["in the future"]})
        record = ServiceRecord(id=str(uuid.uuid4()), volunteer_id=volunteer.id, recorded_by=actor.id, **data)
        self.db.add(record)
        self.db.flush()
        self.outbox.record(
            "charity.service_recorded",
            f"volunteer-{volunteer.id}",
            {
                "record_id": record.id,
                "volunteer_id": volunteer.id,
                "minutes": record.minutes,
                "served_on": record.served_on,
            },
        )
        self.audit.record(
            actor,
            "volunteer.service",
            f"volunteer-{volunteer.id}",
            "recorded",
            minutes=record.minutes,
            activity=record.activity,
        )
        return self._volunteer_view(volunteer)

    @handle_event("charity.service_recorded")
    def on_service_recorded(self, event):
        """The time-bank credit: one per service record, however often the event comes."""
        data = event.data
        key = f"record-{data['record_id']}"
        if self.db.execute(select(TimeBankEntry.id).where(TimeBankEntry.key == key)).first():
            return
        served_on = date.fromisoformat(str(data["served_on"]))
        volunteer = self.db.get(Volunteer, data["volunteer_id"], with_for_update=True)
        rate = self.policy.resolve("charity.time_bank_credit_percent", volunteer.region_code, served_on)
        with refusals_as(PolicyUnusable):
            credit = rules.time_credit_minutes(data["minutes"], rate.value)
        self.db.add(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="credit",
                minutes=credit,
                key=key,
                by="time-bank",
                at=self.clock.now(),
                purpose=f"service on {served_on} ({rate.version})",
            )
        )

    @rpc
    def redeem_time_credits(self, actor, request):
        """Credits spent on care: by care itself (actor role "system", id "care"), a care provider
        (partner care_providers) or a caseworker of the volunteer's area. The caller's key sent
        again is the same redemption, answered as the first time."""
        actor, data = Actor.from_dict(actor), load(RedemptionRequestSchema, request)
        volunteer = self._volunteer(data["resident_id"], for_update=True)
        if not (
            (actor.role == SYSTEM_ROLE and actor.id == "care") or (actor.role == PARTNER and actor.id == CARE_PROVIDERS)
        ):
            actor.require_staff_in(volunteer.region_code)
        known = self.db.execute(select(TimeBankEntry).where(TimeBankEntry.key == data["redemption_key"])).scalar()
        if known is not None:
            if (known.kind, known.volunteer_id, -known.minutes) != ("redemption", volunteer.id, data["minutes"]):
                raise KeyReused(
                    "this redemption key was used for another redemption",
                    errors={"redemption_key": ["used already with another person or minutes"]},
                )
            return dump(
                RedemptionViewSchema,
                {
                    "redemption_key": known.key,
                    "minutes": data["minutes"],
                    "credit_minutes": self._balance(volunteer.id),
                },
            )
        balance = self._balance(volunteer.id)
        refusal = rules.redemption_refusal(balance, data["minutes"])
        if refusal:
            self.audit.record_refusal(actor, "time_bank.redeem", f"volunteer-{volunteer.id}", refusal)
            raise RedemptionRefused("the time bank cannot pay this", errors={"minutes": [refusal]})
        self.db.add(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="redemption",
                minutes=-data["minutes"],
                key=data["redemption_key"],
                purpose=data["purpose"],
                by=actor.id,
                at=self.clock.now(),
            )
        )
        self.audit.record(
            actor,
            "time_bank.redeem",
            f"volunteer-{volunteer.id}",
            "redeemed",
            minutes=data["minutes"],
            purpose=data["purpose"],
        )
        return dump(
            RedemptionViewSchema,
            {
                "redemption_key": data["redemption_key"],
                "minutes": data["minutes"],
                "credit_minutes": balance - data["minutes"],
            },
        )

    @handle_event("care.credits_requested")
    def on_credits_requested(self, event):
        """Care pays an order with the person's own credits: debited once per order (the key
        `care-order-<id>`, whatever event ids the request comes under; the events of one batch share
        this transaction, and the session flushes the first debit before the second looks), refused
        when the person holds too few or the order's cancellation came first; the answer goes back
        to care (again for a request seen before: care ignores an answer it has)."""
        data = event.data
        key, minutes = _order_key(data["order_id"]), data["minutes"]
        volunteer = self._volunteer_of(data["resident_id"])  # locked: a cancellation of the order waits
        redeemed = self._entry(key)
        answer = rules.order_credits_answer(
            volunteer is not None,
            self._balance(volunteer.id) if volunteer else 0,
            minutes,
            redeemed_already=redeemed is not None,
            order_cancelled=self._entry(f"{key}-return") is not None,
        )
        subject = f"volunteer-{volunteer.id}" if volunteer else f"order-{data['order_id']}"
        if answer.debit:
            self.db.add(
                TimeBankEntry(
                    volunteer_id=volunteer.id,
                    kind="redemption",
                    minutes=-minutes,
                    key=key,
                    purpose=f"home-care order {data['order_id']} ({data['service']})",
                    by="care",
                    at=self.clock.now(),
                )
            )
        if answer.debit or answer.outcome == "refused":  # a request seen before is not audited again
            self.audit.record(
                SYSTEM,
                "time_bank.redeem",
                subject,
                answer.outcome,
                reason=answer.reason,
                minutes=minutes,
                order_id=data["order_id"],
                cause=f"{event.type} {event.id}",
            )
        self.outbox.record(
            "charity.credits_answered",
            f"order-{data['order_id']}",
            {
                "order_id": data["order_id"],
                "outcome": answer.outcome,
                "minutes": -redeemed.minutes if redeemed else (minutes if answer.debit else 0),
                "reason": answer.reason,
            },
        )

    @handle_event("care.order_cancelled")
    def on_order_cancelled(self, event):
        """An order cancelled before delivery: the credits redeemed for it go back, once. Nothing
        redeemed yet still leaves a mark, so a request that arrives after it is refused."""
        data = event.data
        if data["payment"] != "time_bank":
            return
        volunteer = self._volunteer_of(data["resident_id"])
        if volunteer is None:
            return  # no account: nothing was or will be debited
        key = _order_key(data["order_id"])
        redeemed = self._entry(key)
        back = rules.order_credits_to_return(
            -redeemed.minutes if redeemed else None, returned_already=self._entry(f"{key}-return") is not None
        )
        if back is None:
            return
        self.db.add(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="return",
                minutes=back,
                key=f"{key}-return",
                purpose=f"home-care order {data['order_id']} cancelled: {data['reason']}",
                by="care",
                at=self.clock.now(),
            )
        )
        if back:
            self.audit.record(
                SYSTEM,
                "time_bank.return",
                f"volunteer-{volunteer.id}",
                "returned",
                minutes=back,
                order_id=data["order_id"],
                cause=f"{event.type} {event.id}",
            )
            self.outbox.record(
                "charity.credits_answered",
                f"order-{data['order_id']}",
                {
                    "order_id": data["order_id"],
                    "outcome": "returned",
                    "minutes": back,
                    "reason": f"the order was cancelled: {back} minutes credited back",
                },
            )

    def _volunteer_of(self, resident_id: str) -> Volunteer | None:
        """The person's time-bank account, locked for the ledger's check-then-write."""
        return self.db.execute(select(Volunteer).where(Volunteer.resident_id == resident_id).with_for_update()).scalar()

    def _entry(self, key: str) -> TimeBankEntry | None:
        return self.db.execute(select(TimeBankEntry).where(TimeBankEntry.key == key)).scalar()

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

    def _org(self, organisation_id, for_update: bool = False, staff: Actor | None = None) -> Organisation:
        org = self.db.get(Organisation, str(organisation_id), with_for_update=for_update)
        if org is None:
            raise UnknownOrganisation(f"no organisation {organisation_id}", errors={"organisation_id": ["unknown"]})
        if staff is not None:
            staff.require_staff_in(org.region_code)
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

    @staticmethod
    def _donation_view(donation: Donation) -> dict:
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


_DETECTION_POLICY = (
    "charity.annual_report_deadline",
    "charity.abnormal_after_missing_reports",
    "charity.dormant_after_missing_reports",
)
_CHUNK = 5000  # rows per statement: well under the bind-parameter limits of PostgreSQL and SQLite


def _chunks(items: list) -> list[list]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _standing_query(organisation_ids: list[str] | None = None):
    """`CharityService._standing`'s query: the reports grouped per organisation (restricted to the
    ids given, so one organisation's read does not group every report), joined to the organisations."""
    reported = select(
        AnnualReport.organisation_id, func.aggregate_strings(cast(AnnualReport.year, String), ",").label("years")
    )
    query = select(Organisation.id, Organisation.region_code, Organisation.registered_on, Organisation.state)
    if organisation_ids is not None:
        reported = reported.where(AnnualReport.organisation_id.in_(organisation_ids))
        query = query.where(Organisation.id.in_(organisation_ids))
    reported = reported.group_by(AnnualReport.organisation_id).subquery()
    return (
        query.add_columns(reported.c.years)
        .outerjoin(reported, reported.c.organisation_id == Organisation.id)
        .where(Organisation.state != "cancelled")
        .order_by(Organisation.id)
    )


def _grade_in_force(org: Organisation, today: date) -> str | None:
    return org.grade if org.grade and org.grade_valid_until and org.grade_valid_until >= today else None


def _org_subject(org: Organisation) -> str:
    return f"organisation-{org.id}"


def _campaign_subject(campaign: Campaign) -> str:
    return f"campaign-{campaign.id}"


def _order_key(order_id: str) -> str:
    """The ledger key of care's order: the key the redemption command's callers were told to use
    for care's orders, so the command and the events never debit one order twice."""
    return f"care-order-{order_id}"
