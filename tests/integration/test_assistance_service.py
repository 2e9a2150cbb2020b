"""The assistance service over RPC: a 低保 application in Shaoxing from submission to approval, with
the household economic check (核对) against the partner data simulator (one source timing out),
public notice and objection, approval levels and areas, 救助一件事 events, and the time limit."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from kombu import Connection, Exchange, Producer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, insert, text

from chassis.errors import Problem
from chassis.migrations import upgrade
from chassis.tables import policy_parameters
from chassis.topology import EVENTS_EXCHANGE
from contracts.assistance import CHECK_SOURCES
from contracts.person import Newborn, ResidentId, compose_resident_id
from infra.partner_data import PartnerData, serve
from services.assistance import rules
from services.assistance.service import AssistanceService
from tests.conftest import free_port
from tests.helpers import CHECK_TIMEOUT_SECONDS, PATIENCE, queue_depth, reply_json, wait_for

TOWNSHIP = "330602001"  # a street of Yuecheng district, Shaoxing
DISTRICT = "330602"
TOWNSHIP_CLERK = {"id": "caseworker-01", "role": "clerk", "area": TOWNSHIP}
DISTRICT_CLERK = {"id": "approver-01", "role": "clerk", "area": DISTRICT}
OTHER_DISTRICT_CLERK = {"id": "approver-99", "role": "clerk", "area": "330603"}
ACCEPTED_ON = date(2026, 4, 27)  # a Monday; 1, 4 and 5 May 2026 are public holidays
STANDARD = 85000  # 850 yuan per person per month, pinned for 2026 below
DEPOSITS = 1_000_000  # 10,000 yuan per member (the limit is 50,000 per person)
DIBAO_ITEMS = {
    "medical_assistance",
    "education_assistance",
    "housing_assistance",
    "employment_assistance",
    "water_discount",
    "electricity_discount",
    "gas_discount",
    "price_subsidy",
    "legal_aid",
    "funeral_fee_waiver",
    "holiday_subsidy",
    "telecom_discount",
    "cable_tv_discount",
    "public_transport_discount",
}
# the bureau's credential at each source, one per source (the data-sharing gateway refuses others)
SOURCE_TOKENS = {source: f"token-for-{source}" for source in CHECK_SOURCES}
EDGE_ITEMS = {"medical_assistance", "education_assistance", "housing_assistance", "employment_assistance", "legal_aid"}

_sequence = iter(range(100, 998, 2))
OPEN = list(rules.OPEN_STATES)  # what a work queue of every open state draws on


def person(birth: date, sex: str = "male") -> str:
    return compose_resident_id(DISTRICT, birth, next(_sequence) + (1 if sex == "male" else 0))


def household(incomes=(60000, 20000, 0)) -> list[dict]:
    """Head, spouse (seriously ill) and a child (a minor), with the given monthly incomes in fen."""
    head, spouse, child = person(date(1970, 3, 1)), person(date(1972, 5, 5), "female"), person(date(2012, 9, 1))
    return [
        {"resident_id": head, "name": "王建国", "relationship": "head", "monthly_income_fen": incomes[0]},
        {
            "resident_id": spouse,
            "name": "李秀英",
            "relationship": "spouse",
            "monthly_income_fen": incomes[1],
            "seriously_ill": True,
        },
        {"resident_id": child, "name": "王小明", "relationship": "child", "monthly_income_fen": incomes[2]},
    ]


def application(members, programme="dibao", region=TOWNSHIP) -> dict:
    return {
        "programme": programme,
        "region_code": region,
        "address": "越城区府山街道 1 号",
        "bank_account": "6228480000000001",
        "members": members,
    }


def citizen(members) -> dict:
    return {"id": members[0]["resident_id"], "role": "citizen"}


def policy_for_test() -> rules.AssistancePolicy:
    """The figures the service resolves for 330602001 in 2026 (seeds + the test's pinned standard)."""
    return rules.AssistancePolicy(
        version="test",
        dibao_standard_monthly_fen=STANDARD,
        edge_ratio="1.5",
        tekun_basic_ratio="1.3",
        tekun_care_monthly_fen={"full": 20000, "partial": 60000, "none": 120000},
        increments={
            "aged_80_plus": "0.1",
            "minor": "0.1",
            "seriously_ill": "0.2",
            "severely_disabled": "0.2",
            "pregnant": "0.1",
        },
        temporary_cap_multiplier_min=2,
        temporary_cap_multiplier_max=10,
        temporary_grades={"A": 2, "B": 4, "C": 6, "D": 8, "E": 10},
        township_direct_threshold_fen=200000,
        gradual_exit_months=12,
        asset_limits={"deposits": 5000000},
        decision_working_days=20,
        notice_days=7,
        approval_level="district",
    )


@dataclass
class Assistance:
    rpc: object
    engine: object
    partner: PartnerData

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).all()

    def events(self, event_type: str) -> list[dict]:
        return [
            row.body for row in self.rows("SELECT body FROM outbox WHERE event_type = :t ORDER BY id", t=event_type)
        ]


@pytest.fixture
def assistance(make_database, base_config, start_service, manual_clock, amqp_uri):
    """Boot AssistanceService on a fresh database; the partner data simulator answers the check
    with `real_estate` stalled (it times out) unless the test heals it."""
    servers, engines, proxies, sources = [], [], [], []

    def boot(**config) -> Assistance:
        url = make_database("assistance")
        upgrade("services/assistance", url)
        engine = create_engine(url)
        engines.append(engine)
        now = datetime.now(UTC)
        with engine.begin() as conn:  # test fixtures beside the migration's seeds
            conn.execute(
                insert(policy_parameters),
                [
                    {
                        "region_code": DISTRICT,
                        "name": "assistance.dibao_standard_monthly_fen",
                        "effective_from": date(2026, 1, 1),
                        "value": STANDARD,
                        "source": "test: Yuecheng pinned at 850元/月 for 2026",
                        "recorded_at": now,
                        "recorded_by": "test",
                    },
                    {
                        "region_code": "330600",
                        "name": "assistance.disability_living_monthly_fen",
                        "effective_from": date(2026, 1, 1),
                        "value": 33000,
                        "source": "test",
                        "recorded_at": now,
                        "recorded_by": "test",
                    },
                    {
                        "region_code": "330600",
                        "name": "assistance.disability_care_monthly_fen",
                        "effective_from": date(2026, 1, 1),
                        "value": 25000,
                        "source": "test",
                        "recorded_at": now,
                        "recorded_by": "test",
                    },
                ],
            )
        partner = PartnerData(slow_sources={"real_estate"}, tokens=SOURCE_TOKENS)
        port = free_port()
        servers.append(serve(partner, port))
        sources.append(partner)
        start_service(
            AssistanceService,
            {
                **base_config,
                "DATABASE_URL": url,
                "CHECK_SOURCES_URL": f"http://127.0.0.1:{port}",
                "CHECK_SOURCES_TOKENS": SOURCE_TOKENS,
                "CHECK_TIMEOUT_SECONDS": CHECK_TIMEOUT_SECONDS,
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                **config,
            },
        )
        proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri})
        proxies.append(proxy)
        return Assistance(proxy.start().assistance, engine, partner)

    yield boot
    for proxy in proxies:
        proxy.stop()
    for server in servers:
        server.shutdown()
    for data in sources:  # whatever the test did: no URL requested of a source held an ID number
        assert data.urls_with_resident_ids() == [], "a resident ID in a URL requested of a data source"
    for engine in engines:
        engine.dispose()


