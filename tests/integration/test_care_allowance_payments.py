"""The old-age allowance (高龄津贴) paid monthly through the chassis payment run, against the real
broker and PostgreSQL: one cycle per district and month, amounts by age band, the frozen snapshot
(someone enrolled after the freeze is not in that month, and is paid it as back pay next month),
freezing twice pays once, the bank file and the reconciliation's totals, arrears, and an ended
enrolment paid through the month of its end and no later."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import text

from chassis.errors import Problem
from contracts.person import compose_resident_id

ADMIN = {"id": "ops", "role": "admin"}
DISTRICT = "330602"
BUREAU = {"id": "allowance-office", "role": "clerk", "area": DISTRICT}  # the district bureau
TOWNSHIP = {"id": "caseworker-01", "role": "clerk", "area": "330602001"}
NEIGHBOUR = {"id": "caseworker-99", "role": "clerk", "area": "330603"}
BANK = {"id": "banks", "role": "partner"}
VILLAGE, OTHER_VILLAGE = "330602001001", "330602002003"

JUNE, JULY, AUGUST = date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)


def person(born: date, seq: int, region: str = VILLAGE, account: bool = True) -> dict:
    record = {"resident_id": compose_resident_id(region[:6], born, seq), "name": f"老人{seq}", "region_code": region}
    if account:
        record["bank_account"] = f"62170000{seq:011d}"
    return record


TURNS_80 = person(date(1946, 6, 5), 11)  # 80 on 5 June: the 80 band, 50 yuan
TURNS_90 = person(date(1936, 6, 30), 21, OTHER_VILLAGE)  # 90 on June's last day: June is in the 90 band
HUNDRED = person(date(1926, 1, 1), 31)  # the 100 band, 500 yuan
NO_ACCOUNT = person(date(1940, 3, 3), 41, account=False)  # paid, but the bank has nowhere to send it
ENDING = person(date(1935, 2, 2), 51)  # 91; leaves the city in July
ELSEWHERE = person(date(1940, 4, 4), 61, "330603001001")  # another district's cycle
LATE = person(date(1946, 6, 20), 71)  # 80 on 20 June, after June's freeze
YOUNG = person(date(1950, 1, 1), 81)  # 76: nothing


def payments(engine, cycle_id: str) -> dict[str, tuple]:
    """resident id -> (kind, for_month, amount, bank account, state, reason), one per person and kind."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT resident_id, kind, for_month, amount_fen, bank_account, state, failure_reason "
                "FROM allowance_payment WHERE cycle_id = :c ORDER BY id"
            ),
            {"c": cycle_id},
        ).all()
    out: dict[str, tuple] = {}
    for resident_id, kind, *rest in rows:
        key = resident_id if kind == "regular" else f"{kind}:{resident_id}"
        assert key not in out, f"{key} twice in {cycle_id}"
        out[key] = (kind, *rest)
    return out


def refused(call) -> Problem:
    with pytest.raises(Problem) as problem:
        call()
    return problem.value


