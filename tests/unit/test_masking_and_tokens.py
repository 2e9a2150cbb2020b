"""Log masking, bearer tokens, actor scoping and problem round trips, by tables."""

import json
import time
from datetime import date

import jwt
import pytest

from chassis.audit import SYSTEM, Actor
from chassis.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MalformedRequest,
    NotFound,
    Problem,
    Refused,
    Unauthorized,
    Unavailable,
)
from chassis.logs import mask_resident_ids
from contracts.person import compose_resident_id
from gateway import auth as auth_module
from gateway.auth import ROLES, DevIssuer, Issuer, KeySet, VerifiedTokens, authenticate, issue_token, verify

ID = compose_resident_id("330602", date(1990, 1, 1), 123)
ID_X = next(c for c in (compose_resident_id("330602", date(1990, 1, 1), n) for n in range(1000)) if c.endswith("X"))
ID_2 = compose_resident_id("110101", date(1985, 12, 31), 456)


def masked(number: str) -> str:
    return f"{number[:6]}********{number[-4:]}"


# --- mask_resident_ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(ID, masked(ID), id="bare-id"),
        pytest.param(f"citizen {ID} applied", f"citizen {masked(ID)} applied", id="inside-sentence"),
        pytest.param(f"身份证号{ID}已登记", f"身份证号{masked(ID)}已登记", id="between-chinese-characters"),
        pytest.param(f"id={ID},", f"id={masked(ID)},", id="between-punctuation"),
        pytest.param(f"party {ID_X} ok", f"party {masked(ID_X)} ok", id="check-char-X"),
        pytest.param(f"party {ID_X.lower()} ok", f"party {masked(ID_X.lower())} ok", id="check-char-lowercase-x"),
        pytest.param(
            f"{ID} and {ID_2}; again {ID_X}",
            f"{masked(ID)} and {masked(ID_2)}; again {masked(ID_X)}",
            id="several-in-one-string",
        ),
        pytest.param(
            f'{{"a": "{ID}", "b": "{ID_2}"}}', f'{{"a": "{masked(ID)}", "b": "{masked(ID_2)}"}}', id="json-values"
        ),
        pytest.param("order 1234567890123456789 shipped", "order 1234567890123456789 shipped", id="19-digit-run"),
        pytest.param("order 12345678901234567 shipped", "order 12345678901234567 shipped", id="17-digit-run"),
        pytest.param(f"{ID}9", f"{ID}9", id="id-followed-by-digit"),
        pytest.param(f"9{ID}", f"9{ID}", id="id-preceded-by-digit"),
        pytest.param("nothing to see", "nothing to see", id="no-digits"),
    ],
)
def test_mask_resident_ids(text, expected):
    assert mask_resident_ids(text) == expected


@pytest.mark.parametrize("number", [ID, ID_X, ID_X.lower(), ID_2], ids=["plain", "X", "x", "other"])
def test_masked_text_hides_birth_date(number):
    out = mask_resident_ids(f"x {number} y")
    assert number not in out
    assert number[6:14] not in out


# --- issue_token / authenticate ------------------------------------------------------------------------

ISSUER = Issuer.generate()
STRANGER = Issuer.generate()  # a key the identity provider does not publish


@pytest.fixture
def keys(tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(ISSUER.jwks()))
    return KeySet(str(jwks))


def _authenticate(authorization, keys):
    return authenticate(authorization, keys, ISSUER.issuer, ISSUER.audience)


@pytest.mark.parametrize(
    "subject, role, area, expected",
    [
        pytest.param(ID, "citizen", None, Actor(ID, "citizen"), id="citizen"),
        pytest.param(ID_X.lower(), "citizen", None, Actor(ID_X, "citizen"), id="citizen-lowercase-x-normalised"),
        pytest.param("clerk-7", "clerk", "330602", Actor("clerk-7", "clerk", "330602"), id="clerk-with-area"),
        pytest.param("clerk-8", "clerk", None, Actor("clerk-8", "clerk"), id="clerk-without-area"),
        pytest.param("police", "partner", None, Actor("police", "partner"), id="partner-police"),
        pytest.param("health", "partner", None, Actor("health", "partner"), id="partner-health"),
        pytest.param(
            "medical_insurance", "partner", None, Actor("medical_insurance", "partner"), id="partner-medical-insurance"
        ),
        pytest.param("root", "admin", None, Actor("root", "admin"), id="admin"),
    ],
)
def test_token_round_trip(keys, subject, role, area, expected):
    token = issue_token(ISSUER, subject, role, area=area)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    assert _authenticate(f"Bearer {token}", keys) == expected


