"""Social assistance (社会救助): entrypoints only move data between the wire, the rules
(`rules.py`), the partner data sources (`dependencies.py`) and the database; every change commits
with its journal row, its events and its audit row.

The process of BRIEF 3.1: apply → accept (受理; the 20-working-day clock starts) → household economic
check (核对; only a complete check moves the application) → public notice (公示) with objections →
decision at the approval level of the policy (district, or the township where delegated) → on
approval an entitlement, `assistance.approved`, and 救助一件事 opened with the linked items.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Row, and_, or_, select

from chassis import (
    Actor,
    Audit,
    Clock,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    rpc,
)
from chassis.errors import refusals_as
from chassis.payment_desk import PaymentDesk
from chassis.payment_runs import BankFiles
from chassis.tables import audit_log
from contracts.assistance import (
    PROGRAMMES,
    ApplicationQuerySchema,
    PolicyVersionRequestSchema,
    PolicyVersionViewSchema,
)
from contracts.person import InvalidResidentId, ResidentId
from contracts.roles import ADMIN
from services.assistance import payments, rules
from services.assistance.after_death import AfterDeath
from services.assistance.applications import Applications
from services.assistance.dependencies import EconomicCheckSources
from services.assistance.economic_check import EconomicChecks
from services.assistance.exceptions import (
    AlreadyApplying,
    PolicyUnusable,
    StepRefused,
    UnknownApplication,
)
from services.assistance.households import Households
from services.assistance.indicators import Indicators
from services.assistance.linked_items import LinkedItems
from services.assistance.models import (
    Application,
    ApplicationTransition,
    Member,
)
from services.assistance.payment_run import PaymentRun
from services.assistance.recoveries import Recoveries
from services.assistance.referrals import CharityReferrals
from services.assistance.repayments import RecoveryDesk
from services.assistance.review_checks import ReviewChecks
from services.assistance.schemas import (
    SUMMARY_FIELDS,
    ApplicationViewSchema,
    dump,
    load,
)
from services.assistance.shared import (
    ACTION_AUDIT,
    POLICY_PARAMETERS,
    _subject,
)

# what a work-queue row shows (SUMMARY_FIELDS), read as columns: `_view` takes a row as it takes an entity
QUEUE_COLUMNS = tuple(
    getattr(Application, name)
    for name in (
        "id", "household_id", "programme", "state", "region_code", "accepted_on", "decision_due",
        "notice_ends", "decided_on", "decision_reason", "monthly_amount_fen", "policy_version", "matter_id",
    )
)  # fmt: skip
# the most urgent first: the nearest decision date, the undated (not yet accepted) last; id breaks ties
QUEUE_ORDER = (Application.decision_due.asc().nulls_last(), Application.applied_at, Application.id)


class AssistanceService(
    Applications,
    EconomicChecks,
    Households,
    LinkedItems,
    CharityReferrals,
    PaymentRun,
    AfterDeath,
    Recoveries,
    RecoveryDesk,
    ReviewChecks,
    Indicators,
    Operable,
):
    name = "assistance"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()
    bank_files = BankFiles()
    desk = PaymentDesk(payments.RUN, "payment_cycle")  # the payments office's four steps, audited
    sources = EconomicCheckSources()

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
            *rules.DISABILITY_PARAMETERS.values(),
            "assistance.alert_visit_days",
            "assistance.review_months",
            "calendar.holidays",
            "calendar.makeup_workdays",
        }
        if data["name"] not in known:
            raise InvalidInput("not a parameter of social assistance", errors={"name": sorted(known)})
        whole = {*rules.DISABILITY_PARAMETERS.values(), "assistance.alert_visit_days"}
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

    # --- reading --------------------------------------------------------------------------------

    @rpc
    def get_application(self, actor, application_id):
        actor = Actor.from_dict(actor)
        application = self._application_by_id(application_id)
        self._require_household_reader(actor, application.household_id, application.region_code)
        return self._view(application)

    @rpc
    def list_applications(self, actor, states, overdue_only=False):
        """What a work queue draws on: the area's open applications in `states`, the most urgent
        first. Open only, so it is bounded by the applications in progress, not by the area's
        history (the paged `application_page` lists any state)."""
        actor = Actor.from_dict(actor)
        if not states or not set(states) <= set(rules.OPEN_STATES):
            open_states = ", ".join(rules.OPEN_STATES)
            raise InvalidInput("a work queue holds open applications", errors={"states": [f"only {open_states}"]})
        query = self._queue_query(actor).where(Application.state.in_(states))
        if overdue_only:
            query = query.where(Application.decision_due < self.clock.today())
        return [self._view(row, summary=True) for row in self.db.read(query.order_by(*QUEUE_ORDER))]

    @rpc
    def application_page(self, actor, query):
        """The caseworker's queue a page at a time (ApplicationQuerySchema): the most urgent
        first, `next` naming where the following page starts (keyset: no offset to scan past)."""
        actor, query = Actor.from_dict(actor), load(ApplicationQuerySchema, query)
        limit = int(query["limit"])
        select_page = self._queue_query(actor)
        if query.get("state"):
            select_page = select_page.where(Application.state == query["state"])
        if query.get("after"):
            select_page = select_page.where(self._after(actor, query["after"]))
        rows = self.db.read(select_page.order_by(*QUEUE_ORDER).limit(limit + 1))
        page = [self._view(row, summary=True) for row in rows[:limit]]
        return {"applications": page, "next": page[-1]["application_id"] if len(rows) > limit else None}

    @staticmethod
    def _queue_query(actor: Actor):
        # the summary's columns only, in one autocommit statement: no entities, no BEGIN / COMMIT
        return select(*QUEUE_COLUMNS).where(actor.in_area(Application.region_code))

    def _after(self, actor: Actor, application_id: str):
        """Where a page starts: after the named application of the caller's area in QUEUE_ORDER
        (decision_due ascending with the undated last, then applied_at, then id)."""
        key = self.db.read(
            select(Application.decision_due, Application.applied_at).where(
                Application.id == application_id, actor.in_area(Application.region_code)
            )
        )
        if not key:
            raise InvalidInput("`after` names no application of your area", errors={"after": ["no such application"]})
        due, applied_at = key[0]
        later = or_(
            Application.applied_at > applied_at,
            and_(Application.applied_at == applied_at, Application.id > application_id),
        )
        if due is None:
            return and_(Application.decision_due.is_(None), later)
        return or_(
            Application.decision_due > due,
            Application.decision_due.is_(None),
            and_(Application.decision_due == due, later),
        )

    def _view(self, application: Application | Row, report: dict | None = None, summary: bool = False) -> dict:
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

    def _application(self, actor: Actor, application_id, for_update: bool = False) -> Application:
        """The application, for staff of its area (the one load-and-authorise signature)."""
        application = self._application_by_id(application_id, for_update)
        actor.require_staff_in(application.region_code)
        return application

    def _application_by_id(self, application_id, for_update: bool = False) -> Application:
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
            rules.split_single_person_households(rules.member_from(m) for m in members)

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
