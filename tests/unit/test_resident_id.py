"""GB 11643 resident ID numbers: parsing, check character, masking, age, marshmallow field."""

from datetime import date

import pytest
from marshmallow import Schema, ValidationError

from contracts.person import InvalidResidentId, ResidentId, ResidentIdField, compose_resident_id, mask

TODAY = date(2026, 1, 31)

# Verified by hand: digits 1 1 0 1 0 5 1 9 4 9 1 2 3 1 0 0 2 times weights 7 9 10 5 8 4 2 1 6 3 7 9 10
# 5 8 4 2 sum to 167; 167 mod 11 = 2, and position 2 of "10X98765432" is X. Sequence 002 is even: female.
KNOWN = "11010519491231002X"


@pytest.mark.parametrize(
    "text, division, birth, sex",
    [
        pytest.param(KNOWN, "110105", date(1949, 12, 31), "female", id="hand-verified-X"),
        pytest.param(KNOWN.lower(), "110105", date(1949, 12, 31), "female", id="lowercase-x"),
        pytest.param(
            compose_resident_id("330602", date(1990, 5, 17), 123),
            "330602",
            date(1990, 5, 17),
            "male",
            id="composed-odd-sequence-male",
        ),
        pytest.param(
            compose_resident_id("330602", date(1990, 5, 17), 124),
            "330602",
            date(1990, 5, 17),
            "female",
            id="composed-even-sequence-female",
        ),
        pytest.param(
            compose_resident_id("330781", date(2000, 2, 29), 0),
            "330781",
            date(2000, 2, 29),
            "female",
            id="leap-day-sequence-000",
        ),
        pytest.param(
            compose_resident_id("110101", date(1900, 1, 1), 999),
            "110101",
            date(1900, 1, 1),
            "male",
            id="earliest-birth-date",
        ),
        pytest.param(compose_resident_id("330602", TODAY, 1), "330602", TODAY, "male", id="born-today"),
    ],
)
def test_valid_numbers_decompose(text, division, birth, sex):
    rid = ResidentId.parse(text, today=TODAY)
    assert rid.number == text.upper()
    assert rid.division_code == division
    assert rid.birth_date == birth
    assert rid.sex == sex


def test_composed_numbers_parse_for_every_check_character():
    numbers = [compose_resident_id("330602", date(1985, 7, 1), seq) for seq in range(30)]
    assert {n[-1] for n in numbers} == set("0123456789X")
    for number in numbers:
        assert ResidentId.parse(number).number == number


@pytest.mark.parametrize(
    "text, reason",
    [
        pytest.param(KNOWN[:17], "must be 18 characters", id="17-chars"),
        pytest.param(KNOWN + "1", "must be 18 characters", id="19-chars"),
        pytest.param("", "must be 18 characters", id="empty"),
        pytest.param("1101051949123A002X", "must be 17 digits followed by a digit or X", id="letter-inside"),
        pytest.param("X1010519491231002X", "must be 17 digits followed by a digit or X", id="x-not-last"),
        pytest.param("11010519491231002Y", "must be 17 digits followed by a digit or X", id="bad-last-char"),
        pytest.param("１1010519491231002X", "must be 17 digits followed by a digit or X", id="fullwidth-digit"),
        pytest.param("330602199002301230", "birth date 19900230 is not a real date", id="feb-30"),
        pytest.param("330602199902291230", "birth date 19990229 is not a real date", id="feb-29-non-leap"),
        pytest.param("330602199013011230", "birth date 19901301 is not a real date", id="month-13"),
        pytest.param(
            compose_resident_id("330602", date(1899, 12, 31), 1), "birth date 18991231 is before 1900", id="before-1900"
        ),
        pytest.param(
            compose_resident_id("330602", date(2026, 2, 1), 1), "birth date is in the future", id="born-tomorrow"
        ),
        pytest.param("110105194912310021", "check character is 1 but should be X", id="wrong-check-for-X"),
        pytest.param(
            compose_resident_id("330602", date(1990, 5, 17), 123)[:17] + "X",
            f"check character is X but should be {compose_resident_id('330602', date(1990, 5, 17), 123)[-1]}",
            id="X-where-digit-expected",
        ),
    ],
)
def test_invalid_numbers_are_refused_with_a_reason(text, reason):
    with pytest.raises(InvalidResidentId) as caught:
        ResidentId.parse(text, today=TODAY)
    assert caught.value.reason == reason
    assert str(caught.value) == reason
    assert isinstance(caught.value, ValueError)