def refused(call, *args) -> Problem:
    with pytest.raises(Problem) as caught:
        call(*args)
    return caught.value


def pin_deposits(partner: PartnerData, members, fen=DEPOSITS):
    for m in members:
        partner.facts[("bank_deposits", m["resident_id"])] = {"deposits_fen": fen}


def through_notice(svc: Assistance, clock, members, programme="dibao") -> dict:
    """Apply, accept, check (every source healthy) and publish; the clock ends after the notice."""
    svc.partner.slow_sources.clear()
    pin_deposits(svc.partner, members)
    clock.set_local_date(ACCEPTED_ON)
    app = svc.rpc.apply(citizen(members), application(members, programme))
    svc.rpc.accept(TOWNSHIP_CLERK, app["application_id"])
    assert svc.rpc.run_economic_check(TOWNSHIP_CLERK, app["application_id"])["state"] == "checked"
    clock.set_local_date(date(2026, 4, 28))
    published = svc.rpc.publish_notice(TOWNSHIP_CLERK, app["application_id"])
    assert published["notice_ends"] == "2026-05-05"
    clock.set_local_date(date(2026, 5, 6))
    return published


# --- the data path of 核对 ---------------------------------------------------------------------------


def test_the_check_asks_with_the_id_in_the_body_and_the_source_token(assistance, manual_clock):
    svc = assistance()
    members = household()
    through_notice(svc, manual_clock, members)
    asked = {(source, resident_id) for source, resident_id in svc.partner.queries}
    assert {resident_id for _, resident_id in asked} == {m["resident_id"] for m in members}
    assert {source for source, _ in asked} >= {"bank_deposits", "real_estate"}
    assert svc.partner.refused == 0  # every request carried that source's own token
    # one request per source for the whole household (批量核对), each member asked once
    assert sorted(url.rsplit("/", 1)[1] for url in svc.partner.requested_urls) == sorted(CHECK_SOURCES)
    assert len(svc.partner.queries) == len(asked) == len(members) * len(CHECK_SOURCES)
    assert svc.partner.urls_with_resident_ids() == []  # the IDs travelled in the bodies
    # a request without the bureau's token, or with another source's, is refused by the source
    source_url = svc.partner.requested_urls[0].rsplit("/", 1)[0]
    body = {"resident_ids": [members[0]["resident_id"]]}
    assert requests.post(f"{source_url}/tax", json=body, timeout=PATIENCE).status_code == 401
    wrong = {"Authorization": f"Bearer {SOURCE_TOKENS['vehicles']}"}
    assert requests.post(f"{source_url}/tax", json=body, headers=wrong, timeout=PATIENCE).status_code == 401


def test_a_household_larger_than_a_batch_is_asked_in_several_requests(assistance, manual_clock):
    svc = assistance(CHECK_BATCH_SIZE=2)
    members = household()
    through_notice(svc, manual_clock, members)  # complete: every member answered by every source
    per_source = Counter(url.rsplit("/", 1)[1] for url in svc.partner.requested_urls)
    assert per_source == dict.fromkeys(CHECK_SOURCES, 2)  # 3 members, 2 to a request
    assert Counter(svc.partner.queries) == {(s, m["resident_id"]): 1 for s in CHECK_SOURCES for m in members}


class PartialSource(BaseHTTPRequestHandler):
    """A data-sharing gateway that answers a batch imperfectly, served by the standard library: tax
    leaves out the batch's first subject, vehicles refuses it, housing_fund answers a list instead
    of the protocol's object; every other source answers every subject."""

    def do_POST(self):
        asked = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["resident_ids"]
        source = self.path.rsplit("/", 1)[1]
        answers = [{"resident_id": r, "record": {}} for r in asked]
        if source == "tax":
            answers = answers[1:]
        elif source == "vehicles":
            answers[0] = {"resident_id": asked[0], "error": "no record of consent"}
        reply_json(self, [] if source == "housing_fund" else {"answers": answers})

    def log_message(self, *args):
        pass


def test_a_subject_a_source_leaves_out_or_refuses_is_that_subjects_failure(assistance, manual_clock):
    server = ThreadingHTTPServer(("127.0.0.1", 0), PartialSource)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        svc = assistance(CHECK_SOURCES_URL=f"http://127.0.0.1:{server.server_port}")
        members = household()
        manual_clock.set_local_date(ACCEPTED_ON)
        app_id = svc.rpc.apply(citizen(members), application(members))["application_id"]
        svc.rpc.accept(TOWNSHIP_CLERK, app_id)
        checked = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    finally:
        server.shutdown()
    report = checked["economic_check"]
    assert checked["state"] == "accepted" and report["complete"] is False
    failed = {(f["resident_id"], f["source"]) for f in report["failed"]}
    # the batch's first subject (members are asked in the order of their ids, not as entered)
    (first,) = {r for r, source in failed if source == "tax"}
    assert failed == {(first, "tax"), (first, "vehicles")} | {(m["resident_id"], "housing_fund") for m in members}
    errors = {
        (r.resident_id, r.source): r.error
        for r in svc.rows("SELECT resident_id, source, error FROM check_fetch WHERE status = 'failed'")
    }
    assert errors[(first, "tax")] == "the source's answer has nothing for this subject"
    assert errors[(first, "vehicles")] == "the source refused this subject: no record of consent"
    assert errors[(first, "housing_fund")] == 'the answer is not {"answers": [...]}'
    assert all(first not in error for error in errors.values())  # no full ID in what is kept


# --- the whole 低保 application ------------------------------------------------------------------


