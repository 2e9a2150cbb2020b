"""Charity fundraising through the gateway, against the real broker and PostgreSQL: no donation
before the plan is filed, no filing without the public-fundraising qualification (each a 4xx
problem naming the field and the reason, changing nothing), donations exact under retries,
spending never beyond what was raised, and a public disclosure that names nobody."""

from __future__ import annotations

from datetime import date

from sqlalchemy import create_engine

from contracts.person import compose_resident_id
from tests.charity import DISTRICT, DISTRICT_CLERK, count, org_request, qualified_charity

CLERK = ("clerk", "social-org-office", DISTRICT)
ADMIN = ("admin", "ops")
ORGS, CAMPAIGNS = "/api/v1/charity/organisations", "/api/v1/charity/campaigns"
DONOR = ("citizen", compose_resident_id(DISTRICT, date(1990, 1, 1), 11))


def problem(response, status: int, field: str, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and any(reason in r for r in body["errors"][field]), body


def test_no_donation_before_filing_and_no_filing_without_qualification(system, manual_clock):
    sys_ = system(charity=True)
    engine = create_engine(sys_.databases["charity"])
    manual_clock.set_local_date(date(2026, 6, 10))
    # registered in September 2025: recognised as a charity, but not a year registered (the 2023
    # amendment's 依法登记满一年), so not qualified
    young = sys_.call("POST", ORGS, CLERK, json=org_request(1, "2025-09-01")).json()["organisation_id"]
    for year in (2025,):
        assert (
            sys_.call(
                "POST",
                f"{ORGS}/{young}/annual-reports",
                CLERK,
                json={"year": year, "income_fen": 500_000, "expenditure_fen": 400_000},
            ).status_code
            == 201
        )
    assert (
        sys_.call("POST", f"{ORGS}/{young}/charity-recognition", CLERK).json()["charity_recognised_on"] == "2026-06-10"
    )
    refused = sys_.call("POST", f"{ORGS}/{young}/fundraising-qualification", CLERK)
    problem(refused, 422, "organisation_id", "registered 0 year(s); the law asks 1 (依法登记满1年)")
    problem(refused, 422, "organisation_id", "evaluation grade none; 3A or better is required")

    campaign = sys_.call(
        "POST",
        CAMPAIGNS,
        CLERK,
        json={
            "organisation_id": young,
            "title": "爱心暖流 2026",
            "needs": ["medical", "education"],
            "region_code": DISTRICT,
            "target_fen": 50_000_000,
            "starts_on": "2026-06-10",
            "ends_on": "2026-12-31",
        },
    )
    assert campaign.status_code == 201 and campaign.json()["state"] == "draft"
    campaign_id = campaign.json()["campaign_id"]
    citizen = DONOR

    def tables():
        return {t: count(engine, t) for t in ("donation", "spending", "campaign", "organisation_change")}

    before = tables()
    # 1. a campaign cannot take donations before its plan is filed
    donation = {"request_id": "alipay-0001", "donor_name": "张三", "amount_fen": 10_000}
    problem(
        sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/donations", citizen, json=donation),
        422,
        "campaign_id",
        "the fundraising plan is not filed (募捐方案未备案)",
    )
    # 2. an organisation without the qualification cannot file the plan
    problem(
        sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/filing", CLERK),
        422,
        "organisation_id",
        "no public-fundraising qualification (公开募捐资格)",
    )
    assert tables() == before  # nothing changed
    view = sys_.call("GET", f"{CAMPAIGNS}/{campaign_id}", CLERK).json()
    assert (view["state"], view["raised_fen"]) == ("draft", 0)
    assert sys_.call("GET", f"{CAMPAIGNS}/{campaign_id}/disclosure", citizen).status_code == 404  # not public yet
    engine.dispose()


def test_a_qualified_charity_raises_spends_and_discloses(system, manual_clock):
    sys_ = system(charity=True)
    engine = create_engine(sys_.databases["charity"])
    manual_clock.set_local_date(date(2026, 6, 10))
    org = sys_.call("POST", ORGS, CLERK, json=org_request(2, "2020-03-01")).json()["organisation_id"]
    for year in range(2020, 2026):
        sys_.call(
            "POST", f"{ORGS}/{org}/annual-reports", CLERK, json={"year": year, "income_fen": 1, "expenditure_fen": 1}
        )
    sys_.call("POST", f"{ORGS}/{org}/grade", CLERK, json={"grade": "4A", "graded_on": "2025-11-01"})
    sys_.call("POST", f"{ORGS}/{org}/charity-recognition", CLERK)
    qualified = sys_.call("POST", f"{ORGS}/{org}/fundraising-qualification", CLERK)
    assert qualified.status_code == 200 and qualified.json()["fundraising_qualified_on"] == "2026-06-10"

    late = sys_.call(
        "POST",
        CAMPAIGNS,
        CLERK,
        json={
            "organisation_id": org,
            "title": "去年的方案",
            "needs": ["living"],
            "region_code": DISTRICT,
            "target_fen": 1_000,
            "starts_on": "2026-06-01",
            "ends_on": "2026-06-30",
        },
    ).json()["campaign_id"]
    problem(sys_.call("POST", f"{CAMPAIGNS}/{late}/filing", CLERK), 422, "starts_on", "before the campaign starts")

    campaign_id = sys_.call(
        "POST",
        CAMPAIGNS,
        CLERK,
        json={
            "organisation_id": org,
            "title": "慈善一日捐",
            "needs": ["living"],
            "region_code": DISTRICT,
            "target_fen": 10_000_000,
            "starts_on": "2026-06-10",
            "ends_on": "2026-12-31",
        },
    ).json()["campaign_id"]
    filed = sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/filing", CLERK)
    assert filed.status_code == 200 and (filed.json()["state"], filed.json()["filed_on"]) == ("filed", "2026-06-10")

    donor = DONOR
    path = f"{CAMPAIGNS}/{campaign_id}/donations"
    first = sys_.call(
        "POST", path, donor, json={"request_id": "alipay-0001", "donor_name": "张三", "amount_fen": 12_345}
    )
    assert first.status_code == 201, first.text
    receipt = first.json()["receipt_number"]
    assert receipt.endswith("-2026-000001")
    # the channel sends the same donation again (its own retry), and the client retries with its key
    again = sys_.call(
        "POST", path, donor, json={"request_id": "alipay-0001", "donor_name": "张三", "amount_fen": 12_345}
    )
    assert again.json() == first.json()
    keyed = {"request_id": "wechat-0002", "donor_name": None, "donor_kind": "enterprise", "amount_fen": 1_000_000}
    one = sys_.call(
        "POST", path, ("clerk", "social-org-office", DISTRICT), json=keyed, headers={"Idempotency-Key": "k-77"}
    )
    two = sys_.call(
        "POST", path, ("clerk", "social-org-office", DISTRICT), json=keyed, headers={"Idempotency-Key": "k-77"}
    )
    assert one.status_code == two.status_code == 201 and two.headers.get("Idempotent-Replayed") == "true"
    assert one.json() == two.json() and one.json()["receipt_number"].endswith("-2026-000002")
    problem(
        sys_.call("POST", path, donor, json={"request_id": "alipay-0001", "donor_name": "张三", "amount_fen": 1}),
        409,
        "request_id",
        "used already",
    )
    assert count(engine, "donation") == 2
    assert sys_.call("GET", f"{CAMPAIGNS}/{campaign_id}", CLERK).json()["raised_fen"] == 1_012_345  # exact fen

    spend = {
        "request_id": "pay-1",
        "amount_fen": 600_000,
        "purpose": "困难家庭生活补助",
        "beneficiaries": 12,
        "spent_on": "2026-06-10",
    }
    assert sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/spending", CLERK, json=spend).json()["balance_fen"] == 412_345
    assert sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/spending", CLERK, json=spend).json()["spent_fen"] == 600_000
    problem(
        sys_.call("POST", f"{CAMPAIGNS}/{campaign_id}/spending", CLERK, json={**spend, "request_id": "pay-2"}),
        422,
        "amount_fen",
        "the campaign holds 412345 fen",
    )

    public = sys_.session.get(f"{sys_.url}{CAMPAIGNS}/{campaign_id}/disclosure", timeout=10)  # no token at all
    assert public.status_code == 200
    assert public.json() == {
        "campaign_id": campaign_id,
        "title": "慈善一日捐",
        "organisation": "越城区慈善总会2",
        "filed_on": "2026-06-10",
        "starts_on": "2026-06-10",
        "ends_on": "2026-12-31",
        "target_fen": 10_000_000,
        "raised_fen": 1_012_345,
        "donations": 2,
        "spent_fen": 600_000,
        "aid_fen": 0,
        "beneficiaries": 12,
        "balance_fen": 412_345,
    }
    assert "张三" not in public.text

    stats = sys_.call("GET", f"/api/v1/charity/statistics/{DISTRICT}", CLERK).json()
    assert (stats["charities"], stats["fundraising_qualified"], stats["raised_fen"], stats["spent_fen"]) == (
        1,
        1,
        1_012_345,
        600_000,
    )
    assert (
        "/api/v1/charity/campaigns/{campaign_id}/donations"
        in sys_.session.get(f"{sys_.url}/api/v1/openapi.json", timeout=10).json()["paths"]
    )
    engine.dispose()


def test_receipts_of_two_organisations_never_collide(charity):
    """A receipt is numbered per organisation and year under the organisation's whole credit code:
    two organisations whose codes end alike each issue their first receipt of the year."""
    rpc, _engine = charity
    receipts = []
    for seq, credit_code in ((1, "53330602MJ0000001X"), (2, "52330602MA0000001X")):  # the same last 8
        org = qualified_charity(rpc, seq, credit_code=credit_code)
        campaign = rpc.create_campaign(
            DISTRICT_CLERK,
            {
                "organisation_id": org,
                "title": "慈善一日捐",
                "needs": ["living"],
                "region_code": DISTRICT,
                "target_fen": 1_000_000,
                "starts_on": "2026-06-10",
                "ends_on": "2026-12-31",
            },
        )["campaign_id"]
        rpc.file_plan(DISTRICT_CLERK, campaign)
        receipts.append(
            rpc.donate(DISTRICT_CLERK, campaign, {"request_id": "bank-0001", "amount_fen": 100})["receipt_number"]
        )
    assert receipts == ["53330602MJ0000001X-2026-000001", "52330602MA0000001X-2026-000001"]
