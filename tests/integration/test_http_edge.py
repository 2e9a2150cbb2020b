"""The HTTP edge holds (issue 12): malformed input is a 4xx problem naming the field, never a server
error; the national office registry; a birth certificate names one birth; the loser of a
registration race is told which party; tokens from an identity provider whose keys rotate."""

import threading
import uuid
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import eventlet
import psycopg2
from sqlalchemy.engine import make_url

from gateway.auth import Issuer, issue_token
from tests.conftest import free_port
from tests.helpers import reply_json, wait_for
from tests.system import person

CLERK = ("clerk", "registrar-01", "330602")
ADMIN = ("admin", "ops-01")
HEALTH = ("partner", "health")
PROBLEM = "application/problem+json"


def couple():
    return (
        {"resident_id": person(date(1994, 2, 2), "male"), "name": "陈刚"},
        {"resident_id": person(date(1996, 9, 9), "female"), "name": "吴芳"},
    )


def registration(office: str, a: dict, b: dict) -> dict:
    return {"office_code": office, "declared_not_close_relatives": True, "party_a": a, "party_b": b}


def test_malformed_input_is_refused_with_the_field_named(system):
    s = system(care=True, charity=True, MAX_REQUEST_BYTES=64 * 1024)
    # a NUL in a path parameter, on a route that needs no token
    nul_path = s.session.get(s.url + "/api/v1/charity/campaigns/ab%00c/disclosure")
    assert nul_path.status_code == 400 and nul_path.headers["Content-Type"] == PROBLEM
    assert "campaign_id" in nul_path.json()["errors"]
    nul_body = s.call(
        "POST",
        "/api/v1/marriage/divorces",
        CLERK,
        json={"certificate_number": "J330602-2026\x00001", "office_code": "330602"},
    )
    assert nul_body.status_code == 400 and nul_body.json()["errors"] == {
        "certificate_number": ["must not contain control characters"]
    }
    beds = s.call(
        "POST",
        "/api/v1/care/institutions",
        ADMIN,
        json={
            "code": "inst-01",
            "name": "越城区福利院",
            "ownership": "public",
            "region_code": "330602",
            "beds": {"ordinary": 10, "nursing": 2**31, "dementia": 0},
        },
    )
    assert beds.status_code == 400 and "nursing" in beds.json()["errors"]["beds"]
    report = s.call(
        "POST",
        f"/api/v1/charity/organisations/{uuid.uuid4()}/annual-reports",
        CLERK,
        json={"year": 2025, "income_fen": 2**63, "expenditure_fen": 0},
    )
    assert report.status_code == 400 and "income_fen" in report.json()["errors"]
    a, b = couple()
    yes = s.call(
        "POST",
        "/api/v1/marriage/registrations",
        CLERK,
        json={**registration("330602", a, b), "declared_not_close_relatives": "yes"},
    )
    assert yes.status_code == 400 and "declared_not_close_relatives" in yes.json()["errors"]
    not_json = s.session.post(
        s.url + "/api/v1/marriage/divorces",
        data='{"certificate_number": NaN, "office_code": "330602"}',
        headers={"Authorization": f"Bearer {s.token(*CLERK)}", "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400 and not_json.headers["Content-Type"] == PROBLEM
    # nothing was registered by any of it
    status = s.call("GET", f"/api/v1/marriage/marital-status/{a['resident_id']}", CLERK)
    assert status.json()["status"] == "unmarried"

    unknown = s.session.get(s.url + "/api/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"] == PROBLEM
    assert unknown.json()["status"] == 404
    wrong_method = s.session.delete(s.url + "/api/v1/openapi.json")
    assert wrong_method.status_code == 405 and wrong_method.headers["Content-Type"] == PROBLEM
    assert set(wrong_method.headers["Allow"].replace(" ", "").split(",")) >= {"GET"}
    too_big = s.session.post(
        s.url + "/api/v1/marriage/divorces",
        data=b'{"certificate_number": "' + b"x" * (65 * 1024) + b'", "office_code": "330602"}',
        headers={"Authorization": f"Bearer {s.token(*CLERK)}", "Content-Type": "application/json"},
    )
    assert too_big.status_code == 413 and too_big.headers["Content-Type"] == PROBLEM

    def chunks():  # no Content-Length: werkzeug reads no such body here (eventlet does not mark it complete)
        yield b'{"certificate_number": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'", "office_code": "330602"}'

    chunked = s.session.post(
        s.url + "/api/v1/marriage/divorces",
        data=chunks(),
        headers={"Authorization": f"Bearer {s.token(*CLERK)}", "Content-Type": "application/json"},
    )
    assert chunked.status_code == 400 and chunked.json()["detail"] == "a JSON body is required", chunked.text


def test_a_marriage_registers_at_any_office_of_the_national_registry(system):
    s = system()
    beijing, jiangsu = "110101", "320102"  # 东城区, 玄武区
    for office in (beijing, jiangsu):
        a, b = couple()
        clerk = ("clerk", f"registrar-{office}", office)
        refused = s.call("POST", "/api/v1/marriage/registrations", clerk, json=registration(office, a, b))
        assert refused.status_code == 422 and list(refused.json()["errors"]) == ["office_code"]
        assert s.call("GET", f"/api/v1/marriage/offices/{office}", clerk).status_code == 404
        slots = {"name": f"{office} 婚姻登记处", "slot_minutes": 30, "slot_capacity": 6}
        assert s.call("PUT", f"/api/v1/marriage/offices/{office}", clerk, json=slots).status_code == 403
        added = s.call("PUT", f"/api/v1/marriage/offices/{office}", ADMIN, json=slots)
        assert added.status_code == 200, added.text
        assert added.json() == {
            "office_code": office,
            "name": slots["name"],
            "division": {"110101": "东城区", "320102": "玄武区"}[office],
            "slot_minutes": 30,
            "slot_capacity": 6,
        }
        registered = s.call("POST", "/api/v1/marriage/registrations", clerk, json=registration(office, a, b))
        assert registered.status_code == 201, registered.text
        assert registered.json()["office_code"] == office
    changed = s.call(
        "PUT",
        f"/api/v1/marriage/offices/{beijing}",
        ADMIN,
        json={"name": "东城区婚姻登记处", "slot_minutes": 15, "slot_capacity": 2},
    )
    assert changed.json()["slot_minutes"] == 15
    nowhere = s.call(
        "PUT", "/api/v1/marriage/offices/999999", ADMIN, json={"name": "无此地", "slot_minutes": 30, "slot_capacity": 1}
    )
    assert nowhere.status_code == 422 and list(nowhere.json()["errors"]) == ["office_code"]
    in_beijing = s.call("GET", "/api/v1/marriage/offices?region_code=110000", CLERK).json()["offices"]
    assert [o["office_code"] for o in in_beijing] == [beijing]


def test_a_birth_certificate_number_names_one_birth(system, manual_clock):
    s = system()
    mother, other_mother = person(date(1993, 3, 3), "female"), person(date(1991, 4, 4), "female")
    certificate = "O" + uuid.uuid4().hex[:9].upper()
    notice = {
        "child": {
            "name": "王小满",
            "birth_date": str(manual_clock.today()),
            "sex": "female",
            "birth_certificate_number": certificate,
        },
        "mother_resident_id": mother,
        "hospital": "绍兴市妇幼保健院",
    }
    first = s.call("POST", "/api/v1/partner/births", HEALTH, json=notice)
    assert first.status_code == 202, first.text
    again = s.call("POST", "/api/v1/partner/births", HEALTH, json=notice)  # a retry, another source
    assert again.status_code == 202 and again.json() == first.json()
    other = {**notice, "mother_resident_id": other_mother, "child": {**notice["child"], "name": "赵小雨"}}
    conflict = s.call("POST", "/api/v1/partner/births", HEALTH, json=other)
    assert conflict.status_code == 409
    body = conflict.json()
    assert set(body["errors"]) == {"child.birth_certificate_number", "child.name", "mother_resident_id"}
    assert first.json()["birth_id"] not in conflict.text and mother not in conflict.text  # nothing of the first family
    elsewhere = s.call("POST", "/api/v1/partner/births", HEALTH, json={**notice, "hospital": "另一家医院"})
    assert elsewhere.status_code == 409 and "hospital" in elsewhere.json()["errors"]
    tomorrow = manual_clock.today() + timedelta(days=1)
    future = {
        **notice,
        "child": {**notice["child"], "birth_date": str(tomorrow), "birth_certificate_number": "O1" + certificate[2:]},
    }
    refused = s.call("POST", "/api/v1/partner/births", HEALTH, json=future)
    assert refused.status_code == 422 and list(refused.json()["errors"]) == ["child.birth_date"]


def test_the_loser_of_a_registration_race_is_told_which_party(system):
    """Another registration of the man commits while this one is under way (it holds the spouse
    row until then): the loser's 409 names the field, as the ordinary path's 422 does."""
    s = system()
    husband, wife = couple()
    url = make_url(s.databases["marriage"])

    def connect():
        return psycopg2.connect(host=url.host, port=url.port, user=url.username, dbname=url.database)

    conn, watcher = connect(), connect()
    watcher.autocommit = True
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO marriage (id, office_code, registered_on, party_a_id, party_a_name, party_b_id, party_b_name, "
        "state, new_style_wedding_notice_given, policy_version, registered_by) "
        "VALUES (%s, '330602', CURRENT_DATE, %s, '陈刚', %s, '某', 'registered', true, 'test', 'other-office')",
        ("race-winner", husband["resident_id"], person(date(1995, 5, 5), "female")),
    )
    cur.execute("INSERT INTO spouse (resident_id, marriage_id) VALUES (%s, 'race-winner')", (husband["resident_id"],))
    loser = eventlet.spawn(
        s.call, "POST", "/api/v1/marriage/registrations", CLERK, json=registration("330602", husband, wife)
    )

    def loser_waits_on_the_winner():  # past its checks, its spouse row behind the one held here
        with watcher.cursor() as look:
            look.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (url.database,),
            )
            return look.fetchone()[0] == 1

    wait_for(loser_waits_on_the_winner, what="the loser to wait on the winner's spouse row")
    conn.commit()
    conn.close()
    watcher.close()
    answer = loser.wait()
    assert answer.status_code == 409, answer.text
    assert answer.json()["errors"] == {
        "party_a.resident_id": ["registered as married by another registration a moment ago"]
    }


class _Jwks(BaseHTTPRequestHandler):
    """The identity provider's JWKS endpoint, served by a plain http.server."""

    published: dict = {"keys": []}

    def do_GET(self):
        reply_json(self, self.published)

    def log_message(self, *args):
        pass


def test_tokens_are_verified_against_the_identity_providers_rotating_keys(system, manual_clock):
    old, new, stranger = Issuer.generate(), Issuer.generate(), Issuer.generate()
    _Jwks.published = old.jwks()
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        s = system(
            AUTH_JWKS=f"http://127.0.0.1:{port}/.well-known/jwks.json",
            AUTH_ISSUER=old.issuer,
            AUTH_AUDIENCE=old.audience,
            AUTH_KEY_GRACE_SECONDS=600,
            AUTH_JWKS_COOLDOWN_SECONDS=0,
        )

        def status(issuer, role="clerk", subject="registrar-01", **claims):
            token = issue_token(issuer, subject, role, area="330602", **claims)
            headers = {"Authorization": f"Bearer {token}"}
            return s.session.get(s.url + "/api/v1/marriage/offices", headers=headers, timeout=10).status_code

        assert status(old) == 200
        assert status(stranger) == 401  # a key the provider does not publish
        _Jwks.published = new.jwks()  # the provider rotates: the old key leaves its JWKS
        assert status(new) == 200  # an unknown key id reads the JWKS again
        assert status(old) == 200  # the rotated-out key, within its grace period
        manual_clock.advance(seconds=601)
        assert status(old) == 401  # after it
        assert status(new) == 200
        assert status(new, ttl_seconds=8 * 3600) == 401  # staff tokens are short-lived
        assert status(new, role="partner", subject="health", ttl_seconds=8 * 3600) == 200
    finally:
        server.shutdown()
