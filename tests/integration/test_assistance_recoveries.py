"""追回 through the gateway, against the real broker and PostgreSQL: what a death finds paid for
months after it is recovered, and the bank's answers, the payments office's entries and a
revocation move the recovery.

- A bank answer that a counted payment failed takes it off the overpayment and its recovery (once,
  however often the file is sent); the month is paid again as arrears only for what the survivors
  are due, and not at all when the benefit ended with the death; a payment the bank made after
  all puts it back.
- Repayments, write-offs and refunds are recorded (each an entry and an audit row), never beyond
  what is outstanding or owed back; Idempotency-Key makes a retried entry one entry.
- A revoked death cancels its recoveries, and money recovered from a person who is alive is owed
  back until a refund is recorded.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.helpers import wait_for
from tests.integration.test_after_death import pin_standard

TOWNSHIP, OTHER_TOWNSHIP, DISTRICT = "330602001", "330602002", "330602"
CASEWORKER = ("clerk", "caseworker-01", TOWNSHIP)
STRANGER = ("clerk", "caseworker-09", OTHER_TOWNSHIP)
APPROVER = ("clerk", "approver-01", DISTRICT)
ADMIN = ("admin", "bureau")
BANK = ("partner", "banks")
DIED = date(2026, 5, 20)
ELDER = compose_resident_id(DISTRICT, date(1941, 3, 1), 11)
SPOUSE = compose_resident_id(DISTRICT, date(1946, 1, 2), 22)
CYCLES = "/api/v1/assistance/payment-cycles"
RECOVERIES = "/api/v1/assistance/recoveries"


def ok(response, status=(200, 201, 202)):
    assert response.status_code in (status if isinstance(status, tuple) else (status,)), response.text
    return response.json()


def problem(response, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    (reason,) = response.json()["errors"][field]
    return reason


def no_deposits() -> PartnerData:
    """The departments' answers, with no savings for anyone here (the asset test passes)."""
    return PartnerData(facts={("bank_deposits", p): {"deposits_fen": 0} for p in (ELDER, SPOUSE)})


def approved(sys_, clock, members: list[dict]) -> dict:
    """A 低保 household approved on 6 May 2026 at the 2026 standard (850 yuan)."""
    pin_standard(sys_.databases["assistance"])
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
                "members": members,
            },
        )
    )
    path = f"/api/v1/assistance/applications/{application['application_id']}"
    ok(sys_.call("POST", path + "/acceptance", CASEWORKER))
    assert ok(sys_.call("POST", path + "/economic-check", CASEWORKER))["state"] == "checked"
    clock.set_local_date(date(2026, 4, 28))
    ok(sys_.call("POST", path + "/notice", CASEWORKER))
    clock.set_local_date(date(2026, 5, 6))
    return ok(sys_.call("POST", path + "/decision", APPROVER, json={"decision": "approve", "reason": "below"}))


def freeze_and_send(sys_, clock, day: date) -> tuple[dict, list[int]]:
    """The payments office freezes the month and hands the bank its batch: the payments are pending."""
    clock.set_local_date(day)
    cycle = ok(sys_.call("POST", CYCLES, ADMIN, json={"month": day.isoformat()}))
    batch = ok(sys_.call("POST", f"{CYCLES}/{cycle['cycle_id']}/bank-batch", ADMIN))
    return cycle, [int(line.split(",")[0]) for line in open(batch["file"]).read().splitlines()[1:]]


def answer(sys_, cycle_id: str, ids: list[int], status: str, reason: str | None = None) -> dict:
    return ok(
        sys_.call(
            "POST",
            f"{CYCLES}/{cycle_id}/bank-results",
            BANK,
            json={"results": [{"payment_id": i, "status": status, "reason": reason} for i in ids]},
        )
    )


def pay_month(sys_, clock, day: date) -> dict:
    cycle, ids = freeze_and_send(sys_, clock, day)
    answer(sys_, cycle["cycle_id"], ids, "paid")
    return cycle