def test_dibao_application_from_submission_to_approval(assistance, manual_clock):
    svc = assistance()
    members = household()
    pin_deposits(svc.partner, members)
    manual_clock.set_local_date(ACCEPTED_ON)

    submitted = svc.rpc.apply(citizen(members), application(members))
    app_id = submitted["application_id"]
    assert submitted["state"] == "submitted" and submitted["region_code"] == TOWNSHIP
    assert [j["action"] for j in submitted["journal"]] == ["apply"]

    accepted = svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    assert accepted["state"] == "accepted" and accepted["accepted_on"] == "2026-04-27"
    # 20 working days, not counting 1, 4 and 5 May (public holidays): 28 May, not 25 May
    assert accepted["decision_due"] == "2026-05-28"

    # 核对, first with the real-estate registry too slow: the check is kept but incomplete
    first = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    assert first["state"] == "accepted"
    report = first["economic_check"]
    assert report["complete"] is False and report["all_sources_answered"] is False
    for member in report["members"]:
        estate = member["sources"]["real_estate"]
        assert estate["status"] == "timeout" and estate["findings"] is None
        assert estate["error"] == f"no answer within {CHECK_TIMEOUT_SECONDS} s"
        assert member["sources"]["bank_deposits"] == {
            **member["sources"]["bank_deposits"],
            "status": "ok",
            "findings": {"deposits_fen": DEPOSITS},
        }
    assert {f["source"] for f in report["failed"]} == {"real_estate"} and len(report["failed"]) == 3
    # the fetches run side by side: the three to the stalled registry were waiting at the same time
    assert svc.partner.most_stalled_at_once == 3
    rows = svc.rows("SELECT source, status, latency_ms, result, error FROM check_fetch")
    assert len(rows) == 3 * len(CHECK_SOURCES)
    timeouts = [r for r in rows if r.status == "timeout"]
    assert len(timeouts) == 3 and all(r.source == "real_estate" and r.result is None and r.error for r in timeouts)
    assert all(r.latency_ms >= CHECK_TIMEOUT_SECONDS * 1000 * 0.95 for r in timeouts)  # held to the deadline
    assert svc.rows("SELECT complete FROM economic_check")[0].complete is False

    # the registry is healthy again: the check is complete and the application checked
    svc.partner.slow_sources.clear()
    second = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    assert second["state"] == "checked"
    report = second["economic_check"]
    assert report["complete"] is True and report["all_sources_answered"] is True and report["failed"] == []
    assert report["totals"] == {"members": 3, "deposits_fen": 3 * DEPOSITS}
    assert report["assets"]["within_limits"] is True
    assert all(m["sources"]["real_estate"]["status"] == "ok" for m in report["members"])

    # 公示, and an objection during it sends the application back to review
    manual_clock.set_local_date(date(2026, 4, 28))
    noticed = svc.rpc.publish_notice(TOWNSHIP_CLERK, app_id)
    assert noticed["state"] == "in_notice" and noticed["notice_ends"] == "2026-05-05"
    manual_clock.set_local_date(date(2026, 4, 30))
    objected = svc.rpc.object(TOWNSHIP_CLERK, app_id, {"reason": "a neighbour reports a second flat"})
    assert objected["state"] == "checked" and objected["notice_ends"] is None
    assert objected["journal"][-1]["action"] == "objection"
    assert objected["journal"][-1]["reason"] == "a neighbour reports a second flat"
    manual_clock.set_local_date(date(2026, 5, 6))
    noticed = svc.rpc.publish_notice(TOWNSHIP_CLERK, app_id)
    assert noticed["notice_ends"] == "2026-05-13"

    approve = {"decision": "approve", "reason": "income below the standard; the objection was unfounded"}
    manual_clock.set_local_date(date(2026, 5, 13))
    early = refused(svc.rpc.decide, DISTRICT_CLERK, app_id, approve)
    assert early.status == 409 and "2026-05-14" in early.detail

    manual_clock.set_local_date(date(2026, 5, 14))
    township = refused(svc.rpc.decide, TOWNSHIP_CLERK, app_id, approve)
    assert township.status == 409 and "not delegated" in township.detail
    elsewhere = refused(svc.rpc.decide, OTHER_DISTRICT_CLERK, app_id, approve)
    assert elsewhere.status == 403
    assert svc.rows("SELECT count(*) AS n FROM entitlement")[0].n == 0
    refusals = svc.rows("SELECT actor_id FROM audit_log WHERE action = 'assistance.approve' AND outcome = 'refused'")
    assert {r.actor_id for r in refusals} == {"approver-01", "caseworker-01"}

    approved = svc.rpc.decide(DISTRICT_CLERK, app_id, approve)
    expected = rules.dibao_benefit(
        [
            rules.Member(
                ResidentId.parse(m["resident_id"]), m["monthly_income_fen"], seriously_ill=m.get("seriously_ill", False)
            )
            for m in members
        ],
        date(2026, 5, 14),
        policy_for_test(),
    )
    # (850 × 3 − 600 − 200) + 20% for the seriously ill spouse + 10% for the child = 2005.00 yuan
    assert approved["monthly_amount_fen"] == expected.monthly_fen == 200500
    assert approved["state"] == "approved" and approved["decided_on"] == "2026-05-14"
    assert f"{DISTRICT}/assistance.dibao_standard_monthly_fen@2026-01-01" in approved["policy_version"]
    assert "000000/calendar" not in approved["policy_version"]
    assert any("2005.00 yuan" in line for line in approved["explanation"])
    assert [j["action"] for j in approved["journal"]] == [
        "apply",
        "accept",
        "attach_check",
        "publish_notice",
        "objection",
        "publish_notice",
        "approve",
    ]

    (entitlement,) = svc.rows("SELECT * FROM entitlement")
    assert (
        entitlement.programme,
        entitlement.monthly_amount_fen,
        entitlement.starts_on,
        entitlement.ends_on,
        entitlement.application_id,
    ) == ("dibao", 200500, date(2026, 5, 14), None, app_id)
    assert entitlement.policy_version == approved["policy_version"]

    (event,) = svc.events("assistance.approved")
    assert event["subject"] == f"application-{app_id}" and event["matter_id"] == approved["matter_id"]
    assert event["data"]["monthly_amount_fen"] == 200500 and event["data"]["starts_on"] == "2026-05-14"
    assert {m["resident_id"] for m in event["data"]["members"]} == {m["resident_id"] for m in members}
    (opened,) = svc.events("matter.opened")
    assert opened["matter_id"] == approved["matter_id"]
    assert opened["data"]["matter_type"] == "assistance_linked_items"
    assert opened["data"]["region_code"] == TOWNSHIP
    assert sorted(opened["data"]["subjects"]) == sorted(m["resident_id"] for m in members)
    assert {s["name"] for s in opened["data"]["steps"]} == DIBAO_ITEMS
    funeral = next(s for s in opened["data"]["steps"] if s["name"] == "funeral_fee_waiver")
    assert (funeral["owner"], funeral["deadline_days"]) == ("assistance", 1)
    reported = svc.events("matter.step_reported")
    assert {r["data"]["step"] for r in reported} == {"funeral_fee_waiver", "holiday_subsidy"}
    assert all(
        r["data"]["state"] == "done"
        and r["data"]["reported_by"] == "assistance"
        and r["matter_id"] == approved["matter_id"]
        for r in reported
    )
    (audit,) = svc.rows(
        "SELECT policy_version, details FROM audit_log WHERE action = 'assistance.approve' AND outcome = 'approved'"
    )
    assert audit.policy_version == approved["policy_version"] and audit.details["monthly_amount_fen"] == 200500

    # the household sees its application; a stranger does not
    seen = svc.rpc.get_application(citizen(members), app_id)
    assert seen["state"] == "approved" and seen["economic_check"]["complete"] is True
    stranger = {"id": person(date(1990, 1, 1)), "role": "citizen"}
    assert refused(svc.rpc.get_application, stranger, app_id).status == 403
    again = refused(svc.rpc.decide, DISTRICT_CLERK, app_id, approve)
    assert again.status == 409 and "already approved" in again.detail