def test_a_home_care_providers_token_names_the_provider(keys):
    token = issue_token(ISSUER, "care_providers", "partner", org="yuecheng-meals")
    actor = _authenticate(f"Bearer {token}", keys)
    assert actor == Actor("care_providers", "partner", org="yuecheng-meals")
    assert actor.principal == "care_providers/yuecheng-meals" and Actor("police", "partner").principal == "police"
    assert Actor.from_dict(actor.as_dict()) == actor  # what travels over RPC keeps the provider


@pytest.mark.parametrize(
    "subject, role, org",
    [
        pytest.param("care_providers", "partner", None, id="provider-unnamed"),
        pytest.param("care_providers", "partner", "x", id="provider-name-too-short"),
        pytest.param("police", "partner", "station-1", id="org-for-a-partner-without-organisations"),
        pytest.param("clerk-7", "clerk", "p-1", id="org-for-staff"),
    ],
)
def test_org_claims_are_refused_where_they_do_not_belong(keys, subject, role, org):
    with pytest.raises(ValueError, match="org"):
        issue_token(ISSUER, subject, role, org=org)
    with pytest.raises(Unauthorized, match="org"):
        _authenticate(_forged({"sub": subject, "role": role, **({"org": org} if org else {})}), keys)


def test_every_role_round_trips(keys):
    subjects = {"citizen": ID, "partner": "police"}
    for role in ROLES:
        actor = _authenticate(f"Bearer {issue_token(ISSUER, subjects.get(role, 'someone'), role)}", keys)
        assert actor.role == role


NOW = time.time()


def _forged(claims, issuer=ISSUER, **header):
    """A token with exactly these claims over the usual ones (None removes one)."""
    base = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "iat": int(NOW),
        "exp": int(NOW) + 600,
    }
    merged = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return "Bearer " + jwt.encode(merged, issuer.key, algorithm="ES256", headers={"kid": issuer.kid, **header})


def _tampered(token, part=2):
    """Change the first character of a part (its bits all count, unlike a last char's padding)."""
    parts = token.split(".")
    parts[part] = ("A" if parts[part][0] != "A" else "B") + parts[part][1:]
    return ".".join(parts)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(
            "Bearer " + issue_token(ISSUER, "clerk-7", "clerk", now=NOW - 7200, ttl_seconds=600),
            id="expired-two-hours-ago",
        ),
        pytest.param("Bearer " + issue_token(ISSUER, "clerk-7", "clerk", ttl_seconds=-10), id="negative-ttl"),
        pytest.param("Bearer " + issue_token(STRANGER, "clerk-7", "clerk"), id="key-not-in-the-jwks"),
        pytest.param(
            _forged({"sub": "clerk-7", "role": "clerk"}, STRANGER, kid=ISSUER.kid), id="other-key-under-a-known-kid"
        ),
        pytest.param(
            "Bearer " + jwt.encode({"sub": "x", "role": "admin", "exp": int(NOW) + 60}, "k" * 32, algorithm="HS256"),
            id="hs256-shared-secret",
        ),
        pytest.param(
            "Bearer " + jwt.encode({"sub": "x", "role": "admin", "exp": int(NOW) + 60}, None, algorithm="none"),
            id="alg-none",
        ),
        pytest.param(issue_token(ISSUER, "clerk-7", "clerk"), id="missing-bearer-prefix"),
        pytest.param("Token " + issue_token(ISSUER, "clerk-7", "clerk"), id="other-scheme"),
        pytest.param(None, id="no-header"),
        pytest.param("", id="empty-header"),
        pytest.param("Bearer ", id="bearer-without-token"),
        pytest.param("Bearer not.a.jwt", id="garbage-token"),
        pytest.param("Bearer " + _tampered(issue_token(ISSUER, "clerk-7", "clerk")), id="tampered-signature"),
        pytest.param("Bearer " + _tampered(issue_token(ISSUER, "clerk-7", "clerk"), part=1), id="tampered-claims"),
        pytest.param(_forged({"sub": "x", "role": "superuser"}), id="unknown-role"),
        pytest.param(_forged({"role": "admin"}), id="no-sub"),
        pytest.param(_forged({"sub": "x", "role": "admin", "exp": None}), id="no-exp"),
        pytest.param(_forged({"sub": "x"}), id="no-role"),
        pytest.param(_forged({"sub": "x", "role": "admin", "iss": "https://elsewhere.example"}), id="other-issuer"),
        pytest.param(_forged({"sub": "x", "role": "admin", "aud": "another-service"}), id="other-audience"),
        pytest.param(_forged({"sub": "x", "role": "admin", "aud": None}), id="no-audience"),
        pytest.param(
            "Bearer " + issue_token(ISSUER, "clerk-7", "clerk", ttl_seconds=8 * 3600), id="staff-token-of-8-hours"
        ),
    ],
)
def test_authenticate_refuses(keys, authorization):
    with pytest.raises(Unauthorized) as caught:
        _authenticate(authorization, keys)
    assert caught.value.status == 401