def test_the_allowance_is_paid_monthly_by_band_once_from_a_frozen_snapshot(care, manual_clock, tmp_path):
    rpc, engine = care
    manual_clock.set_local_date(date(2026, 6, 1))
    rpc.import_people(ADMIN, {"people": [TURNS_80, TURNS_90, HUNDRED, NO_ACCOUNT, ENDING, ELSEWHERE, LATE, YOUNG]})
    manual_clock.set_local_date(date(2026, 6, 10))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 6

    # June, frozen on 10 June by the district bureau
    june = rpc.freeze_allowance_cycle(BUREAU, {"region_code": DISTRICT, "month": "2026-06-10"})
    assert (june["cycle_id"], june["scope"], june["month"], june["state"], june["created"]) == (
        "330602-2026-06",
        DISTRICT,
        "2026-06-01",
        "frozen",
        True,
    )
    paid_june = {
        TURNS_80["resident_id"]: 5000,
        TURNS_90["resident_id"]: 10000,
        HUNDRED["resident_id"]: 50000,
        NO_ACCOUNT["resident_id"]: 5000,
        ENDING["resident_id"]: 10000,
    }
    got = payments(engine, june["cycle_id"])
    assert {r: p[2] for r, p in got.items()} == paid_june  # not ELSEWHERE (330603), not LATE, not YOUNG
    assert got[NO_ACCOUNT["resident_id"]][4:] == ("failed", "no bank account")
    assert got[HUNDRED["resident_id"]][1:] == (JUNE, 50000, HUNDRED["bank_account"], "pending", None)
    assert (june["payments"], june["total_fen"], june["to_bank"], june["to_bank_fen"]) == (5, 80000, 4, 75000)
    assert (june["without_account"], june["without_account_fen"], june["arrears"], june["back_pay"]) == (1, 5000, 0, 0)

    # who may: the district's bureau and admins; not a township, not another district, not a city
    assert (
        refused(lambda: rpc.freeze_allowance_cycle(TOWNSHIP, {"region_code": DISTRICT, "month": "2026-06-01"})).status
        == 403
    )
    assert (
        refused(lambda: rpc.freeze_allowance_cycle(NEIGHBOUR, {"region_code": DISTRICT, "month": "2026-06-01"})).status
        == 403
    )
    assert refused(lambda: rpc.get_allowance_cycle(NEIGHBOUR, june["cycle_id"])).status == 403
    city = refused(lambda: rpc.freeze_allowance_cycle(ADMIN, {"region_code": "330600", "month": "2026-06-01"}))
    assert city.status == 400 and "region_code" in city.errors

    # freezing again, the same day or after LATE's enrolment, inserts nothing: the snapshot holds
    assert rpc.freeze_allowance_cycle(ADMIN, {"region_code": DISTRICT, "month": "2026-06-01"})["created"] is False
    manual_clock.set_local_date(date(2026, 6, 20))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1  # LATE, from June
    again = rpc.freeze_allowance_cycle(BUREAU, {"region_code": DISTRICT, "month": "2026-06-25"})
    assert (again["created"], again["payments"], again["total_fen"]) == (False, 5, 80000)
    assert LATE["resident_id"] not in payments(engine, june["cycle_id"])

    # the bank file, sent once; the bank's answers, reconciled once
    assert (
        refused(
            lambda: rpc.reconcile_allowance_results(
                BANK, june["cycle_id"], {"results": [{"payment_id": 1, "status": "paid"}]}
            )
        ).status
        == 409
    )  # nothing went to the bank yet
    batch = rpc.send_allowance_batch(BUREAU, june["cycle_id"])
    assert (batch["rows"], batch["total_fen"], batch["state"]) == (4, 75000, "sent")
    assert batch["file"].endswith("care-allowance-330602-2026-06.csv")
    with open(batch["file"], newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert sorted((line["bank_account"], int(line["amount_fen"])) for line in lines) == sorted(
        (p["bank_account"], paid_june[p["resident_id"]]) for p in (TURNS_80, TURNS_90, HUNDRED, ENDING)
    )
    assert refused(lambda: rpc.send_allowance_batch(BUREAU, june["cycle_id"])).status == 409  # never twice
    answers = [
        {"payment_id": int(line["payment_id"]), "status": "paid"}
        for line in lines
        if line["bank_account"] != TURNS_80["bank_account"]
    ]
    closed = next(int(line["payment_id"]) for line in lines if line["bank_account"] == TURNS_80["bank_account"])
    answers.append({"payment_id": closed, "status": "failed", "reason": "account closed"})
    reconciled = rpc.reconcile_allowance_results(BANK, june["cycle_id"], {"results": answers})
    assert (reconciled["paid"], reconciled["failed"], reconciled["pending"], reconciled["state"]) == (
        3,
        1,
        0,
        "reconciled",
    )
    replay = rpc.reconcile_allowance_results(BANK, june["cycle_id"], {"results": answers})
    assert (replay["paid"], replay["failed"], replay["unchanged"], replay["conflicts"]) == (0, 0, 4, [])
    turned = rpc.reconcile_allowance_results(
        BUREAU,
        june["cycle_id"],
        {"results": [{"payment_id": answers[0]["payment_id"], "status": "failed", "reason": "?"}]},
    )
    assert turned["conflicts"] == [{"payment_id": answers[0]["payment_id"], "recorded": "paid", "reported": "failed"}]
    assert (
        refused(lambda: rpc.reconcile_allowance_results(TOWNSHIP, june["cycle_id"], {"results": answers})).status == 403
    )
    summary = rpc.get_allowance_cycle(BUREAU, june["cycle_id"])
    assert (summary["state"], summary["payments"], summary["total_fen"], summary["to_bank"]) == (
        "reconciled",
        5,
        80000,
        0,
    )

    # ENDING leaves the city on 3 July: July (the month of the end) is still paid, August not
    manual_clock.set_local_date(date(2026, 7, 5))
    ended = rpc.end_allowance(TOWNSHIP, ENDING["resident_id"], {"ended_on": "2026-07-03", "reason": "moved away"})
    assert (ended["ended_on"], ended["paid_after_end"]) == ("2026-07-03", [])
    assert rpc.get_elder(TOWNSHIP, ENDING["resident_id"])["allowance"]["ended_on"] == "2026-07-03"
    assert (
        refused(
            lambda: rpc.end_allowance(
                NEIGHBOUR, ENDING["resident_id"], {"ended_on": "2026-07-03", "reason": "moved away"}
            )
        ).status
        == 403
    )

    # July: the regular payments, June's failed payment as arrears, and LATE's June as back pay
    july = rpc.freeze_allowance_cycle(BUREAU, {"region_code": DISTRICT, "month": "2026-07-01"})
    got = payments(engine, july["cycle_id"])
    assert {k: (p[0], p[1], p[2]) for k, p in got.items()} == {
        TURNS_80["resident_id"]: ("regular", JULY, 5000),
        TURNS_90["resident_id"]: ("regular", JULY, 10000),
        HUNDRED["resident_id"]: ("regular", JULY, 50000),
        NO_ACCOUNT["resident_id"]: ("regular", JULY, 5000),
        ENDING["resident_id"]: ("regular", JULY, 10000),
        LATE["resident_id"]: ("regular", JULY, 5000),
        f"arrears:{TURNS_80['resident_id']}": ("arrears", JUNE, 5000),
        f"back_pay:{LATE['resident_id']}": ("back_pay", JUNE, 5000),
    }
    assert (july["arrears"], july["arrears_fen"], july["back_pay"], july["back_pay_fen"]) == (1, 5000, 1, 5000)
    assert july["total_fen"] == 85000 + 5000 + 5000
    assert rpc.freeze_allowance_cycle(ADMIN, {"region_code": DISTRICT, "month": "2026-07-31"})["payments"] == 8

    # August: nobody is paid twice for June, ENDING is not paid; an end recorded after a freeze
    # takes what that cycle (not yet sent) holds for the months after it out of its batch
    manual_clock.set_local_date(date(2026, 8, 1))
    august = rpc.freeze_allowance_cycle(BUREAU, {"region_code": DISTRICT, "month": "2026-08-01"})
    got = payments(engine, august["cycle_id"])
    assert ENDING["resident_id"] not in got and (august["arrears"], august["back_pay"]) == (0, 0)
    assert set(got) == {p["resident_id"] for p in (TURNS_80, TURNS_90, HUNDRED, NO_ACCOUNT, LATE)}
    late = rpc.end_allowance(BUREAU, TURNS_90["resident_id"], {"ended_on": "2026-07-31", "reason": "moved away"})
    assert late["paid_after_end"] == []
    assert [(p["for_month"], p["amount_fen"], p["state"], p["failure_reason"]) for p in late["withheld"]] == [
        ("2026-08-01", 10000, "failed", "withheld: moved away")
    ]
    with engine.connect() as conn:
        live_june = conn.execute(
            text(
                "SELECT resident_id, count(*) FROM allowance_payment "
                "WHERE for_month = '2026-06-01' AND state <> 'failed' GROUP BY 1"
            )
        ).all()
    assert dict(live_june) == {r: 1 for r in paid_june if r != NO_ACCOUNT["resident_id"]} | {LATE["resident_id"]: 1}

    # a person's own payments, newest first
    own = rpc.allowance_payments({"id": LATE["resident_id"], "role": "citizen"}, LATE["resident_id"])
    assert [(p["for_month"], p["kind"]) for p in own] == [
        ("2026-08-01", "regular"),
        ("2026-07-01", "regular"),
        ("2026-06-01", "back_pay"),
    ]
    assert (
        refused(
            lambda: rpc.allowance_payments({"id": HUNDRED["resident_id"], "role": "citizen"}, LATE["resident_id"])
        ).status
        == 403
    )


def test_the_district_bureau_runs_the_allowance_through_the_gateway(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 1))
    admin, bureau, township = ("admin", "ops"), ("clerk", "allowance-office", DISTRICT), ("clerk", "cw-1", "330602001")
    imported = sys_.call("POST", "/api/v1/care/elders/import", admin, json={"people": [HUNDRED, TURNS_80]})
    assert imported.status_code == 200, imported.text
    manual_clock.set_local_date(date(2026, 6, 10))
    assert sys_.call("POST", "/api/v1/care/allowance-job", admin).json()["enrolled"] == 2
    cycles = "/api/v1/care/allowance-payment-cycles"
    month = {"region_code": DISTRICT, "month": "2026-06-01"}
    key = {"Idempotency-Key": "freeze-330602-2026-06"}
    frozen = sys_.call("POST", cycles, bureau, json=month, headers=key)
    assert frozen.status_code == 201, frozen.text
    assert (frozen.json()["payments"], frozen.json()["total_fen"], frozen.json()["created"]) == (2, 55000, True)
    replayed = sys_.call("POST", cycles, bureau, json=month, headers=key)
    assert replayed.headers.get("Idempotent-Replayed") == "true" and replayed.json() == frozen.json()
    again = sys_.call("POST", cycles, bureau, json=month)  # without the key: the run itself is idempotent
    assert (again.json()["created"], again.json()["payments"]) == (False, 2)
    assert sys_.call("POST", cycles, township, json=month).status_code == 403
    assert sys_.call("POST", cycles, ("partner", "banks"), json=month).status_code == 403
    assert sys_.call("POST", cycles, bureau, json={**month, "region_code": "330600"}).status_code == 400

    cycle = frozen.json()["cycle_id"]
    batch = sys_.call("POST", f"{cycles}/{cycle}/bank-batch", bureau).json()
    assert (batch["rows"], batch["total_fen"], batch["state"]) == (2, 55000, "sent")
    with open(batch["file"], newline="") as handle:
        answer = {
            "results": [{"payment_id": int(line["payment_id"]), "status": "paid"} for line in csv.DictReader(handle)]
        }
    reconciled = sys_.call("POST", f"{cycles}/{cycle}/bank-results", ("partner", "banks"), json=answer)
    assert reconciled.status_code == 200 and (reconciled.json()["paid"], reconciled.json()["state"]) == (
        2,
        "reconciled",
    )
    assert sys_.call("POST", f"{cycles}/{cycle}/bank-results", ("partner", "health"), json=answer).status_code == 403
    assert sys_.call("GET", f"{cycles}/{cycle}", bureau).json()["state"] == "reconciled"
    own = sys_.call(
        "GET", f"/api/v1/care/elders/{HUNDRED['resident_id']}/allowance/payments", ("citizen", HUNDRED["resident_id"])
    ).json()["payments"]
    assert [(p["for_month"], p["amount_fen"], p["state"]) for p in own] == [("2026-06-01", 50000, "paid")]
    ended = sys_.call(
        "POST",
        f"/api/v1/care/elders/{HUNDRED['resident_id']}/allowance/end",
        township,
        json={"ended_on": "2026-06-20", "reason": "moved away"},
    )
    assert ended.status_code == 200 and ended.json()["paid_after_end"] == []