def test_citizen_applies_only_for_own_household_and_clerks_only_in_their_area(assistance, manual_clock):
    svc = assistance()
    members = household()
    manual_clock.set_local_date(ACCEPTED_ON)
    outsider = {"id": person(date(1985, 2, 2)), "role": "citizen"}
    assert refused(svc.rpc.apply, outsider, application(members)).status == 403
    assert refused(svc.rpc.apply, OTHER_DISTRICT_CLERK, application(members)).status == 403
    on_behalf = svc.rpc.apply(TOWNSHIP_CLERK, application(members))
    assert on_behalf["state"] == "submitted"
    assert refused(svc.rpc.apply, citizen(members), application(members)).status == 409  # already applying
    assert refused(svc.rpc.accept, OTHER_DISTRICT_CLERK, on_behalf["application_id"]).status == 403
    not_yet = refused(svc.rpc.publish_notice, TOWNSHIP_CLERK, on_behalf["application_id"])
    assert not_yet.status == 409 and "submitted" in not_yet.detail
    bad = refused(svc.rpc.apply, citizen(members), {**application(members), "region_code": "3306"})
    assert bad.status == 400 and "region_code" in bad.errors


def test_decision_due_and_overdue_queue(assistance, manual_clock):
    svc = assistance()
    members = household()
    manual_clock.set_local_date(ACCEPTED_ON)
    app_id = svc.rpc.apply(citizen(members), application(members))["application_id"]
    accepted = svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    holidays = {
        date.fromisoformat(d)
        for d in svc.rows("SELECT value FROM policy_parameters WHERE name = 'calendar.holidays'")[0].value
    }
    makeups = {
        date.fromisoformat(d)
        for d in svc.rows("SELECT value FROM policy_parameters WHERE name = 'calendar.makeup_workdays'")[0].value
    }
    due = rules.decision_due(ACCEPTED_ON, 20, frozenset(holidays), frozenset(makeups))
    assert accepted["decision_due"] == due.isoformat() == "2026-05-28"
    assert accepted["overdue"] is False

    manual_clock.set_local_date(due)
    assert svc.rpc.get_application(TOWNSHIP_CLERK, app_id)["overdue"] is False
    assert svc.rpc.list_applications(DISTRICT_CLERK, OPEN, True) == []
    manual_clock.set_local_date(date(2026, 5, 29))
    assert svc.rpc.get_application(TOWNSHIP_CLERK, app_id)["overdue"] is True
    queue = svc.rpc.list_applications(DISTRICT_CLERK, OPEN, True)
    assert [a["application_id"] for a in queue] == [app_id] and queue[0]["overdue"] is True
    assert "journal" not in queue[0]
    assert svc.rpc.list_applications(OTHER_DISTRICT_CLERK, OPEN, True) == []
    assert [a["application_id"] for a in svc.rpc.list_applications(TOWNSHIP_CLERK, OPEN)] == [app_id]
    assert refused(svc.rpc.list_applications, citizen(members), OPEN).status == 403


def test_the_clerks_queue_comes_a_page_at_a_time_most_urgent_first_and_a_work_queue_only_open(assistance, manual_clock):
    """Seven applications: five accepted on three days (two decision dates shared), two never
    accepted (no decision date: last), one of those withdrawn. Paged three at a time, the pages
    join into the whole queue in its order, each application once; `next` is null on the last.
    What a work queue draws on holds only open applications; a page too large, a cursor of
    another area or a closed state for a work queue is refused and reads nothing."""
    svc = assistance()
    manual_clock.set_local_date(ACCEPTED_ON)
    households = [household() for _ in range(7)]
    ids = [svc.rpc.apply(citizen(m), application(m))["application_id"] for m in households]
    for day, accepted in ((date(2026, 4, 29), ids[0:2]), (ACCEPTED_ON, ids[2:4]), (date(2026, 4, 28), ids[4:5])):
        manual_clock.set_local_date(day)
        for app_id in accepted:
            svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    svc.rpc.withdraw(citizen(households[6]), ids[6], {"reason": "不再申请"})  # closed, as a decided one is

    whole = svc.rpc.application_page(DISTRICT_CLERK, {"limit": "200"})
    assert whole["next"] is None and len(whole["applications"]) == 7
    order = [(a["decision_due"] or "9999", a["application_id"]) for a in whole["applications"]]
    assert [d for d, _ in order] == sorted(d for d, _ in order)  # nearest decision date first, undated last
    assert (
        {i for _, i in order[:2]} == set(ids[2:4])
        and order[2][1] == ids[4]
        and {i for _, i in order[5:]}
        == {
            ids[5],
            ids[6],
        }
    )

    pages, after = [], None
    while True:
        page = svc.rpc.application_page(DISTRICT_CLERK, {"limit": "3", "after": after})
        pages.append([a["application_id"] for a in page["applications"]])
        after = page["next"]
        if after is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == [a["application_id"] for a in whole["applications"]]
    assert "journal" not in whole["applications"][0]

    submitted = svc.rpc.application_page(TOWNSHIP_CLERK, {"state": "submitted"})
    assert [a["application_id"] for a in submitted["applications"]] == [ids[5]]
    withdrawn = svc.rpc.application_page(TOWNSHIP_CLERK, {"state": "withdrawn"})["applications"]
    assert [a["application_id"] for a in withdrawn] == [ids[6]]
    assert {a["application_id"] for a in svc.rpc.list_applications(TOWNSHIP_CLERK, OPEN)} == set(ids[:6])
    assert [a["application_id"] for a in svc.rpc.list_applications(TOWNSHIP_CLERK, ["submitted"])] == [ids[5]]

    too_many = refused(svc.rpc.application_page, DISTRICT_CLERK, {"limit": "201"})
    assert too_many.status == 400 and "limit" in too_many.errors
    assert refused(svc.rpc.application_page, DISTRICT_CLERK, {"limit": "0"}).status == 400
    assert refused(svc.rpc.application_page, DISTRICT_CLERK, {"after": "x' OR 1=1"}).status == 400
    elsewhere = refused(svc.rpc.application_page, OTHER_DISTRICT_CLERK, {"after": ids[0]})
    assert elsewhere.status == 422 and "after" in elsewhere.errors  # the cursor tells nothing of another area
    assert svc.rpc.application_page(OTHER_DISTRICT_CLERK, {}) == {"applications": [], "next": None}
    closed = refused(svc.rpc.list_applications, TOWNSHIP_CLERK, ["submitted", "approved"])
    assert closed.status == 422 and "states" in closed.errors
    assert refused(svc.rpc.application_page, citizen(households[0]), {}).status == 403


