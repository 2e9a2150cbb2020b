"""Two deaths in one 低保 household, through the gateway, against the real broker and PostgreSQL.

A household of three (P3 a month) loses two members in June; July was paid for three before either
death was notified. The first death leaves the survivors due P2, the second P1: the first death asks
back P3 - P2, the second P2 - P1, never P3 - P1 again (the household would repay the first one's
share twice). The shares hold as the bank answers, as either date of death is corrected, and when
one of the deaths is revoked the other is counted again without it.
"""

from __future__ import annotations

from datetime import date

from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.helpers import wait_for
from tests.integration.test_assistance_recoveries import (
    ADMIN,
    APPROVER,
    CASEWORKER,
    CYCLES,
    answer,
    approved,
    audit_rows,
    freeze_and_send,
    ok,
    pay_month,
    recoveries,
    recovery,
    repay,
)

TOWNSHIP, DISTRICT = "330602001", "330602"
FUNERAL_HOME = ("clerk", "funeral-home-01", DISTRICT)
HEAD = compose_resident_id(DISTRICT, date(1972, 3, 1), 31)
SPOUSE = compose_resident_id(DISTRICT, date(1974, 1, 2), 42)
SON = compose_resident_id(DISTRICT, date(2000, 9, 9), 51)
NAMES = {HEAD: "赵大山", SPOUSE: "钱小梅", SON: "赵小川"}
JULY = "2026-07-01"


def a_household_of_three(sys_, clock) -> tuple[str, int]:
    decision = approved(
        sys_,
        clock,
        [
            {"resident_id": HEAD, "name": NAMES[HEAD], "relationship": "head", "monthly_income_fen": 20000},
            {"resident_id": SPOUSE, "name": NAMES[SPOUSE], "relationship": "spouse", "monthly_income_fen": 10000},
            {"resident_id": SON, "name": NAMES[SON], "relationship": "child", "monthly_income_fen": 0},
        ],
    )
    return decision["household_id"], decision["monthly_amount_fen"]


def no_deposits() -> PartnerData:
    return PartnerData(facts={("bank_deposits", p): {"deposits_fen": 0} for p in NAMES})


def notice(resident_id: str, died: date, reference: str) -> dict:
    return {
        "deceased": {"resident_id": resident_id, "name": NAMES[resident_id]},
        "date_of_death": died.isoformat(),
        "region_code": TOWNSHIP,
        "reference": reference,
        "place_of_death": "绍兴市人民医院",
    }


def after_death(sys_, case_id: str) -> dict | None:
    response = sys_.call("GET", f"/api/v1/after-death/{case_id}/assistance", APPROVER)
    return response.json() if response.status_code == 200 else None


def notify(sys_, clock, day: date, resident_id: str, died: date, reference: str) -> str:
    """The hospital reports the death; assistance has handled it when this returns."""
    clock.set_local_date(day)
    case = ok(
        sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(resident_id, died, reference))
    )
    wait_for(lambda: after_death(sys_, case["case_id"]), timeout=30, what="assistance's handling of the death")
    return case["case_id"]


def correct(sys_, clock, day: date, case_id: str, resident_id: str, to: date, reference: str) -> None:
    """The police report another date, the clerk confirms it: assistance restates the death."""
    clock.set_local_date(day)
    flagged = ok(
        sys_.call("POST", "/api/v1/partner/deaths", ("partner", "police"), json=notice(resident_id, to, reference))
    )
    assert (flagged["case_id"], flagged["date_conflict"]) == (case_id, True)
    ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/date-of-death",
            FUNERAL_HOME,
            json={"date_of_death": to.isoformat(), "reason": "the police register"},
        )
    )
    wait_for(
        lambda: after_death(sys_, case_id)["date_of_death"] == to.isoformat(),
        timeout=30,
        what="assistance's handling of the corrected date",
    )


