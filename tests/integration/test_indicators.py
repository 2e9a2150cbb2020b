"""Indicators in one place (BRIEF §5) end to end: a district of Shaoxing (越城区 330602) seeded
through the API with known data in every service, then `GET /api/v1/indicators` for 30 June 2026
checked figure by figure against arithmetic done here by hand on the seeded rows, each with its
target from the seeds' tables (seed-000 表1 for Shaoxing) and its source; bad input and a caller
outside the area refused, naming the field."""

from __future__ import annotations

from datetime import date

from contracts.partners import PARTNERS
from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.helpers import wait_for
from tests.integration.test_after_death import ok, pay_month, pin_standard

TOWNSHIP, DISTRICT = "330602001", "330602"
ELSEWHERE = "330603001"  # 柯桥区: inside the city, outside the district
CASEWORKER = ("clerk", "caseworker-01", TOWNSHIP)
DISTRICT_CLERK = ("clerk", "district-01", DISTRICT)
ADMIN = ("admin", "bureau")
ON = date(2026, 6, 30)
UNSIMULATED = "water"  # the department whose linked-item answers the test gives itself


def figures_of(answer: dict) -> dict:
    return {(f["name"], f["programme"]): f for f in answer["indicators"]}


def apply_and_decide(sys_, clock, seq: int, decided_on: date, decision: str) -> dict:
    """A two-member household of working age applies on Monday 27 April; notice from the 28th
    (7 days, to 5 May); decided on `decided_on`."""
    head = compose_resident_id(DISTRICT, date(1985, 3, 1), 100 + 2 * seq)
    spouse = compose_resident_id(DISTRICT, date(1987, 5, 2), 101 + 2 * seq)
    clock.set_local_date(date(2026, 4, 27))
    application = ok(
        sys_.call(
            "POST",
            "/api/v1/assistance/applications",
            CASEWORKER,
            json={
                "programme": "dibao",
                "region_code": TOWNSHIP,
                "address": f"越城区府山街道 {seq} 号",
                "bank_account": f"62284800000000{seq:02d}",
                "members": [
                    {"resident_id": head, "name": f"户主{seq}", "relationship": "head", "monthly_income_fen": 30000},
                    {"resident_id": spouse, "name": f"配偶{seq}", "relationship": "spouse", "monthly_income_fen": 0},
                ],
            },
        )
    )
    path = f"/api/v1/assistance/applications/{application['application_id']}"
    ok(sys_.call("POST", path + "/acceptance", CASEWORKER))
    assert ok(sys_.call("POST", path + "/economic-check", CASEWORKER))["state"] == "checked"
    clock.set_local_date(date(2026, 4, 28))
    ok(sys_.call("POST", path + "/notice", CASEWORKER))
    clock.set_local_date(decided_on)
    return ok(sys_.call("POST", path + "/decision", DISTRICT_CLERK, json={"decision": decision, "reason": "核对结果"}))


def answer_linked_items(sys_, matter_id: str, water: str) -> None:
    """Every department but the simulated ones answers its step as `done`; water answers `water`."""
    matter = f"/api/v1/matters/{matter_id}"
    view = wait_for(
        lambda: (r := sys_.call("GET", matter, DISTRICT_CLERK)).status_code == 200 and r.json(),
        timeout=20,
        what="the 救助一件事 matter",
    )
    steps = {s["step"]: s["owner"] for s in view["steps"]}
    assert steps["water_discount"] == UNSIMULATED
    body = {"state": "rejected", "reason": "户号与住址不符"} if water == "rejected" else {"state": "done"}
    ok(
        sys_.call(
            "POST", f"/api/v1/partner/matters/{matter_id}/steps/water_discount", ("partner", UNSIMULATED), json=body
        )
    )
    wait_for(
        lambda: all(
            s["state"] in ("done", "rejected", "not_applicable")
            for s in sys_.call("GET", matter, DISTRICT_CLERK).json()["steps"]
        ),
        timeout=30,
        what="every step of the matter answered",
    )