def test_the_applicant_withdraws_an_undecided_application_and_the_household_may_apply_again(assistance, manual_clock):
    """撤回: any current member of the household, or the area's caseworker for them, while the
    application is undecided. Another household, another area and an empty reason are refused and
    change nothing; once withdrawn it is closed (a second withdrawal is a 409), its journal and the
    audit say who and why, and the household is free to apply again."""
    svc = assistance()
    manual_clock.set_local_date(ACCEPTED_ON)
    members, others = household(), household()
    app_id = svc.rpc.apply(citizen(members), application(members))["application_id"]
    svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    assert refused(svc.rpc.apply, citizen(members), application(members)).status == 409  # still open

    assert refused(svc.rpc.withdraw, citizen(others), app_id, {"reason": "不需要了"}).status == 403
    assert refused(svc.rpc.withdraw, OTHER_DISTRICT_CLERK, app_id, {"reason": "不需要了"}).status == 403
    empty = refused(svc.rpc.withdraw, citizen(members), app_id, {"reason": ""})
    assert empty.status == 400 and "reason" in empty.errors
    assert svc.rpc.get_application(TOWNSHIP_CLERK, app_id)["state"] == "accepted"

    spouse = {"id": members[1]["resident_id"], "role": "citizen"}
    withdrawn = svc.rpc.withdraw(spouse, app_id, {"reason": "家庭收入已改善"})
    assert withdrawn["state"] == "withdrawn"
    last = withdrawn["journal"][-1]
    assert (last["from_state"], last["to_state"], last["action"]) == ("accepted", "withdrawn", "withdraw")
    assert (last["actor_id"], last["reason"]) == (spouse["id"], "家庭收入已改善")
    again = refused(svc.rpc.withdraw, TOWNSHIP_CLERK, app_id, {"reason": "再撤一次"})
    assert again.status == 409 and "withdrawn" in again.detail
    audited = svc.rows(
        "SELECT count(*) AS n FROM audit_log WHERE action = 'assistance.withdraw' AND outcome = 'withdrawn'"
    )
    assert audited[0].n == 1

    reapplied = svc.rpc.apply(citizen(members), application(members))
    assert reapplied["state"] == "submitted" and reapplied["application_id"] != app_id


# --- the check's failure policy ---------------------------------------------------------------------


def test_last_known_answer_completes_a_check_and_the_report_says_so(assistance, manual_clock):
    svc = assistance(CHECK_FAILURE_POLICY={"real_estate": "last_known"})
    members = household()
    manual_clock.set_local_date(ACCEPTED_ON)
    # the registry's record of the head from the start: whichever of its answers is kept, it is this
    svc.partner.facts[("real_estate", members[0]["resident_id"])] = {"properties": 1}

    # no earlier answer to fall back on: incomplete, even under "last_known"
    app_id = svc.rpc.apply(citizen(members), application(members))["application_id"]
    svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    first = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    assert first["state"] == "accepted" and first["economic_check"]["complete"] is False
    assert all(not f["covered_by_last_known"] for f in first["economic_check"]["failed"])

    svc.partner.slow_sources.clear()
    healthy = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    assert healthy["state"] == "checked"

    # re-review with the registry slow again: its last answer stands in, marked as such
    svc.partner.slow_sources.add("real_estate")
    manual_clock.set_local_date(date(2026, 4, 28))
    rechecked = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    report = rechecked["economic_check"]
    assert rechecked["state"] == "checked"
    assert report["complete"] is True and report["all_sources_answered"] is False
    assert report["check_id"] != healthy["economic_check"]["check_id"]
    # the head's entry by its ID: the report lists members in the order of their fetches, which
    # follows the members' ids (uuids), not the order they were entered in
    (head,) = [m for m in report["members"] if m["resident_id"] == members[0]["resident_id"]]
    estate = head["sources"]["real_estate"]
    assert estate["status"] == "timeout" and estate["findings"] is None
    assert estate["last_known"]["findings"] == {"properties": 1}
    assert estate["last_known"]["check_id"] == healthy["economic_check"]["check_id"]
    assert all(f["covered_by_last_known"] for f in report["failed"]) and len(report["failed"]) == 3
    assert any("last known answer of 2026-04-27" in note for note in report["notes"])
    assert [j["action"] for j in rechecked["journal"]].count("attach_check") == 2
    assert "last_known" in rechecked["journal"][-1]["reason"]
    statuses = svc.rows("SELECT status, count(*) AS n FROM check_fetch GROUP BY status")
    assert {r.status: r.n for r in statuses} == {"ok": 24 + 27 + 24, "timeout": 6}


