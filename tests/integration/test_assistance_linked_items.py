"""救助一件事's linked-item catalogue through the gateway: staff read it with each item's owning
department; administrators add items, change them (a new version, the old kept) and retire them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine, text

from infra.partner_data import PartnerData

ADMIN = ("admin", "policy-office")
CLERK = ("clerk", "caseworker-01", "330602001")
ITEMS = "/api/v1/assistance/linked-items"


def test_the_catalogue_is_read_and_managed_by_versions(system, manual_clock):
    manual_clock.set_local_date(date(2026, 6, 1))
    sys_ = system(assistance=PartnerData())

    listed = sys_.call("GET", ITEMS, CLERK)
    assert listed.status_code == 200, listed.text
    items = {i["code"]: i for i in listed.json()["items"]}
    assert len(items) == 14
    assert items["medical_assistance"]["owner"] == "medical_insurance"
    assert items["medical_assistance"]["owner_title"].startswith("医保")
    assert [v["version"] for v in items["legal_aid"]["versions"]] == [1]

    new = {
        "code": "heating_subsidy",
        "title": "取暖补贴 heating subsidy",
        "owner": "assistance",
        "deadline_days": 10,
        "programmes": ["dibao", "tekun"],
        "reason": "a winter heating subsidy",
    }
    assert sys_.call("POST", ITEMS, CLERK, json=new).status_code == 403
    added = sys_.call("POST", ITEMS, ADMIN, json=new)
    assert added.status_code == 201, added.text
    assert (added.json()["version"], added.json()["active"]) == (1, True)
    assert sys_.call("POST", ITEMS, ADMIN, json=new).status_code == 409

    unknown_owner = sys_.call("POST", ITEMS, ADMIN, json={**new, "code": "x_subsidy", "owner": "nobody"})
    assert unknown_owner.status_code == 422 and "owner" in unknown_owner.json()["errors"], unknown_owner.text

    change = {
        "title": "医疗救助 medical assistance",
        "owner": "medical_insurance",
        "deadline_days": 5,
        "programmes": ["dibao", "dibao_edge", "tekun", "temporary"],
        "reason": "the department answers within 5 days now",
    }
    changed = sys_.call("PUT", f"{ITEMS}/medical_assistance", ADMIN, json=change)
    assert changed.status_code == 200, changed.text
    view = changed.json()
    assert (view["version"], view["deadline_days"]) == (2, 5)
    assert [(v["version"], v["deadline_days"]) for v in view["versions"]] == [(1, 10), (2, 5)]
    assert view["versions"][1]["recorded_by"] == "policy-office"

    retired = sys_.call("POST", f"{ITEMS}/legal_aid/retirement", ADMIN, json={"reason": "moved to the justice bureau"})
    assert retired.status_code == 200 and retired.json()["active"] is False, retired.text
    again = sys_.call("POST", f"{ITEMS}/legal_aid/retirement", ADMIN, json={"reason": "twice"})
    assert again.status_code == 409
    assert sys_.call("PUT", f"{ITEMS}/legal_aid", ADMIN, json=change).status_code == 409
    assert sys_.call("PUT", f"{ITEMS}/no_such_item", ADMIN, json=change).status_code == 404

    current = {i["code"] for i in sys_.call("GET", ITEMS, CLERK).json()["items"]}
    assert "legal_aid" not in current and "heating_subsidy" in current
    everything = sys_.call("GET", ITEMS + "?include_retired=true", CLERK).json()["items"]
    assert [i["active"] for i in everything if i["code"] == "legal_aid"] == [False]

    engine = create_engine(sys_.databases["assistance"])
    with engine.connect() as conn:
        actions = conn.execute(
            text("SELECT action FROM audit_log WHERE subject LIKE 'linked-item-%' ORDER BY id")
        ).scalars()
        assert list(actions) == ["linked_item.add", "linked_item.change", "linked_item.retire"]
    engine.dispose()
