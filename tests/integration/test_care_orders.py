"""Home-care vouchers and service orders against the real broker and PostgreSQL: the budget comes
from assistance's approval event, an order flows from request to confirmation, and the budget is
drawn once per order even when the confirmation event is delivered again."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime

import pytest
from kombu import Connection, Exchange, Producer
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.errors import Problem
from chassis.topology import EVENTS_EXCHANGE
from contracts.person import compose_resident_id
from tests.helpers import queue_depth, wait_for
from tests.system import ISSUER

TOWNSHIP = "330602001"
CLERK = {"id": "caseworker-01", "role": "clerk", "area": TOWNSHIP}


def as_provider(code: str) -> dict:
    """A home-care provider: the platform's partner code, and which provider it is."""
    return {"id": "care_providers", "role": "partner", "org": code}


PROVIDER = as_provider("p-1")
ELDER = compose_resident_id("330602", date(1950, 3, 3), 11)  # 76 in 2026
YOUNG = compose_resident_id("330602", date(1980, 3, 3), 21)  # 46: no voucher
DISABLED = compose_resident_id("330602", date(1985, 3, 3), 23)  # 41, severely disabled: a voucher
CITIZEN = {"id": ELDER, "role": "citizen"}


def publish(amqp_uri: str, event_type: str, source: str, data: dict, event_id: str | None = None) -> dict:
    body = {
        "id": event_id or str(uuid.uuid4()),
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


def rows(engine, sql: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


def approve_tekun(amqp_uri: str) -> None:
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": "a-1",
            "household_id": "h-1",
            "programme": "tekun",
            "monthly_amount_fen": 110500,
            "starts_on": "2026-06-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [
                {"resident_id": ELDER, "name": "张大爷"},
                {"resident_id": YOUNG, "name": "张小"},
                {"resident_id": DISABLED, "name": "张二", "severely_disabled": True},
            ],
        },
    )


def test_an_order_draws_the_voucher_once_under_redelivery(care, amqp_uri):
    rpc, engine = care
    approve_tekun(amqp_uri)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    assert rpc.voucher_balance(CITIZEN, ELDER) == {
        "resident_id": ELDER,
        "programme": "tekun",
        "monthly_fen": 60000,
        "month": "2026-06-01",
        "used_fen": 0,
        "left_fen": 60000,
    }

    order = rpc.request_order(
        CITIZEN, {"resident_id": ELDER, "service": "meals", "provider": "yuecheng-meals", "price_fen": 45000}
    )
    order_id = order["order_id"]
    (requested,) = rows(engine, "SELECT body FROM outbox WHERE event_type = 'care.order_requested'")
    assert "resident_id" not in requested.body["data"]  # the provider learns the order, not the ID number
    with pytest.raises(Problem) as early:
        rpc.confirm_order(CITIZEN, order_id)  # nothing delivered yet
    assert early.value.status == 409
    with pytest.raises(Problem) as wrong_party:
        rpc.accept_order(CITIZEN, order_id)  # accepting is the provider's
    assert wrong_party.value.status == 409
    assert rpc.accept_order(as_provider("yuecheng-meals"), order_id)["state"] == "accepted"
    assert rpc.deliver_order(as_provider("yuecheng-meals"), order_id)["state"] == "delivered"
    assert rpc.confirm_order(CITIZEN, order_id)["state"] == "confirmed"
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_drawdown")[0][0] == 1, what="the drawdown")

    # the confirmation arrives again (a redelivery, a replayed dead letter): drawn once
    (confirmed,) = rows(engine, "SELECT body FROM outbox WHERE event_type = 'care.order_confirmed'")
    body = confirmed.body
    for _ in range(3):
        publish(amqp_uri, body["type"], body["source"], body["data"], event_id=body["id"])
    wait_for(lambda: queue_depth(amqp_uri, "care.on_order_confirmed") == 0)
    assert [tuple(r) for r in rows(engine, "SELECT voucher_fen, copay_fen FROM voucher_drawdown")] == [(45000, 0)]
    assert rpc.voucher_balance(CITIZEN, ELDER)["left_fen"] == 15000
    assert (rpc.get_order(CLERK, order_id)["voucher_fen"], rpc.get_order(CLERK, order_id)["copay_fen"]) == (45000, 0)

    # the next order costs more than is left: the budget pays the rest of the month, the person the difference
    second = rpc.request_order(
        CLERK, {"resident_id": ELDER, "service": "bathing", "provider": "yuecheng-care", "price_fen": 20000}
    )["order_id"]
    for step in (rpc.accept_order, rpc.deliver_order):
        step(as_provider("yuecheng-care"), second)
    rpc.confirm_order(CLERK, second)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_drawdown")[0][0] == 2, what="the second drawdown")
    assert (
        rpc.get_order(CITIZEN, second)["voucher_fen"] == 15000 and rpc.get_order(CITIZEN, second)["copay_fen"] == 5000
    )
    assert rpc.voucher_balance(CITIZEN, ELDER)["left_fen"] == 0


