"""动态复核 in bulk: every open entitlement whose re-check falls due gets an economic check of its
household (every current member × every partner source, through the same client as an
application's check), in batches, for the caseworker's 复核 queue to show. A mixin of the
assistance service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from sqlalchemy import func, insert, select, tuple_

from chassis import (
    Actor,
    AuditEntry,
    Forbidden,
    rpc,
)
from contracts.assistance import (
    CHECK_SOURCES,
)
from contracts.roles import ADMIN
from services.assistance import rules
from services.assistance.dependencies import OK
from services.assistance.models import (
    CheckFetch,
    EconomicCheck,
    Entitlement,
    Member,
)
from services.assistance.shared import (
    _within_days,
)

# entitlements per round of fetches and per commit, so memory, the time rows stay locked and what
# a crash loses stay bounded (at two members each, 9,000 fetches a round)
REVIEW_BATCH = 500


class ReviewChecks:
    """Mixed into the assistance service; uses its db, audit, clock, log, sources."""

    @rpc
    def run_review_checks(self, actor, within_days=30):
        """动态复核 in bulk (operations, or the bureau's nightly scheduler): every open entitlement whose
        re-check falls due within the days and has no complete check for that review yet gets one:
        every current member × every partner source, through the same client as an application's
        check (a request per source per CHECK_BATCH_SIZE members, CHECK_CONCURRENCY in flight),
        stored as an economic check of the entitlement.
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

    def _review_check_view(self, check: EconomicCheck | None) -> dict | None:
        if check is None:
            return None
        return {"check_id": check.id, "complete": check.complete, "started_at": check.started_at.isoformat()}