def test_a_failing_source_is_failed_not_nothing_found(assistance, manual_clock):
    svc = assistance(CHECK_FAILURE_POLICY={"real_estate": "last_known"})
    svc.partner.slow_sources.clear()
    svc.partner.failing_sources.add("bank_deposits")
    members = household()
    manual_clock.set_local_date(ACCEPTED_ON)
    app_id = svc.rpc.apply(citizen(members), application(members))["application_id"]
    svc.rpc.accept(TOWNSHIP_CLERK, app_id)
    checked = svc.rpc.run_economic_check(TOWNSHIP_CLERK, app_id)
    report = checked["economic_check"]
    assert checked["state"] == "accepted" and report["complete"] is False
    deposits = report["members"][0]["sources"]["bank_deposits"]
    assert deposits["status"] == "failed" and deposits["findings"] is None and "503" in deposits["error"]
    assert report["totals"]["deposits_fen"] is None  # unknown, never 0
    assert report["assets"]["within_limits"] is None
    assert "bank deposits unknown" in report["assets"]["reasons"][0]


# --- decisions by programme -------------------------------------------------------------------------


def test_income_above_the_standard_is_refused_with_the_rules_reasons(assistance, manual_clock):
    svc = assistance()
    members = household(incomes=(200000, 70000, 0))  # 900 yuan per capita: above 850
    app_id = through_notice(svc, manual_clock, members)["application_id"]
    problem = refused(svc.rpc.decide, DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "as checked"})
    assert problem.status == 422
    assert any("not eligible" in line for line in problem.errors["decision"])
    assert svc.rpc.get_application(DISTRICT_CLERK, app_id)["state"] == "in_notice"
    assert svc.events("assistance.approved") == []
    rejected = svc.rpc.decide(DISTRICT_CLERK, app_id, {"decision": "reject", "reason": "income above the standard"})
    assert rejected["state"] == "rejected" and rejected["monthly_amount_fen"] is None
    assert svc.rows("SELECT count(*) AS n FROM entitlement")[0].n == 0


def test_dibao_edge_opens_its_own_linked_items(assistance, manual_clock):
    svc = assistance()
    members = household(incomes=(200000, 70000, 0))  # 900 yuan per capita: between 1× and 1.5× the standard
    app_id = through_notice(svc, manual_clock, members, programme="dibao_edge")["application_id"]
    approved = svc.rpc.decide(DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "低保边缘"})
    assert approved["state"] == "approved" and approved["monthly_amount_fen"] == 0
    (opened,) = svc.events("matter.opened")
    assert {s["name"] for s in opened["data"]["steps"]} == EDGE_ITEMS
    assert svc.events("matter.step_reported") == []  # no item of 低保边缘 is granted by assistance itself


def test_disability_care_subsidy_uses_its_policy_amount(assistance, manual_clock):
    svc = assistance()
    members = household()
    members[1]["severely_disabled"] = True
    app_id = through_notice(svc, manual_clock, members, programme="disability_care")["application_id"]
    approved = svc.rpc.decide(DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "重度残疾"})
    assert approved["monthly_amount_fen"] == 25000
    assert "330600/assistance.disability_care_monthly_fen@2026-01-01" in approved["policy_version"]
    assert approved["matter_id"] is None and svc.events("matter.opened") == []  # no linked items for it
    (event,) = svc.events("assistance.approved")
    assert event["data"]["programme"] == "disability_care" and event["data"]["monthly_amount_fen"] == 25000


def test_temporary_assistance_is_a_capped_one_off(assistance, manual_clock):
    svc = assistance()
    members = household()
    app_id = through_notice(svc, manual_clock, members, programme="temporary")["application_id"]
    missing = refused(svc.rpc.decide, DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "medical bill"})
    assert missing.status == 422 and "grade" in missing.errors
    approved = svc.rpc.decide(
        DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "medical bill", "grade": "B", "requested_fen": 500000}
    )
    assert approved["monthly_amount_fen"] == 4 * STANDARD  # capped at 4× the standard
    (entitlement,) = svc.rows("SELECT starts_on, ends_on FROM entitlement")
    assert (entitlement.starts_on, entitlement.ends_on) == (date(2026, 5, 6), date(2026, 5, 31))


# --- reactions to other services' events, and proactive discovery --------------------------------


def publish(amqp_uri: str, event_type: str, source: str, data: dict) -> dict:
    """Another service's event, as its relay would publish it (the same envelope, twice if asked)."""
    body = {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat(),
        "subject": f"{source}-test",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": data,
    }
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(
            body, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=event_type, serializer="json"
        )
    return body


def test_a_divorce_splits_the_household_recomputes_once_and_raises_a_visit_task(assistance, manual_clock, amqp_uri):
    svc = assistance()
    members = household()
    app_id = through_notice(svc, manual_clock, members)["application_id"]
    manual_clock.set_local_date(date(2026, 5, 14))
    approved = svc.rpc.decide(DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "below the standard"})
    assert approved["monthly_amount_fen"] == 200500

    manual_clock.set_local_date(date(2026, 7, 1))
    divorce = {
        "divorce_id": "d-1",
        "registration_id": "r-1",
        "certificate_number": "L330602-2026-000001",
        "registered_on": "2026-06-30",
        "party_a": {"resident_id": members[0]["resident_id"]},
        "party_b": {"resident_id": members[1]["resident_id"]},
    }
    event = publish(amqp_uri, "marriage.divorce_registered", "marriage", divorce)
    wait_for(lambda: svc.rows("SELECT count(*) AS n FROM alert")[0].n == 1, what="the visit task")
    # the ill spouse left: (850 × 2 − 600) + 10% of 850 for the child = 1185.00 yuan
    expected = rules.dibao_benefit(
        [rules.Member(ResidentId.parse(m["resident_id"]), m["monthly_income_fen"]) for m in (members[0], members[2])],
        date(2026, 7, 1),
        policy_for_test(),
    )
    assert svc.rows("SELECT monthly_amount_fen AS fen FROM entitlement")[0].fen == expected.monthly_fen == 118500
    (left,) = svc.rows("SELECT resident_id, left_on, left_reason FROM member WHERE left_on IS NOT NULL")
    assert (left.resident_id, left.left_on) == (members[1]["resident_id"], date(2026, 6, 30))
    assert "L330602-2026-000001" in left.left_reason
    (gone,) = svc.events("assistance.member_left")  # care ends what followed from the household for her
    assert (gone["data"]["resident_id"], gone["data"]["left_on"]) == (members[1]["resident_id"], "2026-06-30")

    # the same event again (a redelivery): no second member change, no second alert
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(
            event, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=event["type"], serializer="json"
        )
    wait_for(lambda: queue_depth(amqp_uri, "assistance.on_divorce") == 0)
    time.sleep(0.5)
    assert svc.rows("SELECT count(*) AS n FROM alert")[0].n == 1
    assert svc.rows("SELECT count(*) AS n FROM audit_log WHERE action = 'entitlement.recompute'")[0].n == 1

    ex_spouse = {"id": members[1]["resident_id"], "role": "citizen"}  # no longer reads the household
    assert refused(svc.rpc.get_household, ex_spouse, approved["household_id"]).status == 403
    (alert,) = svc.rpc.list_alerts(TOWNSHIP_CLERK)
    assert alert["kind"] == "household_changed" and alert["state"] == "open"
    assert alert["visit_due"] == "2026-07-08" and "2005.00 yuan to 1185.00 yuan" in alert["reason"]
    assert svc.rpc.list_alerts(OTHER_DISTRICT_CLERK) == []
    assert refused(svc.rpc.acknowledge_alert, OTHER_DISTRICT_CLERK, alert["alert_id"]).status == 403
    taken = svc.rpc.acknowledge_alert(TOWNSHIP_CLERK, alert["alert_id"])
    assert taken["state"] == "acknowledged" and taken["acknowledged_by"] == "caseworker-01"
    assert refused(svc.rpc.acknowledge_alert, TOWNSHIP_CLERK, alert["alert_id"]).status == 409
    done = svc.rpc.resolve_alert(TOWNSHIP_CLERK, alert["alert_id"], {"resolution": "visited; amount confirmed"})
    assert done["state"] == "resolved" and svc.rpc.list_alerts(TOWNSHIP_CLERK) == []
    assert refused(svc.rpc.resolve_alert, TOWNSHIP_CLERK, alert["alert_id"], {"resolution": "again"}).status == 409