def test_vouchers_follow_the_households_benefit_and_orders_can_be_cancelled(care, amqp_uri):
    rpc, engine = care
    approve_tekun(amqp_uri)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    # the 76-year-old and the severely disabled 41-year-old; not the 46-year-old
    assert {r[0] for r in rows(engine, "SELECT resident_id FROM voucher_eligibility")} == {ELDER, DISABLED}

    order = rpc.request_order(
        CITIZEN, {"resident_id": ELDER, "service": "cleaning", "provider": "p-1", "price_fen": 8000}
    )["order_id"]
    assert rpc.cancel_order(CITIZEN, order, {"reason": "my daughter came"})["state"] == "cancelled"
    with pytest.raises(Problem) as again:
        rpc.accept_order(PROVIDER, order)
    assert again.value.status == 409
    with pytest.raises(Problem) as other:
        rpc.request_order(
            {"id": YOUNG, "role": "citizen"},
            {"resident_id": ELDER, "service": "meals", "provider": "p-1", "price_fen": 100},
        )
    assert other.value.status == 403

    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-1", "programme": "tekun", "ends_on": "2026-06-30", "reason": "moved to an institution"},
    )
    wait_for(
        lambda: (
            rows(engine, f"SELECT ends_on FROM voucher_eligibility WHERE resident_id = '{ELDER}'")[0][0]
            == date(2026, 6, 30)
        ),
        what="the voucher ended",
    )
    assert rpc.voucher_balance(CITIZEN, ELDER)["monthly_fen"] == 60000  # June is still paid


