"""社会组织: social organisations, and the daily job that finds the abnormal and dormant ones. A mixin of the charity
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import String, Text, column, select, update, values

from chassis import (
    SYSTEM,
    Actor,
    AuditEntry,
    Forbidden,
    InvalidInput,
    rpc,
)
from chassis.errors import refusals_as
from chassis.lease import leased_job, tally_run
from contracts.roles import ADMIN
from services.charity import rules
from services.charity.exceptions import (
    Conflict,
    PolicyUnusable,
    Refused,
)
from services.charity.models import (
    AnnualReport,
    DetectionRun,
    Organisation,
    OrganisationChange,
)
from services.charity.schemas import (
    AnnualReportSchema,
    CancellationSchema,
    DetectionJobViewSchema,
    GradeRequestSchema,
    OrganisationChangeSchema,
    OrganisationRequestSchema,
    dump,
    load,
)
from services.charity.shared import (
    _DETECTION_POLICY,
    _chunks,
    _org_subject,
    _standing_query,
)


class SocialOrganisations:
    """Mixed into the charity service; uses its db, audit, policy, clock, log."""

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
        org = self._org_by_id(organisation_id)
        actor.require_staff_in(org.region_code)
        return self._org_view(org)

    @rpc
    def change_organisation(self, actor, organisation_id, request):
        """变更登记: each changed field kept with its value before."""
        actor, data = Actor.from_dict(actor), load(OrganisationChangeSchema, request)
        org = self._org(actor, organisation_id, for_update=True)
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
        org = self._org(actor, organisation_id, for_update=True)
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
        org = self._org(actor, organisation_id, for_update=True)
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
        org = self._org(actor, organisation_id, for_update=True)
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
        runs, changed_today = tally_run(self.db, DetectionRun.__table__, today, self.clock.now(), "changed", changed)
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
