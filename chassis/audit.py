"""`audit = Audit()`: every decision and state change, who made it, why, under which policy.

Rows are written in the worker's transaction, so a decision and its audit row commit together;
the table is append-only (a PostgreSQL trigger refuses UPDATE and DELETE, see migrations).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from nameko.extensions import DependencyProvider
from sqlalchemy import insert, true

from chassis.clock import clock_for
from chassis.db import Database
from chassis.errors import Forbidden, OutsideArea
from chassis.regions import region_covers, region_prefix
from chassis.tables import audit_log

__all__ = ["Actor", "Audit", "AuditEntry", "SYSTEM"]


STAFF_ROLES = ("clerk", "admin")
# roles scoped to an area (the division code they serve); funeral-home staff are not STAFF_ROLES:
# only the funeral service lets them act, on what a funeral home does (services/funeral)
AREA_ROLES = ("clerk", "funeral_home")
FUNERAL_HOME = "funeral_home"


@dataclass(frozen=True)
class Actor:
    id: str
    role: str
    area: str | None = None  # division code the actor is scoped to
    # the organisation acting under a partner code whose members act apart (a home-care provider
    # under `care_providers`): it may touch only what is its own
    org: str | None = None

    @classmethod
    def from_dict(cls, data: dict) -> Actor:
        return cls(id=str(data["id"]), role=str(data["role"]), area=data.get("area"), org=data.get("org"))

    @property
    def principal(self) -> str:
        """Who this is, as one string: the id, with the organisation when there is one."""
        return f"{self.id}/{self.org}" if self.org else self.id

    def covers(self, region_code: str) -> bool:
        """Whether the actor may act in `region_code` (admins everywhere, staff in their area)."""
        if self.role in ("admin", "system"):
            return True
        if self.role not in AREA_ROLES or not self.area:
            return False
        return region_covers(self.area, region_code)

    def require_staff_in(self, region_code: str, also: tuple[str, ...] = ()) -> None:
        """Refuse anyone but staff (clerks, admins, and the roles in `also`) acting in `region_code`."""
        if self.role not in STAFF_ROLES + also:
            raise Forbidden("only staff (clerks and admins) can do this")
        if not self.covers(region_code):
            raise OutsideArea(f"{region_code} is outside your area {self.area}")

    def in_area(self, column, what: str = "work queues"):
        """A staff work queue's filter on a region column: clerks see their area, admins all.
        Refuses anyone else, and a clerk without an area."""
        if self.role not in STAFF_ROLES or (self.role == "clerk" and not self.area):
            raise Forbidden(f"only staff with an area see {what}")
        if self.role != "clerk" or self.area is None:
            return true()
        return column.startswith(region_prefix(self.area), autoescape=True)

    def as_dict(self) -> dict:
        return {"id": self.id, "role": self.role, "area": self.area, "org": self.org}


SYSTEM = Actor(id="system", role="system")


def _json_ready(value):
    """Details as JSON keeps them: dates and times in ISO 8601, containers walked."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditEntry:
    """One row of `AuditTrail.record_many`: what `record` takes after the actor and the action."""

    subject: str
    outcome: str
    reason: str | None = None
    policy_version: str | None = None
    details: dict = field(default_factory=dict)


class AuditTrail:
    def __init__(self, session_getter, engine, clock):
        self._session = session_getter
        self._engine = engine
        self._clock = clock

    def _values(self, actor, action, entry: AuditEntry) -> dict:
        """The audit_log row: the one place every way of recording builds it."""
        details = entry.details
        if actor.org:  # which provider of a shared partner code acted
            details = {**details, "actor_org": actor.org}
        return {
            "at": self._clock.now(),
            "actor_id": actor.id,
            "actor_role": actor.role,
            "actor_area": actor.area,
            "action": action,
            "subject": entry.subject,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "policy_version": entry.policy_version,
            "details": _json_ready(details) or None,
        }

    def record(
        self,
        actor: Actor,
        action: str,
        subject: str,
        outcome: str,
        reason: str | None = None,
        policy_version: str | None = None,
        **details,
    ) -> None:
        """In the worker's transaction: the row commits with the change it explains."""
        self._session().execute(
            insert(audit_log).values(
                self._values(actor, action, AuditEntry(subject, outcome, reason, policy_version, details))
            )
        )

    def record_many(self, actor: Actor, action: str, entries: Iterable[AuditEntry]) -> int:
        """`record` for a set-based change: one row per entry, inserted together (an executemany
        that SQLAlchemy sends as multi-row INSERTs), in the worker's transaction. Returns the rows."""
        rows = [self._values(actor, action, entry) for entry in entries]
        if rows:
            self._session().execute(insert(audit_log), rows)
        return len(rows)

    def record_refusal(
        self, actor: Actor, action: str, subject: str, reason: str, policy_version: str | None = None, **details
    ) -> None:
        """In a transaction of its own: a refusal changes nothing, yet why it was refused is kept."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(audit_log).values(
                    self._values(actor, action, AuditEntry(subject, "refused", reason, policy_version, details))
                )
            )


class Audit(DependencyProvider):
    def setup(self):
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.clock = clock_for(self.container.config)

    def get_dependency(self, worker_ctx):
        return AuditTrail(lambda: self.database.session_for(worker_ctx), self.database.engine, self.clock)
