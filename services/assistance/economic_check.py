"""核对: the household economic check against every partner data source, and its report. A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from chassis import (
    Actor,
    Problem,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from contracts.assistance import (
    CHECK_SOURCES,
)
from contracts.refusals import InvalidRuleInput
from services.assistance import rules
from services.assistance.dependencies import OK, Fetched
from services.assistance.models import (
    Application,
    CheckFetch,
    EconomicCheck,
    Member,
)
from services.assistance.shared import (
    _masked,
    _subject,
)


class EconomicChecks:
    """Mixed into the assistance service; uses its db, audit, clock, log, sources."""

    # --- household economic check (核对) --------------------------------------------------------

    @rpc
    def run_economic_check(self, actor, application_id):
        """Every current member × every partner source, fetched at once. A complete check moves the
        application to checked; an incomplete one is kept (its report says what failed) and the
        application stays where it is, for the caseworker to run the check again."""
        actor = Actor.from_dict(actor)
        application = self._application(actor, application_id)
        self._next_state(actor, application, "attach_check")  # refuse before asking anyone anything
        members = self._current_members(application.household_id)
        started = self.clock.now()
        # a newborn without a resident ID yet has no records anywhere to check
        fetched = self.sources.fetch_all([m.resident_id for m in members if m.resident_id], list(CHECK_SOURCES))
        application = self._application_by_id(application_id, for_update=True)  # the state may have moved meanwhile
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
        answers = []
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
            findings, stand_in_on = entry["findings"], None
            earlier = stand_ins.get((row.result or {}).get("last_known_fetch_id")) if row.status != OK else None
            if earlier is not None:
                findings, stand_in_on = earlier.result, earlier.fetched_at.astimezone(LOCAL_ZONE).date()
                entry["last_known"] = {
                    "fetched_at": earlier.fetched_at.isoformat(),
                    "check_id": earlier.check_id,
                    "findings": earlier.result,
                }
            answers.append(
                rules.SourceAnswer(
                    row.resident_id, _masked(row.resident_id), row.source, row.status, findings, stand_in_on
                )
            )
            member = members.setdefault(
                row.resident_id, {"resident_id": row.resident_id, "name": names.get(row.resident_id), "sources": {}}
            )
            member["sources"][row.source] = entry
        totals = rules.check_totals(answers)
        assets: dict = {"within_limits": None, "reasons": [], "policy_version": None}
        if totals.deposits_fen is None:
            assets["reasons"] = ["bank deposits unknown: a bank_deposits fetch failed (not read as no deposits)"]
        elif totals.members:
            try:
                policy = policy or self._assistance_policy(
                    application.region_code, check.started_at.astimezone(LOCAL_ZONE).date()
                )
                within, reasons = rules.assets_within_limits({"deposits": totals.deposits_fen}, totals.members, policy)
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
            "totals": {"members": totals.members, "deposits_fen": totals.deposits_fen},
            "assets": assets,
            "notes": list(totals.notes),
        }
