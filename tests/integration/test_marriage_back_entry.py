"""补录 through the API: a historical marriage entered from its evidence is marked back-entered and
audited, and counts in the bigamy check; so does its historical divorce."""

from datetime import date

from sqlalchemy import create_engine, text

from tests.system import person

OFFICE = "330602"
CLERK = ("clerk", "registrar-01", OFFICE)
TODAY = date(2026, 5, 11)
EVIDENCE = {"kind": "archive_file", "reference": "越城区档案馆 婚-1985-0412"}


def rows(url, sql, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def party(birth, sex, name):
    return {"resident_id": person(birth, sex), "name": name}


def register(sys_, a, b):
    return sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": a, "party_b": b, "declared_not_close_relatives": True},
    )


def test_a_back_entered_marriage_blocks_a_new_registration(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    husband, wife = party(date(1960, 2, 1), "male", "王建国"), party(date(1962, 7, 1), "female", "李秀英")
    other = party(date(1990, 3, 3), "female", "赵丽")
    entry = {
        "office_code": OFFICE,
        "party_a": husband,
        "party_b": wife,
        "married_on": "1985-10-01",
        "certificate_number": "YC85-1123",
        "evidence": EVIDENCE,
    }
    entered = sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json=entry)
    assert entered.status_code == 201, entered.text
    record = entered.json()
    assert record["back_entered"] is True and record["state"] == "registered"
    assert record["registered_on"] == "1985-10-01" and record["certificate_number"] == "YC85-1123"

    status = sys_.call("GET", f"/api/v1/marriage/marital-status/{husband['resident_id']}", CLERK)
    assert status.json() == {"status": "married", "since": "1985-10-01"}

    bigamy = register(sys_, husband, other)
    assert bigamy.status_code == 422, bigamy.text
    assert bigamy.json()["type"].endswith("/already_married")
    assert "party_a.resident_id" in bigamy.json()["errors"]

    # audited with its evidence, marked in the registry
    [(outcome, reason)] = rows(
        sys_.databases["marriage"],
        "SELECT outcome, details FROM audit_log WHERE action = 'marriage.back_enter' AND outcome != 'refused'",
    )
    assert outcome == "registered" and "婚-1985-0412" in str(reason)
    assert rows(sys_.databases["marriage"], "SELECT back_entered FROM marriage") == [(True,)]

    # the same record again is refused, as bigamy, and nothing more is stored
    again = sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json={**entry, "certificate_number": None})
    assert again.status_code == 422 and "party_a.resident_id" in again.json()["errors"], again.text
    assert rows(sys_.databases["marriage"], "SELECT count(*) FROM marriage") == [(1,)]

    # the historical divorce, entered later: now the husband may marry again
    divorced = sys_.call(
        "POST",
        f"/api/v1/marriage/registrations/{record['registration_id']}/back-entered-divorce",
        CLERK,
        json={"divorced_on": "1999-04-01", "certificate_number": "YC99-0077", "evidence": EVIDENCE},
    )
    assert divorced.status_code == 201, divorced.text
    assert divorced.json()["state"] == "divorced"
    status = sys_.call("GET", f"/api/v1/marriage/marital-status/{husband['resident_id']}", CLERK)
    assert status.json() == {"status": "divorced", "since": "1999-04-01"}
    assert register(sys_, husband, other).status_code == 201


def test_a_historical_record_that_overlaps_another_marriage_is_refused(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    husband, wife = party(date(1961, 2, 1), "male", "钱进"), party(date(1963, 7, 1), "female", "孙梅")
    second = party(date(1965, 1, 1), "female", "周芳")
    first = {
        "office_code": OFFICE,
        "party_a": husband,
        "party_b": wife,
        "married_on": "1986-01-01",
        "divorced_on": "1995-06-30",
        "evidence": EVIDENCE,
    }
    assert sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json=first).status_code == 201
    overlapping = {**first, "party_b": second, "married_on": "1994-01-01", "divorced_on": None}
    refused = sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json=overlapping)
    assert refused.status_code == 422, refused.text
    assert "1986-01-01" in refused.json()["errors"]["party_a.resident_id"][0]
    after = sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json={**overlapping, "married_on": "1995-06-30"})
    assert after.status_code == 201, after.text
    future = {**first, "party_a": party(date(1970, 1, 1), "male", "吴刚"), "married_on": "2026-05-12"}
    bad = sys_.call("POST", "/api/v1/marriage/back-entries", CLERK, json=future)
    assert bad.status_code == 422 and "married_on" in bad.json()["errors"], bad.text
    assert rows(sys_.databases["marriage"], "SELECT count(*) FROM marriage WHERE back_entered") == [(2,)]
