"""Volunteers and the time bank (时间银行) against the real broker and PostgreSQL: service time is
recorded once per service-point record, credited once however often its event arrives, and
redeemed for care once per key, by care itself or a care provider."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from kombu import Connection, Exchange, Producer
from sqlalchemy import text

from chassis.errors import Problem
from chassis.topology import EVENTS_EXCHANGE
from contracts.person import compose_resident_id
from tests.charity import DISTRICT, TOWNSHIP, count
from tests.helpers import queue_depth, wait_for

CLERK = {"id": "volunteer-station-01", "role": "clerk", "area": TOWNSHIP}
CARE = {"id": "care", "role": "system"}  # the care service calling by RPC
PROVIDER = {"id": "care_providers", "role": "partner"}
VOLUNTEER = compose_resident_id(DISTRICT, date(1958, 4, 4), 51)  # a younger-old volunteer (低龄老人)


def credits(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT kind, minutes FROM time_bank_entry ORDER BY id")).all()


def handled(engine, event_id: str) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT count(*) FROM inbox WHERE consumer = 'charity.on_service_recorded' AND event_id = :e"),
                {"e": event_id},
            ).scalar_one()
            == 1
        )


def test_hours_are_credited_once_and_redeemed_once(charity, amqp_uri):
    rpc, engine = charity
    registered = rpc.register_volunteer(CLERK, {"resident_id": VOLUNTEER, "name": "钱志愿", "region_code": TOWNSHIP})
    assert (registered["service_minutes"], registered["credit_minutes"]) == (0, 0)
    with pytest.raises(Problem) as twice:
        rpc.register_volunteer(CLERK, {"resident_id": VOLUNTEER, "name": "钱志愿", "region_code": TOWNSHIP})
    assert twice.value.status == 409

    record = {"request_id": "station-7-0001", "activity": "助餐送餐", "served_on": "2026-06-09", "minutes": 150}
    rpc.record_service(CLERK, VOLUNTEER, record)
    rpc.record_service(CLERK, VOLUNTEER, record)  # the service point sends the record again: the same record
    rpc.record_service(CLERK, VOLUNTEER, {**record, "request_id": "station-7-0002", "minutes": 90})
    with pytest.raises(Problem) as reused:
        rpc.record_service(CLERK, VOLUNTEER, {**record, "minutes": 30})
    assert reused.value.status == 409 and "request_id" in reused.value.errors
    assert count(engine, "service_record") == 2
    wait_for(lambda: rpc.get_volunteer(CLERK, VOLUNTEER)["credit_minutes"] == 240, what="the time-bank credits")

    # the same events delivered again, and the first once more under a new id: credited once
    with engine.connect() as conn:
        bodies = (
            conn.execute(text("SELECT body FROM outbox WHERE event_type = 'charity.service_recorded' ORDER BY id"))
            .scalars()
            .all()
        )
    assert len(bodies) == 2
    copy_id = "00000000-0000-4000-8000-000000000001"
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())
        for body in (*bodies, *bodies, {**bodies[0], "id": copy_id}):
            producer.publish(
                {**body, "time": datetime.now(UTC).isoformat()},
                exchange=Exchange(EVENTS_EXCHANGE, type="topic"),
                routing_key=body["type"],
                serializer="json",
            )
    # an empty queue only says the deliveries were handed out; the copy's inbox row says it was handled
    wait_for(lambda: queue_depth(amqp_uri, "charity.on_service_recorded") == 0, what="redeliveries consumed")
    wait_for(lambda: handled(engine, copy_id), timeout=30, what="the copy handled")
    assert sorted(credits(engine)) == [("credit", 90), ("credit", 150)]  # handled in either order
    view = rpc.get_volunteer({"id": VOLUNTEER, "role": "citizen"}, VOLUNTEER)
    assert (view["service_minutes"], view["credit_minutes"]) == (240, 240)

    # care redeems an hour for the volunteer's own home care; retried with its key, once
    redeem = {"redemption_key": "care-order-42", "resident_id": VOLUNTEER, "minutes": 60, "purpose": "助浴服务"}
    assert rpc.redeem_time_credits(CARE, redeem) == {
        "redemption_key": "care-order-42",
        "minutes": 60,
        "credit_minutes": 180,
    }
    assert rpc.redeem_time_credits(CARE, redeem)["credit_minutes"] == 180
    assert (
        rpc.redeem_time_credits(PROVIDER, {**redeem, "redemption_key": "provider-9-17", "minutes": 120})[
            "credit_minutes"
        ]
        == 60
    )
    with pytest.raises(Problem) as short:
        rpc.redeem_time_credits(CARE, {**redeem, "redemption_key": "care-order-43", "minutes": 61})
    assert short.value.status == 422 and "holds 60 minutes" in short.value.errors["minutes"][0]
    with pytest.raises(Problem) as other:
        rpc.redeem_time_credits(CARE, {**redeem, "minutes": 30})
    assert other.value.status == 409 and "redemption_key" in other.value.errors
    with pytest.raises(Problem) as stranger:
        rpc.redeem_time_credits({"id": "health", "role": "partner"}, {**redeem, "redemption_key": "x-1234"})
    assert stranger.value.status == 403
    entries = credits(engine)
    assert sorted(entries[:2]) == [("credit", 90), ("credit", 150)]
    assert entries[2:] == [("redemption", -60), ("redemption", -120)]
    assert rpc.statistics({"id": "ops", "role": "admin"}, DISTRICT)["service_minutes"] == 240