def amount_now(sys_, household_id: str) -> int:
    (only,) = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))["entitlements"]
    return only["monthly_amount_fen"]


def overpaid(sys_, case_id: str) -> tuple[list[str], int, str, str]:
    """The death's overpayment: months, amount, its recovery's state and id."""
    (over,) = after_death(sys_, case_id)["overpayments"]
    return over["months"], over["amount_fen"], over["recovery"]["state"], over["recovery"]["recovery_id"]


def test_two_deaths_ask_back_each_share_once_as_the_bank_answers_and_a_date_moves(system, manual_clock):
    """July is with the bank when the head (10 June) and his wife (20 June) are reported dead. The
    bank says July failed: nothing is overpaid; then that it paid after all: each share again, once.
    The wife's date is corrected to 5 July: July was hers in full, so only his share of July is
    asked back."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    july, (july_payment,) = freeze_and_send(sys_, manual_clock, date(2026, 7, 1))

    head = notify(sys_, manual_clock, date(2026, 7, 6), HEAD, date(2026, 6, 10), "D3306-501")
    p2 = amount_now(sys_, household_id)
    wife = notify(sys_, manual_clock, date(2026, 7, 8), SPOUSE, date(2026, 6, 20), "D3306-502")
    p1 = amount_now(sys_, household_id)
    assert p3 > p2 > p1 > 0
    assert overpaid(sys_, head)[:3] == ([JULY], p3 - p2, "open")
    assert overpaid(sys_, wife)[:3] == ([JULY], p2 - p1, "open")  # not p3 - p1: his share is his death's
    assert recoveries(sys_)["outstanding_fen"] == p3 - p1
    # both counted the one July payment, each with what it left due
    (wife_over,) = after_death(sys_, wife)["overpayments"]
    assert [(p["payment_id"], p["state"], p["due_fen"]) for p in wife_over["payments"]] == [
        (july_payment, "pending", p1)
    ]
    assert after_death(sys_, head)["overpayments"][0]["payments"][0]["due_fen"] == p2

    # the bank did not pay July: neither death overpaid anything
    manual_clock.set_local_date(date(2026, 7, 10))
    answer(sys_, july["cycle_id"], [july_payment], "failed", "account frozen")
    assert [overpaid(sys_, case)[1:3] for case in (head, wife)] == [(0, "cancelled"), (0, "cancelled")]
    assert recoveries(sys_)["outstanding_fen"] == 0
    # it paid after all: each share is owed again, once
    manual_clock.set_local_date(date(2026, 7, 12))
    assert answer(sys_, july["cycle_id"], [july_payment], "paid")["paid"] == 1
    assert overpaid(sys_, head)[:3] == ([JULY], p3 - p2, "open")
    assert overpaid(sys_, wife)[:3] == ([JULY], p2 - p1, "open")
    assert recoveries(sys_)["outstanding_fen"] == p3 - p1
    wife_recovery = overpaid(sys_, wife)[3]
    assert [
        (r.details["before_fen"], r.details["after_fen"])
        for r in audit_rows(sys_, "recovery.recount", f"recovery-{wife_recovery}")
    ] == [(p2 - p1, 0), (0, p2 - p1)]

    # the wife died on 5 July, not 20 June: July was due for two (her and the son), only the head's
    # share of it was overpaid; hers comes to nothing, his stays
    correct(sys_, manual_clock, date(2026, 7, 14), wife, SPOUSE, date(2026, 7, 5), "GA-502")
    assert overpaid(sys_, wife)[1:3] == (0, "cancelled")
    assert overpaid(sys_, head)[:3] == ([JULY], p3 - p2, "open")
    assert recoveries(sys_)["outstanding_fen"] == p3 - p2
    assert amount_now(sys_, household_id) == p1
    august, _ = freeze_and_send(sys_, manual_clock, date(2026, 8, 1))
    assert (august["regular"], august["total_fen"], august["arrears"]) == (1, p1, 0)


def test_a_corrected_date_and_a_revocation_count_the_other_death_again(system, manual_clock):
    """July was paid for three; the head (10 June) and his wife (20 June) are reported dead, each
    death asks back its share, and the wife's share is repaid. The head's date is corrected to 20
    May: June was overpaid by his share too; hers stays as it was. Then the head's death is revoked
    (a mistake): his recovery is cancelled, and hers is counted again without it: all of July beyond
    the son's amount, P3 - P1, what she repaid counting toward it."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    for day in (date(2026, 5, 10), date(2026, 6, 1), date(2026, 7, 1)):
        pay_month(sys_, manual_clock, day)
    head = notify(sys_, manual_clock, date(2026, 7, 6), HEAD, date(2026, 6, 10), "D3306-601")
    p2 = amount_now(sys_, household_id)
    wife = notify(sys_, manual_clock, date(2026, 7, 8), SPOUSE, date(2026, 6, 20), "D3306-602")
    p1 = amount_now(sys_, household_id)
    assert p3 > p2 > p1 > 0
    assert overpaid(sys_, head)[:3] == ([JULY], p3 - p2, "open")
    months, amount, _, wife_recovery = overpaid(sys_, wife)
    assert (months, amount) == ([JULY], p2 - p1)
    manual_clock.set_local_date(date(2026, 7, 9))
    assert (
        ok(repay(sys_, wife_recovery, amount_fen=p2 - p1, method="repayment", received_on="2026-07-09"), 201)["state"]
        == "recovered"
    )

    # the head died on 20 May: June, paid for three, was due for two; July as before
    correct(sys_, manual_clock, date(2026, 7, 10), head, HEAD, date(2026, 5, 20), "GA-601")
    assert overpaid(sys_, head)[:3] == (["2026-06-01", JULY], 2 * (p3 - p2), "open")
    assert overpaid(sys_, wife)[1:3] == (p2 - p1, "recovered")  # unchanged: her share of July
    assert recoveries(sys_)["outstanding_fen"] == 2 * (p3 - p2)
    assert amount_now(sys_, household_id) == p1

    # the head's death is revoked: nothing is owed for it; the wife's death alone made July paid
    # beyond what the son is due by P3 - P1, of which P2 - P1 came back already
    manual_clock.set_local_date(date(2026, 7, 12))
    ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{head}/revocation",
            APPROVER,
            json={"reason": "the hospital reported the wrong person"},
        )
    )
    wait_for(lambda: after_death(sys_, head)["state"] == "reversed", timeout=30, what="the revocation in assistance")
    assert overpaid(sys_, head)[1:3] == (2 * (p3 - p2), "cancelled")
    assert overpaid(sys_, wife)[:3] == ([JULY], p3 - p1, "open")
    again = recovery(sys_, wife_recovery)
    assert (again["amount_fen"], again["recovered_fen"], again["outstanding_fen"], again["refund_due_fen"]) == (
        p3 - p1,
        p2 - p1,
        p3 - p2,
        0,
    )
    assert f"another death in the household was revoked (funeral case {head})" in again["note"]
    assert recoveries(sys_)["outstanding_fen"] == p3 - p2


