"""Reads of a person's data by staff and partners, recorded; the person can list who read theirs.

Every successful GET of a route that names a person (its path has `<resident_id>`) by anyone but
that citizen writes an audit row in the gateway's database (the audit is append-only, chained and
checkpointed: chassis.audit), in the request's transaction: who (role, area, organisation), what
(the route), when. The row names the person by a digest of the ID number, never the number
itself. `GET /api/v1/me/reads` lists them for the calling citizen: the role, area and organisation
of each reader, not the staff member's own id."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from chassis import Actor, Audit
from chassis.tables import audit_log
from contracts.reads import PersonReadsSchema
from gateway.api import route

READ = "person.read"
PATH_PARAMETER = "resident_id"


def person_key(resident_id: str) -> str:
    """How an audit row names the person read (the subject): a digest of the ID number."""
    return "person-" + hashlib.sha256(resident_id.upper().encode()).hexdigest()[:40]


class PersonReads:
    """Mixed into the gateway service."""

    audit = Audit()

    def _record_person_read(self, actor: Actor | None, method: str, path: str, path_values: dict) -> None:
        """Called by the route handler (gateway.api) after a successful answer."""
        person = path_values.get(PATH_PARAMETER)
        if method != "GET" or actor is None or person is None:
            return
        if actor.role == "citizen" and actor.id == str(person):
            return  # one's own data
        self.audit.record(actor, READ, person_key(str(person)), "read", route=path)

    @route(
        "GET",
        "/api/v1/me/reads",
        roles=("citizen",),
        tag="matters",
        summary="Who read my data: the role, area and organisation of each staff member or partner, newest first",
        response=PersonReadsSchema,
    )
    def my_reads(self, actor, body):
        rows = self.db.execute(
            select(audit_log.c.at, audit_log.c.actor_id, audit_log.c.actor_role, audit_log.c.actor_area,
                   audit_log.c.details)
            .where(audit_log.c.action == READ, audit_log.c.subject == person_key(actor.id))
            .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
            .limit(500)
        ).all()  # fmt: skip
        return {
            "reads": [
                {
                    "at": r.at,
                    "role": r.actor_role,
                    "area": r.actor_area,
                    "organisation": _organisation(r),
                    "what": (r.details or {}).get("route", ""),
                }
                for r in rows
            ]
        }


def _organisation(row) -> str | None:
    """A partner's department code (with its organisation, when it has several); staff: none."""
    if row.actor_role != "partner":
        return None
    org = (row.details or {}).get("actor_org")
    return f"{row.actor_id}/{org}" if org else row.actor_id
