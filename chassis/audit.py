"""`audit = Audit()`: every decision and state change, who made it, why, under which policy.

Rows are written in the worker's transaction, so a decision and its audit row commit together;
the table is append-only (a PostgreSQL trigger refuses UPDATE and DELETE, see migrations), and
the services connect with a role that may only read and append to it (chassis.migrations
grant_service_role), so it can neither change a row nor drop the trigger.

Tamper-evident: `seal()` chains the rows by hash, in the order of their transactions (audit_log
.txid, set by a trigger, then id), into audit_seal: each row's hash covers its content and the
hash before it. It seals only rows whose transactions have all ended (below the oldest running
one), so a row committed late never lands behind the chain. After each seal the chain's head is
appended to a checkpoint file outside the database (config AUDIT_CHECKPOINTS: a directory; one
`<service>.jsonl` per service), so even the database's owner cannot rewrite rows and seals
together unseen. The Audit dependency seals every AUDIT_SEAL_SECONDS (60) when that is set.
`verify()` recomputes the chain from the rows and compares it with the seals and the checkpoints:
a changed, removed or slipped-in row is named. `python -m chassis.audit verify|seal --database URL
--checkpoints FILE` runs either by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, insert, text, true
from sqlalchemy.engine import Connection, Engine

from chassis.clock import clock_for
from chassis.db import Database
from chassis.errors import Forbidden, OutsideArea
from chassis.logs import get_logger
from chassis.regions import region_covers, region_prefix
from chassis.tables import audit_log
from contracts.roles import ADMIN, AREA_ROLES, CLERK, STAFF, SYSTEM_ROLE

__all__ = ["Actor", "Audit", "AuditEntry", "SYSTEM", "seal", "verify", "Verification"]


# The roles are contracts.roles'. Funeral-home staff are scoped to an area but are not STAFF: only the
# funeral service lets them act, on what a funeral home does (services/funeral).


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
        if self.role in (ADMIN, SYSTEM_ROLE):
            return True
        if self.role not in AREA_ROLES or not self.area:
            return False
        return region_covers(self.area, region_code)

    def require_staff_in(self, region_code: str, also: tuple[str, ...] = ()) -> None:
        """Refuse anyone but staff (clerks, admins, and the roles in `also`) acting in `region_code`."""
        if self.role not in STAFF + also:
            raise Forbidden("only staff (clerks and admins) can do this")
        if not self.covers(region_code):
            raise OutsideArea(f"{region_code} is outside your area {self.area}")

    def in_area(self, column, what: str = "work queues"):
        """A staff work queue's filter on a region column: clerks see their area, admins all.
        Refuses anyone else, and a clerk without an area."""
        if self.role not in STAFF or (self.role == CLERK and not self.area):
            raise Forbidden(f"only staff with an area see {what}")
        if self.role != CLERK or self.area is None:
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


# --- the hash chain -------------------------------------------------------------------------------

# every column of a row, as text the database gives the same way whatever the session's settings
_CANONICAL = """
    a.id, a.txid,
    to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS at,
    a.actor_id, a.actor_role, a.actor_area, a.action, a.subject, a.outcome, a.reason,
    a.policy_version, a.details::text AS details"""
_SEAL_LOCK = 0x7A0D17  # one sealer at a time per database (pg_advisory_xact_lock)


def chain_hash(previous: str, row) -> str:
    """The hash of a row after `previous` (the empty string before the first)."""
    fields = [
        row.id, row.txid, row.at, row.actor_id, row.actor_role, row.actor_area, row.action,
        row.subject, row.outcome, row.reason, row.policy_version, row.details,
    ]  # fmt: skip
    canonical = json.dumps([str(v) if v is not None else None for v in fields], ensure_ascii=False)
    return hashlib.sha256(f"{previous}\n{canonical}".encode()).hexdigest()


def checkpoint_file(directory: str | os.PathLike, service: str) -> Path:
    return Path(directory) / f"{service}.jsonl"


def seal(conn: Connection, now: datetime, batch: int = 5000) -> dict | None:
    """Chain the rows not sealed yet whose transactions have all ended (at most `batch`), in the
    caller's transaction (the caller commits, then writes the checkpoint it returns). None when
    there was nothing to seal."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SEAL_LOCK})
    head = conn.execute(
        text("SELECT position, txid, chain_hash FROM audit_seal ORDER BY position DESC LIMIT 1")
    ).first()
    position, last_txid, previous = (head.position, head.txid, head.chain_hash) if head else (0, 0, "")
    horizon = conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar()
    rows = conn.execute(
        text(
            f"SELECT {_CANONICAL} FROM audit_log a WHERE a.txid >= :last AND a.txid < :horizon "
            "AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id) "
            "ORDER BY a.txid, a.id LIMIT :batch"
        ),
        {"last": last_txid, "horizon": horizon, "batch": batch},
    ).all()
    if not rows:
        return None
    seals = []
    for row in rows:
        position += 1
        previous = chain_hash(previous, row)
        seals.append(
            {"position": position, "audit_id": row.id, "txid": row.txid, "chain_hash": previous, "sealed_at": now}
        )
    conn.execute(
        text(
            "INSERT INTO audit_seal (position, audit_id, txid, chain_hash, sealed_at) "
            "VALUES (:position, :audit_id, :txid, :chain_hash, :sealed_at)"
        ),
        seals,
    )
    last = seals[-1]
    return {
        "position": last["position"],
        "audit_id": last["audit_id"],
        "chain_hash": last["chain_hash"],
        "at": now.isoformat(),
    }


