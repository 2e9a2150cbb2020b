"""Partners report only their own started steps, and may say a step's outcome again; the view
shows each step's latest report by event time with the ones before; overdue steps are flagged."""

import uuid
from datetime import UTC, date, datetime, timedelta

from kombu import Connection, Exchange, Producer

from chassis.topology import EVENTS_EXCHANGE
from tests.helpers import queue_depth, wait_for
from tests.integration.test_marriage_one_matter import CLERK, OFFICE, couple, matter_view, slot, steps_of

TODAY = date(2026, 7, 1)


def open_and_register(sys_):
    a, b = couple()
    citizen = ("citizen", a["resident_id"])
    matter_id = sys_.call(
        "POST",
        "/api/v1/matters/marriage-birth-hukou",
        citizen,
        json={"office_code": OFFICE, "slot_start": slot(TODAY + timedelta(days=1)), "party_a": a, "party_b": b},
    ).json()["matter_id"]
    wait_for(lambda: matter_view(sys_, matter_id, citizen), what="the matter")
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={
            "office_code": OFFICE,
            "party_a": a,
            "party_b": b,
            "declared_not_close_relatives": True,
            "matter_id": matter_id,
        },
    )
    assert registered.status_code == 201, registered.text
    wait_for(lambda: steps_of(matter_view(sys_, matter_id, citizen))["marriage_registration"] == "done")
    return matter_id, citizen


