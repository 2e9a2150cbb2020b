"""身后一件事 end to end through the gateway, against the real broker and PostgreSQL: an 85-year-old
低保 recipient, married, with the old-age allowance, a home-care voucher and an open service order,
dies on 20 May 2026, after May's payment; June is paid before anyone hears of it. The hospital and
the police both report the death on 10 June (one case, one matter); a funeral home's notice with
another date is flagged for a clerk. Every participant reports its step; assistance records June's
overpayment for recovery. A second walk revokes a death notified in error and checks that every
step is undone, with back pay equal to what the stop withheld, paid once by the next cycle."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import eventlet
from kombu import Connection, Exchange, Producer
from sqlalchemy import create_engine, insert, text

from chassis.clock import LOCAL_ZONE
from chassis.tables import policy_parameters
from chassis.topology import EVENTS_EXCHANGE
from contracts.partners import PARTNERS
from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.helpers import queue_depth, wait_for

TOWNSHIP, DISTRICT = "330602001", "330602"
CASEWORKER = ("clerk", "caseworker-01", TOWNSHIP)
APPROVER = ("clerk", "approver-01", DISTRICT)
REGISTRAR = ("clerk", "registrar-01", DISTRICT)
FUNERAL_HOME = ("clerk", "funeral-home-01", DISTRICT)
ADMIN = ("admin", "bureau")
DIED = date(2026, 5, 20)
# every department but the home-care providers, who would accept and deliver the order at once:
# here it stays open, as an order of someone who has just died would
DEPARTMENTS = tuple(code for code in PARTNERS if code != "care_providers")
AFTER_DEATH_PARTNERS = {"police", "human_resources", "medical_insurance"}


def pin_standard(url: str):
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(policy_parameters).values(
                region_code=DISTRICT,
                name="assistance.dibao_standard_monthly_fen",
                effective_from=date(2026, 1, 1),
                value=85000,
                source="test: 850元/月 for 2026",
                recorded_at=datetime.now(UTC),
                recorded_by="test",
            )
        )
    engine.dispose()


def ok(response, status=(200, 201, 202)):
    assert response.status_code in (status if isinstance(status, tuple) else (status,)), response.text
    return response.json()


def pay_month(sys_, clock, day: date):
    """The payments office freezes the month, sends the batch, and the bank answers paid."""
    clock.set_local_date(day)
    cycle = ok(sys_.call("POST", "/api/v1/assistance/payment-cycles", ADMIN, json={"month": day.isoformat()}))
    batch = ok(sys_.call("POST", f"/api/v1/assistance/payment-cycles/{cycle['cycle_id']}/bank-batch", ADMIN))
    ids = [int(line.split(",")[0]) for line in Path(batch["file"]).read_text().splitlines()[1:]]
    ok(
        sys_.call(
            "POST",
            f"/api/v1/assistance/payment-cycles/{cycle['cycle_id']}/bank-results",
            ("partner", "banks"),
            json={"results": [{"payment_id": i, "status": "paid"} for i in ids]},
        )
    )
    return cycle


def a_married_dibao_elder(sys_, clock) -> dict:
    """The household of the story, up to June's payment: approved for 低保, married, enrolled for the
    old-age allowance, a voucher budget, an open order; May and June paid."""
    pin_standard(sys_.databases["assistance"])
    elder = compose_resident_id(DISTRICT, date(1941, 3, 1), 11)  # 85 in 2026
    spouse = compose_resident_id(DISTRICT, date(1946, 1, 2), 22)  # 80
    clock.set_local_date(date(2026, 4, 27))
    application = ok(
        sys_.call(
            "POST",
            "/api/v1/assistance/applications",
            CASEWORKER,
            json={
                "programme": "dibao",
                "region_code": TOWNSHIP,
                "address": "越城区府山街道 8 号",
                "bank_account": "6228480000000008",
                "members": [
                    {"resident_id": elder, "name": "陈老伯", "relationship": "head", "monthly_income_fen": 30000},
                    {"resident_id": spouse, "name": "林阿婆", "relationship": "spouse", "monthly_income_fen": 20000},
                ],
            },
        )
    )
    path = f"/api/v1/assistance/applications/{application['application_id']}"
    ok(sys_.call("POST", path + "/acceptance", CASEWORKER))
    assert ok(sys_.call("POST", path + "/economic-check", CASEWORKER))["state"] == "checked"
    clock.set_local_date(date(2026, 4, 28))
    ok(sys_.call("POST", path + "/notice", CASEWORKER))
    clock.set_local_date(date(2026, 5, 6))
    approved = ok(sys_.call("POST", path + "/decision", APPROVER, json={"decision": "approve", "reason": "below"}))
    ok(
        sys_.call(
            "POST",
            "/api/v1/marriage/registrations",
            REGISTRAR,
            json={
                "office_code": DISTRICT,
                "declared_not_close_relatives": True,
                "party_a": {"resident_id": elder, "name": "陈老伯"},
                "party_b": {"resident_id": spouse, "name": "林阿婆"},
            },
        )
    )
    ok(
        sys_.call(
            "POST",
            "/api/v1/care/elders/import",
            ADMIN,
            json={
                "people": [
                    {"resident_id": elder, "name": "陈老伯", "region_code": TOWNSHIP},
                    {"resident_id": spouse, "name": "林阿婆", "region_code": TOWNSHIP},
                ]
            },
        )
    )
    assert ok(sys_.call("POST", "/api/v1/care/allowance-job", ADMIN))["enrolled"] == 2
    wait_for(
        lambda: sys_.call("GET", f"/api/v1/care/vouchers/{elder}", CASEWORKER).status_code == 200,
        timeout=20,
        what="the voucher from assistance's approval",
    )
    pay_month(sys_, clock, date(2026, 5, 10))
    clock.set_local_date(date(2026, 5, 12))
    order = ok(
        sys_.call(
            "POST",
            "/api/v1/care/orders",
            CASEWORKER,
            json={"resident_id": elder, "service": "meals", "provider": "yuecheng-meals", "price_fen": 3000},
        )
    )
    pay_month(sys_, clock, date(2026, 6, 1))
    household_id = approved["household_id"]
    payments = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}/payments", CASEWORKER))["payments"]
    paid = {p["for_month"]: p["amount_fen"] for p in payments if p["state"] == "paid"}
    assert set(paid) == {"2026-05-01", "2026-06-01"}
    return {
        "elder": elder,
        "spouse": spouse,
        "household_id": household_id,
        "order_id": order["order_id"],
        "paid": paid,
        "before_fen": approved["monthly_amount_fen"],
    }


def notice(elder: str, day: date, reference: str | None) -> dict:
    return {
        "deceased": {"resident_id": elder, "name": "陈老伯"},
        "date_of_death": day.isoformat(),
        "region_code": TOWNSHIP,
        "reference": reference,
        "place_of_death": "绍兴市人民医院",
    }


def matter(sys_, matter_id):
    response = sys_.call("GET", f"/api/v1/matters/{matter_id}", APPROVER)
    return response.json() if response.status_code == 200 else None


def steps_of(view) -> dict:
    return {s["step"]: s["state"] for s in view["steps"]}


AUTOMATIC_STEPS = (
    "benefits_stopped",
    "care_stopped",
    "marriage_ended",
    "hukou_cancellation",
    "pension_and_survivors",
    "medical_insurance_closure",
)


def internal_steps_done(sys_, matter_id):
    view = matter(sys_, matter_id)
    return view and all(steps_of(view)[s] == "done" for s in AUTOMATIC_STEPS) and view


def entitlement(sys_, household_id) -> dict:
    (only,) = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))["entitlements"]
    return only


def test_one_death_reported_twice_completes_every_step(system, manual_clock):
    sys_ = system(simulator=True, assistance=PartnerData(), care=True, funeral=True, simulated_partners=DEPARTMENTS)
    story = a_married_dibao_elder(sys_, manual_clock)
    elder, spouse = story["elder"], story["spouse"]
    manual_clock.set_local_date(date(2026, 6, 10))

    # the hospital (through health) and the police report the same death: one case, one matter
    first = ok(
        sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(elder, DIED, "D3306-001"))
    )
    second = ok(sys_.call("POST", "/api/v1/partner/deaths", ("partner", "police"), json=notice(elder, DIED, "GA-77")))
    assert (first["duplicate"], second["duplicate"]) == (False, True)
    assert second["case_id"] == first["case_id"] and second["matter_id"] == first["matter_id"]
    resent = ok(
        sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(elder, DIED, "D3306-001"))
    )
    assert resent["case_id"] == first["case_id"] and resent["duplicate"] is True  # the same certificate again
    # a partner learns which case its notice made or joined, not the others' notices (minimal disclosure)
    assert "notices" not in resent and "resident_id" not in resent
    no_number = sys_.call("POST", "/api/v1/partner/deaths", ("partner", "police"), json=notice(elder, DIED, None))
    assert no_number.status_code == 422 and "reference" in no_number.json()["errors"]
    case_id, matter_id = first["case_id"], first["matter_id"]

    # a funeral home gives another date: flagged for a clerk, never guessed
    conflicting = ok(
        sys_.call("POST", "/api/v1/funeral/deaths", FUNERAL_HOME, json=notice(elder, date(2026, 5, 21), None))
    )
    assert conflicting["date_conflict"] is True and conflicting["date_of_death"] == DIED.isoformat()
    queue = ok(sys_.call("GET", "/api/v1/funeral/date-conflicts", FUNERAL_HOME))["cases"]
    assert [c["case_id"] for c in queue] == [case_id]
    assert queue[0]["reported_dates"] == ["2026-05-20", "2026-05-21"]

    # the automatic steps: assistance, care, marriage, and the three departments
    view = wait_for(lambda: internal_steps_done(sys_, matter_id), timeout=40, what="every automatic step of 身后一件事")
    assert steps_of(view)["cremation_certificate"] == "pending" and view["state"] == "in_progress"

    # assistance: the deceased left the household on the day of death; 低保 recomputed for the
    # spouse from the next cycle; June was paid in full for two: the difference is overpaid
    household = ok(sys_.call("GET", f"/api/v1/assistance/households/{story['household_id']}", CASEWORKER))
    (gone,) = [m for m in household["members"] if m["resident_id"] == elder]
    assert gone["left_on"] == DIED.isoformat()
    after_fen = entitlement(sys_, story["household_id"])["monthly_amount_fen"]
    assert 0 < after_fen < story["before_fen"]
    settled = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    (over,) = settled["overpayments"]
    assert over["months"] == ["2026-06-01"]  # May, the month of death, was due in full
    assert over["amount_fen"] == story["paid"]["2026-06-01"] - after_fen
    recovery = dict(over["recovery"])
    assert recovery.pop("recovery_id")
    assert recovery == {
        "state": "open",
        "amount_fen": over["amount_fen"],
        "recovered_fen": 0,
        "written_off_fen": 0,
        "refunded_fen": 0,
        "outstanding_fen": over["amount_fen"],
        "refund_due_fen": 0,
        "note": None,
    }
    # the payment it counted: June's, paid before the notice, and what June is still due after the death
    (june,) = over["payments"]
    assert (june["for_month"], june["amount_fen"], june["state"], june["due_fen"]) == (
        "2026-06-01",
        story["paid"]["2026-06-01"],
        "paid",
        after_fen,
    )

    # marriage: the spouse reads widowed since the date of death
    status = ok(sys_.call("GET", f"/api/v1/marriage/marital-status/{spouse}", REGISTRAR))
    assert status == {"status": "widowed", "since": DIED.isoformat()}

    # care: allowance ended as of the date of death, voucher ended, the open order cancelled
    care = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/care", CASEWORKER))
    assert care["allowance_ended_on"] == DIED.isoformat()
    assert care["vouchers"] == [{"programme": "dibao", "ends_on": DIED.isoformat()}]
    assert care["changes"]["orders"] == [story["order_id"]]
    assert ok(sys_.call("GET", f"/api/v1/care/orders/{story['order_id']}", CASEWORKER))["state"] == "cancelled"
    assert ok(sys_.call("GET", f"/api/v1/care/vouchers/{spouse}", CASEWORKER))["monthly_fen"] > 0  # hers goes on

    # the clerk confirms the date; the cremation is booked (惠民殡葬: the basic fee waived), an eco
    # burial chosen, the certificate issued: the matter completes
    refused = sys_.call(
        "POST",
        f"/api/v1/funeral/cases/{case_id}/date-of-death",
        FUNERAL_HOME,
        json={"date_of_death": "2026-05-25", "reason": "?"},
    )
    assert refused.status_code == 400  # only a date some notice gave
    ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/date-of-death",
            FUNERAL_HOME,
            json={"date_of_death": "2026-05-20", "reason": "the hospital's certificate is the record"},
        )
    )
    assert not outbox(sys_, "funeral", "death.date_corrected")  # the date every step stands on: nothing to send
    scheduled = datetime(2026, 5, 23, 9, tzinfo=LOCAL_ZONE).isoformat()
    booked = ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/bookings",
            FUNERAL_HOME,
            json={"kind": "cremation", "scheduled_at": scheduled, "funeral_home": "绍兴市殡仪馆"},
        )
    )
    assert booked["fees_fen"] == booked["waived_fen"] == 40000
    ok(
        sys_.call(
            "POST",
            "/api/v1/funeral/niches",
            FUNERAL_HOME,
            json={"facility": "YC-01", "region_code": DISTRICT, "count": 2},
        )
    )
    burial = ok(sys_.call("POST", f"/api/v1/funeral/cases/{case_id}/burial", FUNERAL_HOME, json={"form": "niche"}))
    assert burial["burial"] == {
        "form": "niche",
        "eco": True,
        "reward_fen": 200000,
        "niche": "YC-01#1",
        "policy_version": burial["burial"]["policy_version"],
    }
    cremated = ok(
        sys_.call(
            "POST", f"/api/v1/funeral/cases/{case_id}/cremation", FUNERAL_HOME, json={"cremated_on": "2026-05-23"}
        )
    )
    assert cremated["cremation_certificate"] == "H330602-2026-000001"
    done = wait_for(
        lambda: (v := matter(sys_, matter_id)) and v["state"] == "completed" and v,
        timeout=20,
        what="the matter completed",
    )
    assert set(steps_of(done).values()) == {"done"} and len(done["steps"]) == 7
    assert {s["owner"] for s in done["steps"]} == {"funeral", "assistance", "care", "marriage", *AFTER_DEATH_PARTNERS}
    assert all(s["reason"] for s in done["steps"] if s["owner"] in ("assistance", "care", "marriage"))
    stats = ok(sys_.call("GET", f"/api/v1/funeral/statistics/{DISTRICT}", FUNERAL_HOME))
    assert (stats["deaths"], stats["cremation_rate"], stats["eco_burial_rate"]) == (1, 1.0, 1.0)
    assert ok(sys_.call("GET", f"/api/v1/funeral/niches/{DISTRICT}", FUNERAL_HOME))["free"] == 1

    # each department received death.notified exactly once, three notices notwithstanding
    deaths = [(code, event_id) for code, kind, event_id in sys_.simulator.received if kind == "death.notified"]
    assert sorted(code for code, _ in deaths) == sorted(AFTER_DEATH_PARTNERS)
    assert len({event_id for _, event_id in deaths}) == 1
    revoke_late = sys_.call(
        "POST", f"/api/v1/funeral/cases/{case_id}/revocation", APPROVER, json={"reason": "a mistake"}
    )
    assert revoke_late.status_code == 409  # cremated: the death was real


def test_revocation_restores_everything_with_back_pay(system, manual_clock):
    sys_ = system(simulator=True, assistance=PartnerData(), care=True, funeral=True, simulated_partners=DEPARTMENTS)
    story = a_married_dibao_elder(sys_, manual_clock)
    elder, spouse = story["elder"], story["spouse"]
    manual_clock.set_local_date(date(2026, 6, 10))
    family = ("citizen", spouse)
    case = ok(
        sys_.call(
            "POST",
            "/api/v1/funeral/deaths",
            family,
            json={**notice(elder, DIED, None), "informant_relationship": "spouse"},
        )
    )
    case_id, matter_id = case["case_id"], case["matter_id"]
    wait_for(lambda: internal_steps_done(sys_, matter_id), timeout=40, what="the automatic steps")
    # the spouse sees the matter she applied for
    assert ok(sys_.call("GET", f"/api/v1/matters/{matter_id}", family))["matter_type"] == "after_death"
    after_fen = entitlement(sys_, story["household_id"])["monthly_amount_fen"]
    assert after_fen < story["before_fen"]
    july = pay_month(sys_, manual_clock, date(2026, 7, 1))  # July paid at the survivor's amount
    assert july["total_fen"] == after_fen

    # a reversal reported before the revocation is refused as "not yet", and that answer is not
    # kept for its Idempotency-Key: the same request, once the matter is revoked, is taken (the
    # fault suite's partner copies were parked after 20 deliveries answered from the stored 409)
    early_reversal = {
        "path": f"/api/v1/partner/matters/{matter_id}/steps/hukou_cancellation",
        "as_": ("partner", "police"),
        "json": {"state": "reversed"},
        "headers": {"Idempotency-Key": f"police-early-reversal-{matter_id}"},
    }
    early = sys_.call("POST", **early_reversal)
    assert early.status_code == 409 and "not revoked" in early.json()["detail"], early.text

    manual_clock.set_local_date(date(2026, 7, 6))
    township = sys_.call(
        "POST", f"/api/v1/funeral/cases/{case_id}/revocation", CASEWORKER, json={"reason": "a mistake"}
    )
    assert township.status_code == 403  # a district bureau revokes, not a township
    revoked = ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/revocation",
            APPROVER,
            json={"reason": "the hospital reported the wrong person"},
        )
    )
    assert revoked["state"] == "revoked"
    view = wait_for(
        lambda: (v := matter(sys_, matter_id)) and v["state"] == "revoked" and v, timeout=40, what="every step reversed"
    )
    # the early request again (the simulated police has reversed the step by now): checked afresh,
    # so "already said exactly that", not the stored "not revoked"
    again = sys_.call("POST", **early_reversal)
    assert again.status_code == 202 and again.json()["event_id"] is None, again.text
    assert steps_of(view) == {
        "cremation_certificate": "not_applicable",
        "benefits_stopped": "reversed",
        "care_stopped": "reversed",
        "marriage_ended": "reversed",
        "hukou_cancellation": "reversed",
        "pension_and_survivors": "reversed",
        "medical_insurance_closure": "reversed",
    }
    assert view["revoked_at"] is not None and view["completed_at"] is None
    # each reversed step shows what it undid: its done report, before the reversal
    for step in view["steps"]:
        if step["state"] == "reversed":
            assert [(h["state"], h["applied"]) for h in step["history"]] == [("done", True)], step
            assert step["history"][0]["reported_at"] < step["reported_at"], step

    # assistance: back in the household at the old amount; back pay equals what the stop withheld
    # (July's difference; June was paid in full), and June's recovery is cancelled
    household = ok(sys_.call("GET", f"/api/v1/assistance/households/{story['household_id']}", CASEWORKER))
    assert all(m["left_on"] is None for m in household["members"])
    assert entitlement(sys_, story["household_id"])["monthly_amount_fen"] == story["before_fen"]
    settled = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    (back,) = settled["back_pay"]
    withheld = story["before_fen"] - july["total_fen"]
    assert back["amount_fen"] == withheld and back["months"] == [
        {"month": "2026-07-01", "owed_fen": story["before_fen"], "paid_fen": after_fen}
    ]
    assert (back["state"], back["payments"]) == ("due", [])
    assert [o["recovery"]["state"] for o in settled["overpayments"]] == ["cancelled"]
    # marriage restored, allowance and voucher restored
    assert ok(sys_.call("GET", f"/api/v1/marriage/marital-status/{spouse}", REGISTRAR))["status"] == "married"
    care = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/care", CASEWORKER))
    assert care["state"] == "reversed" and care["allowance_ended_on"] is None
    assert care["vouchers"] == [{"programme": "dibao", "ends_on": None}]
    # the departments received the revocation once each, and reported their steps reversed
    revocations = sorted(code for code, kind, _ in sys_.simulator.received if kind == "death.revoked")
    assert revocations == sorted(AFTER_DEATH_PARTNERS)
    engine = create_engine(sys_.databases["funeral"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox WHERE event_type = 'death.notified'")).scalar() == 1
    engine.dispose()

    # 补发: August's cycle pays the back pay beside August's own payment, once however often it is
    # frozen; September's pays none of it again
    manual_clock.set_local_date(date(2026, 8, 1))
    first = ok(sys_.call("POST", "/api/v1/assistance/payment-cycles", ADMIN, json={"month": "2026-08-01"}))
    assert (first["top_up"], first["top_up_fen"]) == (1, withheld)
    assert (first["regular"], first["total_fen"]) == (1, story["before_fen"] + withheld)
    august = pay_month(sys_, manual_clock, date(2026, 8, 1))  # freezes again: nothing new
    assert (august["created"], august["payments"], august["top_up"]) == (False, 2, 1)
    september = pay_month(sys_, manual_clock, date(2026, 9, 1))
    assert (september["top_up"], september["total_fen"]) == (0, story["before_fen"])
    paid = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    (back,) = paid["back_pay"]
    (top_up,) = back["payments"]
    assert back["state"] == "paid"
    assert (top_up["cycle_id"], top_up["kind"], top_up["for_month"], top_up["amount_fen"], top_up["state"]) == (
        "2026-08",
        "top_up",
        "2026-07-01",
        withheld,
        "paid",
    )
    # July is paid what the benefit owed for it, in two payments: the survivor's amount and the top-up
    payments = ok(sys_.call("GET", f"/api/v1/assistance/households/{story['household_id']}/payments", CASEWORKER))[
        "payments"
    ]
    july_paid = [
        (p["kind"], p["amount_fen"]) for p in payments if p["for_month"] == "2026-07-01" and p["state"] == "paid"
    ]
    assert sorted(july_paid) == [("regular", after_fen), ("top_up", withheld)]
    assert sum(fen for _, fen in july_paid) == story["before_fen"]


def outbox(sys_, service: str, event_type: str) -> list[dict]:
    """The envelopes `service` recorded of `event_type`, in order."""
    engine = create_engine(sys_.databases[service])
    with engine.connect() as conn:
        bodies = (
            conn.execute(
                text("SELECT body FROM outbox WHERE event_type = :t AND exchange = :x ORDER BY id"),
                {"t": event_type, "x": EVENTS_EXCHANGE},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return bodies


def republish(sys_, envelope: dict) -> None:
    """The event as the relay published it, once more (a redelivery: the same id)."""
    with Connection(sys_.amqp_uri) as conn:
        Producer(conn.channel()).publish(
            envelope, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=envelope["type"], serializer="json"
        )


CORRECTED_STEPS = (("assistance", "benefits_stopped"), ("care", "care_stopped"), ("marriage", "marriage_ended"))
CORRECTED_FROM = "date of death corrected from 2026-06-02 to 2026-05-20"
RESTATED_STEPS = (
    "benefits_stopped",
    "care_stopped",
    "marriage_ended",
    "hukou_cancellation",
    "pension_and_survivors",
    "medical_insurance_closure",
)


def test_a_corrected_date_of_death_is_taken_again_by_every_step(system, manual_clock):
    """The spouse applies on 10 June giving 2 June as the date of death; every step is taken with
    it (June, the month of death, due in full: nothing overpaid). The hospital's certificate the
    next day says 20 May, and the clerk confirms 20 May: assistance now finds June paid for after
    the death (the overpayment, for recovery), care ends the allowance and the voucher on 20 May,
    the spouse is widowed since 20 May; each participant reports its step again naming the
    correction, and the matter shows each step's latest report with the first in its history.
    Each effect is there once, the correction redelivered and copied notwithstanding."""
    sys_ = system(simulator=True, assistance=PartnerData(), care=True, funeral=True, simulated_partners=DEPARTMENTS)
    story = a_married_dibao_elder(sys_, manual_clock)
    elder, spouse = story["elder"], story["spouse"]
    wrong = date(2026, 6, 2)
    manual_clock.set_local_date(date(2026, 6, 10))
    case = ok(
        sys_.call(
            "POST",
            "/api/v1/funeral/deaths",
            ("citizen", spouse),
            json={**notice(elder, wrong, None), "informant_relationship": "spouse"},
        )
    )
    case_id, matter_id = case["case_id"], case["matter_id"]
    wait_for(lambda: internal_steps_done(sys_, matter_id), timeout=40, what="the automatic steps")
    after_fen = entitlement(sys_, story["household_id"])["monthly_amount_fen"]
    stopped = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    assert (stopped["date_of_death"], stopped["overpayments"]) == (wrong.isoformat(), [])
    assert ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/care", CASEWORKER))["allowance_ended_on"] == "2026-06-02"
    assert ok(sys_.call("GET", f"/api/v1/marriage/marital-status/{spouse}", REGISTRAR))["since"] == "2026-06-02"

    # the hospital's certificate gives another date: flagged; the clerk confirms it
    manual_clock.set_local_date(date(2026, 6, 11))
    certificate = ok(
        sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(elder, DIED, "D3306-002"))
    )
    assert (certificate["date_conflict"], certificate["date_of_death"]) == (True, "2026-06-02")
    confirmed = ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/date-of-death",
            FUNERAL_HOME,
            json={"date_of_death": DIED.isoformat(), "reason": "the hospital's certificate"},
        )
    )
    assert (confirmed["date_of_death"], confirmed["date_conflict"]) == (DIED.isoformat(), False)
    (correction,) = outbox(sys_, "funeral", "death.date_corrected")
    assert correction["matter_id"] == matter_id and correction["data"] == {
        "case_id": case_id,
        "resident_id": elder,
        "date_of_death": "2026-05-20",
        "previous_date_of_death": "2026-06-02",
        "reason": "the hospital's certificate",
        "revision": 1,
    }

    def reports():
        return {
            service: [r["data"] for r in outbox(sys_, service, "matter.step_reported") if r["data"]["step"] == step]
            for service, step in CORRECTED_STEPS
        }

    def every_step_restated():
        return all(len(said) == 2 for said in reports().values())

    wait_for(every_step_restated, timeout=40, what="every step taken again with the confirmed date")

    def view_restated():
        """The matter once every step, the departments' too, reads as its report naming the correction."""
        view = matter(sys_, matter_id)
        return (
            view
            and all(
                (s["reason"] or "").startswith(CORRECTED_FROM) for s in view["steps"] if s["step"] in RESTATED_STEPS
            )
            and view
        )

    view = wait_for(view_restated, timeout=40, what="the matter reading the corrected date")

    def effects():
        """Everything the three services now say of the death."""
        household = ok(sys_.call("GET", f"/api/v1/assistance/households/{story['household_id']}", CASEWORKER))
        return {
            "assistance": ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER)),
            "left_on": [m["left_on"] for m in household["members"] if m["resident_id"] == elder],
            "entitlement": entitlement(sys_, story["household_id"]),
            "payments": ok(
                sys_.call("GET", f"/api/v1/assistance/households/{story['household_id']}/payments", CASEWORKER)
            )["payments"],
            "care": ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/care", CASEWORKER)),
            "order": ok(sys_.call("GET", f"/api/v1/care/orders/{story['order_id']}", CASEWORKER))["state"],
            "marital_status": ok(sys_.call("GET", f"/api/v1/marriage/marital-status/{spouse}", REGISTRAR)),
            "reports": reports(),
            "matter": matter(sys_, matter_id),
            "member_left": [e["data"] for e in outbox(sys_, "assistance", "assistance.member_left")],
        }

    now = effects()
    # assistance: the deceased left on 20 May; the survivor's amount stands; June was paid for two
    # after the month of death: the overpayment, recorded once, open for recovery
    settled = now["assistance"]
    assert settled["date_of_death"] == DIED.isoformat() and now["left_on"] == [DIED.isoformat()]
    assert now["entitlement"]["monthly_amount_fen"] == after_fen and now["entitlement"]["ends_on"] is None
    (over,) = settled["overpayments"]
    assert over["months"] == ["2026-06-01"] and over["amount_fen"] == story["paid"]["2026-06-01"] - after_fen
    assert (over["recovery"]["state"], over["recovery"]["amount_fen"]) == ("open", over["amount_fen"])
    assert settled["back_pay"] == []  # nothing was withheld for a month the new date makes due
    # care: the allowance and the voucher end on 20 May, the cancelled order stays cancelled, once
    care = now["care"]
    assert (care["state"], care["date_of_death"], care["allowance_ended_on"]) == (
        "applied",
        DIED.isoformat(),
        DIED.isoformat(),
    )
    assert care["vouchers"] == [{"programme": "dibao", "ends_on": "2026-05-20"}]
    assert care["changes"]["orders"] == [story["order_id"]] and now["order"] == "cancelled"
    # marriage: the spouse is widowed since 20 May
    assert now["marital_status"] == {"status": "widowed", "since": "2026-05-20"}
    # each step reported again, done, naming the correction; the matter reads as the latest report
    # of each, the first one (with the old date) in the step's history
    steps = {s["step"]: s for s in view["steps"]}
    for service, step in CORRECTED_STEPS:
        first, again = now["reports"][service]
        assert (first["step"], first["state"], again["step"], again["state"]) == (step, "done", step, "done")
        assert again["reason"].startswith(CORRECTED_FROM + ": ")
        assert "2026-06-02" not in again["reason"].split(": ", 1)[1], again["reason"]
        shown = steps[step]
        assert (shown["state"], shown["reason"]) == ("done", again["reason"]), step
        (earlier,) = shown["history"]
        assert (earlier["state"], earlier["reason"], earlier["applied"]) == ("done", first["reason"], True), step
        assert earlier["reported_at"] < shown["reported_at"], step
    assert "2026-05-20" in steps["marriage_ended"]["reason"].split(": ", 1)[1]
    assert "2026-06-02" in steps["marriage_ended"]["history"][0]["reason"]
    # the departments said it again through the partner API: the same, their first word (no reason) before
    for step in ("hukou_cancellation", "pension_and_survivors", "medical_insurance_closure"):
        assert (steps[step]["state"], steps[step]["reason"]) == ("done", CORRECTED_FROM), step
        assert [(h["state"], h["reason"]) for h in steps[step]["history"]] == [("done", None)], step
    untouched = steps["cremation_certificate"]
    assert (untouched["state"], untouched["history"]) == ("pending", [])
    assert view["state"] == "in_progress" and view["completed_at"] is None
    # the departments entitled to the death received the correction, once each
    wait_for(
        lambda: (
            sorted(code for code, kind, _ in sys_.simulator.received if kind == "death.date_corrected")
            == sorted(AFTER_DEATH_PARTNERS)
        ),
        timeout=20,
        what="the departments' copies",
    )

    # the correction again, under its own id (a redelivery) and under a new one (a copy): no
    # effect twice, no report again
    republish(sys_, correction)
    copy = {**correction, "id": str(uuid.uuid4())}
    republish(sys_, copy)

    def copy_handled(service):
        engine = create_engine(sys_.databases[service])
        with engine.connect() as conn:
            found = conn.execute(
                text("SELECT count(*) FROM inbox WHERE consumer = :c AND event_id = :i"),
                {"c": f"{service}.on_death", "i": copy["id"]},
            ).scalar()
        engine.dispose()
        return found == 1

    wait_for(lambda: all(copy_handled(s) for s, _ in CORRECTED_STEPS), timeout=20, what="the copies handled")
    wait_for(
        lambda: all(queue_depth(sys_.amqp_uri, f"{s}.on_death") == 0 for s, _ in CORRECTED_STEPS),
        timeout=20,
        what="the redeliveries taken",
    )
    eventlet.sleep(0.5)
    assert effects() == now


