"""The published language: partner projections, catalogue consistency, envelope validation."""

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from marshmallow import fields

from contracts.assistance import QUEUE_PAGE_LIMIT, QUEUE_PAGE_ROWS, ApplicationQuerySchema
from contracts.envelope import Envelope, EnvelopeSchema, InvalidEvent
from contracts.events import EVENTS, validate_envelope
from contracts.matters import MATTER_TYPES
from contracts.partners import PARTNERS, project_for_partner
from contracts.person import compose_resident_id
from contracts.subscriptions import SUBSCRIPTIONS

HUSBAND = compose_resident_id("330602", date(1995, 6, 1), 101)
WIFE = compose_resident_id("330602", date(1997, 8, 9), 102)
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# --- project_for_partner ---------------------------------------------------------------------------

DATA = {
    "registration_id": "r-1",
    "registered_on": "2026-03-02",
    "certificate_number": "J330602-2026-000001",
    "office_code": "330602",
    "party_a": {"resident_id": HUSBAND, "name": "张三", "phone": "13800000000"},
    "party_b": {"resident_id": WIFE, "name": "李四"},
    "child": {"name": "张小", "sex": "male"},
}


@pytest.mark.parametrize(
    "paths, expected",
    [
        pytest.param((), {}, id="nothing-listed"),
        pytest.param(("registration_id",), {"registration_id": "r-1"}, id="one-top-level"),
        pytest.param(("party_a.resident_id",), {"party_a": {"resident_id": HUSBAND}}, id="one-nested"),
        pytest.param(
            ("party_a.resident_id", "party_a.name"),
            {"party_a": {"resident_id": HUSBAND, "name": "张三"}},
            id="two-nested-same-parent",
        ),
        pytest.param(
            ("party_a.resident_id", "party_b.resident_id"),
            {"party_a": {"resident_id": HUSBAND}, "party_b": {"resident_id": WIFE}},
            id="nested-two-parents",
        ),
        pytest.param(("child",), {"child": {"name": "张小", "sex": "male"}}, id="whole-subtree"),
        pytest.param(("no_such_field",), {}, id="missing-top-level-skipped"),
        pytest.param(("party_a.no_such",), {}, id="missing-leaf-skipped"),
        pytest.param(("no_such.resident_id",), {}, id="missing-parent-skipped"),
        pytest.param(("registration_id.deeper",), {}, id="path-through-a-scalar-skipped"),
        pytest.param(
            ("registration_id", "missing", "party_b.name"),
            {"registration_id": "r-1", "party_b": {"name": "李四"}},
            id="missing-among-present",
        ),
        pytest.param(
            PARTNERS["health"].entitlements["marriage.registered"],
            {
                "registration_id": "r-1",
                "registered_on": "2026-03-02",
                "party_a": {"resident_id": HUSBAND, "name": "张三"},
                "party_b": {"resident_id": WIFE, "name": "李四"},
            },
            id="health-entitlement",
        ),
    ],
)
def test_project_for_partner(paths, expected):
    assert project_for_partner(DATA, paths) == expected


def test_departments_get_a_revocation_without_the_clerks_reason():
    revoked = {
        "case_id": "c-1",
        "resident_id": HUSBAND,
        "date_of_death": "2026-05-20",
        "reason": "the hospital confused him with 王五 of the same ward",
    }
    for code in ("police", "human_resources", "medical_insurance"):
        assert project_for_partner(revoked, PARTNERS[code].entitlements["death.revoked"]) == {
            "case_id": "c-1",
            "resident_id": HUSBAND,
            "date_of_death": "2026-05-20",
        }


def test_departments_entitled_to_a_death_get_its_corrected_date_without_the_clerks_reason():
    corrected = {
        "case_id": "c-1",
        "resident_id": HUSBAND,
        "date_of_death": "2026-05-21",
        "previous_date_of_death": "2026-05-20",
        "reason": "the funeral home's record, per 王五's statement",
        "revision": 1,
    }
    notified = {code for code, p in PARTNERS.items() if "death.notified" in p.entitlements}
    assert notified == {code for code, p in PARTNERS.items() if "death.date_corrected" in p.entitlements}
    for code in notified:
        assert project_for_partner(corrected, PARTNERS[code].entitlements["death.date_corrected"]) == {
            "case_id": "c-1",
            "resident_id": HUSBAND,
            "date_of_death": "2026-05-21",
            "previous_date_of_death": "2026-05-20",
            "revision": 1,
        }


