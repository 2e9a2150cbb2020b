"""Death intake and the order of events, against the real broker and PostgreSQL: two sources
reporting one death at the same moment make one case, one matter and one `death.notified`; the
intake refuses what it must; a revocation that overtakes its own notice leaves the marriage as it
was; a deceased who had nothing in a service gets "not applicable"."""

from __future__ import annotations

import uuid
from datetime import date

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.errors import Problem
from chassis.migrations import upgrade
from contracts.person import compose_resident_id
from services.funeral.service import FuneralService
from services.marriage.service import MarriageService
from tests.helpers import wait_for
from tests.integration.test_care_orders import publish

TOWNSHIP, DISTRICT = "330602001", "330602"
HEALTH = {"id": "health", "role": "partner"}
POLICE = {"id": "police", "role": "partner"}
APPROVER = {"id": "approver-01", "role": "clerk", "area": DISTRICT}
DECEASED = compose_resident_id(DISTRICT, date(1940, 7, 7), 31)


def notice(reference, died="2026-05-20", resident_id=DECEASED):
    return {
        "deceased": {"resident_id": resident_id, "name": "赵老"},
        "date_of_death": died,
        "region_code": TOWNSHIP,
        "reference": reference,
    }


def rows(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).all()


@pytest.fixture
def funeral(make_database, base_config, start_service, manual_clock, amqp_uri):
    url = make_database("funeral")
    upgrade("services/funeral", url)
    start_service(FuneralService, {**base_config, "DATABASE_URL": url})
    engine = create_engine(url)
    manual_clock.set_local_date(date(2026, 6, 10))
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        yield proxy, engine
    engine.dispose()


def test_two_sources_at_once_make_one_case_and_one_notification(funeral):
    proxy, engine = funeral
    # all three requests in flight before any answer: the service's workers take them at once
    pending = [
        proxy.funeral.notify_death.call_async(actor, body)
        for actor, body in ((HEALTH, notice("D-1")), (POLICE, notice("GA-1")), (HEALTH, notice("D-1")))
    ]
    answers = [reply.result() for reply in pending]
    assert len({a["case_id"] for a in answers}) == 1 and len({a["matter_id"] for a in answers}) == 1
    assert sorted(a["duplicate"] for a in answers) == [False, True, True]
    # the partners are told the case and matter, not what the other source reported
    assert {frozenset(a) for a in answers} == {
        frozenset({"case_id", "matter_id", "state", "date_of_death", "date_conflict", "duplicate"})
    }
    assert rows(engine, "SELECT event_type, count(*) FROM outbox GROUP BY 1 ORDER BY 1") == [
        ("death.notified", 1),
        ("matter.opened", 1),
    ]
    assert rows(engine, "SELECT count(*) FROM death_notice")[0][0] == 2  # the resent certificate is one notice


def test_intake_refuses_what_it_must(funeral):
    proxy, _ = funeral

    def refused(actor, body):
        with pytest.raises(Problem) as problem:
            proxy.funeral.notify_death(actor, body)
        return problem.value.status

    assert refused({"id": DECEASED, "role": "citizen"}, notice(None)) == 403  # the deceased does not apply
    assert refused({"id": "banks", "role": "partner"}, notice("B-1")) == 403
    assert refused(HEALTH, notice("D-2", died="2026-06-11")) == 422  # in the future
    assert refused({"id": "c", "role": "clerk", "area": "330603"}, notice(None)) == 403  # outside the area


