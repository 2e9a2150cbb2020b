"""Adoption registration (收养登记) and its dissolution by agreement, by tables at every boundary
(Civil Code art. 1093-1118; the ages and counts come from an `AdoptionLaw`, as policy gives them)."""

from dataclasses import replace
from datetime import date

import pytest

from contracts.person import ResidentId, compose_resident_id
from services.marriage.rules import (
    Adoptee,
    Adopter,
    AdoptionLaw,
    certificate_number,
    check_adoption,
    check_adoption_dissolution,
    exempt_from_counts,
)

LAW = AdoptionLaw(
    adopter_min_age=30,
    adult_age=18,
    consent_age=8,
    single_opposite_sex_age_gap=40,
    max_existing_children=1,
    max_adoptees_childless=2,
    max_adoptees_with_child=1,
    version="adoption-law@2021-01-01",
)
ON = date(2026, 3, 2)


def rid(birth: date, sex: str, seq: int = 100) -> ResidentId:
    return ResidentId.parse(compose_resident_id("330602", birth, seq + (1 if sex == "male" else 0)))


def adopter(birth=date(1986, 3, 2), sex="female", seq=100, **changes) -> Adopter:
    base = Adopter(
        rid(birth, sex, seq),
        children=0,
        adopted=0,
        able_to_raise=True,
        medically_unfit=False,
        unfavourable_record=False,
        married=False,
    )
    return replace(base, **changes)


def child(birth=date(2022, 5, 1), sex="female", **changes) -> Adoptee:
    base = Adoptee(rid(birth, sex, 200), "parents_in_difficulty", False, False, None)
    return replace(base, **changes)


def codes(refusals) -> list[str]:
    return sorted(r.code for r in refusals)


def check(adopters=None, spouses=False, adoptee=None, placer=True, on=ON):
    return check_adoption(adopters or [adopter()], spouses, adoptee or child(), placer, on, LAW)


def test_a_qualified_single_adopter_of_the_same_sex_may_adopt():
    assert check() == []


@pytest.mark.parametrize(
    "birth, refused",
    [
        (date(1996, 3, 2), False),  # 30 today
        (date(1996, 3, 3), True),  # 30 tomorrow
        (date(1980, 1, 1), False),
    ],
)
def test_adopter_is_thirty_or_more(birth, refused):
    refusals = check([adopter(birth=birth)])
    assert codes(refusals) == (["adopter_under_age"] if refused else [])
    if refused:
        assert refusals[0].field == "adopters[0].resident_id" and "2026-03-03" in refusals[0].reason


@pytest.mark.parametrize(
    "birth, consents, expected",
    [
        (date(2008, 3, 3), None, ["adoptee_consent_missing"]),  # 17, a day short of 18: a minor, asked
        (date(2008, 3, 3), True, []),
        (date(2008, 3, 2), True, ["not_a_minor"]),  # 18 today
        (date(2018, 3, 2), None, ["adoptee_consent_missing"]),  # 8 today: asked
        (date(2018, 3, 2), False, ["adoptee_consent_missing"]),
        (date(2018, 3, 2), True, []),
        (date(2018, 3, 3), None, []),  # 8 tomorrow: not asked
    ],
)
def test_adoptee_is_a_minor_and_consents_from_eight(birth, consents, expected):
    adoptee = child(birth=birth, consents=consents)
    # an adopter of the child's sex, old enough for any child here
    assert codes(check([adopter(birth=date(1960, 1, 1))], adoptee=adoptee)) == expected


def test_the_placers_consent_is_required():
    refusals = check(placer=False)
    assert codes(refusals) == ["placer_consent_missing"] and refusals[0].field == "placer.consents"


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("able_to_raise", False, "unable_to_raise"),
        ("medically_unfit", True, "medically_unfit"),
        ("unfavourable_record", True, "unfavourable_record"),
    ],
)
def test_adopter_conditions_of_art_1098(field, value, code):
    refusals = check([adopter(**{field: value})])
    assert codes(refusals) == [code] and refusals[0].field == f"adopters[0].{field}"


@pytest.mark.parametrize(
    "children, adopted, expected",
    [
        (0, 0, []),  # childless: may adopt
        (1, 1, []),  # childless before, one adopted: a second (two in all)
        (2, 2, ["too_many_children"]),  # two adopted: no third
        (1, 0, []),  # one child of their own: may adopt one
        (2, 1, ["too_many_children"]),  # one own, one adopted: no second
        (2, 0, ["too_many_children"]),  # two of their own
    ],
)
def test_children_already_and_the_counts_of_art_1100(children, adopted, expected):
    assert codes(check([adopter(children=children, adopted=adopted)])) == expected