def notify_death(sys_, clock, day: date, reference: str) -> str:
    """The hospital reports the death (on `DIED`); assistance has handled it when this returns."""
    clock.set_local_date(day)
    case = ok(
        sys_.call(
            "POST",
            "/api/v1/partner/deaths",
            ("partner", "health"),
            json={
                "deceased": {"resident_id": ELDER, "name": "陈老伯"},
                "date_of_death": DIED.isoformat(),
                "region_code": TOWNSHIP,
                "reference": reference,
                "place_of_death": "绍兴市人民医院",
            },
        )
    )
    wait_for(
        lambda: sys_.call("GET", f"/api/v1/after-death/{case['case_id']}/assistance", APPROVER).status_code == 200,
        timeout=30,
        what="assistance's handling of the death",
    )
    return case["case_id"]


def recoveries(sys_, as_=APPROVER, **query) -> dict:
    suffix = "?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else ""
    return ok(sys_.call("GET", RECOVERIES + suffix, as_))


def recovery(sys_, recovery_id: str, as_=CASEWORKER) -> dict:
    return ok(sys_.call("GET", f"{RECOVERIES}/{recovery_id}", as_))


def repay(sys_, recovery_id: str, as_=CASEWORKER, headers=None, **body):
    body.setdefault("received_on", "2026-07-12")
    return sys_.call("POST", f"{RECOVERIES}/{recovery_id}/repayments", as_, json=body, headers=headers)


def audit_rows(sys_, action: str, subject: str) -> list:
    engine = create_engine(sys_.databases["assistance"])
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT outcome, details FROM audit_log WHERE action = :a AND subject = :s ORDER BY id"),
            {"a": action, "s": subject},
        ).all()
    engine.dispose()
    return rows


def household_payments(sys_, household_id: str, month: str) -> list[tuple]:
    payments = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}/payments", CASEWORKER))["payments"]
    return sorted((p["kind"], p["amount_fen"], p["state"]) for p in payments if p["for_month"] == month)