def test_an_order_through_the_gateway(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    approve_tekun(sys_.amqp_uri)
    citizen, provider = ("citizen", ELDER), ("partner", "care_providers", None, "p-1")
    wait_for(lambda: sys_.call("GET", f"/api/v1/care/vouchers/{ELDER}", citizen).status_code == 200, what="the voucher")
    bad = sys_.call(
        "POST",
        "/api/v1/care/orders",
        citizen,
        json={"resident_id": ELDER, "service": "karaoke", "provider": "p-1", "price_fen": 100},
    )
    assert bad.status_code == 400 and "service" in bad.json()["errors"]
    made = sys_.call(
        "POST",
        "/api/v1/care/orders",
        citizen,
        json={"resident_id": ELDER, "service": "meals", "provider": "p-1", "price_fen": 1200},
    )
    assert made.status_code == 201
    path = f"/api/v1/care/orders/{made.json()['order_id']}"
    assert sys_.call("POST", path + "/confirmation", citizen).status_code == 409
    assert sys_.call("POST", path + "/acceptance", citizen).status_code == 403  # a partner's route
    for step in ("acceptance", "delivery"):
        assert sys_.call("POST", f"{path}/{step}", provider).status_code == 200
    assert sys_.call("POST", path + "/confirmation", citizen).json()["state"] == "confirmed"
    wait_for(lambda: sys_.call("GET", path, citizen).json()["voucher_fen"] == 1200, what="the drawdown")
    assert sys_.call("GET", f"/api/v1/care/vouchers/{ELDER}", citizen).json()["left_fen"] == 60000 - 1200


def test_a_provider_acts_only_on_its_own_orders(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    approve_tekun(sys_.amqp_uri)
    citizen = ("citizen", ELDER)
    mine, theirs = ("partner", "care_providers", None, "p-1"), ("partner", "care_providers", None, "p-2")
    wait_for(lambda: sys_.call("GET", f"/api/v1/care/vouchers/{ELDER}", citizen).status_code == 200, what="the voucher")
    order = sys_.call(
        "POST",
        "/api/v1/care/orders",
        citizen,
        json={"resident_id": ELDER, "service": "meals", "provider": "p-1", "price_fen": 1200},
    ).json()
    path = f"/api/v1/care/orders/{order['order_id']}"
    # another provider neither sees the order nor moves it: for it, the order does not exist
    for method, step in (("GET", ""), ("POST", "/acceptance"), ("POST", "/delivery"), ("POST", "/cancellation")):
        answer = sys_.call(method, path + step, theirs, json={"reason": "not ours"} if "cancel" in step else None)
        assert answer.status_code == 404, (step, answer.text)
    assert sys_.call("GET", path, citizen).json()["state"] == "requested"  # nothing changed
    # the same Idempotency-Key from two providers is two requests, not a replay of the other's answer
    key = {"Idempotency-Key": "accept-1"}
    assert sys_.call("POST", path + "/acceptance", theirs, headers=key).status_code == 404
    accepted = sys_.call("POST", path + "/acceptance", mine, headers=key)
    assert accepted.status_code == 200 and accepted.json()["state"] == "accepted"
    assert sys_.call("GET", path, mine).json()["resident_id"] is None
    # a provider's token must say which provider it is
    unnamed = ISSUER.sign(
        {
            "iss": ISSUER.issuer,
            "aud": ISSUER.audience,
            "sub": "care_providers",
            "role": "partner",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        }
    )
    answer = sys_.session.get(sys_.url + path, headers={"Authorization": f"Bearer {unnamed}"}, timeout=10)
    assert answer.status_code == 401 and "org" in answer.json()["detail"]
    # the RPC behind the gateway refuses one as well (defence in depth)
    with ClusterRpcProxy({"AMQP_URI": sys_.amqp_uri}) as proxy, pytest.raises(Problem) as refused:
        proxy.care.get_order({"id": "care_providers", "role": "partner"}, order["order_id"])
    assert refused.value.status == 403
    engine = create_engine(sys_.databases["care"])
    with engine.connect() as conn:  # the audit row says which provider acted
        (org,) = conn.execute(text("SELECT details->>'actor_org' FROM audit_log WHERE action = 'order.accept'")).one()
    engine.dispose()
    assert org == "p-1"


def test_the_simulated_provider_serves_the_order_and_the_person_confirms(system, manual_clock):
    sys_ = system(care=True, simulator=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    approve_tekun(sys_.amqp_uri)
    citizen = ("citizen", ELDER)
    wait_for(lambda: sys_.call("GET", f"/api/v1/care/vouchers/{ELDER}", citizen).status_code == 200, what="the voucher")
    path = (
        "/api/v1/care/orders/"
        + sys_.call(
            "POST",
            "/api/v1/care/orders",
            citizen,
            json={"resident_id": ELDER, "service": "mobility", "provider": "p-2", "price_fen": 3000},
        ).json()["order_id"]
    )
    wait_for(
        lambda: sys_.call("GET", path, citizen).json()["state"] == "delivered",
        timeout=20,
        what="the provider's delivery",
    )
    assert sys_.call("POST", path + "/confirmation", citizen).json()["state"] == "confirmed"


def test_two_programmes_give_the_larger_budget_while_either_lasts(care, amqp_uri):
    rpc, engine = care
    approve_tekun(amqp_uri)
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": "a-2",
            "household_id": "h-2",
            "programme": "dibao",
            "monthly_amount_fen": 50000,
            "starts_on": "2026-06-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [{"resident_id": ELDER, "name": "张大爷"}],
        },
    )
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 3, what="every grant")
    assert rpc.voucher_balance(CITIZEN, ELDER)["monthly_fen"] == 60000  # tekun's, the larger
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-1", "programme": "tekun", "ends_on": "2026-05-31", "reason": "moved"},
    )
    wait_for(
        lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility WHERE ends_on IS NOT NULL")[0][0] == 2,
        what="tekun ended",
    )
    balance = rpc.voucher_balance(CITIZEN, ELDER)
    assert (balance["programme"], balance["monthly_fen"]) == ("dibao", 30000)  # dibao's still stands
    order = rpc.request_order(
        CITIZEN, {"resident_id": ELDER, "service": "meals", "provider": "p-1", "price_fen": 1000}
    )["order_id"]
    assert rpc.accept_order(PROVIDER, order)["resident_id"] is None  # providers never see the ID number
    assert rpc.get_order(PROVIDER, order)["resident_id"] is None


