"""The assistance–charity link end to end over the broker: a caseworker refers a household through
the gateway, assistance publishes the referral through its outbox, charity matches it to a fund of
the area, pays the aid and answers, and assistance records the answer on the household. The same
need referred again is declined (helped once), and a redelivered referral has one effect."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, text

from chassis.topology import EVENTS_EXCHANGE
from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.charity import ADMIN, DISTRICT, TOWNSHIP, count, org_request, qualified_charity
from tests.helpers import queue_depth, wait_for

CLERK = ("clerk", "social-org-office", DISTRICT)
CASEWORKER = ("clerk", "caseworker-01", TOWNSHIP)
ORGS, CAMPAIGNS = "/api/v1/charity/organisations", "/api/v1/charity/campaigns"
HEAD = compose_resident_id(DISTRICT, date(1968, 2, 2), 31)
CHILD = compose_resident_id(DISTRICT, date(2010, 9, 9), 42)


def charity_fund(sys_, raised_fen: int) -> str:
    """A qualified charity of the district with a standing medical-aid fund holding `raised_fen`."""
    org = sys_.call("POST", ORGS, CLERK, json=org_request(5, "2019-01-10")).json()["organisation_id"]
    for year in range(2019, 2026):
        sys_.call(
            "POST", f"{ORGS}/{org}/annual-reports", CLERK, json={"year": year, "income_fen": 1, "expenditure_fen": 1}
        )
    sys_.call("POST", f"{ORGS}/{org}/grade", CLERK, json={"grade": "5A", "graded_on": "2024-05-01"})
    sys_.call("POST", f"{ORGS}/{org}/charity-recognition", CLERK)
    assert sys_.call("POST", f"{ORGS}/{org}/fundraising-qualification", CLERK).status_code == 200
    fund = sys_.call(
        "POST",
        CAMPAIGNS,
        CLERK,
        json={
            "organisation_id": org,
            "title": "大病救助基金",
            "kind": "fund",
            "needs": ["medical"],
            "region_code": DISTRICT,
            "target_fen": 100_000_000,
            "starts_on": "2026-06-10",
            "ends_on": None,
        },
    ).json()["campaign_id"]
    assert sys_.call("POST", f"{CAMPAIGNS}/{fund}/filing", CLERK).status_code == 200
    assert (
        sys_.call(
            "POST",
            f"{CAMPAIGNS}/{fund}/donations",
            CLERK,
            json={
                "request_id": "bank-0001",
                "donor_name": "某企业",
                "donor_kind": "enterprise",
                "amount_fen": raised_fen,
            },
        ).status_code
        == 201
    )
    return fund


def handled(engine, consumer: str, event_id: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT count(*) FROM inbox WHERE consumer = :c AND event_id = :e"), {"c": consumer, "e": event_id}
            ).scalar_one()
            == 1
        )


def household(sys_) -> str:
    applied = sys_.call(
        "POST",
        "/api/v1/assistance/applications",
        CASEWORKER,
        json={
            "programme": "temporary",
            "region_code": TOWNSHIP,
            "address": "越城区府山街道 8 号",
            "members": [
                {
                    "resident_id": HEAD,
                    "name": "赵大病",
                    "relationship": "head",
                    "monthly_income_fen": 90_000,
                    "seriously_ill": True,
                },
                {"resident_id": CHILD, "name": "赵小", "relationship": "child", "monthly_income_fen": 0},
            ],
        },
    )
    assert applied.status_code == 201, applied.text
    return applied.json()["household_id"]


def test_a_referral_is_matched_aided_and_reported_back_over_the_broker(system, manual_clock):
    manual_clock.set_local_date(date(2026, 6, 10))
    sys_ = system(assistance=PartnerData(), charity=True)
    fund = charity_fund(sys_, raised_fen=3_000_000)
    household_id = household(sys_)
    path = f"/api/v1/assistance/households/{household_id}/charity-referrals"

    referred = sys_.call(
        "POST",
        path,
        CASEWORKER,
        json={
            "need": "medical",
            "coverage": "partial",
            "requested_fen": 2_000_000,
            "reason": "医疗救助报销后自付部分仍有两万元",
        },
    )
    assert referred.status_code == 201, referred.text
    assert referred.json()["state"] == "referred"
    again = sys_.call(
        "POST",
        path,
        CASEWORKER,
        json={"need": "medical", "coverage": "partial", "requested_fen": 1, "reason": "再次转介"},
    )
    assert again.status_code == 409 and "need" in again.json()["errors"]  # one referral per need awaits at a time

    def answered(n: int):
        rows = sys_.call("GET", path, CASEWORKER).json()["referrals"]
        return rows if len(rows) == n and all(r["state"] != "referred" for r in rows) else None

    (first,) = wait_for(lambda: answered(1), timeout=20, what="charity's answer recorded on the household")
    assert (first["state"], first["aid_fen"], first["campaign_id"], first["organisation"]) == (
        "aided",
        2_000_000,
        fund,
        "越城区慈善总会5",
    )
    assert "in full" in first["answer"]
    disclosure = sys_.session.get(f"{sys_.url}{CAMPAIGNS}/{fund}/disclosure", timeout=10).json()
    assert (disclosure["aid_fen"], disclosure["beneficiaries"], disclosure["balance_fen"]) == (2_000_000, 2, 1_000_000)
    assert HEAD not in str(disclosure) and household_id not in str(disclosure)

    # the same need again within the year: declined, however much the fund still holds
    manual_clock.advance(minutes=5)
    assert (
        sys_.call(
            "POST",
            path,
            CASEWORKER,
            json={"need": "medical", "coverage": "none", "requested_fen": 500_000, "reason": "新的住院费用"},
        ).status_code
        == 201
    )
    first_again, second = wait_for(lambda: answered(2), timeout=20, what="the second answer")
    assert (second["state"], second["aid_fen"]) == ("declined", 0) and "aided already for medical" in second["answer"]
    # a need no fund serves: declined with the reason
    manual_clock.advance(minutes=5)
    assert (
        sys_.call(
            "POST",
            path,
            CASEWORKER,
            json={"need": "education", "coverage": "none", "requested_fen": 300_000, "reason": "学费"},
        ).status_code
        == 201
    )
    *_, third = wait_for(lambda: answered(3), timeout=20, what="the third answer")
    assert third["state"] == "declined" and "no open campaign or fund for education" in third["answer"]

    # the referral event delivered again (a redelivery, a replayed dead letter): one aid, one answer
    charity_db = create_engine(sys_.databases["charity"])
    assistance_db = create_engine(sys_.databases["assistance"])
    with assistance_db.connect() as conn:
        body = conn.execute(
            text("SELECT body FROM outbox WHERE event_type = 'assistance.household_referred' ORDER BY id LIMIT 1")
        ).scalar_one()
    # charity learns who to help once, not the household's names (minimum necessary)
    assert sorted(body["data"]["members"], key=str) == sorted([{"resident_id": HEAD}, {"resident_id": CHILD}], key=str)
    copy_id = str(uuid.uuid4())
    with Connection(sys_.amqp_uri) as conn:
        producer = Producer(conn.channel())
        for event_id in (body["id"], body["id"], copy_id):  # the same event twice, then a copy
            producer.publish(
                {**body, "id": event_id, "time": datetime.now(UTC).isoformat()},
                exchange=Exchange(EVENTS_EXCHANGE, type="topic"),
                routing_key=body["type"],
                serializer="json",
            )
    # an empty queue only says the deliveries were handed out; the copy's inbox row says it was handled
    wait_for(lambda: queue_depth(sys_.amqp_uri, "charity.on_household_referred") == 0, what="redeliveries consumed")
    wait_for(lambda: handled(charity_db, "charity.on_household_referred", copy_id), timeout=30, what="the copy handled")
    wait_for(lambda: queue_depth(sys_.amqp_uri, "assistance.on_charity_answer") == 0, what="answers consumed")
    assert count(charity_db, "referral") == 3
    with charity_db.connect() as conn:
        assert conn.execute(text("SELECT count(*), sum(amount_fen) FROM spending WHERE kind = 'aid'")).one() == (
            1,
            2_000_000,
        )
        answers = conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = 'charity.referral_answered'"))
        assert answers.scalar_one() == 3
    assert [r["state"] for r in sys_.call("GET", path, CASEWORKER).json()["referrals"]] == [
        "aided",
        "declined",
        "declined",
    ]
    # the household's members and caseworkers see the chain; other areas do not
    assert sys_.call("GET", path, ("citizen", HEAD)).status_code == 200
    assert sys_.call("GET", path, ("clerk", "keqiao-01", "330603001")).status_code == 403
    stats = sys_.call("GET", f"/api/v1/charity/statistics/{DISTRICT}", CLERK).json()
    assert stats["referrals_aided"] == 1
    charity_db.dispose()
    assistance_db.dispose()


def referral_event(referral_id: str, household_id: str, resident_id: str, requested_fen: int) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": "assistance.household_referred",
        "source": "assistance",
        "time": datetime.now(UTC).isoformat(),
        "subject": f"household-{household_id}",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": {
            "referral_id": referral_id,
            "household_id": household_id,
            "region_code": TOWNSHIP,
            "need": "medical",
            "coverage": "none",
            "requested_fen": requested_fen,
            "members": [{"resident_id": resident_id}],
        },
    }


def test_two_referrals_of_one_person_at_once_are_aided_once(charity, amqp_uri):
    """Two referrals of the same person for the same need, handled by two workers at the same
    time: the second reads whether the person was aided only once it holds the campaigns, so it
    sees the first's aid and declines. The fund that pays is a national one (区划 000000), which
    covers every household; a fuller fund of another district covers none of this one's. Both are
    a national organisation's (registered with the ministry, 区划 000000): a campaign aids only
    within its organisation's area."""
    rpc, engine = charity
    org = qualified_charity(rpc, actor=ADMIN, region="000000")

    def fund(region: str, fen: int) -> str:
        campaign = rpc.create_campaign(
            ADMIN,
            {
                "organisation_id": org,
                "title": f"大病救助基金 {region}",
                "kind": "fund",
                "needs": ["medical"],
                "region_code": region,
                "target_fen": 100_000_000,
                "starts_on": "2026-06-10",
                "ends_on": None,
            },
        )
        rpc.file_plan(ADMIN, campaign["campaign_id"])
        rpc.donate(ADMIN, campaign["campaign_id"], {"request_id": f"bank-{region}", "amount_fen": fen})
        return campaign["campaign_id"]

    national, _elsewhere = fund("000000", 3_000_000), fund("330603", 9_000_000)

    def waiting_on_locks() -> int:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            ).scalar_one()

    with engine.connect() as holder, Connection(amqp_uri) as broker:
        holder.execute(text("SELECT id FROM campaign FOR UPDATE"))  # the campaigns are busy a moment
        producer = Producer(broker.channel())
        for n, referral_id in enumerate(("r-first", "r-second"), start=1):
            producer.publish(
                referral_event(referral_id, f"household-{n}", HEAD, 1_000_000),
                exchange=Exchange(EVENTS_EXCHANGE, type="topic"),
                routing_key="assistance.household_referred",
                serializer="json",
            )
            wait_for(lambda n=n: waiting_on_locks() == n, what=f"worker {n} waiting for the campaigns")
        holder.rollback()

    wait_for(lambda: count(engine, "referral") == 2, what="both referrals answered")
    with engine.connect() as conn:
        answers = conn.execute(
            text("SELECT outcome, campaign_id, amount_fen, reason FROM referral ORDER BY outcome")
        ).all()
        aid = conn.execute(text("SELECT campaign_id, amount_fen FROM spending WHERE kind = 'aid'")).all()
    assert [(a.outcome, a.campaign_id, a.amount_fen) for a in answers] == [
        ("aided", national, 1_000_000),
        ("declined", None, 0),
    ]
    assert "aided already for medical" in answers[1].reason
    assert aid == [(national, 1_000_000)]