def test_projection_does_not_leak_siblings_and_does_not_alias_source():
    out = project_for_partner(DATA, ("party_a.resident_id",))
    assert "phone" not in out["party_a"] and "name" not in out["party_a"]
    assert out["party_a"] is not DATA["party_a"]
    assert DATA["party_a"]["phone"] == "13800000000"  # source untouched


# --- catalogue consistency ---------------------------------------------------------------------------

ENTITLEMENTS = [
    (code, event_type, paths) for code, p in PARTNERS.items() for event_type, paths in p.entitlements.items()
]


@pytest.mark.parametrize(
    "code, event_type, paths", [pytest.param(c, t, ps, id=f"{c}-{t}") for c, t, ps in ENTITLEMENTS]
)
def test_entitled_event_types_and_fields_exist(code, event_type, paths):
    assert event_type in EVENTS
    schema_fields = EVENTS[event_type].schema().fields
    for path in paths:
        assert path.split(".")[0] in schema_fields, path


@pytest.mark.parametrize(
    "code, event_type, paths", [pytest.param(c, t, ps, id=f"{c}-{t}") for c, t, ps in ENTITLEMENTS]
)
def test_entitled_nested_paths_exist(code, event_type, paths):
    for path in paths:
        schema_fields = EVENTS[event_type].schema().fields
        keys = path.split(".")
        for key in keys[:-1]:
            field = schema_fields[key]
            assert isinstance(field, fields.Nested), path
            schema_fields = field.schema.fields
        assert keys[-1] in schema_fields, path


STEPS = [(mt.name, s) for mt in MATTER_TYPES.values() for s in mt.steps]
PUBLISHERS = {p for e in EVENTS.values() for p in e.publishers}


@pytest.mark.parametrize("matter, step", [pytest.param(m, s, id=f"{m}-{s.name}") for m, s in STEPS])
def test_step_owner_is_partner_or_publisher(matter, step):
    assert step.owner in PARTNERS or step.owner in PUBLISHERS


@pytest.mark.parametrize("matter, step", [pytest.param(m, s, id=f"{m}-{s.name}") for m, s in STEPS if s.starts_on])
def test_phase_starting_events_exist_and_reach_progress(matter, step):
    assert step.starts_on in EVENTS
    assert step.starts_on in SUBSCRIPTIONS["progress.on_matter_event"]


@pytest.mark.parametrize("name", sorted(MATTER_TYPES))
def test_matter_opener_may_publish_matter_opened(name):
    assert MATTER_TYPES[name].opened_by in EVENTS["matter.opened"].publishers


@pytest.mark.parametrize(
    "queue, event_type", [pytest.param(q, t, id=f"{q}-{t}") for q, ts in SUBSCRIPTIONS.items() for t in ts]
)
def test_subscribed_event_types_exist(queue, event_type):
    assert event_type in EVENTS


def test_partner_feed_subscribes_to_every_entitled_event():
    assert set(SUBSCRIPTIONS["partner_feed.on_entitled_event"]) == {t for _, t, _ in ENTITLEMENTS}


# --- validate_envelope -------------------------------------------------------------------------------


def marriage_data(**overrides):
    data = {
        "registration_id": "r-1",
        "certificate_number": "J330602-2026-000001",
        "registered_on": "2026-03-02",
        "office_code": "330602",
        "party_a": {"resident_id": HUSBAND, "name": "张三"},
        "party_b": {"resident_id": WIFE, "name": "李四"},
    }
    data.update(overrides)
    return data


GOOD = Envelope(
    id=str(uuid.uuid4()), type="marriage.registered", source="marriage", time=AT, subject="r-1", data=marriage_data()
)


def test_good_marriage_registered_envelope_passes():
    assert validate_envelope(GOOD) is None


def test_lowercase_x_check_char_is_accepted():
    with_x = next(
        c for c in (compose_resident_id("330602", date(1990, 1, 1), n) for n in range(1000)) if c.endswith("X")
    )
    env = replace(GOOD, data=marriage_data(party_a={"resident_id": with_x.lower(), "name": "张三"}))
    assert validate_envelope(env) is None