def write_checkpoint(path: str | os.PathLike, checkpoint: dict) -> None:
    """Append the chain's head to the checkpoint file (outside the database), on disk before it returns."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(checkpoint, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())


def seal_and_checkpoint(engine: Engine, checkpoints: str | os.PathLike, now: datetime) -> dict | None:
    with engine.begin() as conn:
        checkpoint = seal(conn, now)
    if checkpoint is not None:
        write_checkpoint(checkpoints, checkpoint)
    return checkpoint


@dataclass
class Verification:
    sealed: int = 0  # rows checked against their seal
    unsealed: int = 0  # rows recorded since the last seal (not yet covered)
    checkpoints: int = 0  # checkpoints found and compared
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(conn: Connection, checkpoints: str | os.PathLike | None) -> Verification:
    """Recompute the chain from audit_log and compare it with audit_seal and the checkpoint file.
    Reads only."""
    result = Verification()
    recomputed: dict[int, str] = {}
    previous, expected_position = "", 1
    for row in conn.execute(
        text(
            f"SELECT s.position, s.audit_id AS sealed_id, s.chain_hash AS sealed_hash, {_CANONICAL} "
            "FROM audit_seal s LEFT JOIN audit_log a ON a.id = s.audit_id ORDER BY s.position"
        )
    ):
        if row.position != expected_position:
            result.problems.append(f"seal positions {expected_position}..{row.position - 1} are missing")
        expected_position = row.position + 1
        result.sealed += 1
        if row.id is None:
            result.problems.append(f"audit row {row.sealed_id} (seal {row.position}) was deleted")
            previous = row.sealed_hash
            continue
        mine = chain_hash(previous, row)
        recomputed[row.position] = mine
        if mine != row.sealed_hash:
            result.problems.append(f"audit row {row.id} (seal {row.position}) was changed")
        previous = row.sealed_hash  # go on from the seal, so each change is named once
    last_txid = conn.execute(text("SELECT coalesce(max(txid), 0) FROM audit_seal")).scalar() or 0
    behind = conn.execute(
        text(
            "SELECT a.id FROM audit_log a WHERE a.txid < :t "
            "AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id) ORDER BY a.id"
        ),
        {"t": last_txid},
    ).scalars()
    for audit_id in behind:
        result.problems.append(f"audit row {audit_id} was added behind the seal")
    result.unsealed = int(
        conn.execute(
            text(
                "SELECT count(*) FROM audit_log a WHERE NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.audit_id = a.id)"
            )
        ).scalar()
        or 0
    )
    if checkpoints is not None and Path(checkpoints).exists():
        for line in Path(checkpoints).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            point = json.loads(line)
            result.checkpoints += 1
            position = int(point["position"])
            if position not in recomputed and position >= expected_position:
                result.problems.append(f"the seals stop before checkpoint {position}: seals were removed")
            elif recomputed.get(position) != point["chain_hash"]:
                result.problems.append(f"the chain at seal {position} differs from its checkpoint of {point['at']}")
    return result


class Audit(DependencyProvider):
    def setup(self):
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.clock = clock_for(self.container.config)
        config = self.container.config
        directory = config.get("AUDIT_CHECKPOINTS")
        self.checkpoints = checkpoint_file(directory, self.container.service_name) if directory else None
        self.interval = float(config.get("AUDIT_SEAL_SECONDS", 60))
        self._sealer = None

    def start(self):
        if self.checkpoints is not None and self.database.engine.dialect.name == "postgresql":
            self._sealer = self.container.spawn_managed_thread(self._seal_forever, identifier="audit_seal")

    def _seal_forever(self):
        assert self.checkpoints is not None
        while True:
            try:
                while seal_and_checkpoint(self.database.engine, self.checkpoints, self.clock.now()) is not None:
                    pass
            except Exception as exc:  # the next round tries again; sealing late loses nothing
                get_logger(component="audit").warning("audit.seal_failed", error=repr(exc))
            eventlet.sleep(self.interval)

    def seal_now(self) -> dict | None:
        """Seal at once (tests, the run command at shutdown)."""
        if self.checkpoints is None:
            return None
        return seal_and_checkpoint(self.database.engine, self.checkpoints, self.clock.now())

    def get_dependency(self, worker_ctx):
        return AuditTrail(lambda: self.database.session_for(worker_ctx), self.database.engine, self.clock)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="The tamper-evident audit of one service's database: seal the rows recorded "
        "since the last seal (and append the checkpoint), or verify the chain against the seals and "
        "the checkpoints (exit 1 on any finding)."
    )
    parser.add_argument("command", choices=("seal", "verify"))
    parser.add_argument("--database", required=True, help="the service's database URL")
    parser.add_argument("--checkpoints", required=True, help="the service's checkpoint file (<service>.jsonl)")
    args = parser.parse_args(argv)
    engine = create_engine(args.database)
    try:
        if args.command == "seal":
            sealed = 0
            while (point := seal_and_checkpoint(engine, args.checkpoints, datetime.now(UTC))) is not None:
                sealed = point["position"]
            print(json.dumps({"sealed_to": sealed}))
            return 0
        with engine.connect() as conn:
            result = verify(conn, args.checkpoints)
        print(
            json.dumps(
                {
                    "intact": result.intact,
                    "sealed": result.sealed,
                    "unsealed": result.unsealed,
                    "checkpoints": result.checkpoints,
                    "problems": result.problems,
                },
                ensure_ascii=False,
            )
        )
        return 0 if result.intact else 1
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