def test_a_payment_the_bank_did_not_make_is_not_recovered_nor_paid_again_for_the_deceased(system, manual_clock):
    """A couple on 低保; he dies on 20 May. June is paid, July handed to the bank, when the death is
    notified on 10 July: June and July are overpaid by his share. The family returns June's share;
    the bank then says July failed (his account was closed): July is no overpayment, the recovery
    comes down to what came back and closes; August pays July again, at her amount only."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    decision = approved(
        sys_,
        manual_clock,
        [
            {"resident_id": ELDER, "name": "陈老伯", "relationship": "head", "monthly_income_fen": 30000},
            {"resident_id": SPOUSE, "name": "林阿婆", "relationship": "spouse", "monthly_income_fen": 20000},
        ],
    )
    household_id, before = decision["household_id"], decision["monthly_amount_fen"]
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    july, (july_payment,) = freeze_and_send(sys_, manual_clock, date(2026, 7, 1))
    case_id = notify_death(sys_, manual_clock, date(2026, 7, 10), "D3306-100")

    (entitlement,) = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))["entitlements"]
    after = entitlement["monthly_amount_fen"]
    share = before - after
    assert 0 < after < before
    listed = recoveries(sys_)
    (open_one,) = listed["recoveries"]
    assert (open_one["state"], open_one["amount_fen"], open_one["outstanding_fen"], open_one["months"]) == (
        "open",
        2 * share,
        2 * share,
        ["2026-06-01", "2026-07-01"],
    )
    assert (open_one["case_id"], open_one["household_id"], open_one["region_code"]) == (case_id, household_id, TOWNSHIP)
    assert listed["outstanding_fen"] == 2 * share
    recovery_id = open_one["recovery_id"]
    # the payments office of another township neither sees nor touches it; the district and the city do
    assert recoveries(sys_, STRANGER)["recoveries"] == []
    assert sys_.call("GET", f"{RECOVERIES}/{recovery_id}", STRANGER).status_code == 403
    assert repay(sys_, recovery_id, STRANGER, amount_fen=100, method="repayment").status_code == 403
    assert [r["recovery_id"] for r in recoveries(sys_, ADMIN)["recoveries"]] == [recovery_id]
    assert sys_.call("GET", f"{RECOVERIES}?region_code={TOWNSHIP}", STRANGER).status_code == 403

    # the family returns June's share through the bank
    manual_clock.set_local_date(date(2026, 7, 12))
    returned = ok(repay(sys_, recovery_id, amount_fen=share, method="bank_return", reference="BR-2026-0712"), 201)
    assert (returned["state"], returned["recovered_fen"], returned["outstanding_fen"]) == ("open", share, share)
    (entry,) = returned["repayments"]
    assert (entry["method"], entry["amount_fen"], entry["reference"], entry["recorded_by"]) == (
        "bank_return",
        share,
        "BR-2026-0712",
        "caseworker-01",
    )
    # refusals name the field and the reason, and change nothing
    assert "outstanding" in problem(
        repay(sys_, recovery_id, amount_fen=share + 1, method="repayment"), 422, "amount_fen"
    )
    problem(repay(sys_, recovery_id, amount_fen=100, method="write_off"), 422, "reason")
    problem(repay(sys_, recovery_id, amount_fen=0, method="repayment"), 400, "amount_fen")
    problem(repay(sys_, recovery_id, amount_fen=100, method="cash"), 400, "method")
    problem(repay(sys_, recovery_id, amount_fen=100, method="repayment", received_on="2026-07-13"), 422, "received_on")
    assert recovery(sys_, recovery_id)["recovered_fen"] == share
    assert [outcome for outcome, _ in audit_rows(sys_, "recovery.repayment", f"recovery-{recovery_id}")] == [
        "open",
        "refused",
    ]

    # the bank: July's payment failed, the account of the deceased was closed
    manual_clock.set_local_date(date(2026, 7, 15))
    reconciled = answer(sys_, july["cycle_id"], [july_payment], "failed", "account closed")
    assert (reconciled["failed"], reconciled["state"]) == (1, "reconciled")
    closed = recovery(sys_, recovery_id)
    assert (
        closed["state"],
        closed["amount_fen"],
        closed["recovered_fen"],
        closed["outstanding_fen"],
        closed["refund_due_fen"],
        closed["months"],
        closed["closed_on"],
    ) == ("recovered", share, share, 0, 0, ["2026-06-01"], "2026-07-15")
    assert "2026-07" in closed["note"]
    settled = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    (over,) = settled["overpayments"]
    assert over["amount_fen"] == share and over["recovery"]["state"] == "recovered"
    assert [(p["for_month"], p["state"]) for p in over["payments"]] == [
        ("2026-06-01", "paid"),
        ("2026-07-01", "failed"),
    ]

    # the same file again: nothing changes, nothing is taken off twice
    again = answer(sys_, july["cycle_id"], [july_payment], "failed", "account closed")
    assert (again["failed"], again["unchanged"]) == (0, 1)
    assert recovery(sys_, recovery_id) == closed
    (recount,) = audit_rows(sys_, "recovery.recount", f"recovery-{recovery_id}")
    assert recount.outcome == "recovered"
    assert (recount.details["before_fen"], recount.details["after_fen"]) == (2 * share, share)

    # nothing is outstanding: a further repayment is a conflict with the recovery's state
    assert "recovered" in problem(repay(sys_, recovery_id, amount_fen=1, method="repayment"), 409, "recovery")
    assert recoveries(sys_)["recoveries"] == []  # open, by default
    (done,) = recoveries(sys_, state="recovered")["recoveries"]
    assert (done["recovery_id"], done["outstanding_fen"]) == (recovery_id, 0)
    assert [r["recovery_id"] for r in recoveries(sys_, state="all")["recoveries"]] == [recovery_id]
    problem(sys_.call("GET", f"{RECOVERIES}?state=paid", APPROVER), 400, "state")

    # August pays July again as arrears, but only what she is due for it: never his share
    august, _ = freeze_and_send(sys_, manual_clock, date(2026, 8, 1))
    assert (august["arrears"], august["arrears_fen"]) == (1, after)
    assert (august["regular"], august["total_fen"]) == (1, 2 * after)
    assert household_payments(sys_, household_id, "2026-07-01") == [
        ("arrears", after, "pending"),
        ("regular", before, "failed"),
    ]
    assert recovery(sys_, recovery_id)["amount_fen"] == share  # arrears at her amount overpay nothing


def test_a_recovery_the_bank_leaves_nothing_of_is_cancelled_and_opens_again_if_the_bank_paid_after_all(
    system, manual_clock
):
    """He lived alone; June was handed to the bank when his death (20 May) was notified on 10 June:
    June is overpaid in full. The family repays 100 yuan (a retried request is one entry). The bank
    says June failed: nothing is owed, the 100 yuan are owed back, and no cycle pays June again.
    Then the bank says it paid June after all: the recovery opens again for the rest."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    decision = approved(
        sys_,
        manual_clock,
        [{"resident_id": ELDER, "name": "陈老伯", "relationship": "head", "monthly_income_fen": 30000}],
    )
    household_id, amount = decision["household_id"], decision["monthly_amount_fen"]
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    june, (june_payment,) = freeze_and_send(sys_, manual_clock, date(2026, 6, 1))
    case_id = notify_death(sys_, manual_clock, date(2026, 6, 10), "D3306-200")
    (open_one,) = recoveries(sys_, CASEWORKER)["recoveries"]
    recovery_id = open_one["recovery_id"]
    assert (open_one["amount_fen"], open_one["months"]) == (amount, ["2026-06-01"])

    manual_clock.set_local_date(date(2026, 6, 12))
    key = {"Idempotency-Key": "repayment-receipt-0612"}
    first = repay(
        sys_,
        recovery_id,
        headers=key,
        amount_fen=10000,
        method="repayment",
        received_on="2026-06-12",
        reference="R-0612",
    )
    second = repay(
        sys_,
        recovery_id,
        headers=key,
        amount_fen=10000,
        method="repayment",
        received_on="2026-06-12",
        reference="R-0612",
    )
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers.get("Idempotent-Replayed") == "true" and second.json() == first.json()
    assert [e["amount_fen"] for e in recovery(sys_, recovery_id)["repayments"]] == [10000]
    assert recovery(sys_, recovery_id)["recovered_fen"] == 10000

    # the bank never paid June: nothing was overpaid, the 100 yuan repaid are owed back
    manual_clock.set_local_date(date(2026, 6, 15))
    answer(sys_, june["cycle_id"], [june_payment], "failed", "account closed")
    nothing = recovery(sys_, recovery_id)
    assert (
        nothing["state"],
        nothing["amount_fen"],
        nothing["outstanding_fen"],
        nothing["refund_due_fen"],
        nothing["months"],
        nothing["closed_on"],
    ) == ("cancelled", 0, 0, 10000, [], "2026-06-15")
    assert nothing["note"].startswith("nothing to recover") and "owed back" in nothing["note"]
    owing = recoveries(sys_, state="refund_due")
    assert [r["recovery_id"] for r in owing["recoveries"]] == [recovery_id] and owing["refund_due_fen"] == 10000
    assert recoveries(sys_)["recoveries"] == []
    # the benefit ended with the death: July pays nothing, and June is not paid again as arrears
    july = ok(sys_.call("POST", CYCLES, ADMIN, json={"month": "2026-07-01"}))
    assert (july["payments"], july["arrears"], july["total_fen"]) == (0, 0, 0)

    # the bank's correction: it paid June after all (the month had not been paid again)
    manual_clock.set_local_date(date(2026, 6, 20))
    corrected = answer(sys_, june["cycle_id"], [june_payment], "paid")
    assert (corrected["paid"], corrected["conflicts"]) == (1, [])
    reopened = recovery(sys_, recovery_id)
    assert (
        reopened["state"],
        reopened["amount_fen"],
        reopened["outstanding_fen"],
        reopened["refund_due_fen"],
        reopened["months"],
        reopened["closed_on"],
    ) == ("open", amount, amount - 10000, 0, ["2026-06-01"], None)
    assert "after all" in reopened["note"]
    assert [outcome for outcome, _ in audit_rows(sys_, "recovery.recount", f"recovery-{recovery_id}")] == [
        "cancelled",
        "open",
    ]
    # the rest is written off, with the reason, by the district bureau: a township may not
    problem(
        repay(
            sys_,
            recovery_id,
            amount_fen=amount - 10000,
            method="write_off",
            received_on="2026-06-20",
            reason="the estate has nothing left",
        ),
        403,
        "method",
    )
    written = ok(
        repay(
            sys_,
            recovery_id,
            as_=APPROVER,
            amount_fen=amount - 10000,
            method="write_off",
            received_on="2026-06-20",
            reason="the estate has nothing left",
        ),
        201,
    )
    assert (written["state"], written["written_off_fen"], written["outstanding_fen"], written["closed_on"]) == (
        "recovered",
        amount - 10000,
        0,
        "2026-06-20",
    )
    assert household_payments(sys_, household_id, "2026-06-01") == [("regular", amount, "paid")]
    assert (
        ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))["overpayments"][0]["recovery"][
            "state"
        ]
        == "recovered"
    )