def revoke(sys_, clock, day: date, case_id: str) -> dict:
    clock.set_local_date(day)
    ok(
        sys_.call(
            "POST",
            f"/api/v1/funeral/cases/{case_id}/revocation",
            APPROVER,
            json={"reason": "the hospital reported the wrong person"},
        )
    )
    return wait_for(
        lambda: (v := after_death(sys_, case_id)) and v["state"] == "reversed" and v,
        timeout=30,
        what="the revocation in assistance",
    )


def back_pay_months(view: dict) -> list[tuple[str, int, int]]:
    (back,) = view["back_pay"]
    assert back["amount_fen"] == sum(m["owed_fen"] - m["paid_fen"] for m in back["months"])
    return [(m["month"], m["owed_fen"], m["paid_fen"]) for m in back["months"]]


def test_revoking_the_first_of_two_deaths_leaves_the_second_standing(system, manual_clock):
    """The head dies on 20 May (reported at once: P2 for his wife and son from June), his wife on
    20 June (P1 for the son from July); June, July and August are paid so. The head's death is
    revoked on 5 August: his wife's still stands, so the household is the head and the son, due
    their own amount Q from now on (not P3, the amount for three before his death), and the back
    pay is P3 for June (all three were alive) but Q for July and August."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    head = notify(sys_, manual_clock, date(2026, 5, 25), HEAD, date(2026, 5, 20), "D3306-701")
    p2 = amount_now(sys_, household_id)
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    notify(sys_, manual_clock, date(2026, 6, 25), SPOUSE, date(2026, 6, 20), "D3306-702")
    p1 = amount_now(sys_, household_id)
    assert p3 > p2 > p1 > 0
    pay_month(sys_, manual_clock, date(2026, 7, 1))
    pay_month(sys_, manual_clock, date(2026, 8, 1))

    view = revoke(sys_, manual_clock, date(2026, 8, 5), head)
    q = amount_now(sys_, household_id)
    # the head earns 100 yuan a month more than his wife: the two of them are due that much less
    assert q == p2 - 10000 and q not in (p3, p1)
    assert back_pay_months(view) == [("2026-06-01", p3, p2), ("2026-07-01", q, p1), ("2026-08-01", q, p1)]
    household = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))
    assert sorted(m["resident_id"] for m in household["members"] if m["left_on"] is None) == sorted([HEAD, SON])
    # September pays Q, and the back pay beside it
    september = pay_month(sys_, manual_clock, date(2026, 9, 1))
    assert september["total_fen"] == q + (p3 - p2) + 2 * (q - p1)
    assert amount_now(sys_, household_id) == q


def test_revoking_a_death_recorded_after_a_later_one_owes_the_months_between_for_all(system, manual_clock):
    """The wife dies on 20 May but is reported only in July; the head dies on 5 June and is reported
    on 8 June, before June's cycle is frozen (10 June): June is paid P2, for the wife and son. Her
    death, recorded second, counted her amount before it (P2) without the head. It is revoked: the
    head's death stands, so from now on, and for July and August, the household is due P2 (her
    amount before); but June was due for all three (the head was alive in June): owed at P3."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    notify(sys_, manual_clock, date(2026, 6, 8), HEAD, date(2026, 6, 5), "D3306-801")
    p2 = amount_now(sys_, household_id)
    pay_month(sys_, manual_clock, date(2026, 6, 10))  # June's cycle, frozen late
    pay_month(sys_, manual_clock, date(2026, 7, 1))
    wife = notify(sys_, manual_clock, date(2026, 7, 3), SPOUSE, date(2026, 5, 20), "D3306-802")
    p1 = amount_now(sys_, household_id)
    assert p3 > p2 > p1 > 0
    pay_month(sys_, manual_clock, date(2026, 8, 1))

    view = revoke(sys_, manual_clock, date(2026, 8, 5), wife)
    assert amount_now(sys_, household_id) == p2
    assert back_pay_months(view) == [("2026-06-01", p3, p2), ("2026-08-01", p2, p1)]
    assert [o["recovery"]["state"] for o in view["overpayments"]] == ["cancelled"]