def test_a_confirmed_date_is_sent_on_only_when_it_corrects_the_notified_one(funeral):
    """The police give another date than the hospital: the clerk's confirmation of the police's
    date publishes death.date_corrected once, with both dates; confirming the notified date, or a
    date for a revoked case, publishes nothing."""
    proxy, engine = funeral
    case = proxy.funeral.notify_death(HEALTH, notice("D-7"))
    assert proxy.funeral.notify_death(POLICE, notice("GA-7", died="2026-05-22"))["date_conflict"] is True
    view = proxy.funeral.resolve_date(APPROVER, case["case_id"], {"date_of_death": "2026-05-22", "reason": "autopsy"})
    assert (view["date_of_death"], view["date_conflict"]) == ("2026-05-22", False)
    (correction,) = [r.body for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'death.date_corrected'")]
    assert correction["matter_id"] == case["matter_id"] and correction["data"] == {
        "case_id": case["case_id"],
        "resident_id": DECEASED,
        "date_of_death": "2026-05-22",
        "previous_date_of_death": "2026-05-20",
        "reason": "autopsy",
        "revision": 1,
    }
    # a third notice disagrees again; the clerk keeps the date the steps now stand on
    proxy.funeral.notify_death(HEALTH, notice("D-8", died="2026-05-20"))
    proxy.funeral.resolve_date(APPROVER, case["case_id"], {"date_of_death": "2026-05-22", "reason": "autopsy"})
    # another death, revoked while its dates were in dispute
    other = compose_resident_id(DISTRICT, date(1939, 9, 9), 13)
    revoked = proxy.funeral.notify_death(HEALTH, notice("D-9", resident_id=other))
    proxy.funeral.notify_death(POLICE, notice("GA-9", died="2026-05-21", resident_id=other))
    proxy.funeral.revoke(APPROVER, revoked["case_id"], {"reason": "another person"})
    proxy.funeral.resolve_date(APPROVER, revoked["case_id"], {"date_of_death": "2026-05-21", "reason": "police"})
    assert rows(engine, "SELECT count(*) FROM outbox WHERE event_type = 'death.date_corrected'")[0][0] == 1


def test_a_death_revoked_in_error_can_be_notified_again(funeral):
    """The revoked case stands aside: the person's real death, later, is a case and a matter of
    its own; the revoked certificate sent again is still the revoked case."""
    proxy, engine = funeral
    wrong = proxy.funeral.notify_death(HEALTH, notice("D-3"))
    proxy.funeral.revoke(APPROVER, wrong["case_id"], {"reason": "the wrong person"})
    assert proxy.funeral.notify_death(HEALTH, notice("D-3"))["case_id"] == wrong["case_id"]
    real = proxy.funeral.notify_death(POLICE, notice("GA-3", died="2026-06-08"))
    assert real["duplicate"] is False
    assert (real["case_id"], real["matter_id"]) != (wrong["case_id"], wrong["matter_id"])
    assert rows(engine, f"SELECT state FROM death_case WHERE resident_id = '{DECEASED}' ORDER BY opened_at") == [
        ("revoked",),
        ("open",),
    ]
    assert rows(engine, "SELECT count(*) FROM outbox WHERE event_type = 'death.notified'")[0][0] == 2


def test_a_revocation_overtaking_its_notice_leaves_the_marriage_alone(
    make_database, base_config, start_service, manual_clock, amqp_uri
):
    url = make_database("marriage")
    upgrade("services/marriage", url)
    start_service(
        MarriageService, {**base_config, "DATABASE_URL": url, "E_CERTIFICATE_KEY": "test-e-certificate-signing-key"}
    )
    manual_clock.set_local_date(date(2026, 6, 10))
    engine = create_engine(url)
    wife = compose_resident_id(DISTRICT, date(1950, 1, 1), 42)
    single = compose_resident_id(DISTRICT, date(1951, 1, 1), 53)
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        proxy.marriage.register_marriage(
            {"id": "r", "role": "clerk", "area": DISTRICT},
            {
                "office_code": DISTRICT,
                "declared_not_close_relatives": True,
                "party_a": {"resident_id": DECEASED, "name": "赵老"},
                "party_b": {"resident_id": wife, "name": "钱氏"},
            },
        )
        case_id = str(uuid.uuid4())
        revoked = {"case_id": case_id, "resident_id": DECEASED, "date_of_death": "2026-05-20", "reason": "error"}
        notified = {
            "case_id": case_id,
            "resident_id": DECEASED,
            "name": "赵老",
            "date_of_death": "2026-05-20",
            "region_code": TOWNSHIP,
            "source": "hospital",
        }
        publish(amqp_uri, "death.revoked", "funeral", revoked)
        wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("revoked",)], what="the tombstone")
        publish(amqp_uri, "death.notified", "funeral", notified)
        # and the death of someone never married: not applicable, reported as such
        other = str(uuid.uuid4())
        publish(amqp_uri, "death.notified", "funeral", {**notified, "case_id": other, "resident_id": single})
        wait_for(lambda: len(rows(engine, "SELECT 1 FROM death_record")) == 2, what="the second death")
        eventlet.sleep(0.5)  # let the late notice be handled (or not)
        assert (
            proxy.marriage.marital_status({"id": "r", "role": "clerk", "area": DISTRICT}, wife)["status"] == "married"
        )
    reports = rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported'")
    # both not applicable: the overtaken notice changed nothing, and saying so lets the revoked
    # matter leave "revoking" (a step left pending would keep it there for ever)
    assert sorted((r.body["subject"], r.body["data"]["state"]) for r in reports) == sorted(
        [(f"death-case-{case_id}", "not_applicable"), (f"death-case-{other}", "not_applicable")]
    )
    engine.dispose()