def test_a_rotated_out_key_is_trusted_for_its_grace_period_only(tmp_path):
    """The provider rotates: the new key signs from now on; the old key's tokens pass while the grace
    lasts after the key left the JWKS, and are refused after it."""
    clock = {"now": NOW}
    jwks = tmp_path / "jwks.json"
    old, new = Issuer.generate(), Issuer.generate()
    jwks.write_text(json.dumps(old.jwks()))
    keys = KeySet(str(jwks), now=lambda: clock["now"], refresh_seconds=60, cooldown_seconds=5, grace_seconds=900)

    def who(issuer):
        token = issue_token(issuer, "clerk-7", "clerk", area="330602")
        return authenticate(f"Bearer {token}", keys, old.issuer, old.audience).id

    assert who(old) == "clerk-7"
    jwks.write_text(json.dumps(new.jwks()))  # rotated: the old key is no longer published
    clock["now"] += 6  # past the cooldown: an unknown kid reads the JWKS again at once
    assert who(new) == "clerk-7"
    assert who(old) == "clerk-7"  # in its grace period (it was last seen 6 s ago)
    clock["now"] += 890
    assert who(old) == "clerk-7"
    clock["now"] += 20  # 916 s since the old key was last seen
    with pytest.raises(Unauthorized, match="rotated out"):
        who(old)
    assert who(new) == "clerk-7"
    with pytest.raises(Unauthorized, match="does not publish"):
        who(Issuer.generate())


def test_a_verified_token_is_remembered_only_while_it_and_its_key_are_good(tmp_path, monkeypatch):
    """The gateway's cache of verified tokens: the same token again is not verified again, but an
    expired one is, and a key rotated out past its grace refuses a remembered token too."""
    clock = {"now": NOW}
    jwks = tmp_path / "jwks.json"
    old, new = Issuer.generate(), Issuer.generate()
    jwks.write_text(json.dumps(old.jwks()))
    keys = KeySet(str(jwks), now=lambda: clock["now"], refresh_seconds=60, cooldown_seconds=5, grace_seconds=900)
    real = {"now": time.time()}
    verified = VerifiedTokens(keys, old.issuer, old.audience, size=2, now=lambda: real["now"])
    checks = []

    def counting(token, *args):
        checks.append(token)
        return verify(token, *args)

    monkeypatch.setattr(auth_module, "verify", counting)
    token = issue_token(old, "clerk-7", "clerk", area="330602")
    assert verified(f"Bearer {token}").id == "clerk-7"
    assert verified(f"bearer {token}").area == "330602"
    assert len(checks) == 1  # the second answer came from the cache
    real["now"] += 10 * 60  # the token's 10 minutes are over: verified afresh (PyJWT decides)
    verified(f"Bearer {token}")
    assert len(checks) == 2
    real["now"] = time.time()
    with pytest.raises(Unauthorized):
        verified("Bearer " + token[:-4] + "AAAA")  # never cached on the strength of another token
    jwks.write_text(json.dumps(new.jwks()))
    clock["now"] += 61  # the JWKS is read again: the old key is gone, in its grace
    assert verified(f"Bearer {token}").id == "clerk-7"
    clock["now"] += 901
    with pytest.raises(Unauthorized, match="rotated out"):
        verified(f"Bearer {token}")
    for subject in ("a-1", "a-2", "a-3"):  # the oldest entries go first
        verified(f"Bearer {issue_token(new, subject, 'clerk', area='330602')}")
    assert len(verified._verified) == 2


def test_an_unreadable_jwks_keeps_the_keys_it_had(tmp_path):
    clock = {"now": NOW}
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps(ISSUER.jwks()))
    keys = KeySet(str(jwks), now=lambda: clock["now"], refresh_seconds=60)
    token = "Bearer " + issue_token(ISSUER, "root", "admin")
    assert _authenticate(token, keys).id == "root"
    jwks.write_text("{not json")
    clock["now"] += 61
    assert _authenticate(token, keys).id == "root"
    empty = KeySet(str(tmp_path / "missing.json"))
    with pytest.raises(Problem) as unavailable:
        _authenticate(token, empty)
    assert unavailable.value.status == 503


@pytest.mark.parametrize(
    "subject, role",
    [
        pytest.param(ID[:-1] + ("0" if ID[-1] != "0" else "1"), "citizen", id="citizen-bad-check-char"),
        pytest.param(ID[:17], "citizen", id="citizen-17-chars"),
        pytest.param("clerk-7", "citizen", id="citizen-not-an-id"),
        pytest.param("tax", "partner", id="unknown-partner"),
        pytest.param("POLICE", "partner", id="partner-code-case"),
        pytest.param("root", "superuser", id="unknown-role"),
    ],
)
def test_issue_token_refuses(subject, role):
    with pytest.raises(ValueError):
        issue_token(ISSUER, subject, role)


