"""收养登记 through the API: the rules refuse with the field, a registration reaches the police
(hukou) and, for a child a welfare institution raised, care; dissolution by agreement."""

from datetime import date

from sqlalchemy import create_engine, text

from tests.helpers import get_messages, queue_depth, wait_for
from tests.system import person

OFFICE = "330602"
CLERK = ("clerk", "registrar-01", OFFICE)
TODAY = date(2026, 5, 11)


def adopter(birth=date(1985, 2, 1), sex="female", **changes):
    return {
        "resident_id": person(birth, sex),
        "name": "周敏",
        "children": 0,
        "able_to_raise": True,
        "medically_unfit": False,
        "unfavourable_record": False,
        **changes,
    }


def request(adopters, child_birth=date(2021, 4, 1), placer=None, **child):
    return {
        "office_code": OFFICE,
        "adopters": adopters,
        "adoptee": {
            "resident_id": person(child_birth, "female"),
            "name": "周小安",
            "category": "parents_unknown",
            **child,
        },
        "placer": placer
        or {"kind": "institution", "name": "绍兴市儿童福利院", "institution_code": "SX-CW-01", "consents": True},
    }


def rows(url, sql, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).all()
    finally:
        engine.dispose()


def test_an_adoption_from_an_institution_reaches_police_and_care(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system(care=True)
    body = request([adopter()])
    registered = sys_.call("POST", "/api/v1/marriage/adoptions", CLERK, json=body)
    assert registered.status_code == 201, registered.text
    adoption = registered.json()
    assert adoption["certificate_number"].startswith("S330602-2026-")
    assert adoption["state"] == "registered" and adoption["institution_code"] == "SX-CW-01"
    assert "adoption.adopter_min_age" in adoption["policy_version"]

    wait_for(lambda: queue_depth(sys_.partner_amqp_uri, "partner.police") >= 1, what="the adoption on partner.police")
    [(_, police)] = get_messages(sys_.partner_amqp_uri, "partner.police")
    assert police["type"] == "adoption.registered"
    # minimal disclosure: who adopted whom, from when; not the placer or the certificate
    assert set(police["data"]) == {"adoption_id", "registered_on", "adopters", "adoptee"}
    assert police["data"]["adoptee"]["resident_id"] == body["adoptee"]["resident_id"]
    assert [a["resident_id"] for a in police["data"]["adopters"]] == [body["adopters"][0]["resident_id"]]

    recorded = wait_for(
        lambda: rows(
            sys_.databases["care"],
            "SELECT child_resident_id, institution_code, adopted_on FROM child_adoption WHERE adoption_id = :id",
            id=adoption["adoption_id"],
        ),
        what="care's record of the adoption",
    )
    assert recorded == [(body["adoptee"]["resident_id"], "SX-CW-01", TODAY)]

    again = sys_.call("POST", "/api/v1/marriage/adoptions", CLERK, json=body)
    assert again.status_code == 422 and "adoptee.resident_id" in again.json()["errors"], again.text

    # dissolution by agreement: the child is five, so the institution that gave it up agrees too
    dissolution = {"office_code": OFFICE, "adopters_agree": True, "placer_agrees": None}
    path = f"/api/v1/marriage/adoptions/{adoption['adoption_id']}/dissolution"
    refused = sys_.call("POST", path, CLERK, json=dissolution)
    assert refused.status_code == 422 and list(refused.json()["errors"]) == ["placer_agrees"], refused.text
    dissolved = sys_.call("POST", path, CLERK, json={**dissolution, "placer_agrees": True})
    assert dissolved.status_code == 200, dissolved.text
    assert dissolved.json()["state"] == "dissolved"
    assert dissolved.json()["dissolution_certificate_number"].startswith("JS330602-2026-")
    wait_for(
        lambda: queue_depth(sys_.partner_amqp_uri, "partner.police") >= 1, what="the dissolution on partner.police"
    )
    assert [b["type"] for _, b in get_messages(sys_.partner_amqp_uri, "partner.police")] == ["adoption.dissolved"]


def test_an_adoption_within_a_family_is_not_cares(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system(care=True)
    placer = {"kind": "parents", "name": "李强", "consents": True}
    body = request([adopter()], placer=placer, category="parents_in_difficulty")
    registered = sys_.call("POST", "/api/v1/marriage/adoptions", CLERK, json=body)
    assert registered.status_code == 201, registered.text
    wait_for(lambda: queue_depth(sys_.partner_amqp_uri, "partner.police") >= 1, what="the adoption on partner.police")
    # care consumed it (its queue drained) and recorded nothing
    wait_for(lambda: queue_depth(sys_.amqp_uri, "care.on_adoption_registered") == 0, what="care's queue drained")
    wait_for(
        lambda: (
            rows(
                sys_.databases["care"],
                "SELECT count(*) FROM inbox WHERE consumer = 'care.on_adoption_registered'",
            )[0][0]
            == 1
        ),
        what="care's inbox to hold the event",
    )
    assert rows(sys_.databases["care"], "SELECT count(*) FROM child_adoption")[0][0] == 0


def test_refusals_name_the_field_and_store_nothing(system, manual_clock):
    manual_clock.set_local_date(TODAY)
    sys_ = system()
    cases = [
        # 29 years old: art. 1098(5)
        (request([adopter(birth=date(1997, 1, 1))]), "adopters[0].resident_id"),
        # a single man and a girl 35 years younger: art. 1102
        (request([adopter(birth=date(1986, 1, 1), sex="male")]), "adopters[0].resident_id"),
        # a child of nine who has not consented: art. 1104
        (request([adopter()], child_birth=date(2017, 1, 1)), "adoptee.consents"),
        # the placer does not consent
        (
            request([adopter()], placer={"kind": "guardian", "name": "王五", "consents": False}),
            "placer.consents",
        ),
    ]
    for body, field in cases:
        refused = sys_.call("POST", "/api/v1/marriage/adoptions", CLERK, json=body)
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert field in problem["errors"], problem
        assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert rows(sys_.databases["marriage"], "SELECT count(*) FROM adoption")[0][0] == 0