def seed_assistance(sys_, clock) -> dict:
    pin_standard(sys_.databases["assistance"])  # 850元/月 in 330602 from 2026-01-01
    a = apply_and_decide(sys_, clock, 1, date(2026, 5, 6), "approve")
    b = apply_and_decide(sys_, clock, 2, date(2026, 5, 7), "approve")
    apply_and_decide(sys_, clock, 3, date(2026, 5, 8), "reject")
    answer_linked_items(sys_, a["matter_id"], "done")
    answer_linked_items(sys_, b["matter_id"], "rejected")
    pay_month(sys_, clock, date(2026, 5, 10))
    pay_month(sys_, clock, date(2026, 6, 1))
    paid = 0
    for household in (a, b):
        payments = ok(
            sys_.call("GET", f"/api/v1/assistance/households/{household['household_id']}/payments", CASEWORKER)
        )["payments"]
        months = sorted(p["for_month"] for p in payments if p["state"] == "paid")
        assert months == ["2026-05-01", "2026-06-01"]
        paid += sum(p["amount_fen"] for p in payments if p["state"] == "paid")
    assert paid == 2 * (a["monthly_amount_fen"] + b["monthly_amount_fen"])
    return {"paid_fen": paid}


def seed_care(sys_, clock) -> None:
    clock.set_local_date(date(2026, 4, 1))
    people = [
        (date(1950, 1, 1), TOWNSHIP),  # 76 on 30 June: 70+
        (date(1956, 7, 1), TOWNSHIP),  # 69 (70 the next day): 60+ only
        (date(1956, 6, 30), TOWNSHIP),  # 70 that very day: 70+
        (date(1964, 1, 1), TOWNSHIP),  # 62: 60+
        (date(1970, 1, 1), TOWNSHIP),  # 56: not elderly
        (date(1940, 1, 1), ELSEWHERE),  # another district: not counted
    ]
    ids = [compose_resident_id(region[:6], born, 11 + 2 * i) for i, (born, region) in enumerate(people)]
    ok(
        sys_.call(
            "POST",
            "/api/v1/care/elders/import",
            ADMIN,
            json={
                "people": [
                    {"resident_id": rid, "name": f"老人{i}", "region_code": region}
                    for i, (rid, (_, region)) in enumerate(zip(ids, people, strict=True))
                ]
            },
        )
    )
    assess = {"level": "moderate", "assessor": "越城区评估中心"}
    for rid, day in ((ids[0], "2026-01-05"), (ids[1], "2026-02-01"), (ids[2], "2025-06-09")):
        # the last is a year old on 30 June: expired on 8 June, it does not count
        ok(
            sys_.call(
                "POST", "/api/v1/care/assessments", CASEWORKER, json={**assess, "resident_id": rid, "assessed_on": day}
            )
        )
    for code, ownership, region, beds in (
        ("inst-A", "public", TOWNSHIP, (40, 50, 10)),
        ("inst-B", "private", TOWNSHIP, (30, 10, 10)),
        ("inst-D", "public", ELSEWHERE, (99, 0, 0)),
    ):
        ok(
            sys_.call(
                "POST",
                "/api/v1/care/institutions",
                ADMIN,
                json={
                    "code": code,
                    "name": f"养老院 {code}",
                    "ownership": ownership,
                    "region_code": region,
                    "beds": dict(zip(("ordinary", "nursing", "dementia"), beds, strict=True)),
                },
            )
        )


