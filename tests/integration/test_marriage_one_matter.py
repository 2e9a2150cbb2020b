"""结婚生育户口一件事 end to end: gateway → marriage → broker → partners → progress view."""

from datetime import date, datetime, timedelta

from sqlalchemy import create_engine, text

from chassis.clock import LOCAL_ZONE
from tests.helpers import get_messages, queue_depth, wait_for
from tests.system import person

OFFICE = "330602"
CLERK = ("clerk", "registrar-01", OFFICE)
TODAY = date(2026, 5, 11)


def slot(day: date, hour=9) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_ZONE).isoformat()


def couple():
    return (
        {"resident_id": person(date(1996, 3, 1), "male"), "name": "张伟"},
        {"resident_id": person(date(1998, 6, 15), "female"), "name": "李娜"},
    )


def matter_view(sys_, matter_id, who):
    response = sys_.call("GET", f"/api/v1/matters/{matter_id}", who)
    return response.json() if response.status_code == 200 else None


def steps_of(view):
    return {s["step"]: s["state"] for s in view["steps"]}


def apply_for_the_matter(sys_, husband, wife) -> str:
    """The couple applies for 结婚生育户口一件事 with a slot tomorrow: the matter's id."""
    applied = sys_.call(
        "POST",
        "/api/v1/matters/marriage-birth-hukou",
        ("citizen", husband["resident_id"]),
        json={
            "office_code": OFFICE,
            "slot_start": slot(TODAY + timedelta(days=1)),
            "party_a": husband,
            "party_b": wife,
        },
    )
    assert applied.status_code == 201, applied.text
    return applied.json()["matter_id"]


def test_marriage_one_matter_reaches_all_steps_done(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system(simulator=True)
    husband, wife = couple()
    citizen = ("citizen", husband["resident_id"])

    matter_id = apply_for_the_matter(sys_, husband, wife)

    opened = wait_for(lambda: matter_view(sys_, matter_id, citizen), what="the matter in the progress view")
    assert steps_of(opened) == {
        "marriage_registration": "pending",
        "planned_birth_registration": "pending",
        "hukou_update": "pending",
        "newborn_hukou": "not_started",
        "newborn_medical_insurance": "not_started",
    }
    assert opened["state"] == "in_progress"
    assert all(s["deadline"] for s in opened["steps"] if s["state"] == "pending")

    manual_clock.set_local_date(TODAY + timedelta(days=1))
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={
            "office_code": OFFICE,
            "party_a": husband,
            "party_b": wife,
            "declared_not_close_relatives": True,
            "matter_id": matter_id,
        },
    )
    assert registered.status_code == 201, registered.text
    certificate = registered.json()["certificate_number"]
    assert certificate == "J330602-2026-000001"

    # health and police (the simulator) receive marriage.registered and report their steps
    first_half = wait_for(
        lambda: (v := matter_view(sys_, matter_id, citizen)) and v["state"] == "waiting" and v,
        timeout=20,
        what="the first half of the matter",
    )
    assert steps_of(first_half)["planned_birth_registration"] == "done"
    assert steps_of(first_half)["hukou_update"] == "done"
    assert steps_of(first_half)["marriage_registration"] == "done"

    # the hospital's birth certificate starts the second half
    born = sys_.call(
        "POST",
        "/api/v1/partner/births",
        ("partner", "health"),
        json={
            "child": {
                "name": "张小宝",
                "birth_date": str(TODAY + timedelta(days=1)),  # the day the clock stands on
                "sex": "female",
                "birth_certificate_number": "O330602001",
            },
            "mother_resident_id": wife["resident_id"],
            "father_resident_id": husband["resident_id"],
            "hospital": "绍兴市妇幼保健院",
        },
    )
    assert born.status_code == 202, born.text
    assert born.json()["matter_id"] == matter_id

    done = wait_for(
        lambda: (v := matter_view(sys_, matter_id, citizen)) and v["state"] == "completed" and v,
        timeout=20,
        what="every step done",
    )
    assert set(steps_of(done).values()) == {"done"}
    assert done["completed_at"] is not None, done
    assert not any(s["overdue"] for s in done["steps"])
    # each partner reported each of its steps exactly once
    assert sorted(sys_.simulator.reported) == sorted(
        [
            ("health", matter_id, "planned_birth_registration"),
            ("police", matter_id, "hukou_update"),
            ("police", matter_id, "newborn_hukou"),
            ("medical_insurance", matter_id, "newborn_medical_insurance"),
        ]
    )

    # the wife sees the same matter; a stranger does not even learn it exists
    assert matter_view(sys_, matter_id, ("citizen", wife["resident_id"]))["state"] == "completed"
    stranger = sys_.call("GET", f"/api/v1/matters/{matter_id}", ("citizen", person(date(1990, 1, 1), "male")))
    assert stranger.status_code == 404
    # a partner sees only its own steps
    police_view = sys_.call("GET", f"/api/v1/partner/matters/{matter_id}", ("partner", "police")).json()
    assert {s["owner"] for s in police_view["steps"]} == {"police"}


