"""Reads of a person's data by staff and partners are recorded, and the person lists who read
theirs (role, area, organisation), through the gateway against the real broker and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from contracts.person import compose_resident_id
from gateway.reads import person_key

PERSON = compose_resident_id("330602", date(1990, 5, 5), 21)
OTHER = compose_resident_id("330602", date(1991, 6, 6), 22)


def test_a_citizen_sees_who_read_their_data(system):
    sys_ = system()
    status = f"/api/v1/marriage/marital-status/{PERSON}"
    assert sys_.call("GET", status, ("clerk", "registrar-07", "330602")).status_code == 200
    assert sys_.call("GET", status, ("partner", "police")).status_code == 200
    assert sys_.call("GET", status, ("citizen", PERSON)).status_code == 200  # one's own: not a read by others
    assert sys_.call("GET", f"/api/v1/marriage/marital-status/{OTHER}", ("clerk", "registrar-07", "330602")).ok
    answer = sys_.call("GET", "/api/v1/me/reads", ("citizen", PERSON))
    assert answer.status_code == 200, answer.text
    reads = answer.json()["reads"]
    assert [(r["role"], r["area"], r["organisation"], r["what"]) for r in reads] == [
        ("partner", None, "police", "/api/v1/marriage/marital-status/<resident_id>"),
        ("clerk", "330602", None, "/api/v1/marriage/marital-status/<resident_id>"),
    ]
    assert "registrar-07" not in answer.text  # the role and area, not the staff member
    # the other person sees only the read of theirs
    assert len(sys_.call("GET", "/api/v1/me/reads", ("citizen", OTHER)).json()["reads"]) == 1
    # the audit rows name the person by a digest, never the number
    engine = create_engine(sys_.databases["gateway"])
    with engine.connect() as conn:
        subjects = conn.execute(text("SELECT subject, details::text FROM audit_log WHERE action = 'person.read'")).all()
    engine.dispose()
    assert {s for s, _ in subjects} == {person_key(PERSON), person_key(OTHER)}
    assert not any(PERSON in s or PERSON in d for s, d in subjects)
    # staff cannot list a citizen's reads
    assert sys_.call("GET", "/api/v1/me/reads", ("clerk", "registrar-07", "330602")).status_code == 403
