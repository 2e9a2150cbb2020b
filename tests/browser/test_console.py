"""The console (gateway/console) in Debian's chromium, driven by Playwright, against the real
system (broker, PostgreSQL, every service the flow needs): a caseworker takes a 低保 application
from acceptance to the district's approval; a citizen applies for 结婚生育户口一件事 and watches
it complete; another township's case is not found; a form without its CSRF token is refused; the
console's actions leave the API's audit rows. Every page is checked with axe-core (no serious or
critical violation) and photographed into docs/console/ (the README shows them)."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

from jwt.algorithms import ECAlgorithm
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from infra.partner_data import PartnerData
from tests.helpers import wait_for
from tests.integration.test_assistance_gateway import members, pin_standard
from tests.integration.test_marriage_one_matter import couple, slot
from tests.system import ISSUER

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "console"
AXE = ROOT / "gateway" / "console" / "node_modules" / "axe-core" / "axe.min.js"
TOWNSHIP, OTHER_TOWNSHIP, DISTRICT = "330602001", "330602002", "330602"
PHONE = {"width": 390, "height": 844}
# Playwright's waits, short so that a failure reports fast (its own defaults are 30 s, each); a page's
# answer beside a CPU hog takes seconds, not milliseconds, so not shorter than this
TIMEOUT_MS = 10_000
expect.set_options(timeout=TIMEOUT_MS)


def dev_issuer_keys(path: Path) -> str:
    """The test issuer's key in the development issuer's file format: the console's local sign-in
    mints with it, as `make run`'s does with var/dev-issuer/keys.json."""
    private = {**json.loads(ECAlgorithm.to_jwk(ISSUER.key)), "kid": ISSUER.kid, "alg": "ES256"}
    path.write_text(json.dumps({"issuer": ISSUER.issuer, "audience": ISSUER.audience, "keys": [private]}))
    return str(path)


class Console:
    """A person at the console: a browser context of their own, signed in through the sign-in page."""

    def __init__(self, browser, base: str, phone: bool = False):
        self.base = base
        # CSP forbids inline scripts; axe is injected by the test, so this context lets it in
        self.context = browser.new_context(bypass_csp=True, viewport=PHONE if phone else None, locale="zh-CN")
        self.page: Page = self.context.new_page()
        self.context.set_default_timeout(TIMEOUT_MS)
        self.context.set_default_navigation_timeout(2 * TIMEOUT_MS)

    def open(self, path: str) -> Page:
        self.page.goto(self.base + path)
        return self.page

    def sign_in(self, role: str, subject: str, area: str | None, shot: str):
        """Through the sign-in page (checked and photographed filled in, as `shot`)."""
        page = self.open("/console/sign-in")
        page.get_by_role("radio", name=re.compile(role_label(role))).check()
        page.get_by_label("居民身份证号码或工号").fill(subject)
        if area:
            page.get_by_label(re.compile("所属区划代码")).fill(area)
        check_page(page, shot)
        page.get_by_role("button", name="登录").click()
        page.wait_for_load_state()

    def sign_out(self, shot: str):
        self.page.get_by_role("button", name="退出登录").click()
        expect(self.page.get_by_role("heading", name="登录民政办事台")).to_be_visible()
        check_page(self.page, shot)

    def close(self):
        self.context.close()


def role_label(role: str) -> str:
    return {"citizen": "群众", "clerk": "经办人员", "admin": "管理人员"}[role]


def check_page(page: Page, name: str) -> None:
    """axe-core on the page as it stands (no serious or critical violation), then its screenshot."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"axe on {name}: {bad}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def without_ids(rows: list[dict]) -> list[dict]:
    """Audit rows with the records' own ids (an economic check's, named in its reason) as <id>:
    two applications' rows differ in those and nothing else when the same people did the same."""
    return [{k: UUID.sub("<id>", v) if isinstance(v, str) else v for k, v in r.items()} for r in rows]