def test_revoking_the_first_death_reopens_the_benefit_the_second_ended(system, manual_clock):
    """A household of two: the head dies on 20 May (his wife alone is due P1 from June), his wife
    on 20 June, which ends the benefit (nobody is left). The head's death is revoked on 5 August:
    he is alive, the survivor of his wife's death, so the benefit runs on for him, at his own
    amount Q, and the months it was stopped are owed (failed before issue 18: the benefit stayed
    ended with the wife's death, though the head was alive)."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    decision = approved(
        sys_,
        manual_clock,
        [
            {"resident_id": HEAD, "name": NAMES[HEAD], "relationship": "head", "monthly_income_fen": 20000},
            {"resident_id": SPOUSE, "name": NAMES[SPOUSE], "relationship": "spouse", "monthly_income_fen": 10000},
        ],
    )
    household_id, p2 = decision["household_id"], decision["monthly_amount_fen"]
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    head = notify(sys_, manual_clock, date(2026, 5, 25), HEAD, date(2026, 5, 20), "D3306-901")
    p1 = amount_now(sys_, household_id)
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    notify(sys_, manual_clock, date(2026, 6, 25), SPOUSE, date(2026, 6, 20), "D3306-902")
    (ended,) = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))["entitlements"]
    assert ended["ends_on"] == "2026-06-20"
    for day in (date(2026, 7, 1), date(2026, 8, 1)):  # nothing to pay: the benefit ended
        manual_clock.set_local_date(day)
        assert ok(sys_.call("POST", CYCLES, ADMIN, json={"month": day.isoformat()}))["payments"] == 0

    view = revoke(sys_, manual_clock, date(2026, 8, 5), head)
    (benefit,) = ok(sys_.call("GET", f"/api/v1/assistance/households/{household_id}", CASEWORKER))["entitlements"]
    q = benefit["monthly_amount_fen"]
    assert benefit["ends_on"] is None
    assert q == p1 - 10000  # the head earns 100 yuan a month more than his wife
    assert back_pay_months(view) == [("2026-06-01", p2, p1), ("2026-07-01", q, 0), ("2026-08-01", q, 0)]
    september = pay_month(sys_, manual_clock, date(2026, 9, 1))
    assert september["regular"] == 1 and september["total_fen"] == q + (p2 - p1) + 2 * q


def test_a_member_born_between_the_death_and_its_revocation_counts_from_the_month_born(system, manual_clock):
    """As in test_revoking_the_first_of_two_deaths_leaves_the_second_standing, with a grandchild
    born into the household on 3 August, before the head's death is revoked on 5 August: July is
    owed for the head and the son (Q), August for the three of them (as from now on), not the
    newborn for every month (failed before issue 18: July was owed for
    the newborn too)."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    pay_month(sys_, manual_clock, date(2026, 5, 10))
    head = notify(sys_, manual_clock, date(2026, 5, 25), HEAD, date(2026, 5, 20), "D3306-951")
    p2 = amount_now(sys_, household_id)
    pay_month(sys_, manual_clock, date(2026, 6, 1))
    notify(sys_, manual_clock, date(2026, 6, 25), SPOUSE, date(2026, 6, 20), "D3306-952")
    p1 = amount_now(sys_, household_id)
    pay_month(sys_, manual_clock, date(2026, 7, 1))
    pay_month(sys_, manual_clock, date(2026, 8, 1))
    manual_clock.set_local_date(date(2026, 8, 3))
    baby = compose_resident_id(DISTRICT, date(2026, 7, 28), 61)
    ok(
        sys_.call(
            "POST",
            f"/api/v1/assistance/households/{household_id}/members",
            CASEWORKER,
            json={
                "resident_id": baby,
                "name": "赵小宝",
                "relationship": "grandchild",
                "monthly_income_fen": 0,
                "joined_on": "2026-08-03",
            },
        ),
        201,
    )
    view = revoke(sys_, manual_clock, date(2026, 8, 5), head)
    q = p2 - 10000  # the head and the son, as in the test above
    months = back_pay_months(view)
    assert months[0] == ("2026-06-01", p3, p2)
    assert p3 > p2 > p1 > 0
    assert months[1] == ("2026-07-01", q, p1)  # the newborn is not owed for July
    three = amount_now(sys_, household_id)  # the head, the son and the newborn, from now on
    assert three > q and three not in (p3, p2)
    assert months[2][:2] == ("2026-08-01", three)  # nor left out of August


