"""Child welfare against PostgreSQL and the broker: children located to village and household, the
basic living allowance by region and date (the documents' Shaoxing and Fuyang figures), four-colour
screening with its follow-up queue, and one child director per village."""

from __future__ import annotations

from datetime import date

import pytest

from chassis.errors import Problem
from contracts.person import compose_resident_id

YUECHENG_VILLAGE = "330602001001"  # Shaoxing, Yuecheng
FUYANG_VILLAGE = "330111001002"  # Hangzhou, Fuyang
SHAOXING_CLERK = {"id": "cw-sx", "role": "clerk", "area": "330602"}
FUYANG_CLERK = {"id": "cw-fy", "role": "clerk", "area": "330111"}


def child(division: str, born: date, seq: int, village: str, **fields) -> dict:
    return {
        "resident_id": compose_resident_id(division, born, seq),
        "name": f"孩子{seq}",
        "village_code": village,
        "household": "三组 12 号",
        "guardian": "祖母",
        **fields,
    }


def test_allowance_by_region_and_placement(care):
    rpc, _ = care
    cases = [
        (
            SHAOXING_CLERK,
            child("330602", date(2015, 4, 1), 11, YUECHENG_VILLAGE, category="orphan", placement="institution"),
            204000,
        ),
        (
            SHAOXING_CLERK,
            child("330602", date(2012, 4, 1), 13, YUECHENG_VILLAGE, category="orphan", placement="community"),
            163500,
        ),
        (
            FUYANG_CLERK,
            child(
                "330111", date(2014, 4, 1), 15, FUYANG_VILLAGE, category="de_facto_unsupported", placement="institution"
            ),
            145000,
        ),
        (
            FUYANG_CLERK,
            child("330111", date(2016, 4, 1), 17, FUYANG_VILLAGE, category="orphan", placement="community"),
            105000,
        ),
        (
            FUYANG_CLERK,
            child("330111", date(2018, 4, 1), 19, FUYANG_VILLAGE, category="left_behind", placement="community"),
            0,
        ),
    ]
    for clerk, record, fen in cases:
        assert rpc.register_child(clerk, record)["monthly_allowance_fen"] == fen, record["name"]
    with pytest.raises(Problem) as outside:
        rpc.register_child(FUYANG_CLERK, cases[0][1])  # a Shaoxing child, a Fuyang caseworker
    assert outside.value.status == 403
    with pytest.raises(Problem) as adult:
        rpc.register_child(
            SHAOXING_CLERK,
            child("330602", date(2000, 1, 1), 21, YUECHENG_VILLAGE, category="orphan", placement="community"),
        )
    assert adult.value.status == 422
    # located to village, household and child
    left_behind = rpc.village_children(FUYANG_CLERK, FUYANG_VILLAGE)
    assert [(c["household"], c["category"]) for c in left_behind].count(("三组 12 号", "left_behind")) == 1


def test_screening_colours_set_the_follow_up_and_the_queue(care, manual_clock):
    rpc, _ = care
    a = rpc.register_child(
        SHAOXING_CLERK,
        child("330602", date(2015, 4, 1), 31, YUECHENG_VILLAGE, category="distressed", placement="community"),
    )
    b = rpc.register_child(
        SHAOXING_CLERK,
        child("330602", date(2013, 4, 1), 33, YUECHENG_VILLAGE, category="left_behind", placement="community"),
    )
    red = rpc.screen_child(
        SHAOXING_CLERK, a["resident_id"], {"level": "red", "findings": "no adult at home", "screened_on": "2026-06-10"}
    )
    assert (red["risk_level"], red["follow_up_due"]) == ("red", "2026-06-11")
    rpc.screen_child(
        SHAOXING_CLERK,
        b["resident_id"],
        {"level": "yellow", "findings": "school absences", "screened_on": "2026-06-09"},
    )
    with pytest.raises(Problem) as bad:
        rpc.screen_child(
            SHAOXING_CLERK, b["resident_id"], {"level": "purple", "findings": "x?", "screened_on": "2026-06-09"}
        )
    assert bad.value.status == 400
    manual_clock.set_local_date(date(2026, 6, 12))
    queue = rpc.follow_ups(SHAOXING_CLERK)
    assert [(q["level"], q["overdue"]) for q in queue] == [("red", True), ("yellow", False)]
    assert rpc.follow_ups(FUYANG_CLERK) == []
    rpc.record_follow_up(SHAOXING_CLERK, red["screening_id"])
    assert [q["level"] for q in rpc.follow_ups(SHAOXING_CLERK)] == ["yellow"]
    with pytest.raises(Problem) as twice:
        rpc.record_follow_up(SHAOXING_CLERK, red["screening_id"])
    assert twice.value.status == 409