def audit_rows(url: str, subject_like: str) -> list[dict]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT action, actor_id, actor_role, actor_area, outcome, reason, policy_version "
                "FROM audit_log WHERE subject LIKE :s AND actor_role <> 'citizen' ORDER BY id"
            ),
            {"s": subject_like},
        ).mappings()
        found = [dict(r) for r in rows]
    engine.dispose()
    return found


def submit_application(sys_, household) -> str:
    applied = sys_.call(
        "POST",
        "/api/v1/assistance/applications",
        ("citizen", household[0]["resident_id"]),
        json={
            "programme": "dibao",
            "region_code": TOWNSHIP,
            "address": "越城区府山街道 1 号",
            "bank_account": "6228480000000001",
            "members": household,
        },
    )
    assert applied.status_code == 201, applied.text
    return applied.json()["application_id"]


def other_household(seq: int) -> list[dict]:
    """Another family than members(): its own ID numbers (the same shape)."""
    from contracts.person import compose_resident_id

    born = [date(1968, 1, 1), date(1969, 2, 2), date(2010, 3, 3)]
    return [
        {**m, "resident_id": compose_resident_id(DISTRICT, day, seq + i)}
        for i, (m, day) in enumerate(zip(members(), born, strict=True))
    ]


def test_a_caseworker_takes_a_dibao_application_to_the_district_approval(system, manual_clock, browser, tmp_path):
    data = PartnerData()
    sys_ = system(assistance=data, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    pin_standard(sys_.databases["assistance"])
    manual_clock.set_local_date(date(2026, 4, 27))
    in_console, by_api = members(), other_household(201)
    for m in in_console + by_api:
        data.facts[("bank_deposits", m["resident_id"])] = {"deposits_fen": 1_000_000}
    app_id = submit_application(sys_, in_console)
    api_id = submit_application(sys_, by_api)

    caseworker = Console(browser, sys_.url)
    caseworker.sign_in("clerk", "caseworker-01", TOWNSHIP, shot="sign-in")
    page = caseworker.page
    expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
    expect(page.get_by_text("待受理 2")).to_be_visible()  # the queue's counts
    check_page(page, "queues")

    # a second caseworker of the township has the same queue open, not yet claimed
    second = Console(browser, sys_.url)
    second.sign_in("clerk", "caseworker-02", TOWNSHIP, shot="sign-in-second-caseworker")
    expect(second.page.get_by_role("heading", name="工作队列")).to_be_visible()
    check_page(second.page, "queues-second-caseworker")
    second.open("/console/queues/dibao-township")
    stale = second.page.get_by_role("row").filter(has=second.page.get_by_role("link", name=app_id[:8]))
    expect(stale.get_by_role("button", name=f"认领 {app_id[:8]}")).to_be_visible()
    check_page(second.page, "queue-township-unclaimed")

    page.get_by_role("link", name=re.compile("低保申请（乡镇")).click()
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=app_id[:8]))
    expect(row).to_contain_text("待受理")
    row.get_by_role("button", name=f"认领 {app_id[:8]}").click()  # htmx: the table comes back, claimed
    expect(row.get_by_role("button", name=f"释放 {app_id[:8]}")).to_be_visible()
    expect(row).to_contain_text("caseworker-01")
    check_page(page, "queue-township")

    # the second's click on the stale page is refused (409), and the table they get back says by whom
    stale.get_by_role("button", name=f"认领 {app_id[:8]}").click()
    expect(second.page.get_by_role("status")).to_contain_text("already claimed by caseworker-01")
    expect(stale).to_contain_text("caseworker-01")
    expect(stale.get_by_role("button")).to_have_count(0)  # nothing to claim or release any more
    check_page(second.page, "queue-claim-refused")
    second.open("/console/queues/dibao-township?claim=unclaimed")
    expect(second.page.get_by_role("link", name=app_id[:8])).to_have_count(0)  # not offered
    expect(second.page.get_by_role("link", name=api_id[:8])).to_be_visible()
    check_page(second.page, "queue-township-filtered-unclaimed")
    second.close()

    page.get_by_role("link", name=app_id[:8]).click()
    expect(page.get_by_role("heading", name=re.compile("申请"))).to_be_visible()
    check_page(page, "application-submitted")
    page.get_by_role("button", name="受理").click()
    expect(page.get_by_role("status")).to_have_text("受理：已完成")
    expect(page.get_by_text("2026-05-28", exact=True)).to_be_visible()  # the 20-working-day decision date
    check_page(page, "application-accepted")
    page.get_by_role("button", name="核对").click()
    expect(page.get_by_role("status")).to_have_text("核对：已完成")
    expect(page.get_by_text("核对完成", exact=True)).to_be_visible()
    check_page(page, "application-checked")
    manual_clock.set_local_date(date(2026, 4, 28))
    page.get_by_role("button", name="公示").click()
    expect(page.get_by_role("status")).to_have_text("公示：已完成")
    check_page(page, "application-notice-published")
    manual_clock.set_local_date(date(2026, 5, 6))
    page.reload()
    expect(page.get_by_role("button", name="提交审批")).to_be_visible()
    check_page(page, "application-notice-ended")
    page.get_by_label("理由").fill("乡镇意见：收入低于标准")
    page.get_by_role("button", name="提交审批").click()  # 低保 is approved by the district
    expect(page.get_by_role("status")).to_contain_text("操作未完成")
    check_page(page, "application-township-decision-refused")
    caseworker.sign_out(shot="signed-out")

    approver = Console(browser, sys_.url)
    approver.sign_in("clerk", "approver-01", DISTRICT, shot="sign-in-approver")
    page = approver.page
    expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
    check_page(page, "queues-approver")
    page.get_by_role("link", name=re.compile("待审批的低保申请")).click()
    expect(page.get_by_role("link", name=app_id[:8])).to_be_visible()
    check_page(page, "queue-district")
    page.get_by_role("link", name=app_id[:8]).click()
    expect(page.get_by_role("button", name="提交审批")).to_be_visible()
    check_page(page, "application-for-approval")
    page.get_by_label("批准", exact=True).check()
    page.get_by_label("理由").fill("家庭人均收入低于当地低保标准")
    page.get_by_role("button", name="提交审批").click()
    expect(page.get_by_role("status")).to_have_text("审批：已完成")
    expect(page.get_by_text("已批准", exact=True)).to_be_visible()
    expect(page.get_by_text("2005.00 元").first).to_be_visible()
    expect(page.get_by_text("家庭人均收入低于当地低保标准").first).to_be_visible()
    check_page(page, "application-approved")
    approver.close()

    # the same steps through the API, by the same people, on the other application
    manual_clock.set_local_date(date(2026, 4, 27))
    path = f"/api/v1/assistance/applications/{api_id}"
    cw, ap = ("clerk", "caseworker-01", TOWNSHIP), ("clerk", "approver-01", DISTRICT)
    assert sys_.call("POST", f"/api/v1/work-queues/dibao-township/items/{api_id}/claim", cw).status_code == 200
    second_api = ("clerk", "caseworker-02", TOWNSHIP)  # as in the console: a second caseworker is refused
    assert sys_.call("POST", f"/api/v1/work-queues/dibao-township/items/{api_id}/claim", second_api).status_code == 409
    for step in ("acceptance", "economic-check"):
        assert sys_.call("POST", f"{path}/{step}", cw).status_code == 200
    manual_clock.set_local_date(date(2026, 4, 28))
    assert sys_.call("POST", f"{path}/notice", cw).status_code == 200
    manual_clock.set_local_date(date(2026, 5, 6))
    township = sys_.call(
        "POST", f"{path}/decision", cw, json={"decision": "approve", "reason": "乡镇意见：收入低于标准"}
    )
    assert township.status_code == 409
    decided = sys_.call(
        "POST", f"{path}/decision", ap, json={"decision": "approve", "reason": "家庭人均收入低于当地低保标准"}
    )
    assert decided.status_code == 200, decided.text

    # the console left exactly the rows the API did: the service's and the gateway's (the claim)
    for db, subject in (("assistance", "%{}%"), ("gateway", "%{}%")):
        console_rows = audit_rows(sys_.databases[db], subject.format(app_id))
        api_rows = audit_rows(sys_.databases[db], subject.format(api_id))
        assert console_rows, f"no audit rows in {db}"
        assert without_ids(console_rows) == without_ids(api_rows), db