@pytest.mark.parametrize(
    "envelope, key",
    [
        pytest.param(replace(GOOD, source="gateway"), "source", id="wrong-publisher"),
        pytest.param(replace(GOOD, source="health"), "source", id="partner-as-publisher"),
        pytest.param(replace(GOOD, schema_version=2), "schema_version", id="schema-version-2"),
        pytest.param(replace(GOOD, schema_version=0), "schema_version", id="schema-version-0"),
        pytest.param(replace(GOOD, type="marriage.annulled"), "type", id="unknown-type"),
        pytest.param(replace(GOOD, data=marriage_data(office_code="3306")), "data", id="bad-office-code"),
        pytest.param(replace(GOOD, data=marriage_data(registered_on="not-a-date")), "data", id="bad-date"),
        pytest.param(
            replace(
                GOOD,
                data=marriage_data(
                    party_b={"resident_id": HUSBAND[:-1] + ("0" if HUSBAND[-1] != "0" else "1"), "name": "李四"}
                ),
            ),
            "data",
            id="bad-check-char",
        ),
        pytest.param(replace(GOOD, data=marriage_data(extra_field="leak")), "data", id="unknown-data-field"),
        pytest.param(
            replace(GOOD, data={k: v for k, v in marriage_data().items() if k != "party_a"}), "data", id="missing-party"
        ),
    ],
)
def test_validate_envelope_rejects(envelope, key):
    with pytest.raises(InvalidEvent) as caught:
        validate_envelope(envelope)
    assert key in caught.value.errors


# --- EnvelopeSchema.load_envelope --------------------------------------------------------------------

EVENT_ID = str(uuid.uuid4())
BODY = {
    "id": EVENT_ID,
    "type": "marriage.registered",
    "source": "marriage",
    "time": "2026-03-02T10:00:00+00:00",
    "subject": "r-1",
    "schema_version": 1,
    "data": marriage_data(),
}


def test_load_envelope_round_trip():
    env = EnvelopeSchema().load_envelope(GOOD.to_json())
    assert env == GOOD
    assert isinstance(env.id, str)


def test_load_envelope_good_body():
    env = EnvelopeSchema().load_envelope(BODY)
    assert (env.id, env.type, env.source, env.time, env.matter_id) == (
        EVENT_ID,
        "marriage.registered",
        "marriage",
        AT,
        None,
    )


@pytest.mark.parametrize(
    "body, key",
    [
        pytest.param([BODY], "_schema", id="list-body"),
        pytest.param("{}", "_schema", id="string-body"),
        pytest.param(None, "_schema", id="none-body"),
        pytest.param({**BODY, "secret": "x"}, "secret", id="unknown-key"),
        pytest.param({**BODY, "time": "2026-03-02T10:00:00"}, "time", id="naive-datetime"),
        pytest.param({**BODY, "id": "not-a-uuid"}, "id", id="non-uuid-id"),
        pytest.param({k: v for k, v in BODY.items() if k != "subject"}, "subject", id="missing-subject"),
        pytest.param({**BODY, "schema_version": 0}, "schema_version", id="schema-version-0"),
        pytest.param({**BODY, "data": "not-a-dict"}, "data", id="data-not-a-dict"),
    ],
)
def test_load_envelope_rejects(body, key):
    with pytest.raises(InvalidEvent) as caught:
        EnvelopeSchema().load_envelope(body)
    assert key in caught.value.errors


@pytest.mark.parametrize("event_type", sorted(EVENTS))
def test_every_event_type_has_somewhere_to_go(event_type):
    """The relay publishes with mandatory=True: an event type no queue is bound to would be
    refused by the broker and wait in the outbox forever."""
    consumers = [q for q, types in SUBSCRIPTIONS.items() if event_type in types]
    partners = [p.code for p in PARTNERS.values() if event_type in p.entitlements]
    assert consumers or partners, f"{event_type} has no consumer queue and no entitled partner"


# --- a page of the caseworker's queue: the pattern is the contract's limit -------------------------


@pytest.mark.parametrize(
    ("limit", "valid"),
    [
        ("1", True),
        ("9", True),
        ("10", True),
        ("99", True),
        ("100", True),
        (str(QUEUE_PAGE_ROWS), True),
        (str(QUEUE_PAGE_LIMIT), True),
        (str(QUEUE_PAGE_LIMIT + 1), False),
        ("300", False),
        ("0", False),
        ("01", False),
        ("-1", False),
        ("1.5", False),
        ("1000", False),
        (" 1", False),
    ],
)
def test_a_queue_page_holds_1_to_the_contracts_limit(limit, valid):
    errors = ApplicationQuerySchema().validate({"limit": limit})
    assert ("limit" not in errors) is valid, errors