def test_a_birth_to_a_recipient_adds_the_child_recomputes_and_raises_a_task(assistance, manual_clock, amqp_uri):
    svc = assistance()
    members = household()
    approved = approved_household(svc, manual_clock, members)
    manual_clock.set_local_date(date(2026, 6, 5))
    child = {"name": "王小宝", "birth_date": "2026-06-02", "sex": "male", "birth_certificate_number": "O2026060201"}
    publish(
        amqp_uri,
        "birth.notified",
        "gateway",
        {
            "child": {**child, "birth_certificate_number": "O2026060299"},
            "mother_resident_id": person(date(1995, 1, 1), "female"),
            "hospital": "市妇幼保健院",
            "birth_id": "b-0",
        },
    )  # not a recipient: nothing happens
    birth = {
        "child": child,
        "mother_resident_id": members[1]["resident_id"],
        "father_resident_id": members[0]["resident_id"],
        "hospital": "市妇幼保健院",
        "birth_id": "b-1",
    }
    publish(amqp_uri, "birth.notified", "gateway", birth)
    publish(amqp_uri, "birth.notified", "gateway", birth)  # the hospital reported it twice: one child
    wait_for(
        lambda: (
            queue_depth(amqp_uri, "assistance.on_birth") == 0 and svc.rows("SELECT count(*) AS n FROM alert")[0].n >= 1
        ),
        what="the birth handled",
    )
    time.sleep(0.3)
    view = svc.rpc.get_household(TOWNSHIP_CLERK, approved["household_id"])
    (newborn,) = [m for m in view["members"] if m["resident_id"] is None]
    assert (newborn["name"], newborn["birth_certificate_number"], newborn["joined_on"]) == (
        "王小宝",
        "O2026060201",
        "2026-06-02",
    )
    expected = rules.dibao_benefit(
        [
            *(
                rules.Member(
                    ResidentId.parse(m["resident_id"]),
                    m["monthly_income_fen"],
                    seriously_ill=m.get("seriously_ill", False),
                )
                for m in members
            ),
            rules.Member(Newborn("O2026060201", date(2026, 6, 2)), 0),
        ],
        date(2026, 6, 5),
        policy_for_test(),
    )
    assert view["entitlements"][0]["monthly_amount_fen"] == expected.monthly_fen > 200500
    (alert,) = svc.rpc.list_alerts(DISTRICT_CLERK)
    assert alert["kind"] == "birth_in_household" and "joined the household on 2026-06-02" in alert["reason"]

    # the hukou registration gives the child an ID; the caseworker records it on the newborn,
    # not as a second child
    child_id = person(date(2026, 6, 2))
    twice = refused(
        svc.rpc.add_member,
        TOWNSHIP_CLERK,
        approved["household_id"],
        {
            "resident_id": child_id,
            "name": "王小宝",
            "relationship": "child",
            "monthly_income_fen": 0,
            "joined_on": "2026-06-02",
        },
    )
    assert twice.status == 409 and newborn["member_id"] in twice.detail
    wrong = refused(
        svc.rpc.identify_member,
        TOWNSHIP_CLERK,
        approved["household_id"],
        newborn["member_id"],
        {"resident_id": person(date(2026, 6, 3))},
    )
    assert wrong.status == 422 and "resident_id" in wrong.errors
    identified = svc.rpc.identify_member(
        TOWNSHIP_CLERK, approved["household_id"], newborn["member_id"], {"resident_id": child_id}
    )
    assert next(m for m in identified["members"] if m["member_id"] == newborn["member_id"])["resident_id"] == child_id
    assert (
        refused(
            svc.rpc.identify_member,
            TOWNSHIP_CLERK,
            approved["household_id"],
            newborn["member_id"],
            {"resident_id": child_id},
        ).status
        == 409
    )


# --- household changes, re-checks (复核), exit, policy versions ----------------------------------


def approved_household(svc, clock, members) -> dict:
    app_id = through_notice(svc, clock, members)["application_id"]
    clock.set_local_date(date(2026, 5, 14))
    return svc.rpc.decide(DISTRICT_CLERK, app_id, {"decision": "approve", "reason": "below the standard"})