def test_another_townships_case_is_not_found_and_a_form_without_csrf_is_refused(
    system, manual_clock, browser, tmp_path
):
    data = PartnerData()
    sys_ = system(assistance=data, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    pin_standard(sys_.databases["assistance"])
    manual_clock.set_local_date(date(2026, 4, 27))
    app_id = submit_application(sys_, members())

    stranger = Console(browser, sys_.url)
    stranger.sign_in("clerk", "caseworker-09", OTHER_TOWNSHIP, shot="sign-in-other-township")
    expect(stranger.page.get_by_role("heading", name="工作队列")).to_be_visible()
    check_page(stranger.page, "queues-other-township")
    page = stranger.open(f"/console/applications/{app_id}")
    expect(page.get_by_role("heading", name="未找到")).to_be_visible()
    check_page(page, "not-found")
    stranger.open("/console/queues/dibao-township")
    expect(page.get_by_text("本乡镇暂无待办的低保申请。")).to_be_visible()  # its queue holds nothing of ours
    check_page(page, "queue-other-township-empty")
    stranger.close()

    caseworker = Console(browser, sys_.url)
    caseworker.sign_in("clerk", "caseworker-01", TOWNSHIP, shot="sign-in-csrf-caseworker")
    check_page(caseworker.page, "queues-csrf-caseworker")
    caseworker.open(f"/console/applications/{app_id}")
    expect(caseworker.page.get_by_role("button", name="受理")).to_be_visible()
    check_page(caseworker.page, "application-before-csrf")
    url = f"{sys_.url}/console/applications/{app_id}/acceptance"
    refused = caseworker.context.request.post(url, form={"key": "no-csrf-1"})  # the session cookie, no token
    assert refused.status == 403 and "CSRF" in refused.text()
    wrong = caseworker.context.request.post(url, form={"key": "no-csrf-2", "csrf_token": "0" * 40})
    assert wrong.status == 403
    view = sys_.call("GET", f"/api/v1/assistance/applications/{app_id}", ("clerk", "caseworker-01", TOWNSHIP))
    assert view.json()["state"] == "submitted"  # nothing ran
    caseworker.page.route(url, lambda route: route.continue_(post_data="key=k"))  # the browser's form, token stripped
    caseworker.page.get_by_role("button", name="受理").click()
    expect(caseworker.page.get_by_role("heading", name="请求被拒绝")).to_be_visible()
    check_page(caseworker.page, "csrf-refused")
    caseworker.close()


def test_a_household_member_withdraws_an_open_application_from_the_phone(system, manual_clock, browser, tmp_path):
    """撤回 from the application page: the spouse (a member, not the one who applied) sees the
    form while it is undecided; a reason the API refuses leaves it open with the reason shown; a
    good one closes it, the form goes, and the caseworker's page offers no step any more."""
    sys_ = system(assistance=PartnerData(), CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    pin_standard(sys_.databases["assistance"])
    manual_clock.set_local_date(date(2026, 4, 27))
    household = members()
    app_id = submit_application(sys_, household)
    path = f"/api/v1/assistance/applications/{app_id}"

    spouse = Console(browser, sys_.url, phone=True)
    spouse.sign_in("citizen", household[1]["resident_id"], None, shot="sign-in-withdrawing-spouse")
    page = spouse.open(f"/console/applications/{app_id}")
    expect(page.get_by_role("heading", name="撤回申请")).to_be_visible()
    check_page(page, "citizen-application-open")
    page.get_by_label("撤回原因").fill("改")  # one character: the page's own check taken off, the API's stays
    page.locator("#withdraw-reason").evaluate("el => el.removeAttribute('minlength')")
    page.get_by_role("button", name="撤回申请").click()
    expect(page.get_by_role("status").filter(has_text="操作未完成")).to_be_visible()
    check_page(page, "citizen-withdrawal-refused")
    assert sys_.call("GET", path, ("clerk", "caseworker-01", TOWNSHIP)).json()["state"] == "submitted"

    page.get_by_label("撤回原因").fill("家庭收入已改善")
    page.get_by_role("button", name="撤回申请").click()
    expect(page.get_by_role("status").filter(has_text="撤回：已完成")).to_be_visible()
    expect(page.get_by_role("button", name="撤回申请")).to_have_count(0)
    check_page(page, "citizen-application-withdrawn")
    spouse.close()
    view = sys_.call("GET", path, ("clerk", "caseworker-01", TOWNSHIP)).json()
    assert view["state"] == "withdrawn" and view["journal"][-1]["reason"] == "家庭收入已改善"

    caseworker = Console(browser, sys_.url)
    caseworker.sign_in("clerk", "caseworker-01", TOWNSHIP, shot="sign-in-after-withdrawal")
    caseworker.open(f"/console/applications/{app_id}")
    expect(caseworker.page.get_by_role("heading", name="办理", exact=True)).to_have_count(0)
    check_page(caseworker.page, "application-withdrawn")
    caseworker.close()


def test_a_citizen_applies_for_the_marriage_one_matter_and_watches_it_complete(system, manual_clock, browser, tmp_path):
    today = date(2026, 5, 11)
    manual_clock.set_local_date(today)
    sys_ = system(simulator=True, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    husband, wife = couple()

    citizen = Console(browser, sys_.url, phone=True)
    citizen.sign_in("citizen", husband["resident_id"], None, shot="sign-in-citizen-phone")
    page = citizen.page
    expect(page.get_by_role("heading", name="我的事项")).to_be_visible()
    check_page(page, "citizen-my-matters-empty")
    page.get_by_role("link", name="申请结婚生育户口一件事").click()
    page.get_by_label("婚姻登记处").select_option("330602")
    page.get_by_label("预约日期").fill(str(today + timedelta(days=1)))
    page.get_by_label("预约时段（北京时间）").select_option("09:00")
    page.get_by_label("姓名").first.fill(husband["name"])
    page.get_by_role("group", name="另一方").get_by_label("姓名").fill(wife["name"])
    page.get_by_label("居民身份证号码").fill(wife["resident_id"])
    check_page(page, "citizen-apply-marriage")
    page.get_by_role("button", name="提交申请").click()
    page.wait_for_url(re.compile(r"/console/matters/"))
    matter_id = page.url.rsplit("/", 1)[1]
    assert slot(today + timedelta(days=1)).startswith(str(today + timedelta(days=1)))
    # the progress view follows events: the page may first say not found, then shows the matter
    wait_for(
        lambda: page.reload() and page.get_by_role("heading", name="结婚生育户口一件事").count() == 1,
        timeout=20,
        what="the matter page",
    )
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "in_progress")
    check_page(page, "citizen-matter-in-progress")

    manual_clock.set_local_date(today + timedelta(days=1))
    registered = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        ("clerk", "registrar-01", "330602"),
        json={
            "office_code": "330602",
            "party_a": husband,
            "party_b": wife,
            "declared_not_close_relatives": True,
            "matter_id": matter_id,
        },
    )
    assert registered.status_code == 201, registered.text
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "waiting", timeout=30_000)  # htmx polls
    check_page(page, "citizen-matter-waiting-for-birth")
    born = sys_.call(
        "POST",
        "/api/v1/partner/births",
        ("partner", "health"),
        json={
            "child": {
                "name": "张小宝",
                "birth_date": str(today + timedelta(days=1)),
                "sex": "female",
                "birth_certificate_number": f"O{husband['resident_id'][-9:-1]}",
            },
            "mother_resident_id": wife["resident_id"],
            "father_resident_id": husband["resident_id"],
            "hospital": "绍兴市妇幼保健院",
        },
    )
    assert born.status_code == 202, born.text
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "completed", timeout=30_000)
    expect(page.locator("li.step.done")).to_have_count(5)
    check_page(page, "citizen-matter-completed")

    page.get_by_role("link", name="我的事项").click()
    expect(page.get_by_text("已办结 · 已完成 5/5 个环节")).to_be_visible()
    check_page(page, "citizen-my-matters")
    citizen.close()