# The household of three at 850元/月 (pin_standard): the 低保 gap is the standard times the members
# less their incomes (head 200元, wife 100元, son nothing).
ALL_THREE, HEAD_AND_SON, WIFE_AND_SON, SON_ALONE = 225_000, 150_000, 160_000, 85_000


def test_deaths_handled_out_of_date_order_count_each_month_with_whoever_it_was_due_for(system, manual_clock):
    """May, June and July were paid for three. The wife's death (10 June) is handled first, the
    head's (20 May) after it. June was due for the wife and the son (she died in June: her month
    is paid in full), July for the son alone: what was overpaid is June's ALL_THREE - WIFE_AND_SON
    and July's ALL_THREE - SON_ALONE, never June counted as if she had been gone already."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, p3 = a_household_of_three(sys_, manual_clock)
    for day in (date(2026, 5, 10), date(2026, 6, 1), date(2026, 7, 1)):
        pay_month(sys_, manual_clock, day)
    wife = notify(sys_, manual_clock, date(2026, 7, 6), SPOUSE, date(2026, 6, 10), "D3306-901")
    assert (p3, amount_now(sys_, household_id)) == (ALL_THREE, HEAD_AND_SON)
    head = notify(sys_, manual_clock, date(2026, 7, 8), HEAD, date(2026, 5, 20), "D3306-902")
    assert amount_now(sys_, household_id) == SON_ALONE
    # her death, handled first, asks back July beyond the head and son
    assert overpaid(sys_, wife)[:3] == ([JULY], ALL_THREE - HEAD_AND_SON, "open")
    # his: June beyond the wife and son, and what July still held beyond the son
    assert overpaid(sys_, head)[:3] == (
        ["2026-06-01", JULY],
        (ALL_THREE - WIFE_AND_SON) + (HEAD_AND_SON - SON_ALONE),
        "open",
    )
    assert recoveries(sys_)["outstanding_fen"] == (ALL_THREE - WIFE_AND_SON) + (ALL_THREE - SON_ALONE)


def test_a_correction_moving_the_later_recorded_death_first_counts_june_with_the_head(system, manual_clock):
    """The head (10 June) is recorded first, the wife (20 June) second; her date is then corrected
    to 20 May, before his. June was due for the head and the son (he died in June), July for the
    son: her June counts beyond HEAD_AND_SON, not beyond the son alone."""
    sys_ = system(assistance=no_deposits(), funeral=True)
    household_id, _ = a_household_of_three(sys_, manual_clock)
    for day in (date(2026, 5, 10), date(2026, 6, 1), date(2026, 7, 1)):
        pay_month(sys_, manual_clock, day)
    head = notify(sys_, manual_clock, date(2026, 7, 6), HEAD, date(2026, 6, 10), "D3306-911")
    wife = notify(sys_, manual_clock, date(2026, 7, 8), SPOUSE, date(2026, 6, 20), "D3306-912")
    assert amount_now(sys_, household_id) == SON_ALONE
    assert overpaid(sys_, head)[:3] == ([JULY], ALL_THREE - WIFE_AND_SON, "open")
    assert overpaid(sys_, wife)[:3] == ([JULY], WIFE_AND_SON - SON_ALONE, "open")

    correct(sys_, manual_clock, date(2026, 7, 10), wife, SPOUSE, date(2026, 5, 20), "GA-912")
    assert overpaid(sys_, head)[:3] == ([JULY], ALL_THREE - WIFE_AND_SON, "open")  # his share as it was
    assert overpaid(sys_, wife)[:3] == (
        ["2026-06-01", JULY],
        (ALL_THREE - HEAD_AND_SON) + (WIFE_AND_SON - SON_ALONE),
        "open",
    )
    assert recoveries(sys_)["outstanding_fen"] == (ALL_THREE - HEAD_AND_SON) + (ALL_THREE - SON_ALONE)
