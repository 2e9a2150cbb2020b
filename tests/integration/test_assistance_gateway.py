"""A 低保 application through the gateway, from the citizen's submission to the first payment:
acceptance, the household economic check against the partner data sources with one source timing
out, public notice, approval, 救助一件事 fanned out to the partner departments (the simulator
reports their items) and shown by the progress view, then the month's payment run with the bank's
answer. The rules' arithmetic is tested in tests/unit; here every hop is the real one."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime

from sqlalchemy import create_engine, insert

from chassis.tables import policy_parameters
from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.helpers import wait_for

TOWNSHIP, DISTRICT = "330602001", "330602"
CASEWORKER = ("clerk", "caseworker-01", TOWNSHIP)
APPROVER = ("clerk", "approver-01", DISTRICT)
PAYMENTS_OFFICE = ("admin", "payments-office")
BANK = ("partner", "banks")
ITEMS = 14  # the default 救助一件事 catalogue for 低保


def pin_standard(url: str):
    """Yuecheng's 低保 standard pinned at 850 yuan a month for 2026 (beside the migration's seeds)."""
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


def members() -> list[dict]:
    head = compose_resident_id(DISTRICT, date(1970, 3, 1), 101)
    spouse = compose_resident_id(DISTRICT, date(1972, 5, 5), 102)
    child = compose_resident_id(DISTRICT, date(2012, 9, 1), 103)
    return [
        {"resident_id": head, "name": "王建国", "relationship": "head", "monthly_income_fen": 60000},
        {
            "resident_id": spouse,
            "name": "李秀英",
            "relationship": "spouse",
            "monthly_income_fen": 20000,
            "seriously_ill": True,
        },
        {"resident_id": child, "name": "王小明", "relationship": "child", "monthly_income_fen": 0},
    ]


def test_dibao_from_submission_to_first_payment_through_the_gateway(system, manual_clock):
    data = PartnerData(slow_sources={"real_estate"})
    sys_ = system(simulator=True, assistance=data)
    pin_standard(sys_.databases["assistance"])
    household = members()
    for m in household:
        data.facts[("bank_deposits", m["resident_id"])] = {"deposits_fen": 1_000_000}
    citizen = ("citizen", household[0]["resident_id"])
    manual_clock.set_local_date(date(2026, 4, 27))

    bad = sys_.call(
        "POST",
        "/api/v1/assistance/applications",
        citizen,
        json={
            "programme": "dibao",
            "region_code": TOWNSHIP,
            "address": "越城区府山街道 1 号",
            "members": [{**household[0], "resident_id": household[0]["resident_id"][:-1] + "0"}],
        },
    )
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert "resident_id" in bad.json()["errors"]["members"]["0"]

    applied = sys_.call(
        "POST",
        "/api/v1/assistance/applications",
        citizen,
        json={
            "programme": "dibao",
            "region_code": TOWNSHIP,
            "address": "越城区府山街道 1 号",
            "bank_account": "6228480000000001",
            "members": household,
        },
    )
    assert applied.status_code == 201, applied.text
    app_id = applied.json()["application_id"]
    path = f"/api/v1/assistance/applications/{app_id}"

    accepted = sys_.call("POST", path + "/acceptance", CASEWORKER)
    assert accepted.status_code == 200 and accepted.json()["decision_due"] == "2026-05-28"
    assert sys_.call("POST", path + "/acceptance", ("clerk", "elsewhere", "330603001")).status_code == 403

    # 核对 with the real-estate registry timing out: kept, shown failed, the application waits
    first = sys_.call("POST", path + "/economic-check", CASEWORKER).json()
    assert first["state"] == "accepted" and first["economic_check"]["complete"] is False
    assert {m["sources"]["real_estate"]["status"] for m in first["economic_check"]["members"]} == {"timeout"}
    data.slow_sources.clear()
    second = sys_.call("POST", path + "/economic-check", CASEWORKER).json()
    assert second["state"] == "checked" and second["economic_check"]["complete"] is True

    manual_clock.set_local_date(date(2026, 4, 28))
    assert sys_.call("POST", path + "/notice", CASEWORKER).json()["notice_ends"] == "2026-05-05"
    manual_clock.set_local_date(date(2026, 5, 6))
    refused = sys_.call("POST", path + "/decision", CASEWORKER, json={"decision": "approve", "reason": "ok"})
    assert refused.status_code == 409  # approval is the district's, not delegated to the township
    approved = sys_.call(
        "POST", path + "/decision", APPROVER, json={"decision": "approve", "reason": "income below the standard"}
    )
    assert approved.status_code == 200, approved.text
    approved = approved.json()
    assert approved["state"] == "approved" and approved["monthly_amount_fen"] == 200500
    household_id = approved["household_id"]

    # 救助一件事: every linked item reported by its department, shown to the household
    matter_path = f"/api/v1/matters/{approved['matter_id']}"

    def all_items_done():
        view = sys_.call("GET", matter_path, citizen)
        return view.status_code == 200 and view.json()["state"] == "completed" and view.json()

    matter = wait_for(all_items_done, timeout=30, what="every linked item reported")
    assert len(matter["steps"]) == ITEMS and {s["state"] for s in matter["steps"]} == {"done"}
    owners = {s["step"]: s["owner"] for s in matter["steps"]}
    assert owners["medical_assistance"] == "medical_insurance" and owners["funeral_fee_waiver"] == "assistance"
    rate = sys_.call("GET", "/api/v1/statistics/joint-handling/assistance_linked_items", APPROVER).json()
    assert (rate["matters"], rate["all_granted"], rate["rate"]) == (1, 1, 1.0)
    nowhere = sys_.call("GET", "/api/v1/statistics/joint-handling/assistance_linked_items", ("clerk", "no-area"))
    assert nowhere.status_code == 403

    # the first payment: May's cycle, the bank batch, the bank's answer
    frozen = sys_.call("POST", "/api/v1/assistance/payment-cycles", PAYMENTS_OFFICE, json={"month": "2026-05-01"})
    assert frozen.status_code == 201, frozen.text
    assert (frozen.json()["payments"], frozen.json()["total_fen"], frozen.json()["created"]) == (1, 200500, True)
    cycle = frozen.json()["cycle_id"]
    assert (
        sys_.call("POST", "/api/v1/assistance/payment-cycles", CASEWORKER, json={"month": "2026-05-01"}).status_code
        == 403
    )  # the payments office runs it
    early = sys_.call(
        "POST",
        f"/api/v1/assistance/payment-cycles/{cycle}/bank-results",
        BANK,
        json={"results": [{"payment_id": 1, "status": "paid"}]},
    )
    assert early.status_code == 409  # nothing was sent to the bank yet
    batch = sys_.call("POST", f"/api/v1/assistance/payment-cycles/{cycle}/bank-batch", PAYMENTS_OFFICE).json()
    assert (batch["rows"], batch["total_fen"], batch["state"]) == (1, 200500, "sent")
    resent = sys_.call("POST", f"/api/v1/assistance/payment-cycles/{cycle}/bank-batch", PAYMENTS_OFFICE)
    assert resent.status_code == 409  # a second file could have the bank pay twice
    with open(batch["file"], newline="") as f:
        (line,) = list(csv.DictReader(f))
    assert (line["bank_account"], line["amount_fen"]) == ("6228480000000001", "200500")

    answer = {"results": [{"payment_id": int(line["payment_id"]), "status": "paid"}]}
    reconciled = sys_.call("POST", f"/api/v1/assistance/payment-cycles/{cycle}/bank-results", BANK, json=answer)
    assert reconciled.status_code == 200 and reconciled.json()["paid"] == 1
    assert reconciled.json()["state"] == "reconciled"
    again = sys_.call("POST", f"/api/v1/assistance/payment-cycles/{cycle}/bank-results", BANK, json=answer).json()
    assert (again["paid"], again["unchanged"]) == (0, 1)  # the same file twice pays nobody twice
    refrozen = sys_.call("POST", "/api/v1/assistance/payment-cycles", PAYMENTS_OFFICE, json={"month": "2026-05-20"})
    assert (refrozen.json()["created"], refrozen.json()["payments"]) == (False, 1)

    paid = sys_.call("GET", f"/api/v1/assistance/households/{household_id}/payments", citizen).json()["payments"]
    assert [(p["for_month"], p["amount_fen"], p["state"]) for p in paid] == [("2026-05-01", 200500, "paid")]
    seen = sys_.call("GET", f"/api/v1/assistance/households/{household_id}", citizen).json()
    assert len(seen["members"]) == 3 and seen["entitlements"][0]["next_review_on"] == "2027-05-06"
    stranger = ("citizen", compose_resident_id(DISTRICT, date(1990, 1, 1), 201))
    assert sys_.call("GET", f"/api/v1/assistance/households/{household_id}/payments", stranger).status_code == 403