def test_a_corrected_date_moves_the_end_of_the_marriage(
    make_database, base_config, start_service, manual_clock, amqp_uri
):
    """The death notified as 20 May ends the marriage; the widow marries again on 5 June; the clerk
    corrects the date to 8 June: the first marriage ended on 8 June (the second is left as it is,
    and the step says the registrar must review it). Another couple's correction overtakes its own
    notice: the marriage ends on the corrected date and the late notice changes nothing."""
    url = make_database("marriage")
    upgrade("services/marriage", url)
    start_service(
        MarriageService, {**base_config, "DATABASE_URL": url, "E_CERTIFICATE_KEY": "test-e-certificate-signing-key"}
    )
    engine = create_engine(url)
    registrar = {"id": "r", "role": "clerk", "area": DISTRICT}
    wife = compose_resident_id(DISTRICT, date(1950, 1, 1), 42)
    suitor = compose_resident_id(DISTRICT, date(1948, 2, 2), 61)
    husband2 = compose_resident_id(DISTRICT, date(1945, 3, 3), 71)
    wife2 = compose_resident_id(DISTRICT, date(1947, 4, 4), 82)

    def couple(a, b):
        return {
            "office_code": DISTRICT,
            "declared_not_close_relatives": True,
            "party_a": {"resident_id": a, "name": "甲"},
            "party_b": {"resident_id": b, "name": "乙"},
        }

    def reports(case_id):
        return [
            r.body["data"]
            for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'matter.step_reported' ORDER BY id")
            if r.body["subject"] == f"death-case-{case_id}"
        ]

    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        manual_clock.set_local_date(date(2026, 5, 1))
        first = proxy.marriage.register_marriage(registrar, couple(DECEASED, wife))
        proxy.marriage.register_marriage(registrar, couple(husband2, wife2))
        manual_clock.set_local_date(date(2026, 5, 25))
        case_id, other = str(uuid.uuid4()), str(uuid.uuid4())
        publish(
            amqp_uri,
            "death.notified",
            "funeral",
            {
                "case_id": case_id,
                "resident_id": DECEASED,
                "name": "赵老",
                "date_of_death": "2026-05-20",
                "region_code": TOWNSHIP,
                "source": "hospital",
            },
        )
        wait_for(lambda: rows(engine, "SELECT state FROM death_record") == [("applied",)], what="the end")
        manual_clock.set_local_date(date(2026, 6, 5))
        proxy.marriage.register_marriage(registrar, couple(suitor, wife))
        manual_clock.set_local_date(date(2026, 6, 10))
        publish(
            amqp_uri,
            "death.date_corrected",
            "funeral",
            {
                "case_id": case_id,
                "resident_id": DECEASED,
                "date_of_death": "2026-06-08",
                "previous_date_of_death": "2026-05-20",
                "reason": "the police report",
                "revision": 1,
            },
        )
        wait_for(lambda: len(reports(case_id)) == 2, what="the step reported again")
        assert rows(engine, f"SELECT state, ended_on::text FROM marriage WHERE id = '{first['registration_id']}'") == [
            ("ended_by_death", "2026-06-08")
        ]
        assert proxy.marriage.marital_status(registrar, wife) == {"status": "married", "since": "2026-06-05"}
        done, again = reports(case_id)
        assert (done["state"], again["state"]) == ("done", "done")
        assert again["reason"].startswith("date of death corrected from 2026-05-20 to 2026-06-08: ")
        assert "married again on 2026-06-05" in again["reason"] and "review" in again["reason"]

        # the correction before its notice: ended on the corrected date; the notice then ignored
        publish(
            amqp_uri,
            "death.date_corrected",
            "funeral",
            {
                "case_id": other,
                "resident_id": husband2,
                "date_of_death": "2026-06-01",
                "previous_date_of_death": "2026-05-30",
                "reason": "the hospital's certificate",
                "revision": 1,
            },
        )
        wait_for(lambda: len(reports(other)) == 1, what="the overtaking correction")
        publish(
            amqp_uri,
            "death.notified",
            "funeral",
            {
                "case_id": other,
                "resident_id": husband2,
                "name": "孙老",
                "date_of_death": "2026-05-30",
                "region_code": TOWNSHIP,
                "source": "family",
            },
        )
        wait_for(
            lambda: rows(engine, "SELECT count(*) FROM inbox WHERE consumer = 'marriage.on_death'")[0][0] == 4,
            what="the late notice",
        )
        assert proxy.marriage.marital_status(registrar, wife2) == {"status": "widowed", "since": "2026-06-01"}
        assert [r["state"] for r in reports(other)] == ["done"]
    engine.dispose()