def test_future_birth_date_is_only_checked_when_today_is_given():
    future = compose_resident_id("330602", date(2026, 2, 1), 1)
    assert ResidentId.parse(future).birth_date == date(2026, 2, 1)


@pytest.mark.parametrize(
    "sequence, sex",
    [(sequence, "male" if sequence % 2 else "female") for sequence in (0, 1, 2, 9, 10, 998, 999)],
    ids=lambda value: str(value),
)
def test_sex_follows_the_parity_of_the_17th_digit(sequence, sex):
    assert ResidentId.parse(compose_resident_id("330602", date(1990, 1, 1), sequence)).sex == sex


@pytest.mark.parametrize(
    "text, masked",
    [
        pytest.param("330602199005171234", "330602********1234", id="18-chars"),
        pytest.param(KNOWN, "110105********002X", id="18-chars-with-X"),
        pytest.param("3306021990", "33********", id="short"),
        pytest.param("3306021990051712345", "33" + "*" * 17, id="19-chars"),
        pytest.param("33", "33", id="two-chars"),
        pytest.param("3", "3", id="one-char"),
        pytest.param("", "", id="empty"),
    ],
)
def test_mask(text, masked):
    assert mask(text) == masked


def test_str_and_repr_never_show_the_full_number():
    rid = ResidentId.parse(KNOWN)
    assert str(rid) == "110105********002X"
    assert f"{rid}" == "110105********002X"
    assert "19491231" not in repr(rid)
    assert repr(rid) == "ResidentId('110105********002X')"


@pytest.mark.parametrize(
    "birth, day, age",
    [
        pytest.param(date(1990, 5, 17), date(2012, 5, 16), 21, id="day-before-birthday"),
        pytest.param(date(1990, 5, 17), date(2012, 5, 17), 22, id="on-birthday"),
        pytest.param(date(1990, 5, 17), date(2012, 5, 18), 22, id="day-after-birthday"),
        pytest.param(date(1990, 5, 17), date(1990, 5, 17), 0, id="day-of-birth"),
        pytest.param(date(1990, 12, 31), date(2013, 1, 1), 22, id="across-new-year"),
        pytest.param(date(2000, 2, 29), date(2022, 2, 28), 21, id="leapling-28-feb-non-leap-year"),
        pytest.param(date(2000, 2, 29), date(2022, 3, 1), 22, id="leapling-1-mar-non-leap-year"),
        pytest.param(date(2000, 2, 29), date(2024, 2, 28), 23, id="leapling-28-feb-leap-year"),
        pytest.param(date(2000, 2, 29), date(2024, 2, 29), 24, id="leapling-29-feb-leap-year"),
    ],
)
def test_age_on(birth, day, age):
    assert ResidentId.parse(compose_resident_id("330602", birth, 1)).age_on(day) == age


@pytest.mark.parametrize(
    "division, sequence, message",
    [
        pytest.param("33060", 1, "division code must be 6 digits", id="short-division"),
        pytest.param("33060A", 1, "division code must be 6 digits", id="letter-in-division"),
        pytest.param("330602", -1, "sequence must be between 0 and 999", id="negative-sequence"),
        pytest.param("330602", 1000, "sequence must be between 0 and 999", id="sequence-too-big"),
    ],
)
def test_compose_rejects_bad_parts(division, sequence, message):
    with pytest.raises(ValueError, match=message):
        compose_resident_id(division, date(1990, 1, 1), sequence)


class PersonSchema(Schema):
    resident_id = ResidentIdField(required=True)


@pytest.mark.parametrize(
    "value, loaded",
    [
        pytest.param(KNOWN, KNOWN, id="valid"),
        pytest.param(KNOWN.lower(), KNOWN, id="lowercase-x-normalised"),
    ],
)
def test_field_loads_the_normalised_number(value, loaded):
    result = PersonSchema().load({"resident_id": value})
    assert result == {"resident_id": loaded}
    assert type(result["resident_id"]) is str


@pytest.mark.parametrize(
    "value, message",
    [
        pytest.param("110105194912310021", "check character is 1 but should be X", id="wrong-check"),
        pytest.param("1101051949", "must be 18 characters", id="too-short"),
        pytest.param("330602199902291230", "birth date 19990229 is not a real date", id="bad-date"),
        pytest.param(110105194912310021, "Not a valid string.", id="not-a-string"),
    ],
)
def test_field_reports_the_reason(value, message):
    with pytest.raises(ValidationError) as caught:
        PersonSchema().load({"resident_id": value})
    assert caught.value.messages == {"resident_id": [message]}
