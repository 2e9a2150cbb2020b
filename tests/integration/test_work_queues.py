"""Work queues and claims (认领) through the API, against the real broker and PostgreSQL: a claim
is one caseworker's, a second is refused naming the holder, a retried claim (the same
Idempotency-Key, as the console sends) gets the first answer, another township's caseworker
finds neither the case nor a way to claim it, and a release lets the next caseworker take it.
The clerk's own list of applications, which the queue stands beside, comes a page at a time and
refuses a page larger than the contract's limit with the field and why."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from infra.partner_data import PartnerData
from tests.integration.test_assistance_gateway import members, pin_standard

TOWNSHIP, OTHER_TOWNSHIP = "330602001", "330602002"
FIRST, SECOND = ("clerk", "caseworker-01", TOWNSHIP), ("clerk", "caseworker-02", TOWNSHIP)
STRANGER = ("clerk", "caseworker-09", OTHER_TOWNSHIP)
QUEUE = "/api/v1/work-queues/dibao-township"


def claims_audited(url: str, application_id: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT action, actor_id, outcome FROM audit_log WHERE subject = :s ORDER BY id"),
            {"s": f"assistance_application-{application_id}"},
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_a_claim_is_one_caseworkers_and_a_retried_claim_gets_the_first_answer(system, manual_clock):
    sys_ = system(assistance=PartnerData())
    pin_standard(sys_.databases["assistance"])
    manual_clock.set_local_date(date(2026, 4, 27))
    household = members()
    applied = sys_.call(
        "POST",
        "/api/v1/assistance/applications",
        ("citizen", household[0]["resident_id"]),
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

    page = sys_.call("GET", QUEUE, FIRST).json()
    assert [(i["record_id"], i["claimed_by"]) for i in page["items"]] == [(app_id, None)]
    listed = sys_.call("GET", "/api/v1/assistance/applications?limit=1", FIRST).json()
    assert [a["application_id"] for a in listed["applications"]] == [app_id] and listed["next"] is None
    for query, field in (("limit=201", "limit"), ("limit=1x", "limit"), ("after=..", "after"), ("state=open", "state")):
        bad = sys_.call("GET", "/api/v1/assistance/applications?" + query, FIRST)
        assert bad.status_code == 400 and field in bad.json()["errors"], (query, bad.text)
    assert page["counts"]["submitted"] == 1 and page["counts"]["claimed"] == 0

    key = {"Idempotency-Key": "console-claim-1"}
    claimed = sys_.call("POST", f"{QUEUE}/items/{app_id}/claim", FIRST, headers=key)
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["claimed_by"] == "caseworker-01" and claimed.json()["claimed_at"]
    again = sys_.call("POST", f"{QUEUE}/items/{app_id}/claim", FIRST, headers=key)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == claimed.json()

    taken = sys_.call("POST", f"{QUEUE}/items/{app_id}/claim", SECOND, headers={"Idempotency-Key": "c2"})
    assert taken.status_code == 409 and "caseworker-01" in taken.json()["detail"]
    mine = sys_.call("GET", QUEUE + "?claim=mine", FIRST).json()
    assert [i["record_id"] for i in mine["items"]] == [app_id] and mine["counts"]["claimed"] == 1
    assert sys_.call("GET", QUEUE + "?claim=unclaimed", SECOND).json()["items"] == []

    # another township: the queue holds nothing of this one's, and the case cannot be claimed
    assert sys_.call("GET", QUEUE, STRANGER).json()["items"] == []
    assert sys_.call("POST", f"{QUEUE}/items/{app_id}/claim", STRANGER).status_code in (403, 404)

    assert sys_.call("POST", f"{QUEUE}/items/{app_id}/release", SECOND).status_code == 403  # not theirs
    released = sys_.call("POST", f"{QUEUE}/items/{app_id}/release", FIRST, headers={"Idempotency-Key": "r1"})
    assert released.status_code == 200 and released.json()["claimed_by"] is None
    assert sys_.call("POST", f"{QUEUE}/items/{app_id}/claim", SECOND).json()["claimed_by"] == "caseworker-02"

    assert claims_audited(sys_.databases["gateway"], app_id) == [
        ("work.claim", "caseworker-01", "claimed"),
        ("work.claim", "caseworker-02", "refused"),
        ("work.release", "caseworker-01", "released"),
        ("work.claim", "caseworker-02", "claimed"),
    ]