def test_funeral_home_staff_take_the_notice_but_cannot_revoke_the_death(system):
    """Funeral-home staff have a role of their own (funeral_home, scoped to their district): they
    notify a death and see its case, but neither revoke it nor confirm its date, at the gateway or
    at the service; a district clerk still revokes (failed before issue 18: funeral-home staff were
    district clerks, and no such role could be issued)."""
    sys_ = system(funeral=True)
    home = ("funeral_home", "funeral-home-01", DISTRICT)
    answer = sys_.call("POST", "/api/v1/funeral/deaths", home, json=notice(None))
    assert answer.status_code == 202, answer.text
    case_id = answer.json()["case_id"]
    seen = sys_.call("GET", f"/api/v1/funeral/cases/{case_id}", home)
    assert (seen.status_code, seen.json()["state"]) == (200, "open")
    refused = sys_.call(
        "POST", f"/api/v1/funeral/cases/{case_id}/revocation", home, json={"reason": "the family asked"}
    )
    assert refused.status_code == 403, refused.text
    moved = sys_.call(
        "POST",
        f"/api/v1/funeral/cases/{case_id}/date-of-death",
        home,
        json={"date_of_death": "2026-05-19", "reason": "the family says so"},
    )
    assert moved.status_code == 403, moved.text
    # nor at the service, whoever calls it
    with (
        ClusterRpcProxy({"AMQP_URI": sys_.amqp_uri}) as proxy,
        pytest.raises(Problem, match="funeral-home staff do not revoke"),
    ):
        proxy.funeral.revoke(
            {"id": "funeral-home-01", "role": "funeral_home", "area": DISTRICT},
            case_id,
            {"reason": "the family asked for it"},
        )
    engine = create_engine(sys_.databases["funeral"])
    assert rows(engine, f"SELECT state FROM death_case WHERE id = '{case_id}'") == [("open",)]
    assert rows(engine, "SELECT actor_role, action, outcome FROM audit_log WHERE outcome = 'refused'") == [
        ("funeral_home", "death.revoke", "refused")
    ]
    engine.dispose()
    # the district bureau revokes
    revoked = sys_.call(
        "POST",
        f"/api/v1/funeral/cases/{case_id}/revocation",
        ("clerk", "approver-01", DISTRICT),
        json={"reason": "the wrong person"},
    )
    assert (revoked.status_code, revoked.json()["state"]) == (200, "revoked")


def test_a_funeral_home_token_outside_its_district_sees_no_case(system):
    sys_ = system(funeral=True)
    answer = sys_.call("POST", "/api/v1/funeral/deaths", ("funeral_home", "fh-01", DISTRICT), json=notice(None))
    case_id = answer.json()["case_id"]
    elsewhere = sys_.call("GET", f"/api/v1/funeral/cases/{case_id}", ("funeral_home", "fh-02", "330603"))
    assert elsewhere.status_code == 403, elsewhere.text
    # and a funeral-home token is no clerk's: the clerks' queue of date conflicts refuses it
    queue = sys_.call("GET", "/api/v1/funeral/date-conflicts", ("funeral_home", "fh-01", DISTRICT))
    assert queue.status_code == 403, queue.text


FAMILY = {"id": compose_resident_id(DISTRICT, date(1968, 2, 2), 44), "role": "citizen"}