def approved_by_api(sys_, manual_clock, household: list[dict]) -> dict:
    """A 低保 application taken through the API to the district's approval (6 May 2026)."""
    manual_clock.set_local_date(date(2026, 4, 27))
    app_id = submit_application(sys_, household)
    path = f"/api/v1/assistance/applications/{app_id}"
    cw, ap = ("clerk", "caseworker-01", TOWNSHIP), ("clerk", "approver-01", DISTRICT)
    for step in ("acceptance", "economic-check"):
        assert sys_.call("POST", f"{path}/{step}", cw).status_code == 200
    manual_clock.set_local_date(date(2026, 4, 28))
    assert sys_.call("POST", f"{path}/notice", cw).status_code == 200
    manual_clock.set_local_date(date(2026, 5, 6))
    decided = sys_.call("POST", f"{path}/decision", ap, json={"decision": "approve", "reason": "收入低于标准"})
    assert decided.status_code == 200, decided.text
    return decided.json()


def test_the_payments_office_freezes_sends_and_reconciles_a_month_and_the_family_sees_it_paid(
    system, manual_clock, browser, tmp_path
):
    data = PartnerData()
    # care too: the citizen's benefits page asks it for their old-age allowance and voucher
    sys_ = system(assistance=data, care=True, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    pin_standard(sys_.databases["assistance"])
    household = members()
    for m in household:
        data.facts[("bank_deposits", m["resident_id"])] = {"deposits_fen": 1_000_000}
    application = approved_by_api(sys_, manual_clock, household)
    manual_clock.set_local_date(date(2026, 6, 1))

    office = Console(browser, sys_.url)
    office.sign_in("admin", "payments-01", None, shot="sign-in-payments-office")
    page = office.page
    expect(page.get_by_role("heading", name="社会化发放：待办批次")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="2026-06")).to_contain_text("未冻结")
    check_page(page, "payments-queue")
    page.get_by_role("button", name="冻结 2026-06").click()
    expect(page.get_by_role("status")).to_have_text("已冻结")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "frozen")
    check_page(page, "payment-cycle-frozen")
    page.get_by_role("button", name="发送银行").click()
    expect(page.get_by_role("status")).to_contain_text("已发送银行：")
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "sent")
    check_page(page, "payment-cycle-sent")

    # the bank's answers, as its results file has them: the payments' ids from the household's payments
    paid = sys_.call(
        "GET", f"/api/v1/assistance/households/{application['household_id']}/payments", ("admin", "payments-01")
    )
    ids = [p["payment_id"] for p in paid.json()["payments"] if p["cycle_id"] == "2026-06"]
    assert ids, paid.text
    expect(page.get_by_role("status")).to_contain_text(f"已发送银行：{len(ids)} 笔")
    page.get_by_label(re.compile("回盘结果")).fill("not-a-line")
    page.get_by_role("button", name="对账").click()
    expect(page.get_by_role("alert").filter(has_text="第 1 行格式有误")).to_be_visible()
    check_page(page, "payment-cycle-results-malformed")
    page.get_by_label(re.compile("回盘结果")).fill("\n".join(f"{i},paid" for i in ids))
    page.get_by_role("button", name="对账").click()
    expect(page.get_by_role("status")).to_have_text("对账已完成")
    expect(page.get_by_text(f"到账 {len(ids)} 笔")).to_be_visible()
    expect(page.locator("[data-state]")).to_have_attribute("data-state", "reconciled")
    check_page(page, "payment-cycle-reconciled")
    office.close()

    # the payments office's console actions are the API's: its audit rows, by the office, in order
    rows = audit_rows(sys_.databases["assistance"], "payment-cycle-2026-06")
    assert [(r["action"], r["actor_id"], r["outcome"]) for r in rows] == [
        ("payment_cycle.freeze", "payments-01", "frozen"),
        ("payment_cycle.send", "payments-01", "sent"),
        ("payment_cycle.reconcile", "payments-01", "reconciled"),
    ]

    # a clerk is not the payments office: the API refuses, and so does the page
    clerk = Console(browser, sys_.url)
    clerk.sign_in("clerk", "caseworker-01", TOWNSHIP, shot="sign-in-clerk-not-payments")
    check_page(clerk.page, "queues-clerk-not-payments")
    clerk.open("/console/payments")
    expect(clerk.page.get_by_role("heading", name="无权办理")).to_be_visible()
    check_page(clerk.page, "payments-refused-to-a-clerk")
    clerk.close()

    citizen = Console(browser, sys_.url, phone=True)
    citizen.sign_in("citizen", household[0]["resident_id"], None, shot="sign-in-household")
    expect(citizen.page.get_by_role("heading", name="我的事项")).to_be_visible()
    check_page(citizen.page, "citizen-household-matters")
    page = citizen.open("/console/me/benefits")
    expect(page.get_by_role("heading", name="我的待遇与发放")).to_be_visible()
    check_page(page, "citizen-benefits")
    page.get_by_label("申请编号").fill(application["application_id"])
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("row").filter(has_text="已到账")).to_have_count(len(ids))
    expect(page.get_by_role("button", name="受理")).to_have_count(0)  # a citizen reads, never acts
    check_page(page, "citizen-application")
    citizen.close()


