"""Administrative division codes (chassis.regions): prefixes, coverage and the policy lookup chain."""

import pytest

from chassis.errors import InvalidInput
from chassis.regions import (
    NATIONAL,
    division_name,
    is_known_division,
    is_region_code,
    region_ancestors,
    region_covers,
    region_prefix,
    require_known_division,
    require_region_code,
)


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param("330000", "33", id="province"),
        pytest.param("330600", "3306", id="city"),
        pytest.param("330602", "330602", id="district"),
        pytest.param("330110", "330110", id="district-ending-in-0"),
        pytest.param("330602001", "330602001", id="township"),
        pytest.param("330602001001", "330602001001", id="village"),
        pytest.param("000000", "", id="national"),
    ],
)
def test_region_prefix(code, expected):
    assert region_prefix(code) == expected


@pytest.mark.parametrize(
    "code, valid",
    [
        ("330602", True),
        ("330602001", True),
        ("330602001001", True),
        ("33060", False),
        ("3306020011", False),
        ("33060a", False),
        (330602, False),
        (None, False),
    ],
)
def test_a_region_code_from_a_caller(code, valid):
    assert is_region_code(code) is valid
    if valid:
        assert require_region_code(code) == code
    else:
        with pytest.raises(InvalidInput) as refused:
            require_region_code(code)
        assert refused.value.errors == {"region_code": ["6, 9 or 12 digits"]}


@pytest.mark.parametrize(
    "code, name",
    [
        pytest.param("330602", "越城区", id="shaoxing-yuecheng"),
        pytest.param("330111", "富阳区", id="hangzhou-fuyang"),
        pytest.param("330600", "绍兴市", id="a-city"),
        pytest.param("330000", "浙江省", id="a-province"),
        pytest.param("110105", "朝阳区", id="beijing-chaoyang"),
        pytest.param("320214", "新吴区", id="wuxi-xinwu"),
        pytest.param("330602001", "越城区", id="a-township-lies-in-its-district"),
        pytest.param("330602001001", "越城区", id="a-village-lies-in-its-district"),
        pytest.param("330699", None, id="no-such-district"),
        pytest.param("330183", None, id="fuyang-city-before-2015-is-gone"),
        pytest.param("990000", None, id="no-such-province"),
        pytest.param("000000", None, id="national-is-not-a-place"),
        pytest.param("33060", None, id="too-short"),
        pytest.param(330602, None, id="not-a-string"),
    ],
)
def test_division_codes_are_checked_against_gb_t_2260(code, name):
    assert division_name(code) == name
    assert is_known_division(code) is (name is not None)


def test_an_unknown_division_is_refused_naming_the_field():
    assert require_known_division("110105", "office_code") == "110105"
    with pytest.raises(InvalidInput) as unknown:
        require_known_division("330699", "office_code")
    assert unknown.value.errors == {"office_code": ["330699 is not a division in GB/T 2260"]}
    with pytest.raises(InvalidInput) as malformed:
        require_known_division("3306x2")
    assert malformed.value.errors == {"region_code": ["6, 9 or 12 digits"]}


@pytest.mark.parametrize(
    "area, region, expected",
    [
        # district
        pytest.param("330602", "330602", True, id="district-covers-itself"),
        pytest.param("330602", "330602001", True, id="district-covers-township"),
        pytest.param("330602", "330602001001", True, id="district-covers-village"),
        pytest.param("330602", "330603", False, id="district-not-sibling-district"),
        pytest.param("330602", "330603001", False, id="district-not-sibling-township"),
        pytest.param("330602", "330600", False, id="district-not-its-city"),
        pytest.param("330602", "330000", False, id="district-not-its-province"),
        # city
        pytest.param("330600", "330602", True, id="city-covers-district"),
        pytest.param("330600", "330602001001", True, id="city-covers-village"),
        pytest.param("330600", "330600", True, id="city-covers-itself"),
        pytest.param("330600", "330111", False, id="city-not-other-city-district"),
        pytest.param("330600", "330000", False, id="city-not-its-province"),
        # province
        pytest.param("330000", "330111", True, id="province-covers-district"),
        pytest.param("330000", "330600", True, id="province-covers-city"),
        pytest.param("330000", "330602001001", True, id="province-covers-village"),
        pytest.param("330000", "320111", False, id="province-not-other-province"),
        # township and village
        pytest.param("330602001", "330602001001", True, id="township-covers-village"),
        pytest.param("330602001", "330602001", True, id="township-covers-itself"),
        pytest.param("330602001", "330602002001", False, id="township-not-sibling-village"),
        pytest.param("330602001", "330602", False, id="township-not-its-district"),
        pytest.param("330602001001", "330602001001", True, id="village-covers-itself"),
        pytest.param("330602001001", "330602001002", False, id="village-not-sibling-village"),
        # national
        pytest.param(NATIONAL, "330602001001", True, id="national-covers-village"),
        pytest.param(NATIONAL, "110101", True, id="national-covers-any-district"),
    ],
)
def test_region_covers(area, region, expected):
    assert region_covers(area, region) is expected


@pytest.mark.parametrize(
    "code, expected",
    [
        pytest.param(
            "330602001001", ["330602001001", "330602001", "330602", "330600", "330000", NATIONAL], id="village"
        ),
        pytest.param("330602001", ["330602001", "330602", "330600", "330000", NATIONAL], id="township"),
        pytest.param("330602", ["330602", "330600", "330000", NATIONAL], id="district"),
        pytest.param("330600", ["330600", "330000", NATIONAL], id="city"),
        pytest.param("330000", ["330000", NATIONAL], id="province"),
        pytest.param(NATIONAL, [NATIONAL], id="national"),
    ],
)
def test_region_ancestors(code, expected):
    assert region_ancestors(code) == expected


@pytest.mark.parametrize("code", ["330602001001", "330602001", "330602", "330600", "330000"])
def test_every_ancestor_covers_the_code(code):
    chain = region_ancestors(code)
    assert chain[0] == code and chain[-1] == NATIONAL
    assert len(chain) == len(set(chain))
    for ancestor in chain:
        assert region_covers(ancestor, code), ancestor


def test_a_request_naming_an_unknown_division_is_refused_at_load_naming_the_field():
    from marshmallow import Schema, fields

    from chassis.schemas import load

    class Place(Schema):
        village_code = fields.String()

    class Request(Schema):
        region_code = fields.String()
        places = fields.List(fields.Nested(Place))
        note = fields.String()

    assert load(Request, {"region_code": "330602", "note": "999999"}) == {"region_code": "330602", "note": "999999"}
    assert load(Request, {"region_code": "000000"}) == {"region_code": "000000"}  # the whole country
    with pytest.raises(InvalidInput) as caught:
        load(
            Request,
            {"region_code": "339999", "places": [{"village_code": "330602001001"}, {"village_code": "110199001001"}]},
        )
    assert caught.value.status == 422
    assert set(caught.value.errors) == {"region_code", "places[1].village_code"}
    assert "GB/T 2260" in caught.value.errors["region_code"][0]


def test_a_missing_policy_is_a_422_naming_the_field_and_the_policy():
    from datetime import date

    from chassis.policy import PolicyMissing

    problem = PolicyMissing.of("care.child_allowance_fen", "330402001001", date(2026, 6, 10), "village_code")
    assert problem.status == 422 and problem.code == "no_policy"
    assert "care.child_allowance_fen" in problem.errors["village_code"][0]
    assert "care.child_allowance_fen" in problem.detail