def test_admissions_take_free_beds_and_concentrated_support_needs_tekun(care, amqp_uri):
    rpc, engine = care
    approve_tekun(amqp_uri)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the tekun grants")
    rpc.register_institution(
        CLERK,
        {
            "code": "home-1",
            "name": "敬老院",
            "ownership": "public",
            "region_code": TOWNSHIP,
            "beds": {"ordinary": 0, "nursing": 1, "dementia": 0},
        },
    )
    other = compose_resident_id("330602", date(1940, 1, 1), 31)
    refused = {
        "resident_id": other,
        "institution": "home-1",
        "bed_type": "nursing",
        "admitted_on": "2026-06-10",
        "concentrated_support": True,
    }
    with pytest.raises(Problem) as no_tekun:
        rpc.admit(CLERK, refused)
    assert no_tekun.value.status == 422
    placed = rpc.admit(CLERK, {**refused, "resident_id": ELDER})
    assert (placed["concentrated_support"], placed["beds_free"]) == (True, 0)
    with pytest.raises(Problem) as full:
        rpc.admit(CLERK, {**refused, "concentrated_support": False})
    assert full.value.status == 409 and "bed_type" in full.value.errors
    with pytest.raises(Problem) as twice:
        rpc.admit(CLERK, {**refused, "resident_id": ELDER, "bed_type": "ordinary"})
    assert twice.value.status == 409
    freed = rpc.discharge(CLERK, placed["admission_id"], {"discharged_on": "2026-06-20", "reason": "home again"})
    assert freed["beds_free"] == 1
    assert rpc.admit(CLERK, {**refused, "concentrated_support": False})["beds_free"] == 0


WATCHES = {"id": "care_devices", "role": "partner", "org": "yc-watch"}  # the platform operating the watch
OTHER_PLATFORM = {"id": "care_devices", "role": "partner", "org": "other-platform"}
NEIGHBOUR = compose_resident_id("330602", date(1949, 4, 4), 12)


def register_people(rpc):
    rpc.import_people(
        {"id": "ops", "role": "admin"},
        {
            "people": [
                {"resident_id": ELDER, "name": "张大爷", "region_code": TOWNSHIP},
                {"resident_id": NEIGHBOUR, "name": "李大妈", "region_code": TOWNSHIP},
            ]
        },
    )


def test_an_emergency_call_is_dispatched_and_its_response_time_measured(care, manual_clock):
    rpc, engine = care
    register_people(rpc)
    rpc.register_device(
        CLERK, {"device_id": "watch-0042", "resident_id": ELDER, "platform": "yc-watch", "registered_on": "2026-06-01"}
    )
    manual_clock.set(datetime(2026, 6, 10, 8, 0, tzinfo=UTC))
    call = {
        "device_id": "watch-0042",
        "call_id": "c-77",
        "resident_id": ELDER,
        "kind": "fall",
        "raised_at": "2026-06-10T08:00:00+00:00",
    }
    first = rpc.receive_call(WATCHES, call)
    assert rpc.receive_call(WATCHES, call)["emergency_call_id"] == first["emergency_call_id"]  # resent: one call
    with pytest.raises(Problem) as not_a_device:
        rpc.receive_call(PROVIDER, call)
    assert not_a_device.value.status == 403
    (listed,) = rpc.open_calls(CLERK)
    assert listed["state"] == "received" and rpc.open_calls({"id": "x", "role": "clerk", "area": "330603"}) == []
    call_id = first["emergency_call_id"]
    with pytest.raises(Problem) as early:
        rpc.arrive_call(PROVIDER, call_id)
    assert early.value.status == 409
    manual_clock.set(datetime(2026, 6, 10, 8, 2, tzinfo=UTC))
    assert rpc.dispatch_call(CLERK, call_id, {"responder": "网格员 小陈"})["state"] == "dispatched"
    manual_clock.set(datetime(2026, 6, 10, 8, 11, 30, tzinfo=UTC))
    arrived = rpc.arrive_call(PROVIDER, call_id)
    assert (arrived["state"], arrived["response_seconds"]) == ("arrived", 690)
    closed = rpc.close_call(CLERK, call_id, {"outcome": "bruised wrist; family informed"})
    assert closed["state"] == "closed" and rpc.open_calls(CLERK) == []