def test_one_child_director_per_village(care):
    rpc, _ = care
    first = rpc.appoint_child_director(
        SHAOXING_CLERK, {"village_code": YUECHENG_VILLAGE, "name": "李主任", "phone": "13800000001"}
    )
    assert first["replaced"] is None
    second = rpc.appoint_child_director(
        SHAOXING_CLERK, {"village_code": YUECHENG_VILLAGE, "name": "王主任", "phone": "13800000002"}
    )
    assert second["replaced"] == "李主任"
    record = rpc.register_child(
        SHAOXING_CLERK,
        child("330602", date(2015, 4, 1), 41, YUECHENG_VILLAGE, category="orphan", placement="community"),
    )
    assert record["child_director"] == "王主任"
    with pytest.raises(Problem) as outside:
        rpc.appoint_child_director(FUYANG_CLERK, {"village_code": YUECHENG_VILLAGE, "name": "张", "phone": "1380000"})
    assert outside.value.status == 403


def test_child_welfare_through_the_gateway(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    clerk = ("clerk", "cw-sx", "330602")
    record = child("330602", date(2015, 4, 1), 51, YUECHENG_VILLAGE, category="orphan", placement="community")
    made = sys_.call("POST", "/api/v1/care/children", clerk, json=record)
    assert made.status_code == 200 and made.json()["monthly_allowance_fen"] == 163500
    bad = sys_.call("POST", "/api/v1/care/children", clerk, json={**record, "village_code": "330602"})
    assert bad.status_code == 400 and "village_code" in bad.json()["errors"]
    screened = sys_.call(
        "POST",
        f"/api/v1/care/children/{record['resident_id']}/screenings",
        clerk,
        json={"level": "orange", "findings": "guardian ill", "screened_on": "2026-06-10"},
    )
    assert screened.json()["follow_up_due"] == "2026-06-13"
    queue = sys_.call("GET", "/api/v1/care/follow-ups", clerk).json()["follow_ups"]
    assert [q["level"] for q in queue] == ["orange"]
    assert sys_.call("GET", "/api/v1/care/follow-ups", ("citizen", record["resident_id"])).status_code == 403


def test_a_region_without_an_allowance_and_an_unknown_division_are_refused_and_nothing_is_stored(system, manual_clock):
    """An orphan in a real region without an allowance figure of its own (Jiaxing's Nanhu) was
    registered with 0 fen a month from a national row of 0; a village in a district that does not
    exist was accepted. Each is a 422 naming village_code now, and no child is stored."""
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    nanhu = ("clerk", "cw-jx", "330402")
    record = child("330402", date(2015, 4, 1), 61, "330402001001", category="orphan", placement="community")
    unpaid = sys_.call("POST", "/api/v1/care/children", nanhu, json=record)
    assert unpaid.status_code == 422, unpaid.text
    assert "care.child_allowance_fen" in unpaid.json()["errors"]["village_code"][0]
    assert "care.child_allowance_fen" in unpaid.json()["detail"]
    # a left-behind child there has no allowance anywhere: followed, with none
    left_behind = {**record, "resident_id": compose_resident_id("330402", date(2016, 4, 1), 63)}
    left_behind.update(category="left_behind")
    followed = sys_.call("POST", "/api/v1/care/children", nanhu, json=left_behind)
    assert followed.status_code == 200 and followed.json()["monthly_allowance_fen"] == 0, followed.text

    nowhere = ("clerk", "cw-x", "339999")
    unknown = {**record, "resident_id": compose_resident_id("330602", date(2015, 4, 1), 65)}
    unknown.update(village_code="339999001001")
    refused = sys_.call("POST", "/api/v1/care/children", nowhere, json=unknown)
    assert refused.status_code == 422, refused.text
    assert "GB/T 2260" in refused.json()["errors"]["village_code"][0]

    from sqlalchemy import create_engine, text

    engine = create_engine(sys_.databases["care"])
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT resident_id FROM child")).scalars().all()
    engine.dispose()
    assert stored == [left_behind["resident_id"]]