def test_steps_past_their_deadline_are_flagged(system, manual_clock):
    """No department answers (no simulator, no assistance or care running): after ten days the
    partners' steps read overdue in the matter, for the operations gauge to count."""
    manual_clock.set_local_date(date(2026, 6, 10))
    sys_ = system(funeral=True)
    elder = compose_resident_id(DISTRICT, date(1941, 3, 1), 11)
    case = ok(sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(elder, DIED, "D-9")))
    wait_for(lambda: matter(sys_, case["matter_id"]), timeout=20, what="the matter")
    # marriage runs in every system: it has no marriage of this person and says so
    view = wait_for(
        lambda: (v := matter(sys_, case["matter_id"])) and steps_of(v)["marriage_ended"] != "pending" and v,
        timeout=20,
        what="marriage's report",
    )
    assert steps_of(view)["marriage_ended"] == "not_applicable"
    assert not any(s["overdue"] for s in view["steps"])
    manual_clock.set_local_date(date(2026, 6, 21))
    late = matter(sys_, case["matter_id"])
    overdue = {s["step"] for s in late["steps"] if s["overdue"]}
    assert overdue == {
        "benefits_stopped",
        "care_stopped",
        "hukou_cancellation",
        "pension_and_survivors",
        "medical_insurance_closure",
    }  # the funeral's 15 days are not over yet
    assert late["state"] == "in_progress"