def refused(rpc, actor, call) -> Problem:
    with pytest.raises(Problem) as refusal:
        rpc.receive_call(actor, call)
    assert refusal.value.status == 403 and refusal.value.code == "CallRefused"
    return refusal.value


def test_a_call_is_refused_unless_the_operating_platform_raises_it_for_the_registered_person(care, manual_clock):
    """Another platform, another person, a device never registered, one raised before it was handed
    over or after it was retired: 403 naming the field, nothing recorded but the refusal in the
    audit trail. Once retired, the watch is registered to the neighbour, and her calls are taken."""
    rpc, engine = care
    register_people(rpc)
    rpc.register_device(
        CLERK, {"device_id": "watch-0042", "resident_id": ELDER, "platform": "yc-watch", "registered_on": "2026-06-01"}
    )
    call = {
        "device_id": "watch-0042",
        "call_id": "c-1",
        "resident_id": ELDER,
        "kind": "sos",
        "raised_at": "2026-06-10T08:00:00+08:00",
    }
    assert refused(rpc, OTHER_PLATFORM, call).errors == {"device_id": ["not a registered device of your platform"]}
    assert refused(rpc, WATCHES, {**call, "resident_id": NEIGHBOUR}).errors == {
        "resident_id": ["not the person the device is registered to"]
    }
    assert "device_id" in refused(rpc, WATCHES, {**call, "device_id": "watch-9999"}).errors
    early = refused(rpc, WATCHES, {**call, "raised_at": "2026-05-31T23:30:00+08:00"})  # the day before
    assert "not in service on 2026-05-31" in early.errors["device_id"][0]
    with pytest.raises(Problem) as no_platform:
        rpc.receive_call({"id": "care_devices", "role": "partner"}, call)
    assert no_platform.value.status == 403 and "platform" in no_platform.value.errors
    assert rows(engine, "SELECT count(*) FROM emergency_call")[0][0] == 0
    refusals = rows(
        engine, "SELECT actor_id, subject, outcome, details FROM audit_log WHERE action = 'emergency.call' ORDER BY id"
    )
    assert [(r.subject, r.outcome) for r in refusals][:2] == [("device-watch-0042", "refused")] * 2
    assert refusals[0].details["actor_org"] == "other-platform"
    assert ELDER not in str(refusals) and NEIGHBOUR not in str(refusals)  # ID numbers masked

    # the watch goes back on 20 June and is given to the neighbour the same day
    manual_clock.set_local_date(date(2026, 6, 20))
    retired = rpc.retire_device(CLERK, "watch-0042", {"retired_on": "2026-06-20", "reason": "returned"})
    assert retired["retired_on"] == "2026-06-20"
    given = rpc.register_device(CLERK, {"device_id": "watch-0042", "resident_id": NEIGHBOUR, "platform": "yc-watch"})
    assert given["registered_on"] == "2026-06-20" and rpc.get_device(CLERK, "watch-0042") == given
    late = {**call, "call_id": "c-2", "raised_at": "2026-06-20T09:00:00+08:00"}
    assert "resident_id" in refused(rpc, WATCHES, late).errors  # not his any more
    assert rpc.receive_call(WATCHES, {**late, "resident_id": NEIGHBOUR})["state"] == "received"
    # a call of his raised before the watch went back, sent late by the platform, is still his
    assert rpc.receive_call(WATCHES, {**call, "call_id": "c-3"})["state"] == "received"
    assert rows(engine, "SELECT count(*) FROM emergency_call")[0][0] == 2
    # her call on the 21st is taken; the watch is reported lost and retired from that very day:
    # the platform sending the call again gets the same call, another platform still nothing
    manual_clock.set_local_date(date(2026, 6, 22))
    hers = {**call, "call_id": "c-5", "resident_id": NEIGHBOUR, "raised_at": "2026-06-21T10:00:00+08:00"}
    taken = rpc.receive_call(WATCHES, hers)
    rpc.retire_device(CLERK, "watch-0042", {"retired_on": "2026-06-21", "reason": "lost"})
    assert rpc.receive_call(WATCHES, hers)["emergency_call_id"] == taken["emergency_call_id"]
    assert "device_id" in refused(rpc, OTHER_PLATFORM, hers).errors
    assert rows(engine, "SELECT count(*) FROM emergency_call")[0][0] == 3


