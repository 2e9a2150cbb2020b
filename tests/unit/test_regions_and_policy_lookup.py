"""Administrative division codes (chassis.regions): prefixes, coverage and the policy lookup chain."""

import pytest

from chassis.errors import InvalidInput
from chassis.regions import (
    NATIONAL,
    is_region_code,
    region_ancestors,
    region_covers,
    region_prefix,
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
