"""Partners report only their own started steps; overdue steps are flagged."""
from datetime import date, timedelta

from tests.helpers import wait_for
from tests.integration.test_marriage_one_matter import CLERK, OFFICE, couple, matter_view, slot, steps_of
from tests.system import system  # noqa: F401  (fixture)

TODAY = date(2026, 7, 1)


def open_and_register(sys_):
    a, b = couple()
    citizen = ("citizen", a["resident_id"])
    matter_id = sys_.call("POST", "/api/v1/matters/marriage-birth-hukou", citizen, json={
        "office_code": OFFICE, "slot_start": slot(TODAY + timedelta(days=1)), "party_a": a, "party_b": b}).json()["matter_id"]
    wait_for(lambda: matter_view(sys_, matter_id, citizen), what="the matter")
    registered = sys_.call("POST", "/api/v1/marriage/registrations", CLERK, json={
        "office_code": OFFICE, "party_a": a, "party_b": b, "declared_not_close_relatives": True, "matter_id": matter_id})
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
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    assert sys_.call("POST", f"{steps}/no_such_step", ("partner", "police"), json={"state": "done"}).status_code == 404

    rejected = sys_.call("POST", f"{steps}/hukou_update", ("partner", "police"),
                         json={"state": "rejected", "reason": "户籍地址待核实"})
    assert rejected.status_code == 202, rejected.text
    view = wait_for(lambda: (v := matter_view(sys_, matter_id, citizen)) and v["state"] == "needs_attention" and v)
    hukou = next(s for s in view["steps"] if s["step"] == "hukou_update")
    assert hukou["state"] == "rejected" and hukou["reason"] == "户籍地址待核实"
    # the first word of the owner stands
    changed_mind = sys_.call("POST", f"{steps}/hukou_update", ("partner", "police"), json={"state": "done"})
    assert changed_mind.status_code == 409


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