def test_devices_are_registered_by_staff_of_the_persons_area_one_person_at_a_time(care):
    rpc, engine = care
    register_people(rpc)
    device = {"device_id": "watch-0042", "resident_id": ELDER, "platform": "yc-watch", "registered_on": "2026-06-01"}
    elsewhere = {"id": "x", "role": "clerk", "area": "330603"}
    for actor in (elsewhere, WATCHES, PROVIDER):
        with pytest.raises(Problem) as outside:
            rpc.register_device(actor, device)
        assert outside.value.status == 403
    first = rpc.register_device(CLERK, device)
    assert rpc.register_device(CLERK, device) == first  # sent again: the same registration
    for other in ({**device, "resident_id": NEIGHBOUR}, {**device, "platform": "other-platform"}):
        with pytest.raises(Problem) as in_service:
            rpc.register_device(CLERK, other)
        assert in_service.value.status == 409 and "device_id" in in_service.value.errors
    with pytest.raises(Problem) as future:
        rpc.register_device(CLERK, {**device, "device_id": "watch-0043", "registered_on": "2026-06-11"})
    assert future.value.status == 422
    with pytest.raises(Problem) as unknown:
        rpc.register_device(
            CLERK,
            {**device, "device_id": "watch-0044", "resident_id": compose_resident_id("330602", date(1950, 1, 1), 99)},
        )
    assert unknown.value.status == 404
    with pytest.raises(Problem) as not_theirs:
        rpc.retire_device(elsewhere, "watch-0042", {"retired_on": "2026-06-05", "reason": "lost"})
    assert not_theirs.value.status == 403
    rpc.retire_device(CLERK, "watch-0042", {"retired_on": "2026-06-05", "reason": "lost"})
    with pytest.raises(Problem) as twice:
        rpc.retire_device(CLERK, "watch-0042", {"retired_on": "2026-06-06", "reason": "lost"})
    assert twice.value.status == 409
    with pytest.raises(Problem) as overlapping:  # it served him until the 5th
        rpc.register_device(CLERK, {**device, "resident_id": NEIGHBOUR, "registered_on": "2026-06-04"})
    assert overlapping.value.status == 409
    assert rows(engine, "SELECT count(*) FROM device_registration")[0][0] == 1


