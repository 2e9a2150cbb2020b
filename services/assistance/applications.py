"""申请, 受理, 公示 and 审批: an application from its filing to the decision, with its 20-working-day clock, the notice and its objections. A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.errors import refusals_as
from contracts.roles import CITIZEN, STAFF
from services.assistance import rules
from services.assistance.exceptions import (
    ApprovalRefused,
    PolicyUnusable,
)
from services.assistance.models import (
    Application,
    Entitlement,
    Household,
    LinkedItem,
    Member,
)
from services.assistance.schemas import (
    ApplicationRequestSchema,
    DecisionRequestSchema,
    ObjectionRequestSchema,
    WithdrawalRequestSchema,
    load,
)
from services.assistance.shared import (
    MATTER_TYPE,
    _acting_level,
    _require,
    _subject,
)


class Applications:
    """Mixed into the assistance service; uses its db, outbox, audit, policy, clock, log."""

    # --- application and acceptance ------------------------------------------------------------

    @rpc
    def apply(self, actor, request):
        """申请: by a citizen of the household (online) or by a caseworker of the area for them."""
        actor, data = Actor.from_dict(actor), load(ApplicationRequestSchema, request)
        today, now = self.clock.today(), self.clock.now()
        resident_ids = [m["resident_id"] for m in data["members"]]
        if actor.role == CITIZEN:
            if actor.id not in resident_ids:
                raise Forbidden("a citizen can only apply for a household they are a member of")
            channel = "online"
        elif actor.role in STAFF:
            actor.require_staff_in(data["region_code"])
            channel = "caseworker"
        else:
            raise Forbidden("applications are made by citizens or by caseworkers for them")
        self._rule_members(data["members"], today)  # 单人户 listing and duplicates, before anything is stored
        self._refuse_if_already_applying(data["programme"], resident_ids)
        household = Household(
            id=str(uuid.uuid4()),
            region_code=data["region_code"],
            address=data["address"],
            bank_account=data["bank_account"],
            created_at=now,
        )
        township = data["region_code"][:9]
        application = Application(
            id=str(uuid.uuid4()),
            household_id=household.id,
            programme=data["programme"],
            state=rules.SUBMITTED,
            region_code=township,
            channel=channel,
            applied_at=now,
            applied_by=actor.id,
            approval_level=self.policy.resolve("assistance.approval_level", township, today).value,
        )
        self.db.add(household)
        self.db.flush()
        self.db.add_all(
            [
                Member(
                    id=str(uuid.uuid4()),
                    household_id=household.id,
                    joined_on=today,
                    **{
                        k: m[k]
                        for k in (
                            "resident_id",
                            "name",
                            "relationship",
                            "monthly_income_fen",
                            "employment_cost_fen",
                            "seriously_ill",
                            "severely_disabled",
                            "pregnant",
                            "single_person_listing",
                        )
                    },
                )
                for m in data["members"]
            ]
        )
        self.db.add(application)
        self.db.flush()
        self._journal(actor, application, None, rules.SUBMITTED, "apply", f"{channel} application")
        self.audit.record(
            actor,
            "assistance.apply",
            _subject(application),
            rules.SUBMITTED,
            programme=application.programme,
            channel=channel,
            members=len(resident_ids),
        )
        self.log.info("assistance.applied", application_id=application.id, programme=application.programme)
        return self._view(application)

    @rpc
    def accept(self, actor, application_id):
        """受理: the decision is due within the policy's working days (20), on the region's calendar."""
        actor = Actor.from_dict(actor)
        application = self._application(actor, application_id, for_update=True)
        today = self.clock.today()
        new_state = self._next_state(actor, application, "accept")
        days = self.policy.resolve("assistance.decision_working_days", application.region_code, today)
        holidays, makeups, calendar_versions = self._calendar(application.region_code, today)
        with refusals_as(PolicyUnusable, detail="the working-day calendar in force is unusable: {reason}"):
            due = rules.decision_due(today, int(days.value), holidays, makeups)
        application.accepted_on, application.decision_due = today, due
        self._move(
            actor,
            application,
            "accept",
            new_state,
            f"decision due {due.isoformat()}",
            policy_version=";".join([days.version, *calendar_versions]),
            decision_due=due.isoformat(),
        )
        return self._view(application)

    # --- public notice and objections ------------------------------------------------------------

    @rpc
    def publish_notice(self, actor, application_id):
        """公示: objections are taken until `notice_ends`; a decision can follow the day after."""
        actor = Actor.from_dict(actor)
        application = self._application(actor, application_id, for_update=True)
        today = self.clock.today()
        new_state = self._next_state(actor, application, "publish_notice")
        days = self.policy.resolve("assistance.notice_days", application.region_code, today)
        application.notice_ends = rules.notice_ends(today, int(days.value))
        self._move(
            actor,
            application,
            "publish_notice",
            new_state,
            f"public notice until {application.notice_ends.isoformat()}",
            policy_version=days.version,
            notice_ends=application.notice_ends.isoformat(),
        )
        return self._view(application)

    @rpc
    def object(self, actor, application_id, request):
        """异议: the township records an objection received during the notice; back to review."""
        actor, data = Actor.from_dict(actor), load(ObjectionRequestSchema, request)
        application = self._application(actor, application_id, for_update=True)
        new_state = self._next_state(
            actor, application, "objection", on=self.clock.today(), notice_ends_on=application.notice_ends
        )
        application.notice_ends = None  # a new notice follows the new review
        self._move(actor, application, "objection", new_state, data["reason"])
        return self._view(application)

    # --- withdrawal ---------------------------------------------------------------------------

    @rpc
    def withdraw(self, actor, application_id, request):
        """撤回: a current member of the household withdraws an undecided application, or the
        caseworker of the area records it for them. It closes the application (a decided one is
        refused), so the household may apply again."""
        actor, data = Actor.from_dict(actor), load(WithdrawalRequestSchema, request)
        application = self._application_by_id(application_id, for_update=True)
        self._require_household_reader(actor, application.household_id, application.region_code)
        new_state = self._next_state(actor, application, "withdraw")
        self._move(actor, application, "withdraw", new_state, data["reason"])
        return self._view(application)

    # --- decision -----------------------------------------------------------------------------

    @rpc
    def decide(self, actor, application_id, request):
        """审批: at the policy's approval level, after the notice; an approval computes the benefit
        with the policy in force today, creates the entitlement and opens 救助一件事."""
        actor, data = Actor.from_dict(actor), load(DecisionRequestSchema, request)
        application = self._application(actor, application_id, for_update=True)
        acting_level = _acting_level(actor)
        today = self.clock.today()
        policy = self._assistance_policy(application.region_code, today)
        members = self._current_members(application.household_id)
        benefit = None
        if data["decision"] == "approve" or (application.programme == "temporary" and data["grade"]):
            benefit = self._benefit(application, members, policy, data, today)
        approval_level = policy.approval_level
        if benefit is not None and benefit.decided_by == "township":
            approval_level = "township"  # 急难 under the threshold: the township decides directly
        version = benefit.version if benefit is not None else policy.version
        new_state = self._next_state(
            actor,
            application,
            data["decision"],
            on=today,
            notice_ends_on=application.notice_ends,
            acting_level=acting_level,
            approval_level=approval_level,
            policy_version=version,
        )
        if data["decision"] == "approve" and not benefit.eligible:
            self.audit.record_refusal(
                actor, "assistance.approve", _subject(application), "; ".join(benefit.reasons), policy_version=version
            )
            raise ApprovalRefused(
                "the household does not qualify for this programme", errors={"decision": list(benefit.reasons)}
            )
        application.approval_level, application.decided_on = approval_level, today
        application.decision_reason, application.policy_version = data["reason"], version
        explanation = list(benefit.reasons) if benefit is not None and data["decision"] == "approve" else []
        details = {"programme": application.programme, "acting_level": acting_level, "explanation": explanation}
        if data["decision"] == "approve":
            application.monthly_amount_fen = benefit.monthly_fen
            application.matter_id = self._grant(application, members, benefit, today)
            details.update(monthly_amount_fen=benefit.monthly_fen, matter_id=application.matter_id)
        self._move(actor, application, data["decision"], new_state, data["reason"], policy_version=version, **details)
        return self._view(application)

    def _benefit(
        self, application: Application, members: list[Member], policy: rules.AssistancePolicy, data: dict, on: date
    ) -> rules.Benefit:
        """What the approval grants (rules.benefit), with the disability subsidy's amount in force and,
        for a means-tested programme, the assets of the latest complete check."""
        programme = application.programme
        if programme == "tekun":
            _require(data, "self_care", "特困 support depends on the self-care ability")
        elif programme == "temporary":
            _require(data, "grade", f"one of the policy's grades: {', '.join(sorted(policy.temporary_grades))}")
            _require(data, "requested_fen", "the amount asked for, in fen")
        disability = None
        if programme in rules.DISABILITY_PARAMETERS:
            amount = self.policy.resolve(rules.DISABILITY_PARAMETERS[programme], application.region_code, on)
            disability = rules.PolicyAmount(int(amount.value), amount.version)
        with refusals_as(InvalidInput):
            benefit = rules.benefit(
                programme,
                [rules.member_from(m) for m in members],
                on,
                policy,
                self_care=data.get("self_care"),
                grade=data.get("grade"),
                requested_fen=data.get("requested_fen"),
                urgent=bool(data.get("urgent")),
                disability=disability,
            )
        if programme in rules.MEANS_TESTED and benefit.eligible:
            check = self._latest_check(application.id, complete_only=True)
            if check is None:
                return rules.with_assets(benefit, None, None, ())
            assets = self._check_report(check, application, policy)["assets"]
            return rules.with_assets(benefit, check.id, assets["within_limits"], assets["reasons"])
        return benefit

    def _grant(
        self, application: Application, members: list[Member], benefit: rules.Benefit, today: date
    ) -> str | None:
        """The entitlement, `assistance.approved`, and 救助一件事 with the linked items of the
        programme (the items assistance grants itself are reported done at once)."""
        review = None if benefit.ends_on else self._next_review(application.region_code, today, application.programme)
        self.db.add(
            Entitlement(
                household_id=application.household_id,
                programme=application.programme,
                monthly_amount_fen=benefit.monthly_fen,
                starts_on=today,
                ends_on=benefit.ends_on,
                policy_version=benefit.version,
                application_id=application.id,
                next_review_on=review,
            )
        )
        items = [
            i
            for i in self.db.execute(
                select(LinkedItem).where(LinkedItem.active.is_(True)).order_by(LinkedItem.code)
            ).scalars()
            if application.programme in (i.programmes or [])
        ]
        matter_id = str(uuid.uuid4()) if items else None
        subject = _subject(application)
        self.outbox.record(
            "assistance.approved",
            subject,
            {
                "application_id": application.id,
                "household_id": application.household_id,
                "programme": application.programme,
                "monthly_amount_fen": benefit.monthly_fen,
                "starts_on": today,
                "region_code": application.region_code,
                "members": [
                    {"resident_id": m.resident_id, "name": m.name, "severely_disabled": m.severely_disabled}
                    for m in members
                    if m.resident_id
                ],
                "policy_version": benefit.version,
            },
            matter_id=matter_id,
        )
        if matter_id:
            self.outbox.record(
                "matter.opened",
                subject,
                {
                    "matter_type": MATTER_TYPE,
                    "subjects": [m.resident_id for m in members if m.resident_id],
                    "region_code": application.region_code,
                    "steps": [
                        {"name": i.code, "owner": i.owner, "title": i.title, "deadline_days": i.deadline_days}
                        for i in items
                    ],
                },
                matter_id=matter_id,
            )
            for item in items:
                if item.owner == self.name:
                    self.outbox.report_step(subject, MATTER_TYPE, item.code, "done", matter_id=matter_id)
        return matter_id