def test_the_dev_issuer_rotates_its_key(tmp_path):
    dev = DevIssuer(tmp_path / "keys.json", tmp_path / "jwks.json")
    first = dev.current()
    assert dev.current().kid == first.kid  # kept across calls (and processes)
    second = dev.rotate()
    published = json.loads((tmp_path / "jwks.json").read_text())
    assert [k["kid"] for k in published["keys"]] == [second.kid] and "d" not in published["keys"][0]
    assert dev.current().kid == second.kid


# --- Actor.covers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "actor, region, expected",
    [
        pytest.param(Actor("root", "admin"), "330602001001", True, id="admin-anywhere"),
        pytest.param(Actor("root", "admin"), "110101", True, id="admin-other-province"),
        pytest.param(SYSTEM, "330602", True, id="system-anywhere"),
        pytest.param(Actor("c", "clerk", "330602"), "330602", True, id="clerk-own-district"),
        pytest.param(Actor("c", "clerk", "330602"), "330602001", True, id="clerk-township-inside"),
        pytest.param(Actor("c", "clerk", "330600"), "330602001001", True, id="city-clerk-village-inside"),
        pytest.param(Actor("c", "clerk", "330602"), "330603", False, id="clerk-sibling-district"),
        pytest.param(Actor("c", "clerk", "330602"), "330600", False, id="clerk-parent-city"),
        pytest.param(Actor("c", "clerk", "330602001"), "330602002", False, id="township-clerk-sibling-township"),
        pytest.param(Actor("c", "clerk", None), "330602", False, id="clerk-no-area"),
        pytest.param(Actor("c", "clerk", ""), "330602", False, id="clerk-empty-area"),
        pytest.param(Actor(ID, "citizen"), "330602", False, id="citizen"),
        pytest.param(Actor("police", "partner"), "330602", False, id="partner"),
    ],
)
def test_actor_covers(actor, region, expected):
    assert actor.covers(region) is expected


# --- Problem round trip --------------------------------------------------------------------------------


def _as_nameko_sends(args):
    return [str(a) if isinstance(a, int) else a for a in args]


@pytest.mark.parametrize(
    "problem, status, title",
    [
        pytest.param(MalformedRequest("x", {"f": ["bad"]}), 400, "Malformed request", id="malformed-request"),
        pytest.param(InvalidInput("x", {"f": ["bad"]}), 422, "Invalid input", id="invalid-input"),
        pytest.param(Unauthorized("x"), 401, "Unauthorized", id="unauthorized"),
        pytest.param(Forbidden("x"), 403, "Forbidden", id="forbidden"),
        pytest.param(NotFound("x"), 404, "Not found", id="not-found"),
        pytest.param(Conflict("x"), 409, "Conflict with the current state", id="conflict"),
        pytest.param(Refused("x", code="under_age"), 422, "Refused by the rules", id="refused-with-code"),
        pytest.param(Unavailable("x"), 503, "Temporarily unavailable", id="unavailable"),
        pytest.param(Problem("x"), 500, "Internal error", id="base"),
    ],
)
@pytest.mark.parametrize("stringify", [False, True], ids=["args-as-is", "args-as-strings"])
def test_problem_round_trip(problem, status, title, stringify):
    args = problem.canonical().args
    if stringify:
        args = _as_nameko_sends(args)
    back = Problem(*args)
    assert back.status == status and isinstance(back.status, int)
    assert (back.title, back.detail, back.errors, back.code) == (title, "x", problem.errors, problem.code)
    assert back.as_json() == problem.as_json()


def test_invalid_input_round_trip_as_json():
    args = _as_nameko_sends(InvalidInput("x", {"f": ["bad"]}).canonical().args)
    assert "422" in args  # the simulation did turn the status into a string
    body = Problem(*args).as_json()
    assert body == {
        "type": "https://tongban.example/problems/InvalidInput",
        "title": "Invalid input",
        "status": 422,
        "detail": "x",
        "errors": {"f": ["bad"]},
    }


@pytest.mark.parametrize(
    "problem, instance, expected_keys",
    [
        pytest.param(NotFound("gone"), None, {"type", "title", "status", "detail"}, id="no-errors-no-instance"),
        pytest.param(
            NotFound("gone"), "/api/v1/matters/1", {"type", "title", "status", "detail", "instance"}, id="with-instance"
        ),
        pytest.param(
            InvalidInput("x", {"f": ["bad"]}), None, {"type", "title", "status", "detail", "errors"}, id="with-errors"
        ),
    ],
)
def test_problem_as_json_keys(problem, instance, expected_keys):
    assert set(problem.as_json(instance)) == expected_keys


def test_problem_str_and_canonical_class():
    problem = Refused("too young", code="under_age")
    assert str(problem) == "422 Refused by the rules: too young"
    assert type(problem.canonical()) is Problem