def test_a_family_reports_a_death_and_follows_the_after_death_matter(system, manual_clock, browser, tmp_path):
    from contracts.person import compose_resident_id

    today = date(2026, 5, 11)
    manual_clock.set_local_date(today)
    sys_ = system(funeral=True, CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    deceased = compose_resident_id(DISTRICT, date(1938, 2, 3), 31)
    daughter = compose_resident_id(DISTRICT, date(1966, 7, 8), 42)

    family = Console(browser, sys_.url, phone=True)
    family.sign_in("citizen", daughter, None, shot="sign-in-family")
    expect(family.page.get_by_role("heading", name="我的事项")).to_be_visible()
    check_page(family.page, "citizen-family-matters-empty")
    page = family.open("/console/me/death-report")
    page.get_by_label("姓名").fill("周老太")
    page.get_by_label("居民身份证号码").fill(deceased)
    page.get_by_label("死亡日期").fill(str(today - timedelta(days=1)))
    page.get_by_label(re.compile("生前居住地区划代码")).fill(TOWNSHIP)
    page.get_by_label("您与逝者的关系").select_option("child")
    check_page(page, "citizen-report-death")
    page.get_by_label("死亡日期").fill(str(today + timedelta(days=1)))  # a death tomorrow: the API refuses
    page.locator("#date_of_death").evaluate("el => el.removeAttribute('max')")
    page.get_by_role("button", name="提交上报").click()
    expect(page.get_by_role("alert").filter(has_text="操作未完成")).to_be_visible()
    check_page(page, "citizen-report-death-refused")
    page.get_by_label("死亡日期").fill(str(today - timedelta(days=1)))
    page.get_by_role("button", name="提交上报").click()
    page.wait_for_url(re.compile(r"/console/matters/"))
    wait_for(
        lambda: page.reload() and page.get_by_role("heading", name=re.compile("身后一件事")).count() == 1,
        timeout=20,
        what="the after-death matter page",
    )
    expect(page.locator("li.step").first).to_be_visible()
    check_page(page, "citizen-after-death-matter")
    page.get_by_role("link", name="我的事项").click()
    expect(page.get_by_role("link", name=re.compile("身后一件事"))).to_be_visible()
    check_page(page, "citizen-family-matters")
    family.close()


def test_a_district_clerk_reads_the_indicators_against_their_targets(system, manual_clock, browser, tmp_path):
    manual_clock.set_local_date(date(2026, 6, 30))
    sys_ = system(
        assistance=PartnerData(),
        care=True,
        charity=True,
        funeral=True,
        CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"),
    )
    clerk = Console(browser, sys_.url)
    clerk.sign_in("clerk", "statistics-01", DISTRICT, shot="sign-in-statistics")
    check_page(clerk.page, "queues-statistics")
    page = clerk.open("/console/indicators")
    expect(page.get_by_label("区划代码")).to_have_value(DISTRICT)
    api = sys_.call(
        "GET", f"/api/v1/indicators?region={DISTRICT}&date=2026-06-30", ("clerk", "statistics-01", DISTRICT)
    )
    assert api.status_code == 200, api.text
    figures = api.json()["indicators"]
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(len(figures))  # every figure the API reports, one row each
    joint = page.get_by_role("row").filter(has_text="惠民联办率")
    expect(joint).to_contain_text("不低于 100.0%")  # the seeds' target (seed-000 表1 row 6)
    expect(page.get_by_role("row").filter(has_text="护理型床位占比")).to_contain_text("不低于 58.0%")
    expect(page.locator("#chart[data-drawn=true] svg").first).to_be_visible()  # ECharts drew the ratios
    check_page(page, "indicators")
    page.get_by_label("区划代码").fill("330522")  # Changxing (Huzhou): outside the clerk's area
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("alert")).to_contain_text("outside your area")
    check_page(page, "indicators-outside-area")
    clerk.close()


