"""The audit trail on PostgreSQL: `record_many` (set-based changes) writes the rows `record` writes."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from chassis.audit import SYSTEM, Actor, AuditEntry, AuditTrail
from chassis.clock import ManualClock
from chassis.tables import audit_log, chassis_metadata


def test_record_many_writes_what_record_writes(make_database):
    engine = create_engine(make_database("audit"))
    chassis_metadata.create_all(engine)
    clock = ManualClock(datetime(2026, 6, 10, 2, 0, tzinfo=UTC))
    provider = Actor(id="care_providers", role="partner", org="provider-01")
    try:
        with Session(engine) as session:
            trail = AuditTrail(lambda: session, engine, clock)
            for actor in (SYSTEM, provider):
                trail.record(
                    actor,
                    "organisation.state",
                    "organisation-1",
                    "dormant",
                    reason="no report",
                    policy_version="000000/x@2021-01-01",
                    before="active",
                    missing_years=[2024, 2025],
                    on=date(2026, 6, 10),
                )
                trail.record(actor, "organisation.state", "organisation-2", "active")
                assert (
                    trail.record_many(
                        actor,
                        "organisation.state",
                        [
                            AuditEntry(
                                "organisation-1",
                                "dormant",
                                "no report",
                                "000000/x@2021-01-01",
                                {"before": "active", "missing_years": [2024, 2025], "on": date(2026, 6, 10)},
                            ),
                            AuditEntry("organisation-2", "active"),
                        ],
                    )
                    == 2
                )
            assert trail.record_many(SYSTEM, "organisation.state", []) == 0
            session.commit()
            rows = [
                tuple(row)
                for row in session.execute(
                    select(*(c for c in audit_log.c if c.name not in ("id", "txid"))).order_by(audit_log.c.id)
                ).all()
            ]
        assert len(rows) == 8
        assert rows[0:2] == rows[2:4] and rows[4:6] == rows[6:8]
        assert rows[0][-1] == {"before": "active", "missing_years": [2024, 2025], "on": "2026-06-10"}
        assert rows[4][-1]["actor_org"] == "provider-01" and rows[6][-1]["actor_org"] == "provider-01"
    finally:
        engine.dispose()