def seed_funeral(sys_, clock) -> None:
    """Burials chosen: one in December 2025 (eco, outside the year), three in 2026: tree and niche
    (eco), traditional (not)."""

    def case(seq: int, died: date, form: str) -> None:
        clock.set_local_date(died)
        deceased = compose_resident_id(DISTRICT, date(1930, 1, 1), 700 + seq)
        notice = {
            "deceased": {"resident_id": deceased, "name": f"逝者{seq}"},
            "date_of_death": died.isoformat(),
            "region_code": TOWNSHIP,
            "reference": f"D3306-{seq:03d}",
            "place_of_death": "绍兴市人民医院",
        }
        case_id = ok(sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice))["case_id"]
        ok(sys_.call("POST", f"/api/v1/funeral/cases/{case_id}/burial", DISTRICT_CLERK, json={"form": form}))

    case(1, date(2025, 12, 20), "tree")
    clock.set_local_date(date(2026, 3, 1))
    ok(
        sys_.call(
            "POST",
            "/api/v1/funeral/niches",
            DISTRICT_CLERK,
            json={"facility": "YC-01", "region_code": DISTRICT, "count": 2},
        )
    )
    case(2, date(2026, 3, 2), "tree")
    case(3, date(2026, 3, 3), "traditional")
    case(4, date(2026, 3, 4), "niche")


def seed_charity(sys_, clock) -> None:
    clock.set_local_date(date(2026, 6, 1))
    orgs = "/api/v1/charity/organisations"

    def organisation(seq: int, **changes) -> str:
        request = {
            "credit_code": f"53330602MJ{seq:07d}X",
            "name": f"越城区社会组织{seq}",
            "kind": "social_group",
            "region_code": DISTRICT,
            "legal_representative": "陈慈",
            "registered_on": "2020-03-01",
            **changes,
        }
        return ok(sys_.call("POST", orgs, DISTRICT_CLERK, json=request))["organisation_id"]

    for seq in (1, 2, 3):
        organisation(seq)
    organisation(4, registration="filed", kind="social_service_institution")
    gone = organisation(5)  # cancelled before the day: not counted
    later = organisation(6)  # cancelled after it: counted
    for org, day in ((gone, "2026-06-10"), (later, "2026-07-15")):
        ok(
            sys_.call(
                "POST", f"{orgs}/{org}/cancellation", DISTRICT_CLERK, json={"cancelled_on": day, "reason": "注销登记"}
            )
        )
    ok(
        sys_.call(
            "POST",
            "/api/v1/charity/populations",
            ADMIN,
            json={"region_code": DISTRICT, "year": 2026, "residents": 25_000},
        )
    )
    for reference, year, purpose, amount in (
        ("越民〔2026〕1号", 2026, "elderly_care", 600_000),
        ("越民〔2026〕2号", 2026, "disability", 400_000),
        ("越民〔2025〕1号", 2025, "elderly_care", 9_000_000),  # another year
    ):
        ok(
            sys_.call(
                "POST",
                "/api/v1/charity/lottery-allocations",
                DISTRICT_CLERK,
                json={
                    "reference": reference,
                    "region_code": DISTRICT,
                    "year": year,
                    "purpose": purpose,
                    "amount_fen": amount,
                },
            )
        )


