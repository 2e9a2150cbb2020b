"""Social organisations against the real broker and PostgreSQL: registration, changes, annual
reports, grades, the daily abnormal / dormant detection moved across deadlines by the clock (and
idempotent), cancellation, organisations per 10,000 residents and the lottery-fund rule; the
remaining charity routes through the gateway."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Engine

from chassis.errors import Problem
from chassis.tables import policy_parameters
from contracts.person import compose_resident_id
from tests.charity import ADMIN, DISTRICT, DISTRICT_CLERK, TOWNSHIP, count, org_request
from tests.helpers import wait_for

TOWNSHIP_CLERK = {"id": "township-01", "role": "clerk", "area": TOWNSHIP}
ELSEWHERE = {"id": "keqiao-01", "role": "clerk", "area": "330603"}


def test_registration_changes_reports_and_grades(charity):
    rpc, engine = charity
    org = rpc.register_organisation(DISTRICT_CLERK, org_request(1))
    org_id = org["organisation_id"]
    assert (org["state"], org["grade"], org["report_years"]) == ("active", None, [])

    with pytest.raises(Problem) as twice:
        rpc.register_organisation(DISTRICT_CLERK, org_request(1))
    assert twice.value.status == 409 and "credit_code" in twice.value.errors
    with pytest.raises(Problem) as outside:
        rpc.register_organisation(ELSEWHERE, org_request(2))
    assert outside.value.status == 403
    with pytest.raises(Problem) as bad:
        rpc.register_organisation(DISTRICT_CLERK, {**org_request(3), "kind": "company"})
    assert bad.value.status == 400 and "kind" in bad.value.errors

    changed = rpc.change_organisation(DISTRICT_CLERK, org_id, {"name": "越城区慈善协会", "reason": "章程修改"})
    assert changed["name"] == "越城区慈善协会"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT field, before, after FROM organisation_change")).one() == (
            "name",
            "越城区慈善总会1",
            "越城区慈善协会",
        )

    assert rpc.submit_annual_report(DISTRICT_CLERK, org_id, {"year": 2024, "income_fen": 10, "expenditure_fen": 5})[
        "report_years"
    ] == [2024]
    for year, reason in ((2024, "in already"), (2026, "not over"), (2019, "registered in 2020")):
        with pytest.raises(Problem) as refused:
            rpc.submit_annual_report(DISTRICT_CLERK, org_id, {"year": year, "income_fen": 1, "expenditure_fen": 1})
        assert refused.value.status == 422 and reason in refused.value.errors["year"][0]
    assert count(engine, "annual_report") == 1

    graded = rpc.grade_organisation(DISTRICT_CLERK, org_id, {"grade": "3A", "graded_on": "2021-06-01"})
    assert (graded["grade"], graded["grade_valid_until"]) == (None, None)  # valid five years, to 2026-05-31: expired
    graded = rpc.grade_organisation(DISTRICT_CLERK, org_id, {"grade": "4A", "graded_on": "2026-01-15"})
    assert (graded["grade"], graded["grade_valid_until"]) == ("4A", "2031-01-14")

    cancelled = rpc.cancel_organisation(DISTRICT_CLERK, org_id, {"cancelled_on": "2026-06-10", "reason": "自行解散"})
    assert cancelled["state"] == "cancelled"
    with pytest.raises(Problem) as after:
        rpc.change_organisation(DISTRICT_CLERK, org_id, {"legal_representative": "某", "reason": "变更"})
    assert after.value.status == 409


def test_daily_detection_flags_abnormal_and_dormant_and_is_idempotent(charity, manual_clock):
    rpc, engine = charity
    manual_clock.set_local_date(date(2025, 5, 31))  # the 2024 reports are due today: nobody is late for them yet
    reporting = rpc.register_organisation(DISTRICT_CLERK, org_request(1, "2022-06-01"))["organisation_id"]
    late = rpc.register_organisation(DISTRICT_CLERK, org_request(2, "2022-06-01"))["organisation_id"]
    silent = rpc.register_organisation(DISTRICT_CLERK, org_request(3, "2022-06-01"))["organisation_id"]
    for year in (2022, 2023, 2024):
        rpc.submit_annual_report(DISTRICT_CLERK, reporting, {"year": year, "income_fen": 1, "expenditure_fen": 1})
    for year in (2022, 2023):
        rpc.submit_annual_report(DISTRICT_CLERK, late, {"year": year, "income_fen": 1, "expenditure_fen": 1})
    rpc.submit_annual_report(DISTRICT_CLERK, silent, {"year": 2022, "income_fen": 1, "expenditure_fen": 1})

    def states():
        return {o: rpc.get_organisation(DISTRICT_CLERK, o)["state"] for o in (reporting, late, silent)}

    # the silent one missed 2023's report (due 31 May 2024): abnormal as soon as its 2022 report showed it
    assert rpc.run_detection_job(ADMIN)["changed"] == 0
    assert states() == {reporting: "active", late: "active", silent: "abnormal"}

    manual_clock.set_local_date(date(2025, 6, 1))
    first = rpc.run_detection_job(ADMIN)
    assert first["changed"] == 2
    assert states() == {reporting: "active", late: "abnormal", silent: "dormant"}
    second = rpc.run_detection_job(ADMIN)  # the same day again: nothing more
    assert (second["changed"], second["changed_today"], second["runs_today"]) == (0, 2, 2)
    silent_view = rpc.get_organisation(DISTRICT_CLERK, silent)
    assert "no annual report for 2 years (2023, 2024)" in silent_view["state_reason"]

    # a late report brings the organisation back at once; the dormant one stays dormant
    back = rpc.submit_annual_report(DISTRICT_CLERK, late, {"year": 2024, "income_fen": 1, "expenditure_fen": 1})
    assert back["state"] == "active"
    assert rpc.run_detection_job(ADMIN)["changed"] == 0
    with engine.connect() as conn:
        moves = (
            conn.execute(text("SELECT outcome FROM audit_log WHERE action = 'organisation.state' AND actor_id = 'ops'"))
            .scalars()
            .all()
        )
    assert sorted(moves) == ["abnormal", "dormant"]  # what the job changed, once, however often it ran

    # a dormant organisation cannot be recognised as a charity
    with pytest.raises(Problem) as dormant:
        rpc.recognise_charity(DISTRICT_CLERK, silent)
    assert dormant.value.status == 422 and "dormant" in dormant.value.errors["organisation_id"][0]


KEQIAO = "330603"


def test_detection_applies_each_regions_policy_resolved_once_per_region(charity, manual_clock):
    """Keqiao counts an organisation dormant only after 4 missing reports (the nation: 2); the same
    history is dormant in Yuecheng (and its township) and abnormal in Keqiao, in one run that looks
    the policy up once per region and the reports up in one query, however many organisations."""
    rpc, engine = charity
    with engine.begin() as conn:
        conn.execute(
            insert(policy_parameters).values(
                region_code=KEQIAO,
                name="charity.dormant_after_missing_reports",
                effective_from=date(2021, 1, 1),
                value=4,
                source="test",
                recorded_at=datetime.now(UTC),
                recorded_by="test",
            )
        )
    manual_clock.set_local_date(date(2023, 6, 15))  # the 2022 reports are in: everybody is active
    regions = {1: DISTRICT, 2: DISTRICT, 3: TOWNSHIP, 4: KEQIAO, 5: KEQIAO, 6: KEQIAO}
    orgs = {}
    for seq, region in regions.items():
        orgs[seq] = rpc.register_organisation(ADMIN, org_request(seq, "2022-06-01", region=region))["organisation_id"]
        assert (
            rpc.submit_annual_report(ADMIN, orgs[seq], {"year": 2022, "income_fen": 1, "expenditure_fen": 1})["state"]
            == "active"
        )

    manual_clock.set_local_date(date(2026, 6, 10))  # 2023, 2024 and 2025 missing
    statements = []

    def seen(_conn, _cursor, statement, *_):
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        assert rpc.run_detection_job(ADMIN)["changed"] == 6
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    states = {seq: rpc.get_organisation(ADMIN, org)["state"] for seq, org in orgs.items()}
    assert states == {1: "dormant", 2: "dormant", 3: "dormant", 4: "abnormal", 5: "abnormal", 6: "abnormal"}
    # once per region: three parameters for each of 330602, 330602001 and 330603, not for each organisation
    assert sum("FROM policy_parameters" in s for s in statements) == 3 * 3
    # the reports of all of them in one read, and the changed ones' once more under their locks
    assert sum("FROM annual_report" in s for s in statements) == 2
    assert sum("UPDATE organisation" in s for s in statements) == 1  # the six in one statement

    with engine.connect() as conn:
        audited = {
            row.subject: row
            for row in conn.execute(
                text(
                    "SELECT subject, actor_id, outcome, reason, policy_version, details FROM audit_log "
                    "WHERE action = 'organisation.state'"
                )
            )
        }
    assert len(audited) == 6
    keqiao, township = audited[f"organisation-{orgs[4]}"], audited[f"organisation-{orgs[3]}"]
    assert "330603/charity.dormant_after_missing_reports@2021-01-01" in keqiao.policy_version
    assert "000000/charity.dormant_after_missing_reports@2021-01-01" in township.policy_version
    assert (keqiao.actor_id, keqiao.outcome, keqiao.details) == (
        "ops",
        "abnormal",
        {"before": "active", "missing_years": [2023, 2024, 2025]},
    )
    assert (township.outcome, township.reason) == ("dormant", "no annual report for 3 years (2023, 2024, 2025)")
    assert rpc.run_detection_job(ADMIN)["changed"] == 0


def test_detection_leaves_what_clerks_changed_meanwhile(charity, manual_clock):
    """A clerk holds two organisations while the job runs: a late report comes in for one (its state
    does not change: it was still active), the other is cancelled. The job read them before, found
    both due to become abnormal, and must not write over either; only the third changes."""
    rpc, engine = charity
    manual_clock.set_local_date(date(2025, 5, 31))
    orgs = [
        rpc.register_organisation(DISTRICT_CLERK, org_request(seq, "2022-06-01"))["organisation_id"]
        for seq in (1, 2, 3)
    ]
    for org in orgs:
        for year in (2022, 2023):
            rpc.submit_annual_report(DISTRICT_CLERK, org, {"year": year, "income_fen": 1, "expenditure_fen": 1})
    reporting, cancelled, untouched = orgs
    manual_clock.set_local_date(date(2025, 6, 1))  # the 2024 reports are late now

    with engine.connect() as clerk:
        clerk.execute(
            text("SELECT id FROM organisation WHERE id IN (:a, :b) FOR UPDATE"), {"a": reporting, "b": cancelled}
        )
        clerk.execute(
            text(
                "INSERT INTO annual_report (organisation_id, year, income_fen, expenditure_fen, "
                "submitted_on) VALUES (:id, 2024, 1, 1, '2025-06-01')"
            ),
            {"id": reporting},
        )
        clerk.execute(
            text("UPDATE organisation SET state = 'cancelled', cancelled_on = '2025-06-01' WHERE id = :id"),
            {"id": cancelled},
        )
        job = rpc.run_detection_job.call_async(ADMIN)
        wait_for(lambda: count_lock_waits(engine), what="the job to wait for the clerk's organisations")
        clerk.commit()
        assert job.result()["changed"] == 1

    states = {org: rpc.get_organisation(ADMIN, org)["state"] for org in orgs}
    assert states == {reporting: "active", cancelled: "cancelled", untouched: "abnormal"}
    with engine.connect() as conn:
        audited = conn.execute(
            text("SELECT subject FROM audit_log WHERE action = 'organisation.state' AND actor_id = 'ops'")
        ).scalars()  # the job's, not the reports'
        assert list(audited) == [f"organisation-{untouched}"]


def count_lock_waits(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()


def test_organisations_per_10k_residents_and_the_lottery_rule(charity):
    rpc, engine = charity
    for seq in range(1, 6):
        rpc.register_organisation(DISTRICT_CLERK, org_request(seq, registration="registered" if seq < 4 else "filed"))
    rpc.register_organisation(ADMIN, org_request(9, region="330603"))  # another district
    gone = rpc.register_organisation(DISTRICT_CLERK, org_request(8))["organisation_id"]
    rpc.cancel_organisation(DISTRICT_CLERK, gone, {"cancelled_on": "2026-06-01", "reason": "注销"})
    rpc.set_population(ADMIN, {"region_code": DISTRICT, "year": 2025, "residents": 20_000})
    with pytest.raises(Problem) as not_admin:
        rpc.set_population(DISTRICT_CLERK, {"region_code": DISTRICT, "year": 2025, "residents": 1})
    assert not_admin.value.status == 403

    for reference, purpose, fen in (
        ("绍民〔2026〕1号", "elderly_care", 5_000_000),
        ("绍民〔2026〕2号", "orphans", 4_000_000),
        ("绍民〔2026〕3号", "disability", 1_000_000),
    ):
        report = rpc.allocate_lottery_funds(
            DISTRICT_CLERK,
            {"reference": reference, "region_code": DISTRICT, "year": 2026, "purpose": purpose, "amount_fen": fen},
        )
    assert (report["elderly_care_ratio"], report["minimum_ratio"], report["met"]) == (0.5, 0.55, False)
    # the same document sent again is the same allocation; another content under it is refused
    again = rpc.allocate_lottery_funds(
        DISTRICT_CLERK,
        {
            "reference": "绍民〔2026〕1号",
            "region_code": DISTRICT,
            "year": 2026,
            "purpose": "elderly_care",
            "amount_fen": 5_000_000,
        },
    )
    assert again["total_fen"] == 10_000_000 and count(engine, "lottery_allocation") == 3
    with pytest.raises(Problem) as reused:
        rpc.allocate_lottery_funds(
            DISTRICT_CLERK,
            {
                "reference": "绍民〔2026〕1号",
                "region_code": DISTRICT,
                "year": 2026,
                "purpose": "elderly_care",
                "amount_fen": 1,
            },
        )
    assert reused.value.status == 409 and "reference" in reused.value.errors
    met = rpc.allocate_lottery_funds(
        DISTRICT_CLERK,
        {
            "reference": "绍民〔2026〕4号",
            "region_code": "330602001",
            "year": 2026,
            "purpose": "elderly_care",
            "amount_fen": 1_250_000,
        },
    )
    assert met["region_code"] == "330602001" and met["met"] is True  # a township's own: 100%
    district = rpc.lottery_report(DISTRICT_CLERK, DISTRICT, 2026)  # 6.25M of 11.25M: 55.6%
    assert (district["total_fen"], district["elderly_care_ratio"], district["met"]) == (11_250_000, 0.5556, True)
    assert district["policy_version"] == "330600/charity.lottery_elderly_min_ratio@2021-01-01"
    wuxi = rpc.lottery_report(ADMIN, "320214", 2026)  # no rule in force there: not judged
    assert (wuxi["total_fen"], wuxi["met"]) == (0, None)

    stats = rpc.statistics(DISTRICT_CLERK, DISTRICT)
    assert (stats["organisations"], stats["registered"], stats["residents"]) == (5, 3, 20_000)
    assert (stats["organisations_per_10k"], stats["registered_per_10k"], stats["target_per_10k"]) == (2.5, 1.5, 46)
    assert stats["registered_target_per_10k"] == 16  # 绍兴: 其中登记社会组织不低于16个
    assert stats["lottery"]["met"] is True
    with pytest.raises(Problem) as township:
        rpc.statistics(TOWNSHIP_CLERK, DISTRICT)
    assert township.value.status == 403


def test_the_remaining_routes_through_the_gateway(system, manual_clock):
    """Wiring of the routes the other gateway tests do not reach: changes, cancellation, the job,
    populations, lottery funds, volunteers and the time bank."""
    sys_ = system(charity=True)
    manual_clock.set_local_date(date(2026, 6, 10))
    clerk, admin = ("clerk", "social-org-office", DISTRICT), ("admin", "ops")
    orgs = "/api/v1/charity/organisations"
    org = sys_.call("POST", orgs, clerk, json=org_request(1, "2024-01-01")).json()["organisation_id"]
    changed = sys_.call("POST", f"{orgs}/{org}/changes", clerk, json={"legal_representative": "李新", "reason": "换届"})
    assert changed.status_code == 200 and changed.json()["legal_representative"] == "李新"
    job = sys_.call("POST", "/api/v1/charity/detection-job", admin)
    assert job.status_code == 200 and job.json()["changed"] == 1  # no report for 2024 or 2025: dormant
    assert sys_.call("GET", f"{orgs}/{org}", clerk).json()["state"] == "dormant"
    assert sys_.call("POST", "/api/v1/charity/detection-job", clerk).status_code == 403
    cancelled = sys_.call(
        "POST", f"{orgs}/{org}/cancellation", clerk, json={"cancelled_on": "2026-06-10", "reason": "僵尸组织撤销登记"}
    )
    assert cancelled.json()["state"] == "cancelled"
    assert (
        sys_.call(
            "POST",
            "/api/v1/charity/populations",
            admin,
            json={"region_code": DISTRICT, "year": 2026, "residents": 900_000},
        ).status_code
        == 200
    )

    allocated = sys_.call(
        "POST",
        "/api/v1/charity/lottery-allocations",
        clerk,
        json={
            "reference": "越民〔2026〕9号",
            "region_code": DISTRICT,
            "year": 2026,
            "purpose": "elderly_care",
            "amount_fen": 2_000_000,
        },
    )
    assert allocated.status_code == 201 and allocated.json()["met"] is True
    report = sys_.call("GET", f"/api/v1/charity/lottery/{DISTRICT}/2026", clerk)
    assert report.status_code == 200 and report.json()["by_purpose_fen"] == {"elderly_care": 2_000_000}

    volunteer = compose_resident_id(DISTRICT, date(1960, 1, 1), 61)
    assert (
        sys_.call(
            "POST",
            "/api/v1/charity/volunteers",
            clerk,
            json={"resident_id": volunteer, "name": "孙志愿", "region_code": TOWNSHIP},
        ).status_code
        == 201
    )
    served = sys_.call(
        "POST",
        f"/api/v1/charity/volunteers/{volunteer}/service-records",
        clerk,
        json={"request_id": "point-3-001", "activity": "陪伴高龄老人", "served_on": "2026-06-10", "minutes": 120},
    )
    assert served.status_code == 201 and served.json()["service_minutes"] == 120
    mine = ("citizen", volunteer)
    wait_for(
        lambda: sys_.call("GET", f"/api/v1/charity/volunteers/{volunteer}", mine).json()["credit_minutes"] == 120,
        what="the credit",
    )
    provider = ("partner", "care_providers", None, "provider-yuecheng-01")  # a provider names itself (org)
    redeemed = sys_.call(
        "POST",
        "/api/v1/charity/time-bank/redemptions",
        provider,
        json={"redemption_key": "provider-order-5", "resident_id": volunteer, "minutes": 45, "purpose": "助洁"},
    )
    assert redeemed.status_code == 201 and redeemed.json()["credit_minutes"] == 75
    assert sys_.call("GET", f"/api/v1/charity/statistics/{DISTRICT}", clerk).json()["volunteers"] == 1
