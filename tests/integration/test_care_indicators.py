"""Ability assessments, institutions and the region's indicators, on fixture data with known
answers, against PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from chassis.errors import Problem
from contracts.person import compose_resident_id

ADMIN = {"id": "ops", "role": "admin"}
DISTRICT = "330602"
CLERK = {"id": "caseworker-01", "role": "clerk", "area": "330602001"}
DISTRICT_CLERK = {"id": "district-01", "role": "clerk", "area": DISTRICT}


def person(born: date, seq: int, region: str = "330602001") -> dict:
    return {"resident_id": compose_resident_id("330602", born, seq), "name": f"P{seq}", "region_code": region}


def test_indicators_on_fixture_data(care):
    rpc, _ = care
    # 60+: 6 people in the district (one of them elsewhere in the city is not counted); 70+: 4
    people = [
        person(date(1950, 1, 1), 11),
        person(date(1960, 6, 10), 13),  # 76, 66 (60 today)
        person(date(1956, 6, 11), 15),
        person(date(1940, 2, 2), 17),  # 69 (70 tomorrow), 86
        person(date(1930, 3, 3), 19),
        person(date(1956, 6, 10), 21),  # 96, 70 today
        person(date(1970, 1, 1), 23),  # 56: not elderly
        person(date(1945, 1, 1), 25, region="330603001"),
    ]  # another district
    rpc.import_people(ADMIN, {"people": people})
    assess = {"level": "moderate", "assessor": "越城区评估中心"}
    rpc.record_assessment(CLERK, {**assess, "resident_id": people[0]["resident_id"], "assessed_on": "2026-01-05"})
    rpc.record_assessment(CLERK, {**assess, "resident_id": people[3]["resident_id"], "assessed_on": "2025-06-10"})
    rpc.record_assessment(CLERK, {**assess, "resident_id": people[3]["resident_id"], "assessed_on": "2026-02-01"})
    rpc.record_assessment(CLERK, {**assess, "resident_id": people[4]["resident_id"], "assessed_on": "2025-06-09"})
    # (the last expired on 2026-06-08: it does not count)
    for code, ownership, beds in (
        ("inst-A", "public", (40, 50, 10)),
        ("inst-B", "public", (20, 20, 10)),
        ("inst-C", "private", (30, 10, 10)),
    ):
        rpc.register_institution(
            DISTRICT_CLERK,
            {
                "code": code,
                "name": f"养老院 {code}",
                "ownership": ownership,
                "region_code": "330602001",
                "beds": dict(zip(("ordinary", "nursing", "dementia"), beds)),
            },
        )
    rpc.register_institution(
        ADMIN,
        {
            "code": "inst-D",
            "name": "养老院 D",
            "ownership": "public",
            "region_code": "330603001",
            "beds": {"ordinary": 99, "nursing": 0, "dementia": 0},
        },
    )
    result = rpc.indicators(DISTRICT_CLERK, DISTRICT)
    assert (result["elderly"], result["aged_70_plus"], result["assessed_70_plus"]) == (6, 4, 2)
    assert result["assessment_coverage_70_plus"] == 0.5
    assert result["beds"] == 200
    assert result["nursing_bed_ratio"] == 0.4  # 80 / 200
    assert result["public_dementia_bed_ratio"] == 0.1333  # 20 / 150
    assert result["beds_per_10k_elderly"] == round(200 * 10_000 / 6, 4)

    with pytest.raises(Problem) as outside:
        rpc.indicators(CLERK, DISTRICT)  # a township clerk asks for the district
    assert outside.value.status == 403
    with pytest.raises(Problem) as bad:
        rpc.indicators(DISTRICT_CLERK, "33")
    assert bad.value.status == 400


def test_assessments_are_validated(care):
    rpc, _ = care
    elder = person(date(1950, 1, 1), 31)
    rpc.import_people(ADMIN, {"people": [elder]})
    assessment = rpc.record_assessment(
        CLERK,
        {"resident_id": elder["resident_id"], "level": "severe", "assessor": "评估员 01", "assessed_on": "2026-06-01"},
    )
    assert assessment["valid_until"] == "2027-05-31"
    for bad, status in (({"level": "tired"}, 400), ({"assessed_on": "2026-06-11"}, 422)):  # no level, the future
        with pytest.raises(Problem) as refused:
            rpc.record_assessment(
                CLERK,
                {
                    "resident_id": elder["resident_id"],
                    "level": "severe",
                    "assessor": "评估员 01",
                    "assessed_on": "2026-06-01",
                    **bad,
                },
            )
        assert refused.value.status == status
    with pytest.raises(Problem) as unknown:
        rpc.record_assessment(
            CLERK,
            {
                "resident_id": person(date(1951, 1, 1), 33)["resident_id"],
                "level": "severe",
                "assessor": "x1",
                "assessed_on": "2026-06-01",
            },
        )
    assert unknown.value.status == 404


def test_indicators_through_the_gateway(system, manual_clock):
    sys_ = system(care=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    admin, clerk = ("admin", "ops"), ("clerk", "district-01", DISTRICT)
    sys_.call("POST", "/api/v1/care/elders/import", admin, json={"people": [person(date(1950, 1, 1), 41)]})
    created = sys_.call(
        "POST",
        "/api/v1/care/institutions",
        clerk,
        json={
            "code": "inst-1",
            "name": "福利院",
            "ownership": "public",
            "region_code": "330602001",
            "beds": {"ordinary": 30, "nursing": 60, "dementia": 10},
        },
    )
    assert created.status_code == 200
    bad = sys_.call(
        "POST",
        "/api/v1/care/institutions",
        clerk,
        json={
            "code": "inst-2",
            "name": "福利院",
            "ownership": "state",
            "region_code": "330602001",
            "beds": {"ordinary": -1, "nursing": 0, "dementia": 0},
        },
    )
    assert bad.status_code == 400 and {"ownership", "beds"} <= set(bad.json()["errors"])
    stats = sys_.call("GET", f"/api/v1/care/statistics/{DISTRICT}", clerk).json()
    assert (stats["elderly"], stats["beds"], stats["nursing_bed_ratio"], stats["public_dementia_bed_ratio"]) == (
        1,
        100,
        0.6,
        0.1,
    )
    assert stats["beds_per_10k_elderly"] == 1_000_000.0


def test_a_family_care_bed_needs_a_disability_assessment(care):
    rpc, _ = care
    elder, fit = person(date(1940, 1, 1), 51), person(date(1941, 1, 1), 53)
    rpc.import_people(ADMIN, {"people": [elder, fit]})
    rpc.register_institution(
        DISTRICT_CLERK,
        {
            "code": "inst-F",
            "name": "颐养院",
            "ownership": "public_private",
            "region_code": "330602001",
            "beds": {"ordinary": 10, "nursing": 10, "dementia": 0},
        },
    )
    rpc.record_assessment(
        CLERK,
        {"resident_id": elder["resident_id"], "level": "severe", "assessor": "评估员", "assessed_on": "2026-05-01"},
    )
    rpc.record_assessment(
        CLERK, {"resident_id": fit["resident_id"], "level": "mild", "assessor": "评估员", "assessed_on": "2026-05-01"}
    )
    bed = {"resident_id": elder["resident_id"], "institution": "inst-F", "established_on": "2026-06-01"}
    assert rpc.establish_family_bed(CLERK, bed)["assessed_level"] == "severe"
    for refused, status in (
        ({**bed, "resident_id": fit["resident_id"]}, 422),  # only mildly disabled
        (bed, 409),  # one bed per person
        ({**bed, "institution": "nowhere"}, 404),
    ):
        with pytest.raises(Problem) as caught:
            rpc.establish_family_bed(CLERK, refused)
        assert caught.value.status == status
    assert rpc.indicators(DISTRICT_CLERK, DISTRICT)["family_beds"] == 1
