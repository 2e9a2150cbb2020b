"""The old-age allowance (高龄津贴) granted without an application, against the real broker and
PostgreSQL: the clock moves across an 80th birthday and across downtime, the job runs twice, and
each person is enrolled once, from the right month."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from chassis.errors import Problem
from contracts.person import compose_resident_id
from services.care import rules

ADMIN = {"id": "ops", "role": "admin"}
TOWNSHIP = "330602001"
CLERK = {"id": "caseworker-01", "role": "clerk", "area": TOWNSHIP}
ELSEWHERE = {"id": "caseworker-99", "role": "clerk", "area": "330603"}


def someone(born: date, seq: int, region: str = TOWNSHIP) -> dict:
    return {"resident_id": compose_resident_id("330602", born, seq), "name": f"老人{seq}", "region_code": region}


def enrolments(engine) -> dict:
    with engine.connect() as conn:
        return {
            r.resident_id: (r.starts_month, r.enrolled_on)
            for r in conn.execute(text("SELECT resident_id, starts_month, enrolled_on FROM allowance_enrolment"))
        }


def test_the_80th_birthday_enrols_once_from_the_right_month_across_downtime(care, manual_clock):
    rpc, engine = care
    june = someone(date(1946, 6, 15), 11)  # turns 80 on 15 June 2026
    july = someone(date(1946, 7, 10), 21)  # turns 80 during the downtime below
    older = someone(date(1936, 3, 3), 31)  # 90 already: enrolled by the first run, from when it joined
    young = someone(date(1950, 1, 1), 41)  # 76: nothing
    manual_clock.set_local_date(date(2026, 6, 1))  # the registry is fed
    assert rpc.import_people(ADMIN, {"people": [june, july, older, young]}) == {"received": 4, "added": 4, "updated": 0}

    manual_clock.set_local_date(date(2026, 6, 14))
    first = rpc.run_allowance_job(ADMIN)
    assert first["enrolled"] == 1 and set(enrolments(engine)) == {older["resident_id"]}
    # no back pay for the ten years before the city's registry knew this person
    assert enrolments(engine)[older["resident_id"]] == (date(2026, 6, 1), date(2026, 6, 14))

    manual_clock.set_local_date(date(2026, 6, 15))  # the birthday
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    again = rpc.run_allowance_job(ADMIN)  # twice the same day: nobody twice
    assert (again["enrolled"], again["enrolled_today"], again["runs_today"]) == (0, 1, 2)
    assert enrolments(engine)[june["resident_id"]] == (date(2026, 6, 1), date(2026, 6, 15))

    # the service is down from 16 June to 2 September; the first run after catches up, from July
    manual_clock.set_local_date(date(2026, 9, 3))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    assert enrolments(engine)[july["resident_id"]] == (date(2026, 7, 1), date(2026, 9, 3))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 0
    assert set(enrolments(engine)) == {june["resident_id"], july["resident_id"], older["resident_id"]}
    with engine.connect() as conn:
        runs = conn.execute(text("SELECT run_on, runs, enrolled FROM allowance_job_run ORDER BY run_on")).all()
    assert [tuple(r) for r in runs] == [(date(2026, 6, 14), 1, 1), (date(2026, 6, 15), 2, 1), (date(2026, 9, 3), 2, 1)]

    # what the person and their caseworker see
    view = rpc.get_elder(CLERK, june["resident_id"])
    assert (view["age"], view["sex"], view["allowance"]["starts_month"]) == (80, "male", "2026-06-01")
    assert view["allowance"]["monthly_fen"] == 5000
    assert rpc.get_elder(CLERK, older["resident_id"])["allowance"]["monthly_fen"] == 10000
    assert rpc.get_elder(CLERK, young["resident_id"])["allowance"] is None
    with pytest.raises(Problem) as outside:
        rpc.get_elder(ELSEWHERE, june["resident_id"])
    assert outside.value.status == 403
    with pytest.raises(Problem) as bad:
        rpc.get_elder(CLERK, june["resident_id"][:-1] + ("0" if june["resident_id"][-1] != "0" else "1"))
    assert bad.value.status == 422 and "resident_id" in bad.value.errors


def test_the_sql_birthday_is_the_rules_birthday(care):
    _, engine = care
    cases = [date(1944, 2, 29), date(1944, 3, 1), date(1946, 6, 15), date(1945, 12, 31), date(1948, 2, 29)]
    with engine.connect() as conn:
        for born in cases:
            for years in (80, 81, 90):
                sql = conn.execute(
                    text(f"SELECT {rules.birthday_sql(':born', ':years')}"), {"born": born, "years": years}
                ).scalar()
                assert sql == rules.birthday(born, years), (born, years)


def test_a_leap_day_baby_qualifies_on_the_first_of_march_in_a_common_year(care, manual_clock):
    rpc, engine = care
    policy_age = 81  # a region whose allowance starts at 81, so the birthday falls in 2025 (common)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO policy_parameters (region_code, name, effective_from, value, source, "
                "recorded_at, recorded_by) VALUES ('330602', 'care.allowance_qualifying_age', "
                "'2021-01-01', CAST(:v AS JSON), 'test', now(), 'test'), ('330602', "
                "'care.allowance_bands_fen', '2021-01-01', CAST(:b AS JSON), 'test', now(), 'test')"
            ),
            {"v": str(policy_age), "b": '{"81": 6000}'},
        )
    leap = someone(date(1944, 2, 29), 51)
    manual_clock.set_local_date(date(2025, 1, 10))
    rpc.import_people(ADMIN, {"people": [leap]})
    manual_clock.set_local_date(date(2025, 2, 28))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 0
    manual_clock.set_local_date(date(2025, 3, 1))
    assert rpc.run_allowance_job(ADMIN)["enrolled"] == 1
    assert enrolments(engine)[leap["resident_id"]] == (date(2025, 3, 1), date(2025, 3, 1))


def test_only_admins_feed_the_registry_and_start_the_job(care):
    rpc, _ = care
    for call in (
        lambda: rpc.import_people(CLERK, {"people": [someone(date(1940, 1, 1), 61)]}),
        lambda: rpc.run_allowance_job(CLERK),
    ):
        with pytest.raises(Problem) as refused:
            call()
        assert refused.value.status == 403
    with pytest.raises(Problem) as bad:
        rpc.import_people(ADMIN, {"people": [{**someone(date(1940, 1, 1), 61), "resident_id": "330602194001010000"}]})
    assert bad.value.status == 422


def test_the_registry_and_the_allowance_through_the_gateway(system, manual_clock):
    sys_ = system(care=True)
    admin, person = ("admin", "data-office"), someone(date(1946, 6, 15), 71)
    manual_clock.set_local_date(date(2026, 6, 1))
    imported = sys_.call("POST", "/api/v1/care/elders/import", admin, json={"people": [person]})
    assert imported.status_code == 200 and imported.json()["added"] == 1
    bad = sys_.call("POST", "/api/v1/care/elders/import", admin, json={"people": [{**person, "region_code": "33"}]})
    assert bad.status_code == 400 and "region_code" in bad.json()["errors"]["people"]["0"]
    manual_clock.set_local_date(date(2026, 6, 20))
    assert sys_.call("POST", "/api/v1/care/allowance-job", admin).json()["enrolled"] == 1
    assert sys_.call("POST", "/api/v1/care/allowance-job", ("clerk", "c-1", TOWNSHIP)).status_code == 403
    own = sys_.call("GET", f"/api/v1/care/elders/{person['resident_id']}", ("citizen", person["resident_id"]))
    assert own.status_code == 200 and own.json()["allowance"]["starts_month"] == "2026-06-01"
    other = sys_.call(
        "GET", f"/api/v1/care/elders/{person['resident_id']}", ("citizen", someone(date(1950, 1, 1), 81)["resident_id"])
    )
    assert other.status_code == 403