def test_count_of_one_with_a_child_of_ones_own():
    # a law where an adopter may have up to two children but adopts one at most when not childless
    law = replace(LAW, max_existing_children=2)
    refusals = check_adoption([adopter(children=2, adopted=1)], False, child(), True, ON, law)
    assert codes(refusals) == ["adoption_count_reached"]


@pytest.mark.parametrize(
    "adoptee",
    [
        child(category="orphan"),
        child(disabled=True),
        child(category="parents_unknown", from_institution=True),
    ],
)
def test_orphans_disabled_children_and_institution_foundlings_are_outside_the_counts(adoptee):
    assert exempt_from_counts(adoptee)
    assert check([adopter(children=3, adopted=2)], adoptee=adoptee) == []


def test_a_foundling_outside_an_institution_counts():
    adoptee = child(category="parents_unknown", from_institution=False)
    assert not exempt_from_counts(adoptee)
    assert codes(check([adopter(children=2)], adoptee=adoptee)) == ["too_many_children"]


@pytest.mark.parametrize(
    "adopter_birth, child_birth, refused",
    [
        (date(1980, 5, 1), date(2020, 5, 1), False),  # exactly 40 years
        (date(1980, 5, 2), date(2020, 5, 1), True),  # a day short
        (date(1985, 1, 1), date(2020, 5, 1), True),
    ],
)
def test_a_single_adopter_of_the_other_sex_is_forty_years_older(adopter_birth, child_birth, refused):
    refusals = check([adopter(birth=adopter_birth, sex="male")], adoptee=child(birth=child_birth, sex="female"))
    assert codes(refusals) == (["age_gap"] if refused else [])


def test_the_age_gap_does_not_apply_to_a_couple_or_to_the_same_sex():
    couple = [adopter(birth=date(1990, 1, 1), sex="male", married=True), adopter(seq=300, married=True)]
    assert check(couple, spouses=True, adoptee=child(birth=date(2022, 5, 1))) == []
    assert check([adopter(birth=date(1990, 1, 1))], adoptee=child(sex="female")) == []


def test_married_people_adopt_together():
    assert codes(check([adopter(married=True)])) == ["spouse_must_join"]
    two = [adopter(married=True), adopter(seq=300, sex="male", married=True)]
    assert codes(check(two, spouses=False)) == ["not_spouses"]
    assert check(two, spouses=True) == []


def test_each_of_a_couple_meets_the_conditions():
    young = adopter(birth=date(1997, 1, 1), sex="male", seq=300, married=True)
    refusals = check([adopter(married=True), young], spouses=True)
    assert [(r.field, r.code) for r in refusals] == [("adopters[1].resident_id", "adopter_under_age")]


def test_the_adoptee_is_not_an_adopter_and_is_of_a_category_of_art_1093():
    me = adopter()
    assert "same_person" in codes(check([me], adoptee=replace(child(), resident_id=me.resident_id)))
    assert codes(check(adoptee=child(category="wanted"))) == ["not_adoptable"]
    assert codes(check_adoption([], False, child(), True, ON, LAW)) == ["adopters_count"]


@pytest.mark.parametrize(
    "birth, adopters_agree, placer, consents, expected",
    [
        (date(2022, 5, 1), True, True, None, []),  # under 8: adopters and placer
        (date(2022, 5, 1), True, None, None, ["placer_disagrees"]),
        (date(2022, 5, 1), False, True, None, ["adopters_disagree"]),
        (date(2018, 3, 2), True, True, None, ["adoptee_consent_missing"]),  # 8 today
        (date(2018, 3, 2), True, True, True, []),
        (date(2018, 3, 3), True, True, None, []),  # 8 tomorrow
        (date(2008, 3, 2), True, None, True, []),  # 18 today: adopters and adoptee, no placer
        (date(2008, 3, 3), True, None, True, ["placer_disagrees"]),  # 18 tomorrow
        (date(2008, 3, 2), True, None, None, ["adoptee_consent_missing"]),
    ],
)
def test_dissolution_by_agreement(birth, adopters_agree, placer, consents, expected):
    assert codes(check_adoption_dissolution(birth, adopters_agree, placer, consents, ON, LAW)) == expected


def test_adoption_certificates_are_numbered_like_the_others():
    assert certificate_number("adoption", "330602", 2026, 7) == "S330602-2026-000007"
    assert certificate_number("adoption_dissolution", "330602", 2026, 7) == "JS330602-2026-000007"