def test_partner_queue_receives_only_its_entitled_events_and_fields(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    husband, wife = couple()
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": husband, "party_b": wife, "declared_not_close_relatives": True},
    )
    assert registered.status_code == 201, registered.text
    born = sys_.call(
        "POST",
        "/api/v1/partner/births",
        ("partner", "health"),
        json={
            "child": {
                "name": "张小宝",
                "birth_date": "2026-05-10",
                "sex": "male",
                "birth_certificate_number": "O330602002",
            },
            "mother_resident_id": wife["resident_id"],
            "father_resident_id": husband["resident_id"],
            "hospital": "绍兴市人民医院",
        },
    )
    assert born.status_code == 202, born.text

    def delivered(code, n):
        # wait on the depth, not by peeking: each peek is a redelivery, and a quorum queue parks a
        # message after DELIVERY_LIMIT of them (a slow machine polls that often)
        # (partner queues are on the partner vhost, read here as its administrator)
        wait_for(
            lambda: queue_depth(sys_.partner_amqp_uri, f"partner.{code}") >= n, what=f"{n} message(s) on partner.{code}"
        )
        return get_messages(sys_.partner_amqp_uri, f"partner.{code}", ack=False)

    police = delivered("police", 2)
    health = delivered("health", 1)
    insurance = delivered("medical_insurance", 1)
    eventlet_settle()
    assert sorted(b["type"] for _, b in police) == ["birth.notified", "marriage.registered"]
    assert [b["type"] for _, b in get_messages(sys_.partner_amqp_uri, "partner.health")] == ["marriage.registered"]
    assert [b["type"] for _, b in get_messages(sys_.partner_amqp_uri, "partner.medical_insurance")] == [
        "birth.notified"
    ]
    # minimal disclosure: only the entitled fields travel
    assert set(health[0][1]["data"]) == {"registration_id", "registered_on", "party_a", "party_b"}
    assert "certificate_number" not in health[0][1]["data"]
    assert set(insurance[0][1]["data"]) == {"birth_id", "child", "mother_resident_id"}


def eventlet_settle(seconds=0.5):
    """Give the relay time to publish anything still on its way, so 'only' is meaningful."""
    import time

    time.sleep(seconds)