def test_devices_and_refused_calls_through_the_gateway(system, manual_clock):
    """Staff of the person's area register the watch over HTTP; another platform's call for it is a
    403 problem document naming the field, the operating platform's is taken; the routes and their
    schemas are in the OpenAPI document."""
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    with ClusterRpcProxy({"AMQP_URI": sys_.amqp_uri}) as proxy:
        register_people(proxy.care)
    clerk, outsider = ("clerk", "caseworker-01", TOWNSHIP), ("clerk", "caseworker-09", "330603")
    device = {"device_id": "watch-0042", "resident_id": ELDER, "platform": "yc-watch"}
    assert sys_.call("POST", "/api/v1/care/devices", outsider, json=device).status_code == 403
    assert (
        sys_.call(
            "POST", "/api/v1/care/devices", ("partner", "care_devices", None, "yc-watch"), json=device
        ).status_code
        == 403
    )  # a platform does not register its own devices
    registered = sys_.call("POST", "/api/v1/care/devices", clerk, json=device)
    assert registered.status_code == 201 and registered.json()["registered_on"] == "2026-06-10"
    assert sys_.call("GET", "/api/v1/care/devices/watch-0042", outsider).status_code == 403
    assert sys_.call("GET", "/api/v1/care/devices/watch-0042", clerk).json()["platform"] == "yc-watch"
    call = {
        "device_id": "watch-0042",
        "call_id": "c-1",
        "resident_id": ELDER,
        "kind": "fall",
        "raised_at": "2026-06-10T08:00:00+08:00",
    }
    other = sys_.call(
        "POST", "/api/v1/care/emergency-calls", ("partner", "care_devices", None, "other-platform"), json=call
    )
    assert other.status_code == 403 and other.headers["Content-Type"].startswith("application/problem+json")
    problem = other.json()
    assert problem["type"].endswith("/CallRefused") and problem["status"] == 403
    assert problem["errors"] == {"device_id": ["not a registered device of your platform"]}
    taken = sys_.call("POST", "/api/v1/care/emergency-calls", ("partner", "care_devices", None, "yc-watch"), json=call)
    assert taken.status_code == 201 and taken.json()["state"] == "received"
    retired = sys_.call(
        "POST",
        "/api/v1/care/devices/watch-0042/retirement",
        clerk,
        json={"retired_on": "2026-06-10", "reason": "returned"},
    )
    assert retired.status_code == 200 and retired.json()["retired_on"] == "2026-06-10"
    spec = sys_.session.get(sys_.url + "/api/v1/openapi.json", timeout=10).json()
    assert {
        "/api/v1/care/devices",
        "/api/v1/care/devices/{device_id}",
        "/api/v1/care/devices/{device_id}/retirement",
    } <= set(spec["paths"])
    body = spec["paths"]["/api/v1/care/devices"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    schema = spec["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]
    assert {"device_id", "resident_id", "platform"} <= set(schema["required"])


def test_a_member_who_leaves_the_household_loses_its_voucher(care, amqp_uri):
    rpc, engine = care
    approve_tekun(amqp_uri)
    wait_for(lambda: rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 2, what="the vouchers")
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-other", "resident_id": ELDER, "left_on": "2026-06-15", "reason": "not this household"},
    )
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-1", "resident_id": ELDER, "left_on": "2026-06-15", "reason": "moved to his son"},
    )
    wait_for(
        lambda: (
            rows(engine, f"SELECT ends_on FROM voucher_eligibility WHERE resident_id = '{ELDER}'")[0][0]
            == date(2026, 6, 15)
        ),
        what="the voucher ended",
    )
    wait_for(lambda: queue_depth(amqp_uri, "care.on_member_left") == 0)
    assert rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'voucher.end'")[0][0] == 1


