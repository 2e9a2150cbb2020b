"""Home-care orders paid with time-bank credits (时间银行), choreographed between care and charity
over the real broker and PostgreSQL: care records the order with `care.credits_requested`, charity
debits the person's credits once per order and answers (`charity.credits_answered`), care funds or
cancels the order; a cancellation (`care.order_cancelled`) gives the credits back once. Every step
is checked again with the events delivered twice and copied under new ids."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.errors import Problem
from contracts.person import compose_resident_id
from tests.helpers import queue_depth, wait_for
from tests.integration.test_care_orders import approve_tekun, publish

TOWNSHIP = "330602001"
CLERK = {"id": "caseworker-01", "role": "clerk", "area": TOWNSHIP}
ADMIN = {"id": "ops", "role": "admin"}
ELDER = compose_resident_id("330602", date(1950, 3, 3), 11)  # the elder of approve_tekun: has a voucher
CITIZEN = {"id": ELDER, "role": "citizen"}
PROVIDER = {"id": "care_providers", "role": "partner", "org": "p-1"}
BATHING = {"resident_id": ELDER, "service": "bathing", "provider": "p-1", "price_fen": 5000, "payment": "time_bank"}


def rows(engine, sql: str) -> list:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql)).all()]


def ledger(engine) -> list:
    return rows(engine, "SELECT kind, minutes FROM time_bank_entry ORDER BY id")


def bank(charity_rpc, engine, minutes: int, resident_id: str = ELDER) -> None:
    """The person volunteered earlier: `minutes` of service, credited by the time bank."""
    charity_rpc.register_volunteer(CLERK, {"resident_id": resident_id, "name": "张大爷", "region_code": TOWNSHIP})
    charity_rpc.record_service(
        CLERK,
        resident_id,
        {
            "request_id": f"station-{uuid.uuid4().hex[:8]}",
            "activity": "助餐送餐",
            "served_on": "2026-05-20",
            "minutes": minutes,
        },
    )
    wait_for(lambda: charity_rpc.get_volunteer(CLERK, resident_id)["credit_minutes"] == minutes, what="the credits")


def redeliver(amqp_uri: str, engine, event_type: str) -> list[str]:
    """Each of the producer's `event_type` events again three times under its own id (a
    redelivery), then once under a new id (a copy); returns the copies' ids."""
    bodies = [r[0] for r in rows(engine, f"SELECT body FROM outbox WHERE event_type = '{event_type}' ORDER BY id")]
    assert bodies, event_type
    copies = []
    for body in bodies:
        for _ in range(3):
            publish(amqp_uri, body["type"], body["source"], body["data"], event_id=body["id"])
        copies.append(publish(amqp_uri, body["type"], body["source"], body["data"])["id"])
    return copies


def handled(engine, consumer: str, event_ids: list[str]) -> bool:
    ids = ", ".join(f"'{i}'" for i in event_ids)
    return rows(engine, f"SELECT count(*) FROM inbox WHERE consumer = '{consumer}' AND event_id IN ({ids})")[0][
        0
    ] == len(event_ids)


def settled(amqp_uri: str, *queues: str) -> bool:
    return all(queue_depth(amqp_uri, q) == 0 for q in queues)