def test_members_join_and_leave_with_the_benefit_recomputed(assistance, manual_clock):
    svc = assistance()
    members = household()
    approved = approved_household(svc, manual_clock, members)
    household_id = approved["household_id"]
    (entitlement,) = svc.rpc.get_household(TOWNSHIP_CLERK, household_id)["entitlements"]
    assert entitlement["next_review_on"] == "2027-05-14"  # 复核 a year on (seeded interval)

    manual_clock.set_local_date(date(2026, 6, 20))
    baby = {
        "resident_id": person(date(2026, 6, 2)),
        "name": "王小宝",
        "relationship": "child",
        "monthly_income_fen": 0,
        "joined_on": "2026-06-15",
    }
    joined = svc.rpc.add_member(TOWNSHIP_CLERK, household_id, baby)
    expected = rules.dibao_benefit(
        [
            rules.Member(
                ResidentId.parse(m["resident_id"]), m["monthly_income_fen"], seriously_ill=m.get("seriously_ill", False)
            )
            for m in [*members, baby]
        ],
        date(2026, 6, 20),
        policy_for_test(),
    )
    assert joined["entitlements"][0]["monthly_amount_fen"] == expected.monthly_fen
    assert any("recomputed from 2005.00 yuan" in c for c in joined["changes"])
    assert refused(svc.rpc.add_member, TOWNSHIP_CLERK, household_id, baby).status == 409
    assert (
        refused(
            svc.rpc.add_member, OTHER_DISTRICT_CLERK, household_id, {**baby, "resident_id": person(date(2026, 6, 3))}
        ).status
        == 403
    )
    bad = refused(svc.rpc.add_member, TOWNSHIP_CLERK, household_id, {**baby, "resident_id": "330602202606020000"})
    assert bad.status == 422 and "resident_id" in bad.errors

    spouse = next(m for m in joined["members"] if m["relationship"] == "spouse")
    left = svc.rpc.member_leaves(
        TOWNSHIP_CLERK,
        household_id,
        spouse["member_id"],
        {"left_on": "2026-06-30", "reason": "moved to her parents' household"},
    )
    assert next(m for m in left["members"] if m["member_id"] == spouse["member_id"])["left_on"] == "2026-06-30"
    assert left["entitlements"][0]["monthly_amount_fen"] < expected.monthly_fen
    assert (
        refused(
            svc.rpc.member_leaves,
            TOWNSHIP_CLERK,
            household_id,
            spouse["member_id"],
            {"left_on": "2026-07-01", "reason": "again"},
        ).status
        == 404
    )
    assert svc.rows("SELECT count(*) AS n FROM audit_log WHERE action = 'entitlement.recompute'")[0].n == 2


def test_re_checks_fall_due_and_are_rescheduled_and_an_exit_keeps_the_gradual_period(assistance, manual_clock):
    svc = assistance()
    approved = approved_household(svc, manual_clock, household())
    household_id = approved["household_id"]
    manual_clock.set_local_date(date(2027, 4, 20))
    (due,) = svc.rpc.reviews_due(TOWNSHIP_CLERK)
    assert (due["household_id"], due["next_review_on"]) == (household_id, "2027-05-14")
    assert svc.rpc.reviews_due(OTHER_DISTRICT_CLERK) == []
    assert refused(svc.rpc.reviews_due, TOWNSHIP_CLERK, "soon").status == 422
    reviewed = svc.rpc.record_review(TOWNSHIP_CLERK, due["entitlement_id"], {"reason": "visited; unchanged"})
    assert reviewed["entitlements"][0]["next_review_on"] == "2028-04-20"
    assert svc.rpc.reviews_due(TOWNSHIP_CLERK) == []

    # income rose above the standard: the benefit ends, and continues through the 12-month 渐退期
    ended = svc.rpc.exit_entitlement(
        TOWNSHIP_CLERK,
        due["entitlement_id"],
        {"ends_on": "2027-05-31", "reason": "the head found work", "income_rose_above_standard": True},
    )
    (entitlement,) = ended["entitlements"]
    assert (entitlement["ends_on"], entitlement["gradual_exit_until"]) == ("2027-05-31", "2028-05-31")
    assert entitlement["next_review_on"] is None and any("渐退期" in c for c in ended["changes"])
    (event,) = svc.events("assistance.entitlement_ended")
    assert event["data"] == {
        "household_id": household_id,
        "programme": "dibao",
        "ends_on": "2027-05-31",
        "reason": "the head found work",
    }
    assert (
        refused(
            svc.rpc.exit_entitlement,
            TOWNSHIP_CLERK,
            due["entitlement_id"],
            {"ends_on": "2027-06-30", "reason": "again"},
        ).status
        == 409
    )
    assert refused(svc.rpc.record_review, TOWNSHIP_CLERK, due["entitlement_id"], {"reason": "x" * 3}).status == 409
    assert refused(svc.rpc.record_review, TOWNSHIP_CLERK, "abc", {"reason": "typo"}).status == 404


def test_policy_versions_are_added_never_edited_and_must_be_usable(assistance, manual_clock):
    svc = assistance()
    admin = {"id": "policy-office", "role": "admin"}
    version = {
        "name": "assistance.review_months",
        "region_code": DISTRICT,
        "effective_from": "2027-01-01",
        "value": {"dibao": 6, "dibao_edge": 12, "tekun": 12},
        "source": "区民政局 2026-12 通知",
    }
    added = svc.rpc.add_policy_version(admin, version)
    assert added["version"] == f"{DISTRICT}/assistance.review_months@2027-01-01"
    assert refused(svc.rpc.add_policy_version, admin, version).status == 409  # never an edit
    assert refused(svc.rpc.add_policy_version, TOWNSHIP_CLERK, version).status == 403
    unusable = refused(
        svc.rpc.add_policy_version, admin, {**version, "effective_from": "2027-02-01", "value": {"dibao": 0}}
    )
    assert unusable.status == 422 and "whole number of months" in unusable.detail
    bad_ratio = refused(
        svc.rpc.add_policy_version,
        admin,
        {
            "name": "assistance.edge_ratio",
            "region_code": DISTRICT,
            "effective_from": "2027-01-01",
            "value": "one and a half",
            "source": "typo",
        },
    )
    assert bad_ratio.status == 422
    unknown = refused(svc.rpc.add_policy_version, admin, {**version, "name": "assistance.free_money"})
    assert unknown.status == 422
    one_bad_programme = refused(
        svc.rpc.add_policy_version,
        admin,
        {**version, "effective_from": "2027-03-01", "value": {"dibao": 6, "tekun": 0}},
    )
    assert one_bad_programme.status == 422
    not_a_mapping = refused(svc.rpc.add_policy_version, admin, {**version, "effective_from": "2027-03-01", "value": 12})
    assert not_a_mapping.status == 422
    bad_day = refused(
        svc.rpc.add_policy_version,
        admin,
        {
            "name": "calendar.holidays",
            "region_code": DISTRICT,
            "effective_from": "2027-01-01",
            "value": ["2027-02-30"],
            "source": "typo",
        },
    )
    assert bad_day.status == 422
    names = svc.rows(
        "SELECT name, effective_from FROM policy_parameters WHERE region_code = :r AND effective_from >= '2027-01-01'",
        r=DISTRICT,
    )
    assert [(n.name, n.effective_from) for n in names] == [("assistance.review_months", date(2027, 1, 1))]