def test_a_member_who_reaches_60_after_the_approval_gets_the_voucher_from_that_month(care, amqp_uri, manual_clock):
    rpc, engine = care
    admin = {"id": "ops", "role": "admin"}
    nearly = compose_resident_id("330602", date(1966, 6, 20), 31)  # 60 on 20 June 2026
    leaves = compose_resident_id("330602", date(1966, 7, 2), 41)  # 60 on 2 July, but leaves in June
    later = compose_resident_id(
        "330602", date(1966, 9, 9), 51
    )  # 60 on 9 September; the household's 低保 ends in August
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": "a-2",
            "household_id": "h-2",
            "programme": "tekun",
            "monthly_amount_fen": 110500,
            "starts_on": "2026-06-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [{"resident_id": r, "name": "成员"} for r in (nearly, leaves)],
        },
    )
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": "a-3",
            "household_id": "h-3",
            "programme": "dibao",
            "monthly_amount_fen": 80000,
            "starts_on": "2026-06-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [{"resident_id": later, "name": "成员"}],
        },
    )
    wait_for(lambda: rows(engine, "SELECT count(*) FROM supported_member")[0][0] == 3, what="the members")
    assert rows(engine, "SELECT count(*) FROM voucher_eligibility")[0][0] == 0  # all 59 at the approval

    manual_clock.set_local_date(date(2026, 6, 19))
    assert rpc.run_allowance_job(admin)["vouchers_granted"] == 0
    publish(
        amqp_uri,
        "assistance.member_left",
        "assistance",
        {"household_id": "h-2", "resident_id": leaves, "left_on": "2026-06-25", "reason": "moved out"},
    )
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-3", "programme": "dibao", "ends_on": "2026-08-31", "reason": "income above the standard"},
    )
    wait_for(
        lambda: rows(engine, "SELECT count(*) FROM supported_member WHERE ends_on IS NOT NULL")[0][0] == 2,
        what="the leaving and the ending",
    )

    manual_clock.set_local_date(date(2026, 6, 20))  # the birthday
    first = rpc.run_allowance_job(admin)
    assert first["vouchers_granted"] == 1
    assert rpc.run_allowance_job(admin)["vouchers_granted"] == 0  # twice the same day: once
    balance = rpc.voucher_balance({"id": nearly, "role": "citizen"}, nearly)
    assert (balance["programme"], balance["monthly_fen"], balance["month"]) == ("tekun", 60000, "2026-06-01")
    assert [tuple(r) for r in rows(engine, "SELECT resident_id, starts_on, household_id FROM voucher_eligibility")] == [
        (nearly, date(2026, 6, 20), "h-2")
    ]

    # after downtime over their birthdays: the one who left before 60 and the household that ended
    # before get nothing; someone who was still supported on the birthday gets it, with the end
    just = compose_resident_id("330602", date(1966, 8, 30), 61)  # 60 on 30 August, the day before h-3's end
    publish(
        amqp_uri,
        "assistance.approved",
        "assistance",
        {
            "application_id": "a-4",
            "household_id": "h-3",
            "programme": "dibao",
            "monthly_amount_fen": 80000,
            "starts_on": "2026-06-01",
            "region_code": TOWNSHIP,
            "policy_version": "test",
            "members": [{"resident_id": just, "name": "成员"}],
        },
    )
    wait_for(lambda: rows(engine, "SELECT count(*) FROM supported_member")[0][0] == 4, what="the member")
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-3", "programme": "dibao", "ends_on": "2026-08-31", "reason": "income above the standard"},
    )
    wait_for(
        lambda: (
            rows(engine, f"SELECT ends_on FROM supported_member WHERE resident_id = '{just}'")[0][0]
            == date(2026, 8, 31)
        ),
        what="the end",
    )
    manual_clock.set_local_date(date(2026, 9, 15))
    assert rpc.run_allowance_job(admin)["vouchers_granted"] == 1
    assert [
        tuple(r)
        for r in rows(
            engine, f"SELECT starts_on, ends_on, monthly_fen FROM voucher_eligibility WHERE resident_id = '{just}'"
        )
    ] == [(date(2026, 8, 30), date(2026, 8, 31), 30000)]
    with pytest.raises(Problem) as none:
        rpc.voucher_balance({"id": later, "role": "citizen"}, later)
    assert none.value.status == 404

    # the household's benefit ends: the voucher granted at 60 ends with it, and is not granted again
    publish(
        amqp_uri,
        "assistance.entitlement_ended",
        "assistance",
        {"household_id": "h-2", "programme": "tekun", "ends_on": "2026-09-30", "reason": "re-check"},
    )
    wait_for(
        lambda: (
            rows(engine, f"SELECT ends_on FROM voucher_eligibility WHERE resident_id = '{nearly}'")[0][0]
            == date(2026, 9, 30)
        ),
        what="the voucher ended",
    )
    manual_clock.set_local_date(date(2026, 10, 2))
    assert rpc.run_allowance_job(admin)["vouchers_granted"] == 0
    assert rpc.voucher_balance({"id": nearly, "role": "citizen"}, nearly)["monthly_fen"] == 0