def test_a_revoked_death_owes_back_what_was_recovered(system, manual_clock):
    """June was paid to a man reported dead on 20 May; his family repaid all of it. The report was
    wrong: the revocation cancels the recovery, the money is owed back, and the payments office
    records the refund; no more than is owed back."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    decision = approved(
        sys_,
        manual_clock,
        [{"resident_id": ELDER, "name": "陈老伯", "relationship": "head", "monthly_income_fen": 30000}],
    )
    household_id, amount = decision["household_id"], decision["monthly_amount_fen"]
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    case_id = notify_death(sys_, manual_clock, date(2026, 6, 10), "D3306-300")
    (open_one,) = recoveries(sys_)["recoveries"]
    recovery_id = open_one["recovery_id"]
    manual_clock.set_local_date(date(2026, 6, 12))
    repaid = ok(repay(sys_, recovery_id, amount_fen=amount, method="repayment", received_on="2026-06-12"), 201)
    assert (repaid["state"], repaid["outstanding_fen"]) == ("recovered", 0)
    refused = sys_.call(
        "POST", f"{RECOVERIES}/{recovery_id}/refunds", CASEWORKER, json={"amount_fen": 100, "paid_on": "2026-06-12"}
    )
    assert "owed back" in problem(refused, 409, "recovery")

    manual_clock.set_local_date(date(2026, 6, 20))
    ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/revocation",
            APPROVER,
            json={"reason": "the hospital reported the wrong person"},
        )
    )
    wait_for(
        lambda: ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))["state"] == "reversed",
        timeout=30,
        what="the revocation in assistance",
    )
    cancelled = recovery(sys_, recovery_id)
    assert (
        cancelled["state"],
        cancelled["amount_fen"],
        cancelled["recovered_fen"],
        cancelled["outstanding_fen"],
        cancelled["refund_due_fen"],
        cancelled["closed_on"],
    ) == ("cancelled", amount, amount, 0, amount, "2026-06-20")
    assert "revoked" in cancelled["note"] and "owed back" in cancelled["note"]
    owing = recoveries(sys_, state="refund_due")
    assert [r["recovery_id"] for r in owing["recoveries"]] == [recovery_id] and owing["refund_due_fen"] == amount
    (cancel,) = audit_rows(sys_, "recovery.cancel", f"recovery-{recovery_id}")
    assert cancel.details["refund_due_fen"] == amount
    # the back pay: June was paid in full, nothing is owed for it; he is a recipient again
    settled = ok(sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER))
    assert settled["back_pay"] == [] and settled["overpayments"][0]["recovery"]["refund_due_fen"] == amount

    refunds = f"{RECOVERIES}/{recovery_id}/refunds"
    assert "owed back" in problem(
        sys_.call("POST", refunds, CASEWORKER, json={"amount_fen": amount + 1, "paid_on": "2026-06-20"}),
        422,
        "amount_fen",
    )
    assert sys_.call("POST", refunds, STRANGER, json={"amount_fen": amount, "paid_on": "2026-06-20"}).status_code == 403
    given = ok(
        sys_.call(
            "POST", refunds, CASEWORKER, json={"amount_fen": amount, "paid_on": "2026-06-20", "reference": "TK-0620"}
        ),
        201,
    )
    assert (given["state"], given["refunded_fen"], given["refund_due_fen"]) == ("cancelled", amount, 0)
    assert [(e["method"], e["amount_fen"]) for e in given["repayments"]] == [("repayment", amount), ("refund", amount)]
    assert recoveries(sys_, state="refund_due")["recoveries"] == []
    # July pays him again in full
    july = pay_month(sys_, manual_clock, date(2026, 7, 1))
    assert (july["regular"], july["total_fen"]) == (1, amount)
    assert household_payments(sys_, household_id, "2026-07-01") == [("regular", amount, "paid")]