def test_registration_refusals_are_clear_and_change_nothing(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    husband, wife = couple()

    def register(a, b, **extra):
        return sys_.call(
            "POST",
            "/api/v1/marriage/registrations",
            CLERK,
            json={"office_code": OFFICE, "party_a": a, "party_b": b, "declared_not_close_relatives": True, **extra},
        )

    bad_id = dict(
        husband, resident_id=husband["resident_id"][:-1] + ("0" if husband["resident_id"][-1] != "0" else "1")
    )
    response = register(bad_id, wife)
    assert response.status_code == 422  # the shape is right, the check character is not
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "party_a" in response.json()["errors"]
    assert "check" in str(response.json()["errors"]["party_a"]).lower()

    # a woman one day short of 20 on the registration day
    too_young = {"resident_id": person(date(2006, 5, 12), "female"), "name": "王芳"}
    response = register(husband, too_young)
    assert response.status_code == 422
    body = response.json()
    assert "party_b.resident_id" in body["errors"] and "20" in body["errors"]["party_b.resident_id"][0]
    just_twenty = {"resident_id": person(date(2006, 5, 11), "female"), "name": "王芳"}
    # (the legal boundary: exactly 20 today may marry, shown with a fresh man)
    other_man = {"resident_id": person(date(1990, 1, 1), "male"), "name": "赵强"}
    assert register(other_man, just_twenty).status_code == 201

    assert register(husband, wife).status_code == 201
    third = {"resident_id": person(date(1997, 9, 9), "female"), "name": "陈静"}
    bigamy = register(husband, third)
    assert bigamy.status_code == 422
    assert bigamy.json()["type"].endswith("/already_married")
    assert "party_a.resident_id" in bigamy.json()["errors"]

    # refusals changed nothing: the third person is still unmarried, the refusals are audited
    status = sys_.call("GET", f"/api/v1/marriage/marital-status/{third['resident_id']}", CLERK).json()
    assert status == {"status": "unmarried", "since": None}
    engine = create_engine(sys_.databases["marriage"])
    with engine.connect() as conn:
        marriages = conn.execute(text("SELECT count(*) FROM marriage")).scalar()
        refused = conn.execute(text("SELECT count(*) FROM audit_log WHERE outcome = 'refused'")).scalar()
    engine.dispose()
    assert marriages == 2
    assert refused == 2  # under age, bigamy (the bad ID never reached the rules)


def test_divorce_cooling_off_boundaries_through_the_gateway(system, manual_clock):
    received = date(2026, 3, 1)
    manual_clock.set_local_date(received)
    sys_ = system()
    husband, wife = couple()
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": husband, "party_b": wife, "declared_not_close_relatives": True},
    ).json()

    applied = sys_.call(
        "POST",
        "/api/v1/marriage/divorces",
        CLERK,
        json={"certificate_number": registered["certificate_number"], "office_code": OFFICE},
    )
    assert applied.status_code == 201, applied.text
    divorce = applied.json()
    assert divorce["cooling_off_ends"] == "2026-03-31"
    assert divorce["certificate_window_ends"] == "2026-04-30"
    path = f"/api/v1/marriage/divorces/{divorce['divorce_id']}"

    manual_clock.set_local_date(date(2026, 3, 31))  # last day of the cooling-off period
    too_early = sys_.call("POST", f"{path}/registration", CLERK, json={"both_present": True})
    assert too_early.status_code == 409
    assert "2026-04-01" in too_early.json()["detail"]

    manual_clock.set_local_date(date(2026, 4, 1))
    late_withdrawal = sys_.call("POST", f"{path}/withdrawal", CLERK, json={"withdrawn_by": wife["resident_id"]})
    assert late_withdrawal.status_code == 409
    done = sys_.call("POST", f"{path}/registration", CLERK, json={"both_present": True})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "registered"
    assert done.json()["certificate_number"].startswith("L330602-2026-")
    status = sys_.call(
        "GET", f"/api/v1/marriage/marital-status/{husband['resident_id']}", ("citizen", husband["resident_id"])
    ).json()
    assert status == {"status": "divorced", "since": "2026-04-01"}