def test_the_indicators_match_figures_computed_by_hand(system, manual_clock):
    # every department but water and the home-care providers (no order here) answers by itself
    departments = tuple(code for code in PARTNERS if code not in (UNSIMULATED, "care_providers"))
    sys_ = system(
        simulator=True,
        assistance=PartnerData(),
        care=True,
        charity=True,
        funeral=True,
        simulated_partners=departments,
    )
    seed_funeral(sys_, manual_clock)
    seeded = seed_assistance(sys_, manual_clock)
    seed_care(sys_, manual_clock)
    seed_charity(sys_, manual_clock)
    manual_clock.set_local_date(date(2026, 7, 20))

    answer = ok(sys_.call("GET", f"/api/v1/indicators?region={DISTRICT}&date={ON.isoformat()}", DISTRICT_CLERK))
    assert (answer["region_code"], answer["on"]) == (DISTRICT, "2026-06-30")
    got = figures_of(answer)

    def check(name, value, target, met, programme=None, source=None):
        figure = got[(name, programme)]
        assert (figure["value"], figure["target"], figure["met"]) == (value, target, met), figure
        if source:
            assert figure["target_source"].startswith(source), figure
        return figure

    # gateway: 2 matters, both decided, 1 with no step rejected
    joint = check("joint_handling_rate", 1 / 2, 1.0, False, source="seed-000 表1 row 6")
    assert joint["counts"] == {"matters": 2, "decided": 2, "all_granted": 1}
    assert joint["target_version"] == "330600/indicator.joint_handling_rate@2021-01-01"
    # assistance: two 低保 households in force, May and June paid to each; nothing else
    check("assistance_caseload", 2, None, None, programme="dibao")
    check("assistance_spending", seeded["paid_fen"], None, None, programme="dibao")
    for programme in ("dibao_edge", "tekun", "temporary", "disability_living", "disability_care"):
        check("assistance_caseload", 0, None, None, programme=programme)
        check("assistance_spending", 0, None, None, programme=programme)
    check("dibao_standard", 85000 * 12 / 100, 13000.0, False, source="seed-000 表1 row 5")
    # 27 April (Mon) → 6, 7, 8 May: 28, 29, 30 April, then 1, 4 and 5 May are holidays: 4, 5, 6
    decision = check("decision_working_days", (4 + 5 + 6) / 3, 20.0, True, source="seed-001")
    assert decision["comparison"] == "at_most" and decision["counts"] == {"decisions": 3}
    # care: 60+ are 4 (76, 69, 70, 62), 70+ are 2, of whom 1 holds an assessment still valid
    coverage = check("assessment_coverage_70_plus", 1 / 2, None, None)  # Shaoxing's plan sets none
    assert coverage["counts"] == {"aged_70_plus": 2, "assessed_70_plus": 1}
    check("nursing_bed_ratio", (50 + 10) / (100 + 50), 0.58, False, source="seed-000 表1 row 1")
    check("dementia_beds_per_10k_elderly", (10 + 10) * 10_000 / 4, 20.0, True, source="seed-000 表1 row 2")
    # funeral: 2026's burials are tree, traditional, niche
    eco = check("eco_burial_rate", round(2 / 3, 4), 0.70, False, source="seed-000 表1 row 7")
    assert eco["counts"] == {"burials": 3, "eco_burials": 2}
    # charity: 3 registered + 1 filed + 1 cancelled only later, of 25,000 residents
    check("organisations_per_10k", 5 * 10_000 / 25_000, 46.0, False, source="seed-000")
    check("registered_organisations_per_10k", 4 * 10_000 / 25_000, 16.0, False, source="seed-000")
    check("lottery_elderly_care_share", 600_000 / 1_000_000, 0.55, True, source="seed-000")
    assert {f["owner"] for f in answer["indicators"]} == {"gateway", "assistance", "care", "funeral", "charity"}

    # the township's caseworker asks for the district: outside the area
    outside = sys_.call("GET", f"/api/v1/indicators?region={DISTRICT}&date=2026-06-30", CASEWORKER)
    assert outside.status_code == 403, outside.text
    # no such division (the registry): a 422 naming the field
    unknown = sys_.call("GET", "/api/v1/indicators?region=339999&date=2026-06-30", ADMIN)
    assert unknown.status_code == 422 and "region" in unknown.json()["errors"], unknown.text
    for query, field in (("region=33&date=2026-06-30", "region"), ("region=330602&date=2026-13-01", "date")):
        bad = sys_.call("GET", f"/api/v1/indicators?{query}", ADMIN)
        assert bad.status_code == 400 and field in bad.json()["errors"], bad.text
    citizen = ("citizen", compose_resident_id(DISTRICT, date(1985, 3, 1), 102))
    assert sys_.call("GET", f"/api/v1/indicators?region={DISTRICT}&date=2026-06-30", citizen).status_code == 403