def hold_family_notices(engine, days=3, region=DISTRICT):
    """The district's version of funeral.family_notice: a family's notice waits for confirmation."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO policy_parameters (region_code, name, effective_from, value, source, recorded_at,"
                " recorded_by) VALUES (:r, 'funeral.family_notice', '2026-01-01', CAST(:v AS json), 'test',"
                " now(), 'test')"
            ),
            {"r": region, "v": f'{{"mode": "hold", "confirm_within_days": {days}}}'},
        )


def notified(engine):
    return [
        r.body["data"]["date_of_death"]
        for r in rows(engine, "SELECT body FROM outbox WHERE event_type = 'death.notified' ORDER BY id")
    ]


def test_a_family_notice_held_by_policy_waits_for_the_hospital(funeral):
    """Where the district holds family notices (funeral.family_notice: hold, 3 days), the family's
    notice opens the case and the matter but nothing is done on it: no death.notified until the
    hospital's certificate comes, and then with the certificate's date (failed before issue 18:
    the family's notice was sent on at once, unverified)."""
    proxy, engine = funeral
    hold_family_notices(engine)
    receipt = proxy.funeral.notify_death(FAMILY, {**notice(None, died="2026-06-08"), "informant_relationship": "son"})
    case_id = receipt["case_id"]
    assert notified(engine) == []
    assert rows(engine, "SELECT event_type FROM outbox ORDER BY id") == [("matter.opened",)]
    case = proxy.funeral.get_case(APPROVER, case_id)
    assert (case["verification"], case["verify_by"]) == ("awaiting", "2026-06-13")
    assert rows(engine, "SELECT outcome, policy_version FROM audit_log WHERE action = 'death.notify'") == [
        ("held", f"{DISTRICT}/funeral.family_notice@2026-01-01")
    ]
    # the hospital's certificate verifies it, with its own date
    proxy.funeral.notify_death(HEALTH, notice("D-900", died="2026-06-07"))
    assert notified(engine) == ["2026-06-07"]
    case = proxy.funeral.get_case(APPROVER, case_id)
    assert (case["verification"], case["date_of_death"], case["date_conflict"]) == ("verified", "2026-06-07", False)
    # the police report later joins, and sends nothing again
    proxy.funeral.notify_death(POLICE, notice("GA-900", died="2026-06-07"))
    assert notified(engine) == ["2026-06-07"]


def test_a_held_family_notice_is_confirmed_by_a_clerk_within_the_days_or_lapses(funeral, manual_clock):
    proxy, engine = funeral
    hold_family_notices(engine, days=3)
    first = proxy.funeral.notify_death(FAMILY, notice(None, died="2026-06-08"))["case_id"]
    other = compose_resident_id(DISTRICT, date(1939, 3, 3), 55)
    second = proxy.funeral.notify_death(FAMILY, notice(None, died="2026-06-09", resident_id=other))["case_id"]
    # funeral-home staff cannot confirm; a clerk of the area can, by the deadline
    with pytest.raises(Problem):
        proxy.funeral.confirm_notice(
            {"id": "fh-01", "role": "funeral_home", "area": DISTRICT}, first, {"reason": "the certificate"}
        )
    manual_clock.set_local_date(date(2026, 6, 13))
    confirmed = proxy.funeral.confirm_notice(APPROVER, first, {"reason": "the certificate seen at the office"})
    assert confirmed["verification"] == "verified"
    assert notified(engine) == ["2026-06-08"]
    with pytest.raises(Problem, match="verified already"):
        proxy.funeral.confirm_notice(APPROVER, first, {"reason": "again"})
    # the other is not confirmed by 13 June: it lapses, and a clerk can no longer confirm it
    manual_clock.set_local_date(date(2026, 6, 14))
    assert proxy.funeral.lapse_unverified({"id": "ops", "role": "admin"}) == {"lapsed": 1}
    assert proxy.funeral.lapse_unverified({"id": "ops", "role": "admin"}) == {"lapsed": 0}
    assert proxy.funeral.get_case(APPROVER, second)["verification"] == "lapsed"
    with pytest.raises(Problem, match="not confirmed by 2026-06-13"):
        proxy.funeral.confirm_notice(APPROVER, second, {"reason": "late"})
    assert notified(engine) == ["2026-06-08"]
    # a police report still verifies the death
    proxy.funeral.notify_death(POLICE, notice("GA-901", died="2026-06-09", resident_id=other))
    assert notified(engine) == ["2026-06-08", "2026-06-09"]


def test_where_the_policy_acts_at_once_a_family_notice_is_sent_on(funeral):
    proxy, engine = funeral
    proxy.funeral.notify_death(FAMILY, notice(None, died="2026-06-08"))
    assert notified(engine) == ["2026-06-08"]
