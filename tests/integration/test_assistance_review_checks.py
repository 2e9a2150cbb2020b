"""动态复核 in bulk against the real broker, PostgreSQL and the partner data simulator: the job asks
every source about every current member of the households whose re-check is due, and nobody
else; a source that does not answer leaves the check incomplete and the next run asks again; a
complete check is not repeated, and the caseworker's queue shows it until the review is recorded."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

from sqlalchemy import text

from contracts.assistance import CHECK_SOURCES
from tests.integration.test_assistance_service import (  # noqa: F401  (assistance is a fixture)
    TOWNSHIP,
    TOWNSHIP_CLERK,
    assistance,
    person,
    refused,
)

ADMIN = {"id": "ops", "role": "admin"}


def seed(engine, members: list[str | None], next_review_on: date | None, ends_on: date | None = None, left=()):
    """A household with an open (or ended) entitlement whose re-check falls due on the day."""
    household_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO household (id, region_code, address, bank_account, created_at) "
                "VALUES (:id, :region, '越城区府山街道 2 号', '6228480000000002', now())"
            ),
            {"id": household_id, "region": TOWNSHIP},
        )
        for k, resident_id in enumerate(members):
            conn.execute(
                text(
                    "INSERT INTO member (id, household_id, resident_id, name, relationship, monthly_income_fen, "
                    "employment_cost_fen, seriously_ill, severely_disabled, pregnant, single_person_listing, "
                    "joined_on, left_on) VALUES (:id, :household, :resident, '成员', :rel, 0, 0, false, false, "
                    "false, false, '2025-01-01', :left)"
                ),
                {
                    "id": str(uuid.uuid4()),
                    "household": household_id,
                    "resident": resident_id,
                    "rel": "head" if k == 0 else "child",
                    "left": date(2026, 3, 1) if resident_id in left else None,
                },
            )
        entitlement_id = conn.execute(
            text(
                "INSERT INTO entitlement (household_id, programme, monthly_amount_fen, starts_on, ends_on, "
                "policy_version, next_review_on) VALUES (:household, 'dibao', 50000, '2025-06-01', :ends, "
                "'test', :review) RETURNING id"
            ),
            {"household": household_id, "ends": ends_on, "review": next_review_on},
        ).scalar_one()
    return household_id, entitlement_id


def test_the_re_check_job_asks_every_source_about_every_current_member_of_due_households(assistance, manual_clock):  # noqa: F811
    svc = assistance()  # real_estate is stalled: its fetches time out
    manual_clock.set_local_date(date(2026, 6, 1))
    head, child, gone, newborn_parent = (
        person(date(1970, 1, 1)),
        person(date(2012, 2, 2)),
        person(date(1975, 3, 3)),
        person(date(1990, 4, 4)),
    )
    two, e_two = seed(svc.engine, [head, child, gone], date(2026, 6, 20), left={gone})
    one, e_one = seed(svc.engine, [newborn_parent, None], date(2026, 5, 30))  # overdue; a newborn without an ID
    _, e_later = seed(svc.engine, [person(date(1980, 5, 5))], date(2026, 9, 1))  # not due within 30 days
    _, e_ended = seed(svc.engine, [person(date(1981, 6, 6))], date(2026, 6, 10), ends_on=date(2026, 4, 30))
    _, e_nobody = seed(svc.engine, [None], date(2026, 6, 15))  # nobody with an ID to ask

    assert refused(svc.rpc.run_review_checks, TOWNSHIP_CLERK).status == 403
    assert refused(svc.rpc.run_review_checks, ADMIN, 400).status == 422

    first = svc.rpc.run_review_checks(ADMIN)
    assert (first["until"], first["entitlements"], first["complete"]) == ("2026-07-01", 3, 0)
    assert (first["subjects"], first["fetches"], first["batches"]) == (3, 3 * len(CHECK_SOURCES), 1)
    assert first["failed_fetches"] == 3  # real_estate, once per subject
    asked = Counter(resident for _, resident in svc.partner.queries)
    assert asked == {head: len(CHECK_SOURCES), child: len(CHECK_SOURCES), newborn_parent: len(CHECK_SOURCES)}
    fetches = svc.rows(
        "SELECT c.entitlement_id, c.for_review_on, c.complete, f.resident_id, f.source, f.status "
        "FROM economic_check c JOIN check_fetch f ON f.check_id = c.id ORDER BY f.id"
    )
    assert {(r.entitlement_id, r.resident_id) for r in fetches} == {
        (e_two, head),
        (e_two, child),
        (e_one, newborn_parent),
    }
    assert {r.source for r in fetches if r.status != "ok"} == {"real_estate"}
    assert {(r.entitlement_id, r.for_review_on) for r in fetches} == {
        (e_two, date(2026, 6, 20)),
        (e_one, date(2026, 5, 30)),
    }
    nobody = svc.rows("SELECT complete FROM economic_check WHERE entitlement_id = :e", e=e_nobody)
    assert [r.complete for r in nobody] == [False]  # asked nobody: the caseworker must look
    assert not svc.rows("SELECT 1 FROM economic_check WHERE entitlement_id IN (:a, :b)", a=e_later, b=e_ended)

    # the source heals: the next run asks again about the incomplete ones, and completes them
    svc.partner.slow_sources.clear()
    second = svc.rpc.run_review_checks(ADMIN)
    assert (second["entitlements"], second["complete"], second["failed_fetches"]) == (3, 2, 0)
    # … and a third asks nobody whose check is complete (only the household with nobody to ask)
    before = len(svc.partner.queries)
    third = svc.rpc.run_review_checks(ADMIN)
    assert (third["entitlements"], third["complete"], third["fetches"]) == (1, 0, 0)
    assert len(svc.partner.queries) == before

    queue = {e["entitlement_id"]: e for e in svc.rpc.reviews_due(TOWNSHIP_CLERK)}
    assert set(queue) == {e_two, e_one, e_nobody}
    assert queue[e_two]["review_check"]["complete"] is True and queue[e_nobody]["review_check"]["complete"] is False
    audit = svc.rows("SELECT subject, outcome FROM audit_log WHERE action = 'entitlement.review_check' ORDER BY id")
    assert Counter(r.outcome for r in audit) == {"incomplete": 5, "complete": 2}
    assert {r.subject for r in audit if r.outcome == "complete"} == {f"household-{two}", f"household-{one}"}

    # the caseworker records the review: the next one is scheduled, the job leaves it alone
    svc.rpc.record_review(TOWNSHIP_CLERK, e_two, {"reason": "re-check clean; visited"})
    assert e_two not in {e["entitlement_id"] for e in svc.rpc.reviews_due(TOWNSHIP_CLERK)}
    assert svc.rpc.run_review_checks(ADMIN)["entitlements"] == 1  # the nobody-household again, nothing else