def test_partner_reports_are_checked_against_ownership_and_state(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    matter_id, citizen = open_and_register(sys_)
    steps = f"/api/v1/partner/matters/{matter_id}/steps"

    assert sys_.call("POST", f"{steps}/hukou_update", ("partner", "health"), json={"state": "done"}).status_code == 403
    # ahead of its phase (no birth yet): accepted, applied by the projection once the phase starts
    assert sys_.call("POST", f"{steps}/newborn_hukou", ("partner", "police"), json={"state": "done"}).status_code == 202
    no_reason = sys_.call("POST", f"{steps}/hukou_update", ("partner", "police"), json={"state": "rejected"})
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["errors"]
    assert sys_.call("POST", f"{steps}/no_such_step", ("partner", "police"), json={"state": "done"}).status_code == 404

    rejected = sys_.call(
        "POST", f"{steps}/hukou_update", ("partner", "police"), json={"state": "rejected", "reason": "户籍地址待核实"}
    )
    assert rejected.status_code == 202, rejected.text
    view = wait_for(lambda: (v := matter_view(sys_, matter_id, citizen)) and v["state"] == "needs_attention" and v)
    hukou = next(s for s in view["steps"] if s["step"] == "hukou_update")
    assert hukou["state"] == "rejected" and hukou["reason"] == "户籍地址待核实" and hukou["history"] == []
    first_at = hukou["reported_at"]

    # the same word again: nothing new to say, no report
    same = sys_.call(
        "POST", f"{steps}/hukou_update", ("partner", "police"), json={"state": "rejected", "reason": "户籍地址待核实"}
    )
    assert same.status_code == 202 and same.json()["event_id"] is None
    # the rejection said again with another reason: the step reads as the latest, the first kept
    manual_clock.advance(hours=2)
    restated = sys_.call(
        "POST",
        f"{steps}/hukou_update",
        ("partner", "police"),
        json={"state": "rejected", "reason": "户籍地址待核实: 房产证明缺失"},
    )
    assert restated.status_code == 202 and restated.json()["event_id"]
    hukou = wait_for(
        lambda: (
            (s := next(s for s in matter_view(sys_, matter_id, citizen)["steps"] if s["step"] == "hukou_update"))[
                "history"
            ]
            and s
        ),
        what="the restatement",
    )
    assert (hukou["state"], hukou["reason"]) == ("rejected", "户籍地址待核实: 房产证明缺失")
    assert datetime.fromisoformat(hukou["reported_at"]) - datetime.fromisoformat(first_at) == timedelta(hours=2)
    assert hukou["history"] == [
        {"state": "rejected", "reason": "户籍地址待核实", "reported_at": first_at, "applied": True}
    ]
    # a rejection is not turned into done afterwards (a second application is a new matter)
    changed_mind = sys_.call("POST", f"{steps}/hukou_update", ("partner", "police"), json={"state": "done"})
    assert changed_mind.status_code == 409 and "already rejected" in changed_mind.json()["detail"]
    # the partner sees its own step with its history too
    partner_view = sys_.call("GET", f"/api/v1/partner/matters/{matter_id}", ("partner", "police")).json()
    assert [s["history"] for s in partner_view["steps"] if s["step"] == "hukou_update"] == [hukou["history"]]


def publish(amqp_uri: str, envelope: dict) -> None:
    with Connection(amqp_uri) as conn:
        Producer(conn.channel()).publish(
            envelope, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=envelope["type"], serializer="json"
        )


def test_reports_are_folded_by_event_time_whatever_order_they_arrive_in(system, manual_clock):
    """police reports its step through the broker (as the gateway relays a partner's report): the
    newer report first, the older one late, then the newer one delivered again. The step reads as
    the newer; the older is in its history, once; the redelivery changes nothing."""
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    matter_id, citizen = open_and_register(sys_)
    older_at = datetime(2026, 7, 1, 6, tzinfo=UTC)
    newer_at = older_at + timedelta(hours=3)

    def report(at: datetime, reason: str) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "type": "matter.step_reported",
            "source": "gateway",
            "time": at.isoformat(),
            "subject": f"matter-{matter_id}",
            "matter_id": matter_id,
            "correlation_id": None,
            "causation_id": None,
            "schema_version": 1,
            "data": {
                "matter_type": "marriage_birth_hukou",
                "step": "hukou_update",
                "state": "done",
                "reason": reason,
                "reported_by": "police",
            },
        }

    def hukou():
        return next(s for s in matter_view(sys_, matter_id, citizen)["steps"] if s["step"] == "hukou_update")

    newer, older = report(newer_at, "户口已迁入 (corrected address)"), report(older_at, "户口已迁入")
    publish(sys_.amqp_uri, newer)
    wait_for(lambda: hukou()["state"] == "done", what="the newer report")
    publish(sys_.amqp_uri, older)
    step = wait_for(lambda: (s := hukou())["history"] and s, what="the older report, late")
    assert (step["state"], step["reason"]) == ("done", "户口已迁入 (corrected address)")
    assert datetime.fromisoformat(step["reported_at"]) == newer_at
    assert [
        (h["state"], h["reason"], datetime.fromisoformat(h["reported_at"]), h["applied"]) for h in step["history"]
    ] == [("done", "户口已迁入", older_at, True)]

    publish(sys_.amqp_uri, newer)  # delivered again: the same event ids
    publish(sys_.amqp_uri, older)
    # a report of another step behind them in the queue: once it shows, the redeliveries were taken
    marker = report(newer_at, "生育登记已办")
    marker["data"].update(step="planned_birth_registration", reported_by="health")
    publish(sys_.amqp_uri, marker)
    wait_for(
        lambda: steps_of(matter_view(sys_, matter_id, citizen))["planned_birth_registration"] == "done",
        what="the report behind the redeliveries",
    )
    wait_for(lambda: queue_depth(sys_.amqp_uri, "progress.on_matter_event") == 0, what="the queue drained")
    assert hukou() == step


def test_overdue_partner_steps_are_flagged(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    matter_id, citizen = open_and_register(sys_)
    fresh = {s["step"]: s["overdue"] for s in matter_view(sys_, matter_id, citizen)["steps"]}
    assert not any(fresh.values())
    manual_clock.advance(days=6)  # health has 5 days, police 10
    later = {s["step"]: s["overdue"] for s in matter_view(sys_, matter_id, citizen)["steps"]}
    assert later["planned_birth_registration"] is True
    assert later["hukou_update"] is False
    assert later["marriage_registration"] is False  # done steps are never overdue