def test_an_order_paid_with_credits_is_funded_and_debited_once_under_redelivery(care, charity, amqp_uri):
    rpc, care_db = care
    charity_rpc, charity_db = charity
    approve_tekun(amqp_uri)
    wait_for(lambda: rows(care_db, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    bank(charity_rpc, charity_db, 150)

    order = rpc.request_order(CITIZEN, BATHING)
    assert (order["payment"], order["credit_minutes"], order["credits_state"]) == ("time_bank", 60, "pending")
    path = order["order_id"]
    (requested,) = rows(care_db, "SELECT body FROM outbox WHERE event_type = 'care.credits_requested'")
    assert requested[0]["data"] == {"order_id": path, "resident_id": ELDER, "service": "bathing", "minutes": 60}
    wait_for(lambda: rpc.get_order(CITIZEN, path)["credits_state"] == "redeemed", what="the order funded")
    assert ledger(charity_db) == [("credit", 150), ("redemption", -60)]
    offered = "SELECT count(*) FROM outbox WHERE event_type = 'care.order_requested'"
    assert rows(care_db, offered) == [(1,)]  # the provider hears of the order once it is funded

    # the request delivered again, and copied under a new id: debited once, answered again, ignored by care
    copies = redeliver(amqp_uri, care_db, "care.credits_requested")
    wait_for(lambda: handled(charity_db, "charity.on_credits_requested", copies), what="the copy handled")
    wait_for(
        lambda: (
            rows(
                charity_db,
                "SELECT count(*) FROM outbox WHERE event_type = 'charity.credits_answered' AND sent_at IS NOT NULL",
            )[0][0]
            == 2
        ),
        what="the second answer sent",
    )
    answers = redeliver(amqp_uri, charity_db, "charity.credits_answered")
    wait_for(lambda: handled(care_db, "care.on_credits_answered", answers), what="the answers' copies handled")
    wait_for(lambda: settled(amqp_uri, "charity.on_credits_requested", "care.on_credits_answered"))
    assert ledger(charity_db) == [("credit", 150), ("redemption", -60)]
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 90
    assert rows(care_db, offered) == [(1,)]  # offered once, however often the answer came
    assert rows(
        charity_db, "SELECT details->>'order_id', outcome FROM audit_log WHERE action = 'time_bank.redeem'"
    ) == [(path, "redeemed")]

    # funded: the provider serves it, the person confirms, and the voucher budget is not drawn
    assert rpc.accept_order(PROVIDER, path)["state"] == "accepted"
    assert rpc.deliver_order(PROVIDER, path)["state"] == "delivered"
    assert rpc.confirm_order(CITIZEN, path)["state"] == "confirmed"
    wait_for(
        lambda: rows(care_db, "SELECT count(*) FROM inbox WHERE consumer = 'care.on_order_confirmed'")[0][0] == 1,
        what="the confirmation handled",
    )
    assert rows(care_db, "SELECT count(*) FROM voucher_drawdown") == [(0,)]
    assert rpc.voucher_balance(CITIZEN, ELDER)["left_fen"] == 60000
    view = rpc.get_order(CLERK, path)
    assert (view["state"], view["credits_state"], view["voucher_fen"]) == ("confirmed", "redeemed", None)
    assert ledger(charity_db) == [("credit", 150), ("redemption", -60)]


def test_insufficient_credits_cancel_the_order_with_the_reason_and_debit_nothing(care, charity, amqp_uri):
    rpc, care_db = care
    charity_rpc, charity_db = charity
    rpc.import_people(ADMIN, {"people": [{"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP}]})
    bank(charity_rpc, charity_db, 45)  # no voucher at all: credits instead of it

    order = rpc.request_order(CITIZEN, BATHING)["order_id"]  # 60 minutes
    wait_for(lambda: rpc.get_order(CITIZEN, order)["state"] == "cancelled", what="the order cancelled")
    view = rpc.get_order(CITIZEN, order)
    assert view["credits_state"] == "refused"
    assert view["cancel_reason"] == (
        "time-bank credits refused: insufficient credits: the time bank holds 45 minutes; 60 cannot be redeemed"
    )
    with pytest.raises(Problem) as refused:
        rpc.accept_order(PROVIDER, order)
    assert refused.value.status == 409
    assert rows(care_db, "SELECT count(*) FROM outbox WHERE event_type = 'care.order_requested'") == [(0,)]
    # care says the order was cancelled; charity records that nothing is to be returned
    wait_for(lambda: ledger(charity_db) == [("credit", 45), ("return", 0)], what="the cancellation seen")
    copies = redeliver(amqp_uri, care_db, "care.credits_requested")
    wait_for(lambda: handled(charity_db, "charity.on_credits_requested", copies), what="the copy handled")
    wait_for(lambda: settled(amqp_uri, "charity.on_credits_requested", "care.on_credits_answered"))
    assert ledger(charity_db) == [("credit", 45), ("return", 0)]
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 45
    assert rpc.get_order(CITIZEN, order)["cancel_reason"].endswith("45 minutes; 60 cannot be redeemed")

    # a smaller service the credits cover is funded
    meals = rpc.request_order(CITIZEN, {**BATHING, "service": "meals"})["order_id"]  # 30 minutes
    wait_for(lambda: rpc.get_order(CITIZEN, meals)["credits_state"] == "redeemed", what="the meal funded")
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 15

    # someone who never volunteered has no time bank account: refused, said so
    other = compose_resident_id("330602", date(1945, 5, 5), 31)
    rpc.import_people(ADMIN, {"people": [{"resident_id": other, "name": "李奶奶", "region_code": TOWNSHIP}]})
    stranger = rpc.request_order(CLERK, {**BATHING, "resident_id": other})["order_id"]
    wait_for(lambda: rpc.get_order(CLERK, stranger)["state"] == "cancelled", what="the stranger's order cancelled")
    assert "not a registered volunteer" in rpc.get_order(CLERK, stranger)["cancel_reason"]


def test_cancelling_a_funded_order_returns_the_credits_once(care, charity, amqp_uri):
    rpc, care_db = care
    charity_rpc, charity_db = charity
    rpc.import_people(ADMIN, {"people": [{"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP}]})
    bank(charity_rpc, charity_db, 150)
    order = rpc.request_order(CITIZEN, BATHING)["order_id"]
    wait_for(lambda: rpc.get_order(CITIZEN, order)["credits_state"] == "redeemed", what="the order funded")
    assert rpc.accept_order(PROVIDER, order)["state"] == "accepted"
    cancelled = rpc.cancel_order(CITIZEN, order, {"reason": "my daughter came home"})
    assert (cancelled["state"], cancelled["cancel_reason"]) == ("cancelled", "my daughter came home")
    wait_for(lambda: rpc.get_order(CITIZEN, order)["credits_state"] == "returned", what="the credits returned")
    assert ledger(charity_db) == [("credit", 150), ("redemption", -60), ("return", 60)]
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 150

    # the cancellation delivered again and copied: returned once
    copies = redeliver(amqp_uri, care_db, "care.order_cancelled")
    wait_for(lambda: handled(charity_db, "charity.on_order_cancelled", copies), what="the copy handled")
    wait_for(lambda: settled(amqp_uri, "charity.on_order_cancelled", "care.on_credits_answered"))
    assert ledger(charity_db) == [("credit", 150), ("redemption", -60), ("return", 60)]
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 150
    assert rpc.get_order(CITIZEN, order)["state"] == "cancelled"

    # a delivered order cannot be cancelled, so its credits stay spent
    served = rpc.request_order(CITIZEN, BATHING)["order_id"]
    wait_for(lambda: rpc.get_order(CITIZEN, served)["credits_state"] == "redeemed", what="the second funded")
    rpc.accept_order(PROVIDER, served)
    rpc.deliver_order(PROVIDER, served)
    with pytest.raises(Problem) as late:
        rpc.cancel_order(CITIZEN, served, {"reason": "too late"})
    assert late.value.status == 409
    assert charity_rpc.get_volunteer(CITIZEN, ELDER)["credit_minutes"] == 90


def test_a_cancellation_that_overtakes_the_request_debits_nothing(charity, amqp_uri):
    """The two events travel on different queues: if charity hears of the cancellation first, the
    request that follows is refused, never debited for an order nobody will serve."""
    charity_rpc, charity_db = charity
    bank(charity_rpc, charity_db, 150)
    order_id = str(uuid.uuid4())
    publish(
        amqp_uri,
        "care.order_cancelled",
        "care",
        {"order_id": order_id, "resident_id": ELDER, "payment": "time_bank", "reason": "changed my mind"},
    )
    wait_for(lambda: ("return", 0) in ledger(charity_db), what="the cancellation recorded")
    publish(
        amqp_uri,
        "care.credits_requested",
        "care",
        {"order_id": order_id, "resident_id": ELDER, "service": "bathing", "minutes": 60},
    )
    wait_for(
        lambda: (
            rows(charity_db, "SELECT count(*) FROM outbox WHERE event_type = 'charity.credits_answered'")[0][0] == 1
        ),
        what="the answer",
    )
    (answer,) = rows(charity_db, "SELECT body FROM outbox WHERE event_type = 'charity.credits_answered'")
    assert (answer[0]["data"]["outcome"], answer[0]["data"]["minutes"]) == ("refused", 0)
    assert "cancelled before its credits were redeemed" in answer[0]["data"]["reason"]
    assert ledger(charity_db) == [("credit", 150), ("return", 0)]
    # a voucher order's cancellation is none of the time bank's business
    publish(
        amqp_uri,
        "care.order_cancelled",
        "care",
        {"order_id": str(uuid.uuid4()), "resident_id": ELDER, "payment": "voucher", "reason": "not needed"},
    )
    wait_for(
        lambda: rows(charity_db, "SELECT count(*) FROM inbox WHERE consumer = 'charity.on_order_cancelled'")[0][0] == 2,
        what="the voucher order's cancellation handled",
    )
    assert ledger(charity_db) == [("credit", 150), ("return", 0)]


def test_an_order_paid_with_credits_through_the_gateway(system, manual_clock):
    sys_ = system(care=True, charity=True, simulator=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    citizen, clerk = ("citizen", ELDER), ("clerk", "caseworker-01", TOWNSHIP)
    with ClusterRpcProxy({"AMQP_URI": sys_.amqp_uri}) as proxy:
        proxy.care.import_people(ADMIN, {"people": [{"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP}]})
    assert (
        sys_.call(
            "POST",
            "/api/v1/charity/volunteers",
            clerk,
            json={"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP},
        ).status_code
        == 201
    )
    assert (
        sys_.call(
            "POST",
            f"/api/v1/charity/volunteers/{ELDER}/service-records",
            clerk,
            json={"request_id": "station-1-0001", "activity": "陪伴", "served_on": "2026-06-01", "minutes": 120},
        ).status_code
        == 201
    )
    wait_for(
        lambda: sys_.call("GET", f"/api/v1/charity/volunteers/{ELDER}", citizen).json()["credit_minutes"] == 120,
        what="the credits",
    )
    bad = sys_.call("POST", "/api/v1/care/orders", citizen, json={**BATHING, "payment": "cash"})
    assert bad.status_code == 400 and "payment" in bad.json()["errors"]
    made = sys_.call("POST", "/api/v1/care/orders", citizen, json=BATHING)
    assert made.status_code == 201 and made.json()["credits_state"] == "pending"
    path = f"/api/v1/care/orders/{made.json()['order_id']}"
    # funded, the order is offered to the (simulated) provider, who accepts and delivers it
    wait_for(
        lambda: sys_.call("GET", path, citizen).json()["state"] == "delivered",
        timeout=20,
        what="the provider's delivery",
    )
    shown = sys_.call("GET", path, citizen).json()
    assert (shown["payment"], shown["credit_minutes"], shown["credits_state"]) == ("time_bank", 60, "redeemed")
    confirmed = sys_.call("POST", path + "/confirmation", citizen).json()
    assert (confirmed["state"], confirmed["voucher_fen"], confirmed["copay_fen"]) == ("confirmed", None, None)
    assert sys_.call("GET", f"/api/v1/charity/volunteers/{ELDER}", citizen).json()["credit_minutes"] == 60
    spec = sys_.session.get(sys_.url + "/api/v1/openapi.json", timeout=10).json()
    assert "time_bank" in str(spec)  # the payment choice is in the published API
    engine = create_engine(sys_.databases["charity"])
    assert ledger(engine) == [("credit", 120), ("redemption", -60)]
    engine.dispose()


def test_care_waits_for_the_time_bank_and_asks_back_credits_redeemed_for_a_cancelled_order(care, amqp_uri):
    """Care alone (the time bank has not answered yet): the provider cannot accept, the person can
    cancel; an answer that the credits were redeemed after all has care say the cancellation again."""
    rpc, care_db = care
    rpc.import_people(ADMIN, {"people": [{"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP}]})
    order = rpc.request_order(CITIZEN, BATHING)["order_id"]
    with pytest.raises(Problem) as unfunded:
        rpc.accept_order(PROVIDER, order)
    assert unfunded.value.status == 409 and "not redeemed" in unfunded.value.detail + str(unfunded.value.errors)
    assert rpc.cancel_order(CITIZEN, order, {"reason": "not needed"})["credits_state"] == "pending"
    cancelled = "SELECT count(*) FROM outbox WHERE event_type = 'care.order_cancelled'"
    assert rows(care_db, cancelled) == [(1,)]

    answer = {"order_id": order, "outcome": "redeemed", "minutes": 60, "reason": "60 minutes redeemed"}
    publish(amqp_uri, "charity.credits_answered", "charity", answer)
    wait_for(lambda: rpc.get_order(CITIZEN, order)["credits_state"] == "redeemed", what="the late redemption")
    assert rows(care_db, cancelled) == [(2,)]  # the time bank is told again: give them back
    assert rpc.get_order(CITIZEN, order)["state"] == "cancelled"
    publish(
        amqp_uri,
        "charity.credits_answered",
        "charity",
        {**answer, "outcome": "returned", "reason": "the order was cancelled"},
    )
    wait_for(lambda: rpc.get_order(CITIZEN, order)["credits_state"] == "returned", what="the return")
    publish(amqp_uri, "charity.credits_answered", "charity", answer)  # a stray copy changes nothing
    wait_for(
        lambda: rows(care_db, "SELECT count(*) FROM inbox WHERE consumer = 'care.on_credits_answered'")[0][0] == 3,
        what="the copy handled",
    )
    assert rpc.get_order(CITIZEN, order)["credits_state"] == "returned" and rows(care_db, cancelled) == [(2,)]
