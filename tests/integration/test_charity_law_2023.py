"""Charity: a campaign aids only within its organisation's area, and the public-fundraising
qualification follows the Charity Law as amended in 2023 (in force 2024-09-05: 依法登记满一年)."""

from __future__ import annotations

from datetime import date

import pytest

from chassis.errors import Problem
from tests.charity import DISTRICT_CLERK, count, org_request

CITY_CLERK = {"id": "city-social-org-office", "role": "clerk", "area": "330600"}


def graded_charity(rpc, seq: int, registered_on: str) -> str:
    """Recognised, graded 4A, reports filed: all but the years of registration are met."""
    org = rpc.register_organisation(DISTRICT_CLERK, org_request(seq, registered_on))
    for year in range(int(registered_on[:4]), 2024):
        rpc.submit_annual_report(
            DISTRICT_CLERK, org["organisation_id"], {"year": year, "income_fen": 1_000_000, "expenditure_fen": 9}
        )
    rpc.grade_organisation(DISTRICT_CLERK, org["organisation_id"], {"grade": "4A", "graded_on": "2024-01-15"})
    rpc.recognise_charity(DISTRICT_CLERK, org["organisation_id"])
    return org["organisation_id"]


def test_one_year_of_registration_suffices_from_5_september_2024(charity, manual_clock):
    rpc, _ = charity
    manual_clock.set_local_date(date(2024, 9, 4))
    org = graded_charity(rpc, 801, "2023-06-01")  # a year and three months registered
    with pytest.raises(Problem) as before:
        rpc.qualify_fundraising(DISTRICT_CLERK, org)
    assert before.value.status == 422
    assert "the law asks 2 (依法登记满2年)" in before.value.errors["organisation_id"][0]
    manual_clock.set_local_date(date(2024, 9, 5))
    qualified = rpc.qualify_fundraising(DISTRICT_CLERK, org)
    assert qualified["fundraising_qualified_on"] == "2024-09-05"


def test_a_campaign_aids_only_within_its_organisations_area(charity, manual_clock):
    rpc, engine = charity
    org = rpc.register_organisation(DISTRICT_CLERK, org_request(802))["organisation_id"]  # Yuecheng, 330602
    campaign = {
        "organisation_id": org,
        "title": "爱心暖流",
        "needs": ["medical"],
        "target_fen": 1_000_000,
        "starts_on": "2026-07-01",
    }
    inside = rpc.create_campaign(DISTRICT_CLERK, {**campaign, "region_code": "330602001"})
    assert inside["region_code"] == "330602001"
    for elsewhere, actor in (("330603", CITY_CLERK), ("330600", CITY_CLERK)):  # Keqiao; all of Shaoxing
        with pytest.raises(Problem) as refused:
            rpc.create_campaign(actor, {**campaign, "region_code": elsewhere})
        assert refused.value.status == 422
        assert "region_code" in refused.value.errors and "330602" in refused.value.errors["region_code"][0]
    assert count(engine, "campaign") == 1
