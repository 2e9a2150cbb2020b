"""The console's other queues and case pages in chromium, against the real system (assistance,
care, funeral and charity running): a district clerk works the 复核, date-of-death-conflict and
child follow-up queues and opens each row's case (a household, a funeral case with what the death
changed, a child), an elder and an organisation; a resident ID is never in a URL; a clerk of
another township gets the not-found page. Each page is checked with axe and photographed
(tests/browser/test_console.py has the helpers)."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import expect

from contracts.person import compose_resident_id
from infra.partner_data import PartnerData
from tests.browser.test_console import (
    DISTRICT,
    OTHER_TOWNSHIP,
    TOWNSHIP,
    Console,
    approved_by_api,
    check_page,
    dev_issuer_keys,
)
from tests.charity import org_request
from tests.integration.test_assistance_gateway import members, pin_standard

VILLAGE = TOWNSHIP + "001"


def seed(sys_, data: PartnerData, manual_clock) -> dict:
    """Through the services' own routes: an approved 低保 household whose yearly 复核 falls due, a
    death notified with two dates, a child screened red, an elder enrolled, an organisation."""
    household = members()
    for m in household:
        data.facts[("bank_deposits", m["resident_id"])] = {"deposits_fen": 1_000_000}
    application = approved_by_api(sys_, manual_clock, household)  # 6 May 2026: re-check a year on
    manual_clock.set_local_date(date(2027, 4, 26))  # the review is 8 working days off
    clerk, admin = ("clerk", "district-01", DISTRICT), ("admin", "data-office")

    deceased = compose_resident_id(DISTRICT, date(1940, 7, 7), 31)
    cases = []
    for partner, reference, died in (("health", "D-7", "2027-04-20"), ("police", "GA-7", "2027-04-22")):
        notice = {
            "deceased": {"resident_id": deceased, "name": "赵老"},
            "date_of_death": died,
            "region_code": TOWNSHIP,
            "reference": reference,
        }
        answer = sys_.call("POST", "/api/v1/partner/deaths", ("partner", partner), json=notice)
        assert answer.status_code == 202, answer.text
        cases.append(answer.json())
    assert cases[1]["date_conflict"] is True and cases[0]["case_id"] == cases[1]["case_id"]

    child = {
        "resident_id": compose_resident_id(DISTRICT, date(2015, 4, 1), 51),
        "name": "孩子51",
        "village_code": VILLAGE,
        "household": "三组 12 号",
        "guardian": "祖母",
        "category": "orphan",
        "placement": "community",
    }
    assert sys_.call("POST", "/api/v1/care/children", clerk, json=child).status_code == 200
    screening = {"level": "red", "findings": "监护人重病住院", "screened_on": "2027-04-26"}
    screened = sys_.call("POST", f"/api/v1/care/children/{child['resident_id']}/screenings", clerk, json=screening)
    assert screened.status_code == 200, screened.text

    elder = {
        "resident_id": compose_resident_id(DISTRICT, date(1940, 1, 15), 71),
        "name": "老人71",
        "region_code": TOWNSHIP,
    }
    assert sys_.call("POST", "/api/v1/care/elders/import", admin, json={"people": [elder]}).status_code == 200
    assert sys_.call("POST", "/api/v1/care/allowance-job", admin).status_code == 200

    org = sys_.call("POST", "/api/v1/charity/organisations", clerk, json=org_request(1))
    assert org.status_code == 201, org.text
    return {
        "household_id": application["household_id"],
        "case_id": cases[0]["case_id"],
        "deceased": deceased,
        "child": child["resident_id"],
        "elder": elder["resident_id"],
        "organisation_id": org.json()["organisation_id"],
    }


def test_a_district_clerk_works_the_review_conflict_and_follow_up_queues_and_opens_each_case(
    system, manual_clock, browser, tmp_path
):
    data = PartnerData()
    sys_ = system(
        assistance=data, care=True, funeral=True, charity=True, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "k")
    )
    pin_standard(sys_.databases["assistance"])
    seeded = seed(sys_, data, manual_clock)

    clerk = Console(browser, sys_.url)
    clerk.sign_in("clerk", "district-01", DISTRICT, shot="sign-in-district-casework")
    page = clerk.page
    for title in ("待复核的救助（30 日内到期）", "死亡日期不一致的殡葬案件", "困境儿童待跟进（四色管理）"):
        expect(page.get_by_role("link", name=title)).to_be_visible()
    follow_ups = page.get_by_role("listitem").filter(has=page.get_by_role("link", name=re.compile("困境儿童")))
    expect(follow_ups).to_contain_text("红色 1")  # counted by colour
    check_page(page, "queues-district-casework")

    # 复核: the household's entitlement, its review date; the row leads to the household
    page.get_by_role("link", name="待复核的救助（30 日内到期）").click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=seeded["household_id"][:8]))
    expect(row).to_contain_text("最低生活保障（低保）")
    expect(row).to_contain_text("2027-05-06")
    check_page(page, "queue-reviews-due")
    row.get_by_role("link", name=seeded["household_id"][:8]).click()
    expect(page.get_by_role("heading", name=f"家庭 {seeded['household_id'][:8]}")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="最低生活保障（低保）")).to_contain_text("2027-05-06")
    expect(page.get_by_text("王建国")).to_be_visible()
    check_page(page, "household-review-due")

    # date-of-death conflicts: both dates; the case page with every source and 身后一件事's parts
    clerk.open("/console/queues/funeral-date-conflicts")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=seeded["case_id"][:8]))
    expect(row).to_contain_text("赵老")
    expect(row).to_contain_text("2027-04-20、2027-04-22")
    check_page(page, "queue-date-conflicts")
    row.get_by_role("link", name=seeded["case_id"][:8]).click()
    expect(page.get_by_role("heading", name=re.compile("殡葬案件.*赵老"))).to_be_visible()
    expect(page.get_by_text("各方上报的日期不一致，待经办人员确认")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="公安")).to_contain_text("2027-04-22")
    expect(page.get_by_role("heading", name="身后一件事：社会救助")).to_be_visible()
    assert seeded["deceased"] not in page.content()  # masked on the page
    check_page(page, "funeral-case")

    # child follow-ups by colour: claimed from the queue, the child opened by a POST, not a URL
    clerk.open("/console/queues/child-follow-ups?state=red")
    expect(page.get_by_label("风险颜色")).to_have_value("red")
    row = page.get_by_role("row").filter(has_text="孩子51")
    expect(row).to_contain_text("红色")
    expect(row).to_contain_text(seeded["child"][:6] + "********" + seeded["child"][-4:])
    row.get_by_role("button", name="认领 孩子51").click()
    expect(row.get_by_role("button", name="释放 孩子51")).to_be_visible()
    expect(row).to_contain_text("district-01")
    check_page(page, "queue-child-follow-ups")
    row.get_by_role("button", name="孩子51", exact=True).click()
    expect(page.get_by_role("heading", name="儿童档案：孩子51")).to_be_visible()
    expect(page.get_by_text("红色", exact=True)).to_be_visible()
    expect(page.get_by_text("1635.00 元")).to_be_visible()  # Shaoxing's orphan in the community
    assert page.url.endswith("/console/children") and seeded["child"] not in page.url
    check_page(page, "child")

    # an elder and an organisation, by the look-up page
    page.get_by_role("link", name="查找").click()
    check_page(page, "lookup")
    page.get_by_label("老年人居民身份证号码").fill(seeded["elder"])
    page.get_by_role("button", name="查看老年人").click()
    expect(page.get_by_role("heading", name="老年人档案：老人71")).to_be_visible()
    expect(page.get_by_text("87 岁", exact=False)).to_be_visible()
    assert seeded["elder"] not in page.url
    check_page(page, "elder")
    clerk.open("/console/lookup")
    page.get_by_label("社会组织编号").fill(seeded["organisation_id"])
    page.get_by_role("button", name="查看社会组织").click()
    expect(page.get_by_role("heading", name="社会组织：越城区慈善总会1")).to_be_visible()
    expect(page.get_by_text("53330602MJ0000001X")).to_be_visible()
    check_page(page, "organisation")
    clerk.close()

    # a clerk of another township: the same case pages are not found
    stranger = Console(browser, sys_.url)
    stranger.sign_in("clerk", "caseworker-09", OTHER_TOWNSHIP, shot="sign-in-other-township-cases")
    page = stranger.open(f"/console/funeral-cases/{seeded['case_id']}")
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    check_page(page, "funeral-case-not-found")
    stranger.open("/console/lookup")
    page.get_by_label("儿童居民身份证号码").fill(seeded["child"])
    page.get_by_role("button", name="查看儿童").click()
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    check_page(page, "child-not-found")
    stranger.open(f"/console/households/{seeded['household_id']}")
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    stranger.open("/console/queues/child-follow-ups")
    expect(page.get_by_text("辖区内暂无待跟进的儿童。")).to_be_visible()  # its queue holds nothing of ours
    check_page(page, "queue-child-follow-ups-other-township")
    stranger.close()
