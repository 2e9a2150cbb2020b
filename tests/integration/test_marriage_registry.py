"""The marriage registry's other capabilities through the gateway: appointments, certificates,
e-certificates, re-issue and marital-status queries with their entitlements."""

from datetime import date, datetime, timedelta

from chassis.clock import LOCAL_ZONE
from tests.integration.test_marriage_one_matter import CLERK, OFFICE, couple
from tests.system import person

TODAY = date(2026, 6, 1)


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_ZONE).isoformat()


def test_appointments_respect_slots_and_capacity(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    tomorrow = TODAY + timedelta(days=1)

    def book(slot, a=None, b=None, who=CLERK):
        a, b = (a, b) if a else couple()
        return sys_.call(
            "POST",
            "/api/v1/marriage/appointments",
            who,
            json={"office_code": OFFICE, "slot_start": slot, "party_a": a, "party_b": b},
        )

    for _ in range(4):  # the seeded office takes four couples a slot
        assert book(at(tomorrow, 9)).status_code == 201
    full = book(at(tomorrow, 9))
    assert full.status_code == 409 and full.json()["errors"] == {"slot_start": ["full"]}
    assert book(at(tomorrow, 9, 10)).status_code == 422  # not a slot start
    assert book(at(TODAY - timedelta(days=1), 9)).status_code == 422  # in the past
    a, b = couple()
    assert book(at(tomorrow, 10), a, b, who=("citizen", a["resident_id"])).status_code == 201
    # a citizen books only for a couple they are part of, and only one appointment at a time
    assert book(at(tomorrow, 11), who=("citizen", a["resident_id"])).status_code == 403
    assert book(at(tomorrow, 11), a, b, who=("citizen", a["resident_id"])).status_code == 409
    elsewhere = sys_.call(
        "POST",
        "/api/v1/marriage/appointments",
        ("clerk", "c-2", "330111"),
        json={"office_code": OFFICE, "slot_start": at(tomorrow, 14), "party_a": couple()[0], "party_b": couple()[1]},
    )
    assert elsewhere.status_code == 403  # clerks book only at offices of their area
    unknown = sys_.call(
        "POST",
        "/api/v1/marriage/appointments",
        ("admin", "ops"),
        json={"office_code": "999999", "slot_start": at(tomorrow, 9), "party_a": a, "party_b": b},
    )
    assert unknown.status_code == 422 and list(unknown.json()["errors"]) == ["office_code"]


def test_certificates_verify_and_reissue(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    a, b = couple()
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": a, "party_b": b, "declared_not_close_relatives": True},
    ).json()
    number = registered["certificate_number"]
    e_cert = registered["e_certificate"]
    assert a["resident_id"] not in str(e_cert)  # the document carries masked numbers only

    anyone = ("partner", "police")
    verified = sys_.call("GET", f"/api/v1/marriage/certificates/{number}/verification", anyone).json()
    assert verified == {
        "certificate_number": number,
        "valid": True,
        "kind": "marriage",
        "registered_on": TODAY.isoformat(),
        "reason": None,
    }
    assert sys_.call("POST", "/api/v1/marriage/certificates/verification", anyone, json=e_cert).json()["valid"]
    forged = {**e_cert, "document": {**e_cert["document"], "issued_on": "2020-01-01"}}
    verdict = sys_.call("POST", "/api/v1/marriage/certificates/verification", anyone, json=forged).json()
    assert verdict["valid"] is False and "signature" in verdict["reason"]

    reissued = sys_.call(
        "POST",
        "/api/v1/marriage/certificate-reissues",
        CLERK,
        json={"certificate_number": number, "requested_by": b["resident_id"]},
    )
    assert reissued.status_code == 201, reissued.text
    new_number = reissued.json()["certificate_number"]
    assert new_number.startswith("BJ330602-2026-")
    old = sys_.call("GET", f"/api/v1/marriage/certificates/{number}/verification", anyone).json()
    assert old["valid"] is False and new_number in old["reason"]
    assert sys_.call("GET", f"/api/v1/marriage/certificates/{new_number}/verification", anyone).json()["valid"]
    stranger = person(date(1980, 1, 1), "male")
    not_a_party = sys_.call(
        "POST",
        "/api/v1/marriage/certificate-reissues",
        CLERK,
        json={"certificate_number": new_number, "requested_by": stranger},
    )
    assert not_a_party.status_code == 422 and "requested_by" in not_a_party.json()["errors"]


def test_marital_status_is_disclosed_only_to_the_entitled(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    a, b = couple()
    sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={"office_code": OFFICE, "party_a": a, "party_b": b, "declared_not_close_relatives": True},
    )
    path = f"/api/v1/marriage/marital-status/{a['resident_id']}"
    married = {"status": "married", "since": TODAY.isoformat()}
    assert sys_.call("GET", path, ("citizen", a["resident_id"])).json() == married
    assert sys_.call("GET", path, ("partner", "police")).json() == married
    assert sys_.call("GET", path, CLERK).json() == married
    assert sys_.call("GET", path, ("partner", "health")).status_code == 403
    assert sys_.call("GET", path, ("citizen", b["resident_id"])).status_code == 403
    bad = sys_.call("GET", "/api/v1/marriage/marital-status/330602199001011234", CLERK)
    assert bad.status_code == 422 and "resident_id" in bad.json()["errors"]
