"""Work queues and claims (认领) over HTTP, for the console and any other client.

A queue's records come from the same RPC as the API route its definition names, with the caller
passed along, so the service's area scoping decides what it holds; a claim first reads the record
through the same RPC as `GET` of it, so nobody claims what they may not see. One claim per
record (the table's primary key): a second caseworker is told who holds it. Claims and releases
are audited in the gateway's audit log, in the worker's transaction."""

from __future__ import annotations

from nameko.exceptions import UnknownService
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from chassis.errors import Conflict, Forbidden, NotFound
from chassis.schemas import dump
from contracts import work_queues as wq
from gateway import work_queues as rules
from gateway.api import route
from gateway.models import WorkClaim

CLERK, ADMIN = "clerk", "admin"
QUEUES = "/api/v1/work-queues"
# a queue's source (the handler of its GET route) -> that route's own RPC: (service, method)
SOURCES = {
    "assistance_queue": ("assistance", "list_applications"),  # gateway/assistance_routes.py
    "reviews_due": ("assistance", "reviews_due"),
    "funeral_date_conflicts": ("funeral", "date_conflicts"),  # gateway/funeral_routes.py
    "child_follow_ups": ("care", "follow_ups"),  # gateway/care_routes.py
}


class WorkQueueRoutes:
    """Mixed into the gateway service (which provides db, audit, clock and the service RPCs)."""

    def _queue_for(self, actor, queue_name: str) -> rules.WorkQueue:
        queue = rules.QUEUES.get(queue_name)
        if queue is None:
            raise NotFound(f"no work queue {queue_name}")
        if queue not in rules.queues_for(actor.role, actor.area):
            raise Forbidden(f"the work queue {queue_name} is not one of yours")
        return queue

    def _queue_records(self, actor, queue: rules.WorkQueue) -> list[dict]:
        if queue.source not in SOURCES:
            raise NotFound(f"the work queue {queue.name} has no source")  # a definition without a source
        service, method = SOURCES[queue.source]
        source = getattr(getattr(self, service), method)
        if queue.record_kind == rules.APPLICATION:  # the queue's open states, not the area's whole history
            return source(actor.as_dict(), list(queue.states))
        return source(actor.as_dict())

    def _claims(self, kind: str) -> dict[str, str]:
        rows = self.db.execute(select(WorkClaim.record_id, WorkClaim.claimed_by).where(WorkClaim.record_kind == kind))
        return dict(rows.all())

    def _read_record(self, actor, queue: rules.WorkQueue, record_id: str) -> dict:
        """The record as `GET` of it shows it to this caller (refused as that route refuses); a
        record without a GET route of its own, as the queue's source shows it to them."""
        if queue.record_kind != rules.APPLICATION:
            for record in self._queue_records(actor, queue):
                if str(record[queue.id_field]) == record_id:
                    return record
            raise NotFound(f"no record {record_id} in the work queue {queue.name}")
        record = self.assistance.get_application(actor.as_dict(), record_id)
        if record["state"] not in queue.states:
            raise Conflict(f"the record is {record['state']}: not in the work queue {queue.name} any more")
        return record

    @route(
        "GET",
        QUEUES,
        roles=(CLERK, ADMIN),
        tag="work-queues",
        summary="The caller's work queues (工作队列), each with its counts by state, overdue and claimed "
        "(a queue whose service is not running is listed as not available)",
        response=wq.WorkQueueListSchema,
    )
    def list_work_queues(self, actor, body):
        today, summaries = self.clock.today(), []
        for queue in rules.queues_for(actor.role, actor.area):
            summary = {"name": queue.name, "title": queue.title, "state_label": queue.state_label}
            try:
                records = self._queue_records(actor, queue)
            except UnknownService:  # one service down leaves the other queues workable
                summaries.append({**summary, "available": False, "counts": {}})
                continue
            page = rules.page_of(queue, records, self._claims(queue.record_kind), today, "")
            summaries.append({**summary, "available": True, "counts": page.counts})
        return {"queues": summaries}

    @route(
        "GET",
        QUEUES + "/<queue_name>",
        roles=(CLERK, ADMIN),
        tag="work-queues",
        query=wq.WorkQueueQuerySchema,
        summary="A page of a work queue: overdue first, then the fewest working days left; filters by state, "
        "claim and overdue",
        response=wq.WorkQueuePageSchema,
    )
    def work_queue(self, actor, body, queue_name, query):
        queue = self._queue_for(actor, queue_name)
        page = rules.page_of(
            queue,
            self._queue_records(actor, queue),
            self._claims(queue.record_kind),
            self.clock.today(),
            actor.principal,
            state=query.get("state"),
            claim=query.get("claim"),
            overdue=query.get("overdue") == "true",
            page=int(query["page"]),
        )
        fields = [name for name, _ in queue.columns]
        return {
            "name": queue.name,
            "title": queue.title,
            "empty": queue.empty,
            "filters": list(queue.filters),
            "state_label": queue.state_label,
            "case_page": queue.case_page,
            "case_posted": queue.case_posted,
            "columns": [{"field": f, "title": t} for f, t in queue.columns],
            "counts": page.counts,
            "total": page.total,
            "page": page.page,
            "pages": page.pages,
            "items": [
                {
                    "record_id": item["record_id"],
                    "case_id": item["case_id"],
                    "state": item["state"],
                    "overdue": bool(item.get("overdue")),
                    "working_days_left": item["working_days_left"],
                    "claimed_by": item["claimed_by"],
                    "values": {f: item.get(f) for f in fields},
                    "actions": [{"name": a.name, "title": a.title} for a in item["actions"]],
                }
                for item in page.items
            ],
        }

    @route(
        "POST",
        QUEUES + "/<queue_name>/items/<record_id>/claim",
        roles=(CLERK, ADMIN),
        tag="work-queues",
        summary="认领: claim a record of the queue; a record claimed by someone else is refused (409, naming them)",
        response=wq.WorkClaimSchema,
    )
    def claim_work_item(self, actor, body, queue_name, record_id):
        queue = self._queue_for(actor, queue_name)
        self._read_record(actor, queue, record_id)
        now = self.clock.now()
        held = self.db.get(WorkClaim, (queue.record_kind, record_id))
        inserted = False
        if held is None:
            held = WorkClaim(
                record_kind=queue.record_kind,
                record_id=record_id,
                queue=queue.name,
                claimed_by=actor.principal,
                claimed_at=now,
            )
            try:
                with self.db.begin_nested():  # another instance's claim of the same record: one wins
                    self.db.add(held)
                inserted = True
            except IntegrityError:
                raise Conflict("another caseworker claimed it a moment ago; read the queue again") from None
        if held.claimed_by != actor.principal:
            self.audit.record_refusal(actor, "work.claim", f"{queue.record_kind}-{record_id}", "claimed by another")
            raise Conflict(
                f"already claimed by {held.claimed_by}", errors={"record_id": [f"claimed by {held.claimed_by}"]}
            )
        if inserted:
            self.audit.record(actor, "work.claim", f"{queue.record_kind}-{record_id}", "claimed", queue=queue.name)
        # dumped, not returned raw: with an Idempotency-Key (the console always sends one) the answer
        # is kept in a JSON column, where a datetime failed the commit and the claim answered 500
        return dump(
            wq.WorkClaimSchema,
            {"queue": queue.name, "record_id": record_id, "claimed_by": held.claimed_by, "claimed_at": held.claimed_at},
        )

    @route(
        "POST",
        QUEUES + "/<queue_name>/items/<record_id>/release",
        roles=(CLERK, ADMIN),
        tag="work-queues",
        summary="Release one's own claim (an admin may release anyone's)",
        response=wq.WorkClaimSchema,
    )
    def release_work_item(self, actor, body, queue_name, record_id):
        queue = self._queue_for(actor, queue_name)
        held = self.db.get(WorkClaim, (queue.record_kind, record_id))
        if held is None:
            raise NotFound("the record is not claimed")
        if held.claimed_by != actor.principal and actor.role != ADMIN:
            raise Forbidden(f"claimed by {held.claimed_by}: only they (or an admin) release it")
        self.db.execute(
            delete(WorkClaim).where(WorkClaim.record_kind == queue.record_kind, WorkClaim.record_id == record_id)
        )
        self.audit.record(actor, "work.release", f"{queue.record_kind}-{record_id}", "released", queue=queue.name)
        return dump(
            wq.WorkClaimSchema, {"queue": queue.name, "record_id": record_id, "claimed_by": None, "claimed_at": None}
        )