def test_an_admin_sees_dead_letters_with_their_reasons_and_replays_them_audited(
    system, manual_clock, browser, tmp_path
):
    import uuid
    from datetime import UTC, datetime

    from kombu import Connection, Exchange, Producer

    from chassis.topology import EVENTS_EXCHANGE
    from tests.helpers import queue_depth

    sys_ = system(CONSOLE_DEV_ISSUER_KEYS=dev_issuer_keys(tmp_path / "keys.json"))
    queue = "progress.on_matter_event"
    forged = {  # a matter event from a publisher that does not publish it: the consumer parks it
        "id": str(uuid.uuid4()),
        "type": "matter.opened",
        "source": "somebody-else",
        "time": datetime.now(UTC).isoformat(),
        "subject": "matter-x",
        "matter_id": None,
        "correlation_id": None,
        "causation_id": None,
        "schema_version": 1,
        "data": {},
    }
    with Connection(sys_.amqp_uri) as conn:
        Producer(conn.channel()).publish(
            forged, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key="matter.opened", serializer="json"
        )
    wait_for(lambda: queue_depth(sys_.amqp_uri, f"{queue}.dead") == 1, timeout=30, what="the dead letter")

    clerk = Console(browser, sys_.url)
    clerk.sign_in("clerk", "caseworker-01", TOWNSHIP, shot="sign-in-clerk-not-operations")
    # this system runs none of the queues' services: the queues page lists each as not available,
    # and a queue's page says so, as a page (not the API's JSON 500)
    township = clerk.page.get_by_role("listitem").filter(
        has=clerk.page.get_by_role("link", name=re.compile("低保申请"))
    )
    expect(township).to_contain_text("暂不可用")
    check_page(clerk.page, "queues-without-the-assistance-service")
    clerk.open("/console/queues/dibao-township")
    expect(clerk.page.get_by_role("heading", name="服务暂不可用")).to_be_visible()
    check_page(clerk.page, "queue-without-the-assistance-service")
    clerk.open("/console/operations")
    expect(clerk.page.get_by_role("heading", name="无权查看")).to_be_visible()  # admins only, as the API
    check_page(clerk.page, "operations-refused-to-a-clerk")
    clerk.close()

    admin = Console(browser, sys_.url)
    admin.sign_in("admin", "ops-01", None, shot="sign-in-operations")
    check_page(admin.page, "payments-queue-operations-admin")
    page = admin.open("/console/operations")
    section = page.get_by_role("region", name=re.compile(queue))
    expect(section).to_contain_text("invalid_event")
    expect(section).to_contain_text(forged["id"][:8])
    check_page(page, "operations-dead-letters")
    section.get_by_role("button", name=f"重放 {queue}").click()
    expect(page.get_by_role("status")).to_have_text(f"已重放 1 条消息到 {queue}")
    check_page(page, "operations-replayed")
    admin.close()
    # the replay is audited: who, which queue, how many
    rows = audit_rows(sys_.databases["gateway"], f"queue-{queue}")
    assert [(r["action"], r["actor_id"], r["actor_role"], r["outcome"]) for r in rows] == [
        ("dead_letters.replay", "ops-01", "admin", "replayed")
    ]