def test_idempotency_key_replays_the_first_answer(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    husband, wife = couple()
    request = {"office_code": OFFICE, "party_a": husband, "party_b": wife, "declared_not_close_relatives": True}
    first = sys_.call("POST", "/api/v1/marriage/registrations", CLERK, json=request, headers={"Idempotency-Key": "k-1"})
    again = sys_.call("POST", "/api/v1/marriage/registrations", CLERK, json=request, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={**request, "declared_not_close_relatives": False},
        headers={"Idempotency-Key": "k-1"},
    )
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["errors"]


def test_a_registration_whose_service_answered_too_late_is_answered_on_retry_with_its_first_answer(
    system, manual_clock
):
    """The gateway gives up on the marriage service (503) while the service is still committing the
    registration; the client's retry under the same Idempotency-Key is told to wait while it runs,
    and then gets the registration it made, not a refusal of a second one."""
    from chassis.db import make_engine
    from gateway.idempotency import ABANDONED_AFTER

    manual_clock.set_local_date(TODAY)
    sys_ = system(RPC_TIMEOUT_SECONDS="2")
    husband, wife = couple()
    request = {"office_code": OFFICE, "party_a": husband, "party_b": wife, "declared_not_close_relatives": True}

    def post():
        return sys_.call(
            "POST", "/api/v1/marriage/registrations", CLERK, json=request, headers={"Idempotency-Key": "slow-1"}
        )

    marriage_db = make_engine(sys_.databases["marriage"])  # green, as the services' own
    holder = marriage_db.connect()
    held = holder.begin()
    holder.execute(text("LOCK TABLE marriage IN EXCLUSIVE MODE"))  # the service's insert waits for it
    try:
        timed_out = post()
        assert timed_out.status_code == 503, timed_out.text
        meanwhile = post()
        assert meanwhile.status_code == 409, meanwhile.text
        assert "still being handled" in meanwhile.json()["detail"]
        # "not yet" by its type, so that a client (a partner's consumer) tries again, not gives up
        assert meanwhile.json()["type"].endswith("/NotYet")
    finally:
        held.rollback()
        holder.close()

    def registered():
        with marriage_db.connect() as conn:
            return conn.execute(text("SELECT id FROM marriage")).scalars().all()

    # the first request commits once the table is free; a patient client retries past any claim
    (first_id,) = wait_for(registered, what="the timed-out registration committed")

    def answered():
        response = post()
        if response.status_code in (409, 503):  # told to retry (shortly), as a client is
            manual_clock.advance(seconds=ABANDONED_AFTER.total_seconds() + 1)
            return None
        return (response,)

    (retried,) = wait_for(answered, what="the retry answered")
    assert retried.status_code == 201, retried.text
    assert retried.json()["registration_id"] == first_id
    assert registered() == [first_id]
    again = post()
    assert again.status_code == 201 and again.json() == retried.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    marriage_db.dispose()


def test_a_step_reported_before_the_view_has_its_matter_is_checked_afresh_on_retry(system, manual_clock):
    """A partner's report that comes before the progress view has the matter is 404, and that
    answer is not kept for its Idempotency-Key: the same request, once the view has the matter, is
    taken (the fault suite's police and 人社 copies were parked after 20 deliveries, each answered
    from a stored 404)."""
    manual_clock.set_local_date(TODAY)
    sys_ = system(progress=False)
    husband, wife = couple()
    citizen = ("citizen", husband["resident_id"])
    matter_id = apply_for_the_matter(sys_, husband, wife)
    report = {
        "path": f"/api/v1/partner/matters/{matter_id}/steps/planned_birth_registration",
        "as_": ("partner", "health"),
        "json": {"state": "done"},
        "headers": {"Idempotency-Key": f"{matter_id}:planned_birth_registration"},
    }
    early = sys_.call("POST", **report)
    assert early.status_code == 404, early.text

    sys_.start_progress()
    wait_for(lambda: matter_view(sys_, matter_id, citizen), what="the matter in the progress view")
    again = sys_.call("POST", **report)
    assert again.status_code == 202 and again.json()["event_id"], again.text
    wait_for(
        lambda: steps_of(matter_view(sys_, matter_id, citizen))["planned_birth_registration"] == "done",
        what="the report applied",
    )


def test_a_birth_notified_while_the_progress_projection_is_stopped_is_linked_once_it_runs(system, manual_clock):
    """The matter a birth belongs to does not depend on what the progress view has seen: the
    marriage registry, the matter's owner, knows the couple's matter."""
    manual_clock.set_local_date(TODAY)
    sys_ = system(progress=False)
    husband, wife = couple()
    citizen = ("citizen", husband["resident_id"])
    matter_id = apply_for_the_matter(sys_, husband, wife)
    manual_clock.set_local_date(TODAY + timedelta(days=1))
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={
            "office_code": OFFICE,
            "party_a": husband,
            "party_b": wife,
            "declared_not_close_relatives": True,
            "matter_id": matter_id,
        },
    )
    assert registered.status_code == 201, registered.text
    assert matter_view(sys_, matter_id, citizen) is None  # the projection has seen nothing
    notice = {
        "child": {
            "name": "张小满",
            "birth_date": str(TODAY + timedelta(days=1)),
            "sex": "male",
            "birth_certificate_number": "O330602901",
        },
        "mother_resident_id": wife["resident_id"],
        "father_resident_id": husband["resident_id"],
        "hospital": "绍兴市妇幼保健院",
    }
    born = sys_.call("POST", "/api/v1/partner/births", ("partner", "health"), json=notice)
    assert born.status_code == 202, born.text
    assert born.json()["matter_id"] == matter_id
    # a second child of the same mother, later, is not this matter's birth
    second = {**notice, "child": {**notice["child"], "birth_certificate_number": "O330602902"}}
    assert sys_.call("POST", "/api/v1/partner/births", ("partner", "health"), json=second).json()["matter_id"] is None

    sys_.start_progress()
    linked = wait_for(
        lambda: (v := matter_view(sys_, matter_id, citizen)) and steps_of(v)["newborn_hukou"] == "pending" and v,
        what="the newborn steps started by the birth",
    )
    assert steps_of(linked)["newborn_medical_insurance"] == "pending"
