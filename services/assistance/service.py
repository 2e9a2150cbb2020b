"""Social assistance (社会救助): entrypoints only move data between the wire, the rules
(`rules.py`), the partner data sources (`dependencies.py`) and the database; every change commits
with its journal row, its events and its audit row.

The process of BRIEF 3.1: apply → accept (受理; the 20-working-day clock starts) → household economic
check (核对; only a complete check moves the application) → public notice (公示) with objections →
decision at the approval level of the policy (district, or the township where delegated) → on
approval an entitlement, `assistance.approved`, and 救助一件事 opened with the linked items.
"""

from __future__ import annotations

import calendar
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from sqlalchemy import func, insert, select, tuple_

from chassis import (
    SYSTEM,
    Actor,
    Audit,
    AuditEntry,
    Clock,
    Conflict,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    NotFound,
    Operable,
    Outbox,
    Policy,
    Problem,
    WorkerMetrics,
    handle_event,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from chassis.errors import refusals_as
from chassis.payment_runs import BankFiles, as_problems
from chassis.tables import audit_log
from contracts.assistance import (
    CHECK_SOURCES,
    PROGRAMMES,
    AlertResolutionSchema,
    AlertViewSchema,
    EntitlementViewSchema,
    ExitRequestSchema,
    HouseholdViewSchema,
    LinkedItemRequestSchema,
    LinkedItemRetirementSchema,
    LinkedItemViewSchema,
    MemberIdentificationSchema,
    MemberJoinsSchema,
    MemberLeavesSchema,
    NewLinkedItemRequestSchema,
    PolicyVersionRequestSchema,
    PolicyVersionViewSchema,
    ReferralRequestSchema,
    ReferralViewSchema,
    ReviewRequestSchema,
)
from contracts.funeral import REVOKED_BEFORE_NOTICE, OnDeath, after_death_action, date_revision, step_reason
from contracts.partners import BANKS, PARTNERS
from contracts.payments import (
    BankBatchViewSchema,
    BankResultsRequestSchema,
    PaymentCycleRequestSchema,
    PaymentCycleViewSchema,
    PaymentViewSchema,
    ReconcileViewSchema,
)
from contracts.person import InvalidResidentId, Newborn, ResidentId
from contracts.refusals import InvalidRuleInput
from contracts.roles import ADMIN, CITIZEN, PARTNER, STAFF
from services.assistance import alerts, payments, rules
from services.assistance.dependencies import OK, EconomicCheckSources, Fetched
from services.assistance.exceptions import (
    AlreadyApplying,
    AlreadyMember,
    ApprovalRefused,
    PolicyUnusable,
    StepRefused,
    UnknownApplication,
)
from services.assistance.indicators import Indicators
from services.assistance.models import (
    Alert,
    Application,
    ApplicationTransition,
    BackPay,
    CharityReferral,
    CheckFetch,
    DeathRecord,
    EconomicCheck,
    Entitlement,
    Household,
    LinkedItem,
    LinkedItemVersion,
    Member,
    Overpayment,
    Payment,
    PaymentCycle,
    Recovery,
)
from services.assistance.recoveries import Recoveries
from services.assistance.schemas import (
    SUMMARY_FIELDS,
    ApplicationRequestSchema,
    ApplicationViewSchema,
    DecisionRequestSchema,
    ObjectionRequestSchema,
    dump,
    load,
)

MATTER_TYPE = "assistance_linked_items"
# 动态复核 in bulk: entitlements per round of fetches and per commit, so memory, the time rows stay
# locked and what a crash loses stay bounded (at two members each, 9,000 fetches a round)
REVIEW_BATCH = 500
MEANS_TESTED = ("dibao", "dibao_edge", "tekun")  # the household's assets are checked against the limits
DISABILITY_PARAMETERS = {
    "disability_living": "assistance.disability_living_monthly_fen",  # 困难残疾人生活补贴
    "disability_care": "assistance.disability_care_monthly_fen",
}  # 重度残疾人护理补贴
# rules.AssistancePolicy field → policy parameter (chassis.policy); asset limits and the temporary
# caps are derived below.
POLICY_PARAMETERS = {
    "dibao_standard_monthly_fen": "assistance.dibao_standard_monthly_fen",
    "edge_ratio": "assistance.edge_ratio",
    "tekun_basic_ratio": "assistance.tekun_basic_ratio",
    "tekun_care_monthly_fen": "assistance.tekun_care_monthly_fen",
    "increments": "assistance.increment_ratios",
    "temporary_grades": "assistance.temporary_grades",
    "township_direct_threshold_fen": "assistance.township_direct_threshold_fen",
    "gradual_exit_months": "assistance.gradual_exit_months",
    "asset_limit_per_person_fen": "assistance.asset_limit_per_person_fen",
    "decision_working_days": "assistance.decision_working_days",
    "notice_days": "assistance.notice_days",
    "approval_level": "assistance.approval_level",
}
ACTION_AUDIT = {
    "accept": "accepted",
    "attach_check": "checked",
    "publish_notice": "in_notice",
    "objection": "objected",
    "approve": "approved",
    "reject": "rejected",
}


@dataclass(frozen=True)
class Benefit:
    """What an approval would grant, and why (or why not)."""

    eligible: bool
    monthly_fen: int
    reasons: tuple[str, ...]
    version: str
    ends_on: date | None = None  # a one-off (临时救助) ends in the month it starts
    decided_by: str | None = None  # 临时救助: "township" for urgent cases under the threshold


class AssistanceService(Recoveries, Indicators, Operable):
    name = "assistance"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()
    bank_files = BankFiles()
    sources = EconomicCheckSources()

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
        application = self._application(application_id, for_update=True)
        actor.require_staff_in(application.region_code)
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

    # --- household economic check (核对) --------------------------------------------------------

    @rpc
    def run_economic_check(self, actor, application_id):
        """Every current member × every partner source, fetched at once. A complete check moves the
        application to checked; an incomplete one is kept (its report says what failed) and the
        application stays where it is, for the caseworker to run the check again."""
        actor = Actor.from_dict(actor)
        application = self._application(application_id)
        actor.require_staff_in(application.region_code)
        self._next_state(actor, application, "attach_check")  # refuse before asking anyone anything
        members = self._current_members(application.household_id)
        started = self.clock.now()
        # a newborn without a resident ID yet has no records anywhere to check
        fetched = self.sources.fetch_all([m.resident_id for m in members if m.resident_id], list(CHECK_SOURCES))
        application = self._application(application_id, for_update=True)  # the state may have moved meanwhile
        new_state = self._next_state(actor, application, "attach_check")
        check = self._record_check(application, started, fetched)
        report = self._check_report(check, application)
        failures = [f"{f.source}: {f.status}" for f in fetched if f.status != OK]
        if check.complete:
            note = "; ".join(report["notes"]) or "every source answered"
            self._move(
                actor,
                application,
                "attach_check",
                new_state,
                f"economic check {check.id} complete: {note}",
                check_id=check.id,
                failures=failures,
            )
        else:
            self.audit.record(
                actor,
                "assistance.check",
                _subject(application),
                "incomplete",
                reason="; ".join(report["notes"]),
                check_id=check.id,
                failures=failures,
            )
        self.log.info(
            "assistance.checked",
            application_id=application.id,
            check_id=check.id,
            complete=check.complete,
            failures=len(failures),
        )
        return self._view(application, report)

    def _record_check(self, application: Application, started, fetched: list[Fetched]) -> EconomicCheck:
        """One row per subject per source per fetch; a failed fetch may count as answered only by
        the subject's last successful fetch of that source, where the source's policy says so."""
        check = EconomicCheck(
            id=str(uuid.uuid4()),
            application_id=application.id,
            started_at=started,
            finished_at=self.clock.now(),
            complete=False,
        )
        self.db.add(check)
        self.db.flush()
        complete = True
        for f in fetched:
            result = f.result
            if f.status != OK:
                known = (
                    self._last_known(f.resident_id, f.source)
                    if self.sources.policy_for(f.source) == "last_known"
                    else None
                )
                complete = complete and known is not None
                # not the source's answer: a pointer to the earlier answer this check relied on
                result = {"last_known_fetch_id": known} if known is not None else None
            self.db.add(
                CheckFetch(
                    check_id=check.id,
                    resident_id=f.resident_id,
                    source=f.source,
                    status=f.status,
                    fetched_at=f.fetched_at,
                    latency_ms=f.latency_ms,
                    result=result,
                    error=f.error,
                )
            )
        check.complete = complete
        self.db.flush()
        return check

    def _last_known(self, resident_id: str, source: str) -> int | None:
        return self.db.execute(
            select(CheckFetch.id)
            .where(CheckFetch.resident_id == resident_id, CheckFetch.source == source, CheckFetch.status == OK)
            .order_by(CheckFetch.id.desc())
            .limit(1)
        ).scalar()

    def _latest_check(self, application_id: str, complete_only: bool = False) -> EconomicCheck | None:
        last_fetch = (
            select(CheckFetch.check_id, func.max(CheckFetch.id).label("last")).group_by(CheckFetch.check_id).subquery()
        )
        query = (
            select(EconomicCheck)
            .outerjoin(last_fetch, last_fetch.c.check_id == EconomicCheck.id)
            .where(EconomicCheck.application_id == application_id)
        )
        if complete_only:
            query = query.where(EconomicCheck.complete.is_(True))
        return self.db.execute(
            query.order_by(EconomicCheck.started_at.desc(), last_fetch.c.last.desc()).limit(1)
        ).scalar()

    def _check_report(
        self, check: EconomicCheck, application: Application, policy: rules.AssistancePolicy | None = None
    ) -> dict:
        """Per member per source: status and findings (an earlier answer where one stood in, marked
        as such), and the totals the rules use: deposits against the asset limits of `policy` (by
        default the policy in force on the day of the check)."""
        rows = (
            self.db.execute(select(CheckFetch).where(CheckFetch.check_id == check.id).order_by(CheckFetch.id))
            .scalars()
            .all()
        )
        stand_in_ids = [
            r.result["last_known_fetch_id"]
            for r in rows
            if r.status != OK and isinstance(r.result, dict) and "last_known_fetch_id" in r.result
        ]
        stand_ins = (
            {r.id: r for r in self.db.execute(select(CheckFetch).where(CheckFetch.id.in_(stand_in_ids))).scalars()}
            if stand_in_ids
            else {}
        )
        names = dict(
            self.db.execute(
                select(Member.resident_id, Member.name).where(Member.household_id == application.household_id)
            ).all()
        )
        members: dict[str, dict] = {}
        notes, deposits, deposits_known = [], 0, True
        for row in rows:
            entry = {
                "status": row.status,
                "department": CHECK_SOURCES.get(row.source),
                "latency_ms": row.latency_ms,
                "fetched_at": row.fetched_at.isoformat(),
                "findings": row.result if row.status == OK else None,
                "error": row.error,
                "last_known": None,
            }
            findings = entry["findings"]
            if row.status != OK:
                earlier = stand_ins.get((row.result or {}).get("last_known_fetch_id"))
                if earlier is not None:
                    findings = earlier.result
                    entry["last_known"] = {
                        "fetched_at": earlier.fetched_at.isoformat(),
                        "check_id": earlier.check_id,
                        "findings": earlier.result,
                    }
                    notes.append(
                        f"{row.source} {row.status} for {_masked(row.resident_id)}: the last known answer "
                        f"of {earlier.fetched_at.astimezone(LOCAL_ZONE).date().isoformat()} was used "
                        f"(failure policy last_known)"
                    )
                else:
                    notes.append(
                        f"{row.source} {row.status} for {_masked(row.resident_id)}: not answered, "
                        f"the check is incomplete"
                    )
            if row.source == "bank_deposits":
                if findings is not None and isinstance(findings.get("deposits_fen"), int):
                    deposits += findings["deposits_fen"]
                else:
                    deposits_known = False
            member = members.setdefault(
                row.resident_id, {"resident_id": row.resident_id, "name": names.get(row.resident_id), "sources": {}}
            )
            member["sources"][row.source] = entry
        counted = len(members)
        assets: dict = {"within_limits": None, "reasons": [], "policy_version": None}
        if not deposits_known:
            assets["reasons"] = ["bank deposits unknown: a bank_deposits fetch failed (not read as no deposits)"]
        elif counted:
            try:
                policy = policy or self._assistance_policy(
                    application.region_code, check.started_at.astimezone(LOCAL_ZONE).date()
                )
                within, reasons = rules.assets_within_limits({"deposits": deposits}, counted, policy)
                assets = {"within_limits": within, "reasons": list(reasons), "policy_version": policy.version}
            except (Problem, InvalidRuleInput) as exc:
                assets["reasons"] = [getattr(exc, "detail", None) or getattr(exc, "reason", str(exc))]
        all_answered = all(r.status == OK for r in rows)
        return {
            "check_id": check.id,
            "started_at": check.started_at.isoformat(),
            "finished_at": check.finished_at.isoformat() if check.finished_at else None,
            "complete": bool(check.complete),
            "all_sources_answered": all_answered,
            "sources": list(CHECK_SOURCES),
            "members": list(members.values()),
            "failed": [
                {
                    "resident_id": r.resident_id,
                    "source": r.source,
                    "status": r.status,
                    "covered_by_last_known": (r.result or {}).get("last_known_fetch_id") in stand_ins,
                }
                for r in rows
                if r.status != OK
            ],
            "totals": {"members": counted, "deposits_fen": deposits if deposits_known else None},
            "assets": assets,
            "notes": notes,
        }

    # --- public notice and objections ------------------------------------------------------------

    @rpc
    def publish_notice(self, actor, application_id):
        """公示: objections are taken until `notice_ends`; a decision can follow the day after."""
        actor = Actor.from_dict(actor)
        application = self._application(application_id, for_update=True)
        actor.require_staff_in(application.region_code)
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
        application = self._application(application_id, for_update=True)
        actor.require_staff_in(application.region_code)
        new_state = self._next_state(
            actor, application, "objection", on=self.clock.today(), notice_ends_on=application.notice_ends
        )
        application.notice_ends = None  # a new notice follows the new review
        self._move(actor, application, "objection", new_state, data["reason"])
        return self._view(application)

    # --- decision -----------------------------------------------------------------------------

    @rpc
    def decide(self, actor, application_id, request):
        """审批: at the policy's approval level, after the notice; an approval computes the benefit
        with the policy in force today, creates the entitlement and opens 救助一件事."""
        actor, data = Actor.from_dict(actor), load(DecisionRequestSchema, request)
        application = self._application(application_id, for_update=True)
        actor.require_staff_in(application.region_code)
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
    ) -> Benefit:
        programme, version = application.programme, policy.version
        with refusals_as(InvalidInput):
            household = [_rule_member(m) for m in members]
            if programme == "dibao":
                result = rules.dibao_benefit(household, on, policy)
                benefit = Benefit(result.eligible, result.monthly_fen, result.reasons, version)
            elif programme == "dibao_edge":
                result = rules.dibao_edge_eligible(household, policy)
                benefit = Benefit(result.eligible, 0, result.reasons, version)
            elif programme == "tekun":
                _require(data, "self_care", "特困 support depends on the self-care ability")
                result = rules.tekun_benefit(data["self_care"], policy)
                benefit = Benefit(True, result.monthly_fen, result.reasons, version)
            elif programme == "temporary":
                _require(data, "grade", f"one of the policy's grades: {', '.join(sorted(policy.temporary_grades))}")
                _require(data, "requested_fen", "the amount asked for, in fen")
                result = rules.temporary_assistance(data["grade"], data["requested_fen"], data["urgent"], policy)
                benefit = Benefit(
                    True,
                    result.amount_fen,
                    result.reasons,
                    version,
                    ends_on=on.replace(day=calendar.monthrange(on.year, on.month)[1]),
                    decided_by=result.decided_by,
                )
            else:
                return self._disability_benefit(application, members, on, version)
        if programme in MEANS_TESTED and benefit.eligible:
            benefit = self._with_assets(application, policy, benefit)
        return benefit

    def _disability_benefit(self, application: Application, members: list[Member], on: date, version: str) -> Benefit:
        """困难残疾人生活补贴 / 重度残疾人护理补贴: the policy's monthly amount per member recorded as
        severely disabled (the household model has no finer disability grade yet)."""
        amount = self.policy.resolve(DISABILITY_PARAMETERS[application.programme], application.region_code, on)
        disabled = [m for m in members if m.severely_disabled]
        version = f"{version};{amount.version}"
        if not disabled:
            return Benefit(
                False, 0, ("no member of the household is recorded as severely disabled", f"policy {version}"), version
            )
        per_person = int(amount.value)
        total = per_person * len(disabled)
        return Benefit(
            True,
            total,
            (
                f"{application.programme}: {rules.yuan(per_person)} per month × {len(disabled)} severely disabled "
                f"member(s) = {rules.yuan(total)}",
                f"policy {amount.version}",
            ),
            version,
        )

    def _with_assets(self, application: Application, policy: rules.AssistancePolicy, benefit: Benefit) -> Benefit:
        """Means-tested programmes: the household's assets, from the attached (latest complete)
        check, must be within the limits of the policy in force today."""
        check = self._latest_check(application.id, complete_only=True)
        if check is None:
            return Benefit(
                False, 0, (*benefit.reasons, "no complete household economic check (核对) is attached"), benefit.version
            )
        assets = self._check_report(check, application, policy)["assets"]
        if assets["within_limits"] is None:
            return Benefit(False, 0, (*benefit.reasons, *assets["reasons"]), benefit.version)
        reasons = (*benefit.reasons, *(f"assets (核对 {check.id}): {r}" for r in assets["reasons"]))
        if not assets["within_limits"]:
            return Benefit(False, 0, reasons, benefit.version)
        return Benefit(
            benefit.eligible, benefit.monthly_fen, reasons, benefit.version, benefit.ends_on, benefit.decided_by
        )

    def _grant(self, application: Application, members: list[Member], benefit: Benefit, today: date) -> str | None:
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

    # --- households, exits and re-checks (复核) --------------------------------------------------

    @rpc
    def get_household(self, actor, household_id):
        actor = Actor.from_dict(actor)
        household = self._household(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        return self._household_view(household)

    @rpc
    def add_member(self, actor, household_id, request):
        """A member joins (a newborn once the hukou gives them an ID, a relative moving in); the
        household's 低保 is recomputed at today's policy."""
        actor, data = Actor.from_dict(actor), load(MemberJoinsSchema, request)
        household = self._household(household_id, for_update=True)
        actor.require_staff_in(household.region_code)
        members = self._current_members(household.id)
        if any(m.resident_id == data["resident_id"] for m in members):
            raise AlreadyMember(
                "this person is already a member of the household", errors={"resident_id": ["already a member"]}
            )
        born = ResidentId.parse(data["resident_id"]).birth_date
        newborn = next((m for m in members if m.resident_id is None and m.birth_date == born), None)
        if newborn is not None:
            raise AlreadyMember(
                f"{newborn.name}, born {born}, is already a member without an ID: record the ID "
                f"on member {newborn.id} instead",
                errors={"resident_id": ["record it on the newborn"]},
            )
        joining = Member(
            id=str(uuid.uuid4()),
            household_id=household.id,
            **{k: v for k, v in data.items() if k != "joined_on"},
            joined_on=data["joined_on"],
        )
        self.db.add(joining)
        change = self._recompute(household, [*members, joining], f"member joined ({actor.id})")
        self.audit.record(
            actor, "household.member_joins", f"household-{household.id}", "joined", member_id=joining.id, change=change
        )
        return self._household_view(household, [f"member {joining.name} joined", change])

    @rpc
    def member_leaves(self, actor, household_id, member_id, request):
        actor, data = Actor.from_dict(actor), load(MemberLeavesSchema, request)
        household = self._household(household_id, for_update=True)
        actor.require_staff_in(household.region_code)
        members = self._current_members(household.id)
        leaving = next((m for m in members if m.id == member_id), None)
        if leaving is None:
            raise NotFound(f"no current member {member_id} in household {household_id}")
        leaving.left_on, leaving.left_reason = data["left_on"], data["reason"]
        self._member_left(household, leaving)
        change = self._recompute(household, [m for m in members if m is not leaving], f"member left ({actor.id})")
        self.audit.record(
            actor,
            "household.member_leaves",
            f"household-{household.id}",
            "left",
            reason=data["reason"],
            member_id=leaving.id,
            change=change,
        )
        return self._household_view(household, [f"member {leaving.name} left", change])

    @rpc
    def exit_entitlement(self, actor, entitlement_id, request):
        """退出: the entitlement ends; when the household leaves because its income rose above the
        standard, the previous benefit continues through the gradual-exit period (渐退期)."""
        actor, data = Actor.from_dict(actor), load(ExitRequestSchema, request)
        entitlement = self._entitlement(entitlement_id)
        # the household's lock, as every change of its members or benefit takes first
        household = self._household(entitlement.household_id, for_update=True)
        actor.require_staff_in(household.region_code)
        if entitlement.ends_on is not None:
            raise StepRefused(f"the entitlement already ended on {entitlement.ends_on}")
        if data["ends_on"] < entitlement.starts_on:
            raise InvalidInput(
                "an entitlement cannot end before it starts",
                errors={"ends_on": [f"before the start {entitlement.starts_on}"]},
            )
        policy = self._assistance_policy(household.region_code, data["ends_on"])
        gradual = rules.gradual_exit(
            entitlement.monthly_amount_fen,
            data["income_rose_above_standard"],
            data["ends_on"] + timedelta(days=1),
            policy,
        )
        entitlement.ends_on, entitlement.exit_reason = data["ends_on"], data["reason"]
        entitlement.gradual_exit_until, entitlement.next_review_on = gradual.ends, None
        self.outbox.record(
            "assistance.entitlement_ended",
            f"household-{household.id}",
            {
                "household_id": household.id,
                "programme": entitlement.programme,
                "ends_on": data["ends_on"],
                "reason": data["reason"],
            },
        )
        self.audit.record(
            actor,
            "entitlement.exit",
            f"household-{household.id}",
            "ended",
            reason=data["reason"],
            policy_version=gradual.version,
            entitlement_id=entitlement.id,
            gradual_exit_until=gradual.ends,
            explanation=list(gradual.reasons),
        )
        return self._household_view(household, list(gradual.reasons))

    @rpc
    def reviews_due(self, actor, within_days=30):
        """复核 work queue: the area's open entitlements whose re-check falls due within the days."""
        actor = Actor.from_dict(actor)
        until = self.clock.today() + timedelta(days=_within_days(within_days))
        query = (
            select(Entitlement, Household.region_code)
            .join(Household, Household.id == Entitlement.household_id)
            .where(
                Entitlement.ends_on.is_(None),
                Entitlement.next_review_on <= until,
                actor.in_area(Household.region_code, "re-checks"),
            )
        )
        rows = self.db.execute(query.order_by(Entitlement.next_review_on, Entitlement.id)).all()
        checks = {}  # the latest check the re-check job made for each entitlement's current review
        if rows:
            for check in self.db.execute(
                select(EconomicCheck)
                .where(EconomicCheck.entitlement_id.in_([e.id for e, _ in rows]))
                .order_by(EconomicCheck.started_at)
            ).scalars():
                checks[(check.entitlement_id, check.for_review_on)] = check
        return [
            {
                **dump(EntitlementViewSchema, _entitlement_view(e)),
                "household_id": e.household_id,
                "region_code": region,
                "review_check": _review_check_view(checks.get((e.id, e.next_review_on))),
            }
            for e, region in rows
        ]

    @rpc
    def run_review_checks(self, actor, within_days=30):
        """动态复核 in bulk (operations, or the bureau's nightly scheduler): every open entitlement whose
        re-check falls due within the days and has no complete check for that review yet gets one:
        every current member × every partner source, through the same client as an application's
        check (CHECK_CONCURRENCY fetches in flight), stored as an economic check of the entitlement.
        The caseworker's queue (`reviews_due`) shows it; `record_review` or the exit decides.

        Works in batches of REVIEW_BATCH entitlements, each committed on its own; a batch's rows are
        locked SKIP LOCKED, so instances running the job at once share the work instead of asking
        the sources twice. An incomplete check stays (it says what failed) and the next run tries the
        entitlement again; a complete one is not repeated."""
        actor = Actor.from_dict(actor)
        if actor.role != ADMIN:
            raise Forbidden("only operations (admin) start the re-check job")
        until = self.clock.today() + timedelta(days=_within_days(within_days))
        has_complete_check = (
            select(EconomicCheck.id)
            .where(
                EconomicCheck.entitlement_id == Entitlement.id,
                EconomicCheck.for_review_on == Entitlement.next_review_on,
                EconomicCheck.complete.is_(True),
            )
            .exists()
        )
        totals = dict.fromkeys(("entitlements", "complete", "subjects", "fetches", "failed_fetches", "batches"), 0)
        after = 0
        while True:
            batch = self.db.execute(
                select(Entitlement.id, Entitlement.household_id, Entitlement.next_review_on)
                .where(
                    Entitlement.ends_on.is_(None),
                    Entitlement.next_review_on <= until,
                    Entitlement.id > after,
                    ~has_complete_check,
                )
                .order_by(Entitlement.id)
                .limit(REVIEW_BATCH)
                .with_for_update(of=Entitlement, skip_locked=True)
            ).all()
            if not batch:
                break
            after = batch[-1].id
            done = self._review_batch(actor, batch)
            for key, value in done.items():
                totals[key] += value
            totals["batches"] += 1
            self.db.commit()  # this batch's checks are kept whatever happens to the next
        self.log.info("assistance.review_checks", **totals)
        return {"until": until.isoformat(), **totals}

    def _review_batch(self, actor: Actor, batch) -> dict:
        """One round: fetch every current member of the batch's households from every source at
        once, then insert the checks, their fetch rows and an audit row per household (whose
        records were asked for, and why) in three statements."""
        members: dict[str, list[str]] = defaultdict(list)
        for household_id, resident_id in self.db.execute(
            select(Member.household_id, Member.resident_id)
            .where(
                Member.household_id.in_({row.household_id for row in batch}),
                Member.left_on.is_(None),
                Member.resident_id.is_not(None),  # a newborn without an ID has no records to check
            )
            .order_by(Member.household_id, Member.joined_on, Member.id)
        ):
            members[household_id].append(resident_id)
        subjects = list(dict.fromkeys(r for ids in members.values() for r in ids))
        started = self.clock.now()
        fetched = {(f.resident_id, f.source): f for f in self.sources.fetch_all(subjects, list(CHECK_SOURCES))}
        finished = self.clock.now()
        stand_ins = self._last_known_of(
            [k for k, f in fetched.items() if f.status != OK and self.sources.policy_for(f.source) == "last_known"]
        )
        checks, rows, complete = [], [], 0
        for entitlement in batch:
            check_id, answered = str(uuid.uuid4()), []
            for resident_id in members[entitlement.household_id]:
                for source in CHECK_SOURCES:
                    f = fetched[(resident_id, source)]
                    known = stand_ins.get((resident_id, source)) if f.status != OK else None
                    answered.append(f.status == OK or known is not None)
                    rows.append(
                        {
                            "check_id": check_id,
                            "resident_id": resident_id,
                            "source": source,
                            "status": f.status,
                            "fetched_at": f.fetched_at,
                            "latency_ms": f.latency_ms,
                            # as an application's check: the answer, or a pointer to the earlier one used
                            "result": f.result
                            if f.status == OK
                            else ({"last_known_fetch_id": known} if known else None),
                            "error": f.error,
                        }
                    )
            done = rules.review_check_complete(answered)
            complete += done
            checks.append(
                {
                    "id": check_id,
                    "entitlement_id": entitlement.id,
                    "for_review_on": entitlement.next_review_on,
                    "started_at": started,
                    "finished_at": finished,
                    "complete": done,
                }
            )
        self.db.execute(insert(EconomicCheck), checks)
        if rows:
            self.db.execute(insert(CheckFetch), rows)
        households = {e.id: e.household_id for e in batch}
        self.audit.record_many(
            actor,
            "entitlement.review_check",
            [
                AuditEntry(
                    f"household-{households[c['entitlement_id']]}",
                    "complete" if c["complete"] else "incomplete",
                    reason=f"动态复核 due {c['for_review_on'].isoformat()}",
                    details={"entitlement_id": c["entitlement_id"], "check_id": c["id"]},
                )
                for c in checks
            ],
        )
        return {
            "entitlements": len(batch),
            "complete": complete,
            "subjects": len(subjects),
            "fetches": len(fetched),
            "failed_fetches": sum(f.status != OK for f in fetched.values()),
        }

    def _last_known_of(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """(resident ID, source) -> the id of that subject's last successful fetch of the source."""
        if not keys:
            return {}
        return {
            (resident_id, source): last
            for resident_id, source, last in self.db.execute(
                select(CheckFetch.resident_id, CheckFetch.source, func.max(CheckFetch.id))
                .where(tuple_(CheckFetch.resident_id, CheckFetch.source).in_(keys), CheckFetch.status == OK)
                .group_by(CheckFetch.resident_id, CheckFetch.source)
            )
        }

    @rpc
    def record_review(self, actor, entitlement_id, request):
        """A re-check that keeps the benefit: recorded, and the next one scheduled."""
        actor, data = Actor.from_dict(actor), load(ReviewRequestSchema, request)
        entitlement = self._entitlement(entitlement_id)
        household = self._household(entitlement.household_id)
        actor.require_staff_in(household.region_code)
        if entitlement.ends_on is not None:
            raise StepRefused(f"the entitlement ended on {entitlement.ends_on}: nothing to re-check")
        today = self.clock.today()
        entitlement.next_review_on = self._next_review(household.region_code, today, entitlement.programme)
        self.audit.record(
            actor,
            "entitlement.review",
            f"household-{household.id}",
            "continued",
            reason=data["reason"],
            entitlement_id=entitlement.id,
            next_review_on=entitlement.next_review_on,
        )
        return self._household_view(household, [f"re-checked on {today}; next re-check {entitlement.next_review_on}"])

    def _next_review(self, region_code: str, on: date, programme: str) -> date | None:
        with refusals_as(PolicyUnusable):
            return rules.next_review(
                on, self.policy.resolve("assistance.review_months", region_code, on).value, programme
            )

    def _household(self, household_id: str, for_update: bool = False) -> Household:
        household = self.db.get(Household, household_id, with_for_update=for_update)
        if household is None:
            raise NotFound(f"no household {household_id}")
        return household

    def _entitlement(self, entitlement_id) -> Entitlement:
        if not str(entitlement_id).isdigit() or len(str(entitlement_id)) > 18:
            raise NotFound(f"no entitlement {entitlement_id}")
        entitlement = self.db.get(Entitlement, int(entitlement_id), with_for_update=True)
        if entitlement is None:
            raise NotFound(f"no entitlement {entitlement_id}")
        return entitlement

    def _household_view(self, household: Household, changes=()) -> dict:
        members = self.db.execute(
            select(Member).where(Member.household_id == household.id).order_by(Member.joined_on, Member.id)
        ).scalars()
        entitlements = self.db.execute(
            select(Entitlement).where(Entitlement.household_id == household.id).order_by(Entitlement.id)
        ).scalars()
        return dump(
            HouseholdViewSchema,
            {
                "household_id": household.id,
                "region_code": household.region_code,
                "address": household.address,
                "members": [
                    {
                        "member_id": m.id,
                        "resident_id": m.resident_id,
                        "birth_certificate_number": m.birth_certificate_number,
                        "name": m.name,
                        "relationship": m.relationship,
                        "monthly_income_fen": m.monthly_income_fen,
                        "joined_on": m.joined_on,
                        "left_on": m.left_on,
                        "left_reason": m.left_reason,
                    }
                    for m in members
                ],
                "entitlements": [_entitlement_view(e) for e in entitlements],
                "changes": [c for c in changes if c],
            },
        )

    # --- 救助一件事: the linked-item catalogue -----------------------------------------------------

    @rpc
    def list_linked_items(self, actor, include_retired=False):
        actor = Actor.from_dict(actor)
        if actor.role not in STAFF:
            raise Forbidden("the catalogue is read by staff")
        query = select(LinkedItem).order_by(LinkedItem.code)
        if not include_retired:
            query = query.where(LinkedItem.active.is_(True))
        return {"items": [self._item_view(i) for i in self.db.execute(query).scalars()]}  # each dumped already

    @rpc
    def add_linked_item(self, actor, request):
        """A new item of the catalogue, version 1; approvals from now on grant it."""
        actor, data = Actor.from_dict(actor), load(NewLinkedItemRequestSchema, request)
        self._require_catalogue_admin(actor)
        self._require_owner(data["owner"])
        if self.db.get(LinkedItem, data["code"], with_for_update=True) is not None:
            raise Conflict(f"item {data['code']} exists; change it as a new version", errors={"code": ["exists"]})
        item = LinkedItem(code=data["code"], active=True, version=0)
        self.db.add(item)
        return self._item_version(actor, item, data, True, "linked_item.add")

    @rpc
    def change_linked_item(self, actor, code, request):
        """A change is a new version; the earlier ones are kept as they were."""
        actor, data = Actor.from_dict(actor), load(LinkedItemRequestSchema, request)
        self._require_catalogue_admin(actor)
        self._require_owner(data["owner"])
        item = self._item(code)
        if not item.active:
            raise Conflict(f"item {code} is retired", errors={"code": ["retired"]})
        return self._item_version(actor, item, data, True, "linked_item.change")

    @rpc
    def retire_linked_item(self, actor, code, request):
        """Approvals from now on no longer grant it; the matters that have it keep their step."""
        actor, data = Actor.from_dict(actor), load(LinkedItemRetirementSchema, request)
        self._require_catalogue_admin(actor)
        item = self._item(code)
        if not item.active:
            raise Conflict(f"item {code} is retired already", errors={"code": ["retired"]})
        same = {
            "title": item.title,
            "owner": item.owner,
            "deadline_days": item.deadline_days,
            "programmes": item.programmes,
            "reason": data["reason"],
        }
        return self._item_version(actor, item, same, False, "linked_item.retire")

    def _item_version(self, actor: Actor, item: LinkedItem, data: dict, active: bool, action: str) -> dict:
        item.version = (item.version or 0) + 1
        item.title, item.owner, item.deadline_days = data["title"], data["owner"], data["deadline_days"]
        item.programmes, item.active = sorted(set(data["programmes"])), active
        self.db.flush()
        self.db.add(
            LinkedItemVersion(
                code=item.code,
                version=item.version,
                title=item.title,
                owner=item.owner,
                deadline_days=item.deadline_days,
                programmes=item.programmes,
                active=active,
                recorded_at=self.clock.now(),
                recorded_by=actor.id,
                reason=data.get("reason"),
            )
        )
        self.db.flush()
        self.audit.record(
            actor,
            action,
            f"linked-item-{item.code}",
            "active" if active else "retired",
            version=item.version,
            owner=item.owner,
            reason=data.get("reason"),
        )
        return self._item_view(item)

    def _item(self, code: str) -> LinkedItem:
        item = self.db.get(LinkedItem, code, with_for_update=True)
        if item is None:
            raise NotFound(f"no linked item {code}", errors={"code": ["unknown"]})
        return item

    @staticmethod
    def _require_catalogue_admin(actor: Actor) -> None:
        if actor.role != ADMIN:
            raise Forbidden("only the bureau's administrators keep the catalogue of linked items")

    def _require_owner(self, owner: str) -> None:
        if owner != self.name and owner not in PARTNERS:
            raise InvalidInput(
                "not a department of the partner registry",
                errors={"owner": [f"one of assistance, {', '.join(sorted(PARTNERS))}"]},
            )

    def _item_view(self, item: LinkedItem) -> dict:
        versions = self.db.execute(
            select(LinkedItemVersion).where(LinkedItemVersion.code == item.code).order_by(LinkedItemVersion.version)
        ).scalars()
        partner = PARTNERS.get(item.owner)
        return dump(
            LinkedItemViewSchema,
            {
                "code": item.code,
                "title": item.title,
                "owner": item.owner,
                "owner_title": partner.title if partner else "民政 civil affairs (social assistance)",
                "deadline_days": item.deadline_days,
                "programmes": item.programmes,
                "active": item.active,
                "version": item.version,
                "versions": [
                    {
                        "version": v.version,
                        "title": v.title,
                        "owner": v.owner,
                        "deadline_days": v.deadline_days,
                        "programmes": v.programmes,
                        "active": v.active,
                        "recorded_at": v.recorded_at,
                        "recorded_by": v.recorded_by,
                        "reason": v.reason,
                    }
                    for v in versions
                ],
            },
        )

    # --- policy versions ------------------------------------------------------------------------

    @rpc
    def add_policy_version(self, actor, request):
        """A new version of a parameter (never an edit). Refused, and nothing kept, when the policy
        it makes for the region on its date would not be usable by the rules."""
        actor, data = Actor.from_dict(actor), load(PolicyVersionRequestSchema, request)
        if actor.role != ADMIN:
            raise Forbidden("only the bureau's policy office (admin) adds policy versions")
        known = {
            *POLICY_PARAMETERS.values(),
            *DISABILITY_PARAMETERS.values(),
            "assistance.alert_visit_days",
            "assistance.review_months",
            "calendar.holidays",
            "calendar.makeup_workdays",
        }
        if data["name"] not in known:
            raise InvalidInput("not a parameter of social assistance", errors={"name": sorted(known)})
        whole = {*DISABILITY_PARAMETERS.values(), "assistance.alert_visit_days"}
        value = data["value"]
        if data["name"] in whole and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise InvalidInput(f"{data['name']} is a whole number ≥ 0", errors={"value": ["a whole number ≥ 0"]})
        added = self.policy.add(
            data["name"], data["region_code"], data["effective_from"], data["value"], data["source"], actor.id
        )
        self.db.flush()
        try:  # the whole policy as the rules would take it, with the new version in place
            on, region = data["effective_from"], data["region_code"]
            self._assistance_policy(region, on)
            for programme in PROGRAMMES:
                self._next_review(region, on, programme)
            self._calendar(region, on)
        except PolicyUnusable as exc:
            raise InvalidInput(exc.detail, errors={"value": [exc.detail]}) from None
        except (AttributeError, TypeError, ValueError, KeyError) as exc:  # a value of the wrong shape
            raise InvalidInput(
                f"{data['name']} cannot take this value: {exc}", errors={"value": ["wrong shape for this parameter"]}
            ) from None
        self.audit.record(
            actor,
            "policy.add_version",
            f"policy-{data['name']}",
            "added",
            policy_version=added.version,
            source=data["source"],
        )
        return dump(
            PolicyVersionViewSchema,
            {
                "name": added.name,
                "region_code": added.region_code,
                "effective_from": added.effective_from,
                "value": added.value,
                "version": added.version,
            },
        )

    # --- reactions and proactive discovery (主动发现) ----------------------------------------------

    @handle_event("marriage.divorce_registered")
    def on_divorce(self, event):
        """A recipient household holding both former spouses: the one who is not the head leaves,
        and the household's 低保 is recomputed (the next payment run pays the new amount). Every
        recipient household of either party gets a visit task."""
        parties = {event.data["party_a"]["resident_id"], event.data["party_b"]["resident_id"]}
        left_on = date.fromisoformat(str(event.data["registered_on"]))
        for household in self._recipient_households(parties):
            members = self._current_members(household.id)
            in_household = [m for m in members if m.resident_id in parties]
            outcome = ""
            if len(in_household) == 2:
                leaving = next((m for m in in_household if m.relationship != "head"), in_household[1])
                leaving.left_on, leaving.left_reason = left_on, f"divorce ({event.data['certificate_number']})"
                self._member_left(household, leaving)
                outcome = " " + self._recompute(
                    household, [m for m in members if m is not leaving], f"{event.type} {event.id}"
                )
            self._raise_alert(household, event, outcome)

    @handle_event("birth.notified")
    def on_birth(self, event):
        """A child born to a member of a recipient household joins it from the birth date, known by
        the birth certificate until the hukou gives a resident ID; the household's 低保 is recomputed
        and a caseworker gets a visit task (to record the ID once registered)."""
        child = event.data["child"]
        parents = {event.data["mother_resident_id"], event.data.get("father_resident_id")} - {None}
        born = date.fromisoformat(str(child["birth_date"]))
        for household in self._recipient_households(parents):
            members = self._current_members(household.id)
            if any(m.birth_certificate_number == child["birth_certificate_number"] for m in members):
                continue  # the same birth reported again
            newborn = Member(
                id=str(uuid.uuid4()),
                household_id=household.id,
                resident_id=None,
                birth_certificate_number=child["birth_certificate_number"],
                birth_date=born,
                name=child["name"],
                relationship="child",
                monthly_income_fen=0,
                employment_cost_fen=0,
                seriously_ill=False,
                severely_disabled=False,
                pregnant=False,
                single_person_listing=False,
                joined_on=born,
            )
            self.db.add(newborn)
            change = self._recompute(household, [*members, newborn], f"{event.type} {event.id}")
            self._raise_alert(household, event, f" The child joined the household on {born}. {change}".rstrip())

    @rpc
    def identify_member(self, actor, household_id, member_id, request):
        """The newborn's resident ID, once the hukou registration gave one."""
        actor, data = Actor.from_dict(actor), load(MemberIdentificationSchema, request)
        household = self._household(household_id, for_update=True)
        actor.require_staff_in(household.region_code)
        member = self.db.get(Member, member_id)
        if member is None or member.household_id != household.id:
            raise NotFound(f"no member {member_id} in household {household_id}")
        if member.resident_id is not None:
            raise StepRefused("the member already has a resident ID")
        person = ResidentId.parse(data["resident_id"])
        if any(m.resident_id == person.number for m in self._current_members(household.id)):
            raise AlreadyMember("another member already has this ID", errors={"resident_id": ["already a member"]})
        if member.birth_date is not None and person.birth_date != member.birth_date:
            raise InvalidInput(
                "the ID's birth date is not the member's",
                errors={"resident_id": [f"born {person.birth_date}, not {member.birth_date}"]},
            )
        member.resident_id = person.number
        self.audit.record(
            actor, "household.member_identified", f"household-{household.id}", "identified", member_id=member.id
        )
        return self._household_view(household, [f"{member.name}'s resident ID recorded"])

    def _member_left(self, household: Household, member: Member, case_id: str | None = None) -> None:
        """`case_id`: the funeral case, when the member left by death."""
        if member.resident_id:  # a newborn without an ID was never known to anyone else
            self.outbox.record(
                "assistance.member_left",
                f"household-{household.id}",
                {
                    "household_id": household.id,
                    "resident_id": member.resident_id,
                    "left_on": member.left_on,
                    "reason": member.left_reason,
                    "case_id": case_id,
                },
            )

    def _recipient_households(self, resident_ids: set[str], paying_after: date | None = None) -> list[Household]:
        """Households with a current member among `resident_ids` and an entitlement not yet ended
        (`paying_after`: one still paid for a day after it, 渐退 included, however it stands today)."""
        covers = (
            _paid_after(paying_after)
            if paying_after is not None
            else (Entitlement.ends_on.is_(None)) | (Entitlement.ends_on >= self.clock.today())
        )
        return list(
            self.db.execute(
                select(Household)
                .where(
                    Household.id.in_(
                        select(Member.household_id).where(
                            Member.resident_id.in_(resident_ids), Member.left_on.is_(None)
                        )
                    ),
                    Household.id.in_(select(Entitlement.household_id).where(covers)),
                )
                .order_by(Household.id)
                .with_for_update()
            ).scalars()
        )

    def _recompute(self, household: Household, members: list[Member], cause: str) -> str:
        """The household's open 低保 entitlement at today's policy; returns what happened, in words."""
        today = self.clock.today()
        said = []
        for entitlement in self.db.execute(
            select(Entitlement)
            .where(
                Entitlement.household_id == household.id,
                Entitlement.programme == "dibao",
                Entitlement.ends_on.is_(None),
            )
            .with_for_update()
        ).scalars():
            policy = self._assistance_policy(household.region_code, today)
            result = rules.dibao_benefit([_rule_member(m) for m in members], today, policy)
            if not result.eligible:
                said.append("the household no longer qualifies for 低保 on its own figures: review it for exit")
                continue
            before, entitlement.monthly_amount_fen = entitlement.monthly_amount_fen, result.monthly_fen
            entitlement.policy_version = policy.version
            self.audit.record(
                SYSTEM,
                "entitlement.recompute",
                f"household-{household.id}",
                "recomputed",
                reason=cause,
                policy_version=policy.version,
                before_fen=before,
                after_fen=result.monthly_fen,
            )
            said.append(f"低保 recomputed from {rules.yuan(before)} to {rules.yuan(result.monthly_fen)} a month")
        return "; ".join(said)

    def _raise_alert(self, household: Household, event, outcome: str) -> None:
        signal = alerts.SIGNALS[event.type]
        today = self.clock.today()
        visit_days = int(self.policy.resolve("assistance.alert_visit_days", household.region_code, today).value)
        alert = Alert(
            id=str(uuid.uuid4()),
            kind=signal.kind,
            household_id=household.id,
            region_code=household.region_code,
            reason=f"{signal.what}.{outcome}".rstrip("."),
            state="open",
            source_event_id=event.id,
            raised_at=self.clock.now(),
            visit_due=alerts.visit_due(today, visit_days),
        )
        self.db.add(alert)
        self.audit.record(
            SYSTEM,
            "alert.raise",
            f"alert-{alert.id}",
            "open",
            reason=f"{event.type} {event.id}",
            household_id=household.id,
            kind=signal.kind,
        )

    @rpc
    def list_alerts(self, actor, include_resolved=False):
        """The area's alerts, oldest visit first."""
        actor = Actor.from_dict(actor)
        query = select(Alert).where(actor.in_area(Alert.region_code, "alerts"))
        if not include_resolved:
            query = query.where(Alert.state != "resolved")
        return [
            self._alert_view(a) for a in self.db.execute(query.order_by(Alert.visit_due, Alert.raised_at)).scalars()
        ]

    @rpc
    def acknowledge_alert(self, actor, alert_id):
        actor = Actor.from_dict(actor)
        alert = self._alert(actor, alert_id)
        alert.state = self._alert_move(actor, alert, "acknowledge")
        alert.acknowledged_by, alert.acknowledged_at = actor.id, self.clock.now()
        self.audit.record(actor, "alert.acknowledge", f"alert-{alert.id}", alert.state)
        return self._alert_view(alert)

    @rpc
    def resolve_alert(self, actor, alert_id, request):
        actor, data = Actor.from_dict(actor), load(AlertResolutionSchema, request)
        alert = self._alert(actor, alert_id)
        alert.state = self._alert_move(actor, alert, "resolve")
        alert.resolved_by, alert.resolved_at, alert.resolution = actor.id, self.clock.now(), data["resolution"]
        self.audit.record(actor, "alert.resolve", f"alert-{alert.id}", alert.state, reason=data["resolution"])
        return self._alert_view(alert)

    def _alert(self, actor: Actor, alert_id: str) -> Alert:
        alert = self.db.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        actor.require_staff_in(alert.region_code)
        return alert

    def _alert_move(self, actor: Actor, alert: Alert, action: str) -> str:
        with refusals_as(
            StepRefused,
            code="illegal_transition",
            audit=lambda refusal: self.audit.record_refusal(
                actor, f"alert.{action}", f"alert-{alert.id}", refusal.reason
            ),
        ):
            return alerts.alert_transition(alert.state, action)

    def _alert_view(self, alert: Alert) -> dict:
        return dump(
            AlertViewSchema,
            {
                "alert_id": alert.id,
                "kind": alert.kind,
                "household_id": alert.household_id,
                "region_code": alert.region_code,
                "reason": alert.reason,
                "state": alert.state,
                "raised_at": alert.raised_at,
                "visit_due": alert.visit_due,
                "overdue": alert.state != "resolved" and alert.visit_due < self.clock.today(),
                "acknowledged_by": alert.acknowledged_by,
                "resolved_by": alert.resolved_by,
                "resolution": alert.resolution,
            },
        )

    # --- referrals to charity (政府救助与慈善救助衔接) ------------------------------------------------

    @rpc
    def refer_to_charity(self, actor, household_id, request):
        """A caseworker refers the household for a need its aid leaves uncovered; charity answers by
        event (`charity.referral_answered`). One referral per need waits for its answer at a time."""
        actor, data = Actor.from_dict(actor), load(ReferralRequestSchema, request)
        household = self._household(household_id, for_update=True)
        actor.require_staff_in(household.region_code)
        if self.db.execute(
            select(CharityReferral.id).where(
                CharityReferral.household_id == household.id,
                CharityReferral.need == data["need"],
                CharityReferral.state == "referred",
            )
        ).first():
            raise StepRefused(
                f"the household's referral for {data['need']} awaits charity's answer",
                errors={"need": ["referred already, not yet answered"]},
            )
        members = [m for m in self._current_members(household.id) if m.resident_id]
        if not members:
            raise StepRefused(
                "the household has no member with a resident ID to refer",
                errors={"household_id": ["no identified member"]},
            )
        referral = CharityReferral(
            id=str(uuid.uuid4()),
            household_id=household.id,
            state="referred",
            referred_at=self.clock.now(),
            referred_by=actor.id,
            **data,
        )
        self.db.add(referral)
        self.outbox.record(
            "assistance.household_referred",
            f"household-{household.id}",
            {
                "referral_id": referral.id,
                "household_id": household.id,
                "region_code": household.region_code,
                "need": referral.need,
                "coverage": referral.coverage,
                "requested_fen": referral.requested_fen,
                "members": [{"resident_id": m.resident_id} for m in members],
            },
        )
        self.audit.record(
            actor,
            "household.refer_to_charity",
            f"household-{household.id}",
            "referred",
            reason=data["reason"],
            need=referral.need,
            requested_fen=referral.requested_fen,
        )
        return _referral_view(referral)

    @rpc
    def household_referrals(self, actor, household_id):
        """The household's referrals to charity with charity's answers, oldest first."""
        actor = Actor.from_dict(actor)
        household = self._household(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        return [
            _referral_view(r)
            for r in self.db.execute(
                select(CharityReferral)
                .where(CharityReferral.household_id == household.id)
                .order_by(CharityReferral.referred_at, CharityReferral.id)
            ).scalars()
        ]

    @handle_event("charity.referral_answered")
    def on_charity_answer(self, event):
        """Charity's aid (or its refusal) recorded on the household's referral."""
        data = event.data
        referral = self.db.get(CharityReferral, data["referral_id"], with_for_update=True)
        if referral is None or referral.state != "referred":
            return  # not ours, or answered already
        referral.state, referral.answer = data["outcome"], data["reason"]
        referral.aid_fen, referral.campaign_id = data["amount_fen"], data["campaign_id"]
        referral.organisation = data["organisation"]
        self.audit.record(
            SYSTEM,
            "household.charity_answer",
            f"household-{referral.household_id}",
            data["outcome"],
            reason=data["reason"],
            referral_id=referral.id,
            aid_fen=data["amount_fen"],
            cause=f"{event.type} {event.id}",
        )

    # --- 身后一件事: a death stops every benefit of the deceased ---------------------------------------

    @handle_event("death.notified", "death.revoked", "death.date_corrected")
    def on_death(self, event):
        """death.notified: the deceased leaves every recipient household as of the date of death;
        a benefit left with nobody (or no one it is for) ends that day, the others are recomputed
        for the survivors from the next cycle; what was already paid for months after the death is
        recorded as an overpayment with its recovery. death.revoked: all of it undone, with back
        pay for what the stop withheld. death.date_corrected: undone as of the old date and done
        again as of the confirmed one, in one transaction: back pay for the months the new date
        makes due that the stop withheld, the old overpayment's recovery superseded by the new
        date's. Each time the step of 身后一件事 is reported."""
        data = event.data
        record = self.db.get(DeathRecord, data["case_id"], with_for_update=True)
        revision = date_revision(event.type, data)
        action = after_death_action(
            event.type, record.state if record else None, record.date_revision if record else 0, revision
        )
        if action is OnDeath.STOP:
            self._stop_benefits_for_death(event, record)
        elif action is OnDeath.RESTORE:
            self._undo_death(event, record)
        elif action is OnDeath.RESTATE:
            corrected_to = date.fromisoformat(str(data["date_of_death"]))
            said = self._restore_benefits(
                record, f"the date of death was corrected to {corrected_to}", data["reason"], until=corrected_to
            )
            self._stop_benefits_for_death(event, record, said)
        elif action is OnDeath.CLOSE:
            record.state = "reversed"
        elif action is OnDeath.TOMBSTONE:  # the late notice will find this and change nothing
            self.db.add(
                DeathRecord(
                    case_id=data["case_id"],
                    resident_id=data["resident_id"],
                    date_of_death=date.fromisoformat(str(data["date_of_death"])),
                    state="revoked",
                    changes=[],
                    recorded_at=self.clock.now(),
                    reversed_at=self.clock.now(),
                )
            )
            # say so, or the step stays pending and the matter revoking
            self._report_death_step(data["case_id"], "not_applicable", REVOKED_BEFORE_NOTICE)
        if action in (OnDeath.STOP, OnDeath.RESTATE):  # the record stands on this event's date now
            self.db.get(DeathRecord, data["case_id"]).date_revision = revision

    def _stop_benefits_for_death(self, event, record: DeathRecord | None = None, said: list | None = None) -> None:
        """Stop as of the event's date. `record`: the one a corrected date finds, rewritten with the
        new date; `said`: what undoing the old date did, to report with the rest. The household's
        other deaths of the same benefits are counted again beside this one (recoveries.py)."""
        data, said = event.data, list(said or ())
        died_on = date.fromisoformat(str(data["date_of_death"]))
        case_id, correction = data["case_id"], record is not None
        if record is None:
            record = DeathRecord(
                case_id=case_id, resident_id=data["resident_id"], recorded_at=self.clock.now(), changes=[]
            )
            self.db.add(record)
        touched = _entitlements_of(record.changes)  # what the old date stopped, on a correction
        # standing as of the new date while it stops: its overpayments are counted beside the others'
        record.date_of_death, record.state = died_on, "applied"
        # a death recorded now is the last; a corrected one keeps its place among the household's deaths
        changes, later = [], self._deceased_recorded_after(record) if correction else {}
        for household in self._recipient_households({data["resident_id"]}, paying_after=died_on):
            changes.append(
                self._stop_for_death(
                    household, data["resident_id"], died_on, case_id, said, later.get(household.id, [])
                )
            )
        if correction:  # an overpayment of a benefit the new date no longer reaches owes nothing
            self._recount_unreached(case_id, _entitlements_of(changes), said)
        record.changes = changes
        record.state = "applied" if changes else "not_applicable"
        cause = (
            f"the date of another death in the household was corrected to {died_on} (funeral case {case_id})"
            if event.type == "death.date_corrected"
            else f"another death in the household was recorded (funeral case {case_id}, {died_on})"
        )
        self._recount_other_deaths(case_id, touched | _entitlements_of(changes), cause, said)
        if not changes:
            said.append(
                "the deceased received no assistance"
                if event.type == "death.notified"
                else f"no assistance is paid for after {died_on}"
            )
        self._report_death_step(
            case_id, "done" if changes else "not_applicable", step_reason(event.type, data, "; ".join(said))
        )

    def _deceased_recorded_after(self, record: DeathRecord) -> dict[str, list[Member]]:
        """Per household, the members who left by a death that stands and was recorded after this
        one (in the order the overpayments are counted in: recoveries.py), for a corrected date."""
        later: dict[str, list[Member]] = {}
        for other in self.db.execute(
            select(DeathRecord)
            .where(
                DeathRecord.state == "applied",
                DeathRecord.case_id != record.case_id,
                tuple_(DeathRecord.recorded_at, DeathRecord.case_id) > tuple_(record.recorded_at, record.case_id),
            )
            .order_by(DeathRecord.recorded_at, DeathRecord.case_id)
        ).scalars():
            for change in other.changes:
                later.setdefault(change["household_id"], []).append(self.db.get(Member, change["member_id"]))
        return later

    def _stop_for_death(
        self, household: Household, resident_id: str, died_on: date, case_id: str, said: list, later: list[Member] = ()
    ) -> dict:
        """`later`: members of the household who left by deaths recorded after this one (a corrected
        date): what a month after this death is still due is counted with them, as it was when this
        death was first recorded, so that the deaths' overpayments keep each its share (the
        benefit's own amount is the survivors' now). Every other member counts for the months they
        were in the household: one gone by a death recorded before this one but dated after it
        (deaths handled out of date order, or a corrected date) is still due for the month they
        died in, which the run pays in full; one born since, from the month born."""
        members = self._current_members(household.id)
        deceased = next(m for m in members if m.resident_id == resident_id)
        survivors = [m for m in members if m is not deceased]
        everyone = [m for m in self._members_ever(household.id) if m.id != deceased.id]
        later_ids = {m.id for m in later}
        deceased.left_on, deceased.left_reason = died_on, f"death (funeral case {case_id})"
        self._member_left(household, deceased, case_id)
        today = self.clock.today()
        benefits = []
        for entitlement in self.db.execute(
            select(Entitlement)
            .where(Entitlement.household_id == household.id, _paid_after(died_on))
            .order_by(Entitlement.id)
            .with_for_update()
        ).scalars():
            before = entitlement.monthly_amount_fen
            after, why = self._amount_without(entitlement, survivors, household.region_code, today)
            due_by_members: dict[frozenset, int] = {}

            def due_in(month: date, entitlement=entitlement, cache=due_by_members) -> int:
                """What `month` (after the death) is still due: for the members in it then."""
                counted = [
                    m
                    for m in everyone
                    if m.id in later_ids or rules.in_household_for_month(m.joined_on, m.left_on, month)
                ]
                key = frozenset(m.id for m in counted)
                if key not in cache:
                    cache[key] = self._amount_without(entitlement, counted, household.region_code, today)[0]
                return cache[key]

            ended = after == 0
            change = {
                "entitlement_id": entitlement.id,
                "programme": entitlement.programme,
                "before_fen": before,
                "after_fen": after,
                "ended": ended,
                "ends_on_before": _iso(entitlement.ends_on),
                "gradual_exit_until_before": _iso(entitlement.gradual_exit_until),
                "exit_reason_before": entitlement.exit_reason,
                "next_review_on_before": _iso(entitlement.next_review_on),
                "policy_version_before": entitlement.policy_version,
            }
            if ended:
                if entitlement.ends_on is None or entitlement.ends_on > died_on:
                    entitlement.ends_on = died_on
                    self.outbox.record(
                        "assistance.entitlement_ended",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "ends_on": died_on,
                            "reason": "death of the recipient",
                        },
                    )
                    said.append(f"{entitlement.programme} ended on {died_on}")
                else:  # ended before the death and paid on under 渐退: the departments know it ended
                    said.append(f"{entitlement.programme}'s 渐退 stopped on {died_on}")
                if entitlement.gradual_exit_until is not None and entitlement.gradual_exit_until > died_on:
                    entitlement.gradual_exit_until = died_on
                entitlement.exit_reason = f"death (funeral case {case_id})"
                entitlement.next_review_on = None
            elif after != before:
                said.append(
                    f"{entitlement.programme} recomputed from {rules.yuan(before)} to {rules.yuan(after)} a month "
                    f"from the next cycle"
                )
            if why:
                said.append(why)
            # a cycle frozen but not yet sent holds the month at the old amount: out of its batch;
            # arrears pay what the month is still due after the death (payments.py), or nothing
            withheld = payments.RUN.withhold(
                self.db.connection(),
                entitlement.id,
                rules.first_month_after(died_on),
                f"withheld: death (funeral case {case_id})",
            )
            if withheld:
                months = ", ".join(m.strftime("%Y-%m") for _, _, m, _ in withheld)
                said.append(f"{entitlement.programme} for {months} withheld from the batch not yet sent")
                self.audit.record(
                    SYSTEM,
                    "payment.withhold",
                    f"household-{household.id}",
                    "withheld",
                    reason=f"death (funeral case {case_id})",
                    payments=[{"payment_id": i, "cycle_id": c, "for_month": m} for i, c, m, _ in withheld],
                )
            # the months' dues are counted with the amount before the death (what a household whose
            # members in a month may no longer qualify keeps until re-checked), then it changes
            self._link_after_death_payments(case_id, entitlement.id, died_on, due_in)
            if not ended:
                entitlement.monthly_amount_fen = after
            over = self._overpaid(case_id, entitlement.id)  # beside the household's other deaths
            self._record_overpayment(case_id, household.id, entitlement, over, said)
            if over.amount_fen:
                change["overpayment_fen"] = over.amount_fen
            self.audit.record(
                SYSTEM,
                "entitlement.death",
                f"household-{household.id}",
                "ended" if ended else "recomputed",
                reason=f"death (funeral case {case_id})",
                entitlement_id=entitlement.id,
                before_fen=before,
                after_fen=after,
                overpayment_fen=over.amount_fen,
                months=[m.isoformat() for m in over.months],
            )
            benefits.append(change)
        return {"household_id": household.id, "member_id": deceased.id, "benefits": benefits}

    def _amount_without(
        self, entitlement: Entitlement, survivors: list[Member], region_code: str, today: date
    ) -> tuple[int, str | None]:
        """The benefit's monthly amount without the deceased (0: it ends), and a note when the
        survivors' own eligibility needs a caseworker's re-check rather than a change here."""
        if not survivors or entitlement.programme == "temporary":
            return 0 if not survivors else entitlement.monthly_amount_fen, None
        if entitlement.programme == "dibao":
            policy = self._assistance_policy(region_code, today)
            result = rules.dibao_benefit([_rule_member(m) for m in survivors], today, policy)
            if not result.eligible:
                return entitlement.monthly_amount_fen, "the survivors may no longer qualify for 低保: re-check them"
            entitlement.policy_version = policy.version
            return result.monthly_fen, None
        if entitlement.programme in DISABILITY_PARAMETERS:
            per_person = int(
                self.policy.resolve(DISABILITY_PARAMETERS[entitlement.programme], region_code, today).value
            )
            return per_person * sum(1 for m in survivors if m.severely_disabled), None
        # 特困 and 低保边缘 are the person's own standing: the survivors' is a re-check's to decide
        return entitlement.monthly_amount_fen, f"{entitlement.programme}: re-check the survivors"

    def _paid_by_month(self, entitlement_id: int, with_arrears_due: bool = False) -> dict:
        """What each month's payments of the entitlement paid out (handed to the bank or paid).
        `with_arrears_due`: a month whose only payment failed counts as paid too, since the next
        cycle pays it again as arrears now that the entitlement covers the month again."""
        paid = {
            month: int(fen)
            for month, fen in self.db.execute(
                select(Payment.for_month, func.sum(Payment.amount_fen))
                .where(Payment.entitlement_id == entitlement_id, Payment.state.in_(("pending", "paid")))
                .group_by(Payment.for_month)
            ).all()
        }
        if with_arrears_due:
            for month, fen in self.db.execute(
                select(Payment.for_month, func.max(Payment.amount_fen))
                .where(Payment.entitlement_id == entitlement_id, Payment.state == "failed")
                .group_by(Payment.for_month)
            ).all():
                paid.setdefault(month, int(fen))
        return paid

    def _undo_death(self, event, record: DeathRecord) -> None:
        """The death revoked: what it stopped restored, its recoveries cancelled, and the household's
        other deaths of the same benefits counted again without it (recoveries.py)."""
        said = self._restore_benefits(record, "the death was revoked", event.data["reason"])
        record.state, record.reversed_at = "reversed", self.clock.now()
        self._recount_other_deaths(
            record.case_id,
            _entitlements_of(record.changes),
            f"another death in the household was revoked (funeral case {record.case_id})",
            said,
        )
        self._report_death_step(record.case_id, "reversed", "; ".join(said))

    def _restore_benefits(self, record: DeathRecord, cause: str, reason: str, until: date | None = None) -> list[str]:
        """Undo what the record says the death stopped, with back pay for the months after the
        month of death whose cycle paid less than the benefit owed, and the open recoveries of its
        overpayments cancelled (recoveries.py); returns what was done, in words. `until`: a
        corrected date of death, to be stopped again as of it in the same transaction: back pay
        only for the months up to it (the later ones are after the death still); the recoveries
        are left to the stop, which recounts each against the payments after the new date; and a
        benefit the new date ends again is not announced as resumed (only its new end is: the
        departments, and care, see the end move, never a benefit running on for a dead person).
        Back pay still due from an earlier correction is superseded and owed again here, so no
        month is owed twice."""
        said, today = [], self.clock.today()

        def ends_again(entitlement: Entitlement) -> bool:
            """Paid after the corrected date with nobody left but the deceased: the stop that follows
            ends it as of that date (`_amount_without`)."""
            paid_until = _paid_until(entitlement)
            alone = len(self._current_members(entitlement.household_id)) == 1
            return alone and (paid_until is None or paid_until > until)

        earlier = {}  # entitlement: the first month an unpaid back pay of this case named
        for back in self.db.execute(
            select(BackPay).where(BackPay.case_id == record.case_id, BackPay.state == "due").with_for_update()
        ).scalars():
            back.state = "superseded"
            first = min(date.fromisoformat(m["month"]) for m in back.months)
            earlier[back.entitlement_id] = min(first, earlier.get(back.entitlement_id, first))
        for change in record.changes:
            household = self._household(change["household_id"], for_update=True)
            member = self.db.get(Member, change["member_id"])
            member.left_on, member.left_reason = None, None
            for benefit in change["benefits"]:
                entitlement = self.db.get(Entitlement, benefit["entitlement_id"], with_for_update=True)
                entitlement.monthly_amount_fen = benefit["before_fen"]
                entitlement.policy_version = benefit["policy_version_before"]
                if benefit["ended"] and "gradual_exit_until_before" in benefit:
                    entitlement.ends_on = _date(benefit["ends_on_before"])
                    entitlement.gradual_exit_until = _date(benefit["gradual_exit_until_before"])
                    entitlement.exit_reason = benefit["exit_reason_before"]
                    entitlement.next_review_on = (
                        _date(benefit["next_review_on_before"])
                        if entitlement.ends_on is not None
                        else self._next_review(household.region_code, today, entitlement.programme)
                    )
                elif benefit["ended"]:  # recorded before the death kept what it overwrote
                    entitlement.ends_on = _date(benefit["ends_on_before"])
                    entitlement.exit_reason = None
                    entitlement.next_review_on = self._next_review(household.region_code, today, entitlement.programme)
                before = _date(benefit["ends_on_before"])
                if (
                    benefit["ended"]
                    and (before is None or before > record.date_of_death)
                    and not (until is not None and ends_again(entitlement))
                ):
                    # the death announced the end (assistance.entitlement_ended): announce it is undone,
                    # unless the corrected date ends it again at once: then its new end is announced
                    self.outbox.record(
                        "assistance.entitlement_resumed",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "resumed_from": record.date_of_death,
                            "reason": cause,
                        },
                    )
                paid_until = _paid_until(entitlement)
                if until is not None:
                    paid_until = until if paid_until is None else min(paid_until, until)
                since = record.date_of_death
                if entitlement.id in earlier:
                    since = min(since, earlier[entitlement.id] - timedelta(days=1))
                cycle_months = list(self.db.execute(select(PaymentCycle.month)).scalars())
                owed_by_month, resumed_fen = self._owed_beside_other_deaths(
                    record, household, entitlement, benefit, cycle_months, from_now_on=until is None, said=said
                )
                if (
                    until is None
                    and resumed_fen > 0
                    and self._reopen_ended_by_other_death(record, household, entitlement, cause, said)
                ):
                    paid_until = _paid_until(entitlement)  # runs on: owed for every month since
                months = rules.back_pay_after_revocation(
                    since,
                    cycle_months,
                    self._paid_by_month(entitlement.id, with_arrears_due=True),
                    benefit["before_fen"],
                    paid_until=paid_until,
                    owed_by_month=owed_by_month,
                )
                owed = sum(m.back_fen for m in months)
                if owed:
                    self.db.add(
                        BackPay(
                            id=str(uuid.uuid4()),
                            case_id=record.case_id,
                            household_id=household.id,
                            entitlement_id=entitlement.id,
                            amount_fen=owed,
                            state="due",
                            months=[
                                {"month": m.month.isoformat(), "owed_fen": m.owed_fen, "paid_fen": m.paid_fen}
                                for m in months
                            ],
                            recorded_at=self.clock.now(),
                        )
                    )
                    said.append(
                        f"{entitlement.programme} resumed at {rules.yuan(resumed_fen)} a month, back pay "
                        f"{rules.yuan(owed)} for {', '.join(m.month.strftime('%Y-%m') for m in months)}"
                    )
                elif until is None:
                    said.append(f"{entitlement.programme} resumed at {rules.yuan(resumed_fen)} a month")
                action = "entitlement.death_revoked" if until is None else "entitlement.death_restated"
                self.audit.record(
                    SYSTEM,
                    action,
                    f"household-{household.id}",
                    "resumed",
                    reason=f"{cause}: {reason}",
                    entitlement_id=entitlement.id,
                    back_pay_fen=owed,
                )
        if until is None:
            self._cancel_recoveries_for_revocation(record, reason, said)
        else:  # the stop that follows finds the payments after the new date, and recounts the recoveries
            self._unlink_after_death_payments(record.case_id)
        return said

    def _reopen_ended_by_other_death(
        self, record: DeathRecord, household: Household, entitlement: Entitlement, cause: str, said: list
    ) -> bool:
        """The death in `record` is revoked and someone is due the benefit again (its amount beside
        the deaths that stand is above 0), but another death that stands ended it, because nobody
        was left then but the person now alive again: the benefit runs on, what that death
        overwrote set back, and the departments told it is resumed. Whether it reopened."""
        if entitlement.ends_on is None:
            return False
        for other in self.db.execute(
            select(DeathRecord)
            .where(DeathRecord.case_id != record.case_id, DeathRecord.state == "applied")
            .order_by(DeathRecord.recorded_at, DeathRecord.case_id)
        ).scalars():
            if entitlement.exit_reason != f"death (funeral case {other.case_id})":
                continue
            for change in other.changes:
                for benefit in change["benefits"]:
                    if benefit["entitlement_id"] != entitlement.id or not benefit["ended"]:
                        continue
                    entitlement.ends_on = _date(benefit["ends_on_before"])
                    entitlement.gradual_exit_until = _date(benefit.get("gradual_exit_until_before"))
                    entitlement.exit_reason = benefit.get("exit_reason_before")
                    entitlement.next_review_on = (
                        _date(benefit.get("next_review_on_before"))
                        if entitlement.ends_on is not None
                        else self._next_review(household.region_code, self.clock.today(), entitlement.programme)
                    )
                    self.outbox.record(
                        "assistance.entitlement_resumed",
                        f"household-{household.id}",
                        {
                            "household_id": household.id,
                            "programme": entitlement.programme,
                            "resumed_from": other.date_of_death,
                            "reason": f"{cause}: the death of funeral case {other.case_id} left someone after all",
                        },
                    )
                    said.append(
                        f"{entitlement.programme}, ended by the death of funeral case {other.case_id} with nobody "
                        "left, runs on"
                    )
                    return True
        return False

    def _owed_beside_other_deaths(
        self,
        record: DeathRecord,
        household: Household,
        entitlement: Entitlement,
        benefit: dict,
        cycle_months: list[date],
        from_now_on: bool,
        said: list,
    ) -> tuple[dict[date, int], int]:
        """For a benefit whose death (`record`) is being undone, with its amount and policy version
        set back to before the death: what the household is due for each payment cycle's month that
        another death of the household that stands reaches differently from the amount before this
        death (rules.gone_after_revocation), recomputed for the members alive in the month; and,
        `from_now_on` (a revocation), the benefit's amount from now on, set on it (with its policy
        version) when the deaths that stand make it another than the amount before. A death alone
        in its household changes nothing here: the amount before it is owed, as before."""
        others, members = [], {}
        for other in self.db.execute(
            select(DeathRecord).where(
                DeathRecord.case_id != record.case_id, DeathRecord.state.in_(("applied", "reversed"))
            )
        ).scalars():
            for change in other.changes:
                if change["household_id"] != household.id or entitlement.id not in {
                    b["entitlement_id"] for b in change["benefits"]
                }:
                    continue
                stands = other.state == "applied"
                recorded_before = (other.recorded_at, other.case_id) < (record.recorded_at, record.case_id)
                gone_then = stands or (other.reversed_at is not None and other.reversed_at > record.recorded_at)
                others.append(
                    rules.OtherDeath(change["member_id"], other.date_of_death, stands, recorded_before and gone_then)
                )
                if stands:
                    members[change["member_id"]] = self.db.get(Member, change["member_id"])
        if not others:
            return {}, benefit["before_fen"]
        died = set(members)  # gone by a death that stands: whether in a month is the deaths' to say
        # every member the household had: one born (joined) or gone (left) since counts only for the
        # months they were in it, a month they were in for any part in full (as the run pays it)
        for member in self.db.execute(
            select(Member).where(Member.household_id == household.id).order_by(Member.joined_on, Member.id)
        ).scalars():
            if member.id not in died:
                members[member.id] = member
        today, due = self.clock.today(), {}

        def present(member: Member, month: date | None) -> bool:
            if month is None:  # from now on: the members now
                return member.id in died or member.left_on is None
            return rules.in_household_for_month(member.joined_on, None if member.id in died else member.left_on, month)

        def due_without(gone: frozenset[int], month: date | None) -> tuple[int, str | None]:
            alive_ids = frozenset(i for i, m in members.items() if i not in gone and present(m, month))
            if alive_ids not in due:
                alive = sorted((members[i] for i in alive_ids), key=lambda m: (m.joined_on, m.id))
                due[alive_ids] = self._amount_without(entitlement, alive, household.region_code, today)
            return due[alive_ids]

        owed_by_month = {}
        for month in cycle_months:
            gone = rules.gone_after_revocation(others, month)
            if gone is not None:
                owed_by_month[month] = due_without(gone, month)[0]
        entitlement.policy_version = benefit["policy_version_before"]  # `_amount_without` sets its own
        gone = rules.gone_after_revocation(others) if from_now_on else None
        if gone is None:
            return owed_by_month, benefit["before_fen"]
        due.clear()  # computed again last, so the policy version is the amount's
        amount, why = due_without(gone, None)
        entitlement.monthly_amount_fen = amount
        if why:
            said.append(why)
        return owed_by_month, amount

    def _report_death_step(self, case_id: str, state: str, reason: str) -> None:
        self.outbox.report_step(f"death-case-{case_id}", "after_death", "benefits_stopped", state, reason)

    @rpc
    def after_death(self, actor, case_id):
        """What a death changed in assistance: benefits stopped or recomputed, overpayments with
        their recovery, back pay after a revocation with the top-ups that pay it (payments.py).
        For staff of the households' areas."""
        actor = Actor.from_dict(actor)
        record = self.db.get(DeathRecord, str(case_id))
        if record is None:
            raise NotFound(f"assistance has no record of funeral case {case_id}")
        for change in record.changes:
            actor.require_staff_in(self._household(change["household_id"]).region_code)
        if not record.changes and actor.role not in STAFF:
            raise Forbidden("for staff")
        overpayments = self.db.execute(
            select(Overpayment, Recovery)
            .join(Recovery, Recovery.overpayment_id == Overpayment.id)
            .where(Overpayment.case_id == record.case_id)
            .order_by(Overpayment.recorded_at, Overpayment.id)
        ).all()
        back_pay = (
            self.db.execute(
                select(BackPay).where(BackPay.case_id == record.case_id).order_by(BackPay.recorded_at, BackPay.id)
            )
            .scalars()
            .all()
        )
        # the top-ups that pay it (or paid it): once per entitlement and month, whichever record named it
        top_ups = (
            self.db.execute(
                select(Payment)
                .where(Payment.top_up, Payment.entitlement_id.in_({b.entitlement_id for b in back_pay}))
                .order_by(Payment.for_month, Payment.id)
            )
            .scalars()
            .all()
        )
        return {
            "case_id": record.case_id,
            "state": record.state,
            "date_of_death": record.date_of_death.isoformat(),
            "households": record.changes,
            "overpayments": [
                {
                    "household_id": o.household_id,
                    "entitlement_id": o.entitlement_id,
                    "programme": o.programme,
                    "months": o.months,
                    "amount_fen": o.amount_fen,
                    "recovery": self._recovery_summary(r),
                    "payments": self._after_death_payments_view(record.case_id, o.entitlement_id),
                }
                for o, r in overpayments
            ],
            "back_pay": [
                {
                    "household_id": b.household_id,
                    "entitlement_id": b.entitlement_id,
                    "months": b.months,
                    "amount_fen": b.amount_fen,
                    "state": b.state,
                    "payments": [
                        {
                            "payment_id": p.id,
                            "cycle_id": p.cycle_id,
                            "kind": p.kind,
                            "for_month": p.for_month.isoformat(),
                            "amount_fen": p.amount_fen,
                            "state": p.state,
                            "failure_reason": p.failure_reason,
                        }
                        for p in top_ups
                        if p.entitlement_id == b.entitlement_id
                        and p.for_month.isoformat() in {m["month"] for m in b.months}
                    ],
                }
                for b in back_pay
            ],
        }

    # --- the monthly payment run (社会化发放) --------------------------------------------------
    # Set-based SQL in chassis.payment_runs, what is paid in payments.py; here only who may, the audit row, and moving data in and out.

    @rpc
    def freeze_payment_cycle(self, actor, request):
        """Freeze the month's cycle: every active entitlement's payment with the amount, bank
        account and policy version of today (the snapshot), plus failed payments as arrears.
        Idempotent: a month already frozen is returned as it is."""
        actor, data = Actor.from_dict(actor), load(PaymentCycleRequestSchema, request)
        _require_payments_office(actor)
        with as_problems():
            summary = payments.freeze_cycle(self.db.connection(), data["month"], self.clock.now())
        self.audit.record(
            actor,
            "payment_cycle.freeze",
            f"payment-cycle-{summary.cycle_id}",
            "frozen" if summary.created else "already_frozen",
            payments=summary.payments,
            total_fen=summary.total_fen,
        )
        return dump(PaymentCycleViewSchema, asdict(summary))

    @rpc
    def get_payment_cycle(self, actor, cycle_id):
        _require_payments_office(Actor.from_dict(actor))
        with as_problems():
            return dump(PaymentCycleViewSchema, asdict(payments.cycle_summary(self.db.connection(), cycle_id)))

    @rpc
    def send_bank_batch(self, actor, cycle_id):
        """Write the cycle's pending payments for the bank, with control totals; frozen -> sent."""
        actor = Actor.from_dict(actor)
        _require_payments_office(actor)
        conn = self.db.connection()
        with as_problems():
            payments.claim_for_sending(conn, cycle_id)
            path, (rows, total) = self.bank_files(
                payments.RUN.file_name(cycle_id), lambda out: payments.write_bank_file(conn, cycle_id, out)
            )
            state = payments.mark_sent(conn, cycle_id)
        self.audit.record(
            actor, "payment_cycle.send", f"payment-cycle-{cycle_id}", state, rows=rows, total_fen=total, file=path.name
        )
        return dump(
            BankBatchViewSchema,
            {"cycle_id": cycle_id, "file": str(path), "rows": rows, "total_fen": total, "state": state},
        )

    @rpc
    def reconcile_bank_results(self, actor, cycle_id, request):
        """The bank's answers (paid / failed with reason), from the bank itself (partner `banks`)
        or uploaded by the payments office. Re-applying an answer changes nothing; contradictions
        are refused and listed; failed payments are paid again as arrears next cycle (a month after
        a death only for what it is still due). A payment a death counted as overpaid that the bank
        did not make is taken off the overpayment and its recovery (recoveries.py)."""
        actor, data = Actor.from_dict(actor), load(BankResultsRequestSchema, request)
        if not (actor.role == PARTNER and actor.id == BANKS):
            _require_payments_office(actor)
        with as_problems():
            summary = payments.reconcile(
                self.db.connection(), cycle_id, [(r["payment_id"], r["status"], r["reason"]) for r in data["results"]]
            )
            if summary.paid:  # a paid top-up may settle a revoked death's back pay
                self.db.connection().execute(payments.MARK_BACK_PAY_PAID)
        if summary.paid or summary.failed:  # a payment a death counted may not have been made (recoveries.py)
            self._recount_after_bank_results(actor, cycle_id)
        self.audit.record(
            actor,
            "payment_cycle.reconcile",
            f"payment-cycle-{cycle_id}",
            summary.state,
            paid=summary.paid,
            failed=summary.failed,
            conflicts=len(summary.conflicts),
        )
        return dump(ReconcileViewSchema, summary.view())

    @rpc
    def household_payments(self, actor, household_id):
        """A household's payments, newest month first: for the household itself and its caseworkers."""
        actor = Actor.from_dict(actor)
        household = self._household(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        rows = self.db.execute(
            select(Payment)
            .where(Payment.household_id == household_id)
            .order_by(Payment.for_month.desc(), Payment.id.desc())
        ).scalars()
        return [
            dump(
                PaymentViewSchema,
                {
                    "payment_id": p.id,
                    "cycle_id": p.cycle_id,
                    "for_month": p.for_month,
                    "kind": p.kind,
                    "amount_fen": p.amount_fen,
                    "state": p.state,
                    "failure_reason": p.failure_reason,
                },
            )
            for p in rows
        ]

    def _require_household_reader(self, actor: Actor, household_id: str, region_code: str) -> None:
        """A household's records are shown to its members and to the caseworkers of its area."""
        if actor.role == CITIZEN:  # a current member: someone who left no longer reads the others' data
            if (
                self.db.execute(
                    select(Member.id).where(
                        Member.household_id == household_id, Member.resident_id == actor.id, Member.left_on.is_(None)
                    )
                ).first()
                is None
            ):
                raise Forbidden("not your household")
        else:
            actor.require_staff_in(region_code)

    # --- reading --------------------------------------------------------------------------------

    @rpc
    def get_application(self, actor, application_id):
        actor = Actor.from_dict(actor)
        application = self._application(application_id)
        self._require_household_reader(actor, application.household_id, application.region_code)
        return self._view(application)

    @rpc
    def list_applications(self, actor, overdue_only=False):
        """The caseworker's work queue: applications of their area, the most urgent first."""
        actor = Actor.from_dict(actor)
        today = self.clock.today()
        query = select(Application).where(actor.in_area(Application.region_code))
        if overdue_only:
            query = query.where(Application.state.in_(rules.OPEN_STATES), Application.decision_due < today)
        query = query.order_by(Application.decision_due.asc().nulls_last(), Application.applied_at)
        return [self._view(a, summary=True) for a in self.db.execute(query).scalars()]

    def _view(self, application: Application, report: dict | None = None, summary: bool = False) -> dict:
        today = self.clock.today()
        view = {
            "application_id": application.id,
            "household_id": application.household_id,
            "programme": application.programme,
            "state": application.state,
            "region_code": application.region_code,
            "accepted_on": application.accepted_on,
            "decision_due": application.decision_due,
            "overdue": bool(
                application.state in rules.OPEN_STATES and application.decision_due and today > application.decision_due
            ),
            "notice_ends": application.notice_ends,
            "decided_on": application.decided_on,
            "decision_reason": application.decision_reason,
            "monthly_amount_fen": application.monthly_amount_fen,
            "policy_version": application.policy_version,
            "matter_id": application.matter_id,
        }
        if summary:
            return dump(ApplicationViewSchema, view, only=SUMMARY_FIELDS)
        if report is None:
            check = self._latest_check(application.id)
            report = self._check_report(check, application) if check is not None else None
        view.update(
            economic_check=report,
            explanation=self._explanation(application),
            journal=[
                {
                    "from_state": t.from_state,
                    "to_state": t.to_state,
                    "action": t.action,
                    "actor_id": t.actor_id,
                    "actor_role": t.actor_role,
                    "at": t.at.isoformat(),
                    "reason": t.reason,
                }
                for t in self.db.execute(
                    select(ApplicationTransition)
                    .where(ApplicationTransition.application_id == application.id)
                    .order_by(ApplicationTransition.id)
                ).scalars()
            ],
        )
        return dump(ApplicationViewSchema, view)

    def _explanation(self, application: Application) -> list[str]:
        """How the amount was computed: kept with the decision's audit row."""
        if application.decided_on is None:
            return []
        details = self.db.execute(
            select(audit_log.c.details)
            .where(
                audit_log.c.subject == _subject(application),
                audit_log.c.action == "assistance.approve",
                audit_log.c.outcome == "approved",
            )
            .order_by(audit_log.c.id.desc())
            .limit(1)
        ).scalar()
        return list((details or {}).get("explanation") or [])

    # --- shared ---------------------------------------------------------------------------------

    def _assistance_policy(self, region_code: str, on: date) -> rules.AssistancePolicy:
        """The parameters in force on `on` for the region, as the rules take them; the version
        names every parameter version used."""
        values = {field: self.policy.resolve(name, region_code, on) for field, name in POLICY_PARAMETERS.items()}
        raw = {field: v.value for field, v in values.items()}
        grades = raw["temporary_grades"] or {}
        with refusals_as(
            PolicyUnusable, detail=f"the assistance policy in force for {region_code} on {on} is unusable: {{reason}}"
        ):
            multipliers = [rules.as_multiplier(g, "grade") for g in grades.values()]
            return rules.AssistancePolicy(
                version=";".join(v.version for v in values.values()),
                dibao_standard_monthly_fen=raw["dibao_standard_monthly_fen"],
                edge_ratio=raw["edge_ratio"],
                tekun_basic_ratio=raw["tekun_basic_ratio"],
                tekun_care_monthly_fen=raw["tekun_care_monthly_fen"],
                increments=raw["increments"],
                # the grades span the cap range (2–10× the standard)
                temporary_cap_multiplier_min=min(multipliers) if multipliers else 0,
                temporary_cap_multiplier_max=max(multipliers) if multipliers else 0,
                temporary_grades=grades,
                township_direct_threshold_fen=raw["township_direct_threshold_fen"],
                gradual_exit_months=raw["gradual_exit_months"],
                asset_limits={"deposits": raw["asset_limit_per_person_fen"]},
                decision_working_days=raw["decision_working_days"],
                notice_days=raw["notice_days"],
                approval_level=raw["approval_level"],
            )

    def _calendar(self, region_code: str, on: date) -> tuple[frozenset, frozenset, list[str]]:
        """Public holidays and make-up working days (调休) in force on `on`, and those of the next
        year, so a period running into January counts its holidays too."""
        holidays, makeups, versions = set(), set(), []
        for day in (on, date(on.year + 1, 1, 1)):
            for name, into in (("calendar.holidays", holidays), ("calendar.makeup_workdays", makeups)):
                value = self.policy.resolve(name, region_code, day)
                if value.version not in versions:
                    versions.append(value.version)
                    into.update(date.fromisoformat(d) for d in value.value)
        return frozenset(holidays), frozenset(makeups), versions

    def _application(self, application_id, for_update: bool = False) -> Application:
        query = select(Application).where(Application.id == str(application_id))
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        application = self.db.execute(query).scalar_one_or_none()
        if application is None:
            raise UnknownApplication(f"no application {application_id}")
        return application

    def _members_ever(self, household_id: str) -> list[Member]:
        """Every member the household had, gone or not, in the order the rules number them."""
        return list(
            self.db.execute(
                select(Member).where(Member.household_id == household_id).order_by(Member.joined_on, Member.id)
            ).scalars()
        )

    def _current_members(self, household_id: str) -> list[Member]:
        return list(
            self.db.execute(
                select(Member)
                .where(Member.household_id == household_id, Member.left_on.is_(None))
                .order_by(Member.joined_on, Member.id)
            ).scalars()
        )

    def _next_state(
        self, actor: Actor, application: Application, action: str, policy_version: str | None = None, **conditions
    ) -> str:
        """The state `action` leads to, or a 409 with the rules' reason (and the refusal audited)."""
        with refusals_as(
            StepRefused,
            code="illegal_transition",
            audit=lambda refusal: self.audit.record_refusal(
                actor,
                f"assistance.{action}",
                _subject(application),
                refusal.reason,
                policy_version=policy_version,
                state=application.state,
            ),
        ):
            return rules.transition(application.state, action, **conditions)

    def _move(
        self,
        actor: Actor,
        application: Application,
        action: str,
        new_state: str,
        reason: str | None,
        policy_version: str | None = None,
        **details,
    ) -> None:
        """The move, its journal row and its audit row, in the worker's transaction."""
        old_state, application.state = application.state, new_state
        self._journal(actor, application, old_state, new_state, action, reason)
        self.audit.record(
            actor,
            f"assistance.{action}",
            _subject(application),
            ACTION_AUDIT[action],
            reason=reason,
            policy_version=policy_version,
            from_state=old_state,
            **details,
        )

    def _journal(self, actor: Actor, application: Application, from_state, to_state, action, reason) -> None:
        self.db.add(
            ApplicationTransition(
                application_id=application.id,
                from_state=from_state,
                to_state=to_state,
                action=action,
                actor_id=actor.id,
                actor_role=actor.role,
                at=self.clock.now(),
                reason=reason,
            )
        )

    def _rule_members(self, members: list[dict], today: date) -> None:
        errors: dict = {}
        for index, m in enumerate(members):
            try:
                ResidentId.parse(m["resident_id"], today)
            except InvalidResidentId as exc:
                errors[str(index)] = {"resident_id": [exc.reason]}
        if errors:
            raise InvalidInput("the request has invalid fields", errors={"members": errors})
        with refusals_as(InvalidInput, field="members"):
            rules.split_single_person_households(_rule_member(m) for m in members)

    def _refuse_if_already_applying(self, programme: str, resident_ids: list[str]) -> None:
        open_one = self.db.execute(
            select(Application.id)
            .join(Member, Member.household_id == Application.household_id)
            .where(
                Member.resident_id.in_(resident_ids),
                Member.left_on.is_(None),
                Application.programme == programme,
                Application.state.in_(rules.OPEN_STATES),
            )
            .limit(1)
        ).scalar()
        if open_one:
            raise AlreadyApplying(f"a member is already in open {programme} application {open_one}")


def _referral_view(referral: CharityReferral) -> dict:
    return dump(
        ReferralViewSchema,
        {
            "referral_id": referral.id,
            "household_id": referral.household_id,
            "need": referral.need,
            "coverage": referral.coverage,
            "requested_fen": referral.requested_fen,
            "state": referral.state,
            "referred_at": referral.referred_at,
            "aid_fen": referral.aid_fen,
            "campaign_id": referral.campaign_id,
            "organisation": referral.organisation,
            "answer": referral.answer,
        },
    )


def _within_days(within_days) -> int:
    if not isinstance(within_days, int) or isinstance(within_days, bool) or not 0 <= within_days <= 366:
        raise InvalidInput("within_days is a whole number of days from 0 to 366", errors={"within_days": ["0 to 366"]})
    return within_days


def _review_check_view(check: EconomicCheck | None) -> dict | None:
    if check is None:
        return None
    return {"check_id": check.id, "complete": check.complete, "started_at": check.started_at.isoformat()}


def _entitlement_view(entitlement: Entitlement) -> dict:
    return {
        "entitlement_id": entitlement.id,
        "programme": entitlement.programme,
        "monthly_amount_fen": entitlement.monthly_amount_fen,
        "starts_on": entitlement.starts_on,
        "ends_on": entitlement.ends_on,
        "gradual_exit_until": entitlement.gradual_exit_until,
        "exit_reason": entitlement.exit_reason,
        "next_review_on": entitlement.next_review_on,
        "policy_version": entitlement.policy_version,
    }


def _require_payments_office(actor: Actor) -> None:
    """The payment run is city-wide: the bureau's payments office (admin) runs it, not a township."""
    if actor.role != ADMIN:
        raise Forbidden("only the bureau's payments office (admin) runs payment cycles")


def _acting_level(actor: Actor) -> str:
    """A district bureau (6-digit area) or a township (9-digit area) decides; nobody else."""
    level = {6: "district", 9: "township"}.get(len(actor.area or ""))
    if level is None:
        raise Forbidden(
            f"decisions are made by a district bureau or a township, not by an actor with area {actor.area}"
        )
    return level


def _rule_member(member: Member | dict) -> rules.Member:
    """A stored member, or one of a request, as the rules take it."""
    get = member.get if isinstance(member, dict) else (lambda name: getattr(member, name))
    person = (
        ResidentId.parse(get("resident_id"))
        if get("resident_id")
        else Newborn(get("birth_certificate_number"), get("birth_date"))
    )
    return rules.Member(
        resident_id=person,
        monthly_income_fen=get("monthly_income_fen"),
        employment_cost_fen=get("employment_cost_fen") or 0,
        seriously_ill=bool(get("seriously_ill")),
        severely_disabled=bool(get("severely_disabled")),
        pregnant=bool(get("pregnant")),
        single_person_listing=bool(get("single_person_listing")),
    )


def _require(data: dict, field: str, what: str) -> None:
    if data.get(field) is None:
        raise InvalidInput(
            f"{field} is needed to approve this programme", errors={field: [f"required to approve: {what}"]}
        )


def _subject(application: Application) -> str:
    return f"application-{application.id}"


def _masked(resident_id: str) -> str:
    return str(ResidentId.parse(resident_id))


def _paid_after(day: date):
    """An entitlement the payment run still pays for some day after `day` (payments.py)."""
    return (Entitlement.ends_on.is_(None)) | (Entitlement.ends_on > day) | (Entitlement.gradual_exit_until > day)


def _paid_until(entitlement: Entitlement) -> date | None:
    """The last day the payment run pays the entitlement for (None: open-ended)."""
    if entitlement.ends_on is None:
        return None
    return max(entitlement.ends_on, entitlement.gradual_exit_until or entitlement.ends_on)


def _entitlements_of(changes: list) -> set[int]:
    """The benefits a death record's changes name."""
    return {benefit["entitlement_id"] for change in changes for benefit in change["benefits"]}


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
