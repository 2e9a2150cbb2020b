"""Work queues as data (gateway/work_queues.py): who gets which queue, the working days left,
what a page holds, in which order, with which counts."""

from datetime import date

import pytest

from gateway import work_queues as wq

MONDAY = date(2026, 5, 4)
EVERY_AREA = ["assistance-reviews-due", "funeral-date-conflicts", "child-follow-ups"]


@pytest.mark.parametrize(
    ("today", "due", "left"),
    [
        (MONDAY, None, None),
        (MONDAY, MONDAY, 0),
        (MONDAY, date(2026, 5, 5), 1),
        (MONDAY, date(2026, 5, 8), 4),  # Friday
        (MONDAY, date(2026, 5, 10), 4),  # Sunday: no working day after Friday
        (MONDAY, date(2026, 5, 11), 5),  # the next Monday
        (MONDAY, date(2026, 5, 1), -1),  # past: Friday before
        (date(2026, 5, 9), date(2026, 5, 8), -1),  # Saturday, due Friday
    ],
)
def test_working_days_left(today, due, left):
    assert wq.working_days_left(today, due) == left


@pytest.mark.parametrize(
    ("role", "area", "names"),
    [
        ("clerk", "330602001", ["dibao-township", *EVERY_AREA]),
        ("clerk", "330602", ["dibao-district-decisions", *EVERY_AREA]),
        ("clerk", None, EVERY_AREA),  # the services scope them (a clerk without an area sees nothing)
        ("admin", None, EVERY_AREA),
        ("citizen", None, []),
        ("funeral_home", "330602", []),
    ],
)
def test_queues_for_role_and_area(role, area, names):
    assert [q.name for q in wq.queues_for(role, area)] == names


def record(n, state, due=None, overdue=False, notice_ends=None):
    return {
        "application_id": f"{n:08d}-0000",
        "programme": "dibao",
        "state": state,
        "region_code": "330602001",
        "decision_due": due,
        "overdue": overdue,
        "notice_ends": notice_ends,
    }


RECORDS = [
    record(1, "accepted", "2026-05-20"),
    record(2, "submitted"),
    record(3, "checked", "2026-04-30", overdue=True),
    record(4, "approved", "2026-05-10"),  # decided: in no queue
    record(5, "in_notice", "2026-05-06", notice_ends="2026-05-03"),
    record(6, "in_notice", "2026-05-29", notice_ends="2026-05-05"),
]
TOWNSHIP = wq.QUEUES["dibao-township"]
DISTRICT = wq.QUEUES["dibao-district-decisions"]


@pytest.mark.parametrize(
    ("queue", "filters", "ids"),
    [
        (TOWNSHIP, {}, [3, 5, 1, 6, 2]),  # overdue first, then fewest days left, no date last
        (TOWNSHIP, {"state": "in_notice"}, [5, 6]),
        (TOWNSHIP, {"overdue": True}, [3]),
        (TOWNSHIP, {"claim": "mine"}, [1]),
        (TOWNSHIP, {"claim": "unclaimed"}, [3, 5, 6]),  # 2 is someone else's
        (DISTRICT, {}, [5]),  # only a notice that has ended (on 5 May, not 6 May's)
    ],
)
def test_page_of_filters_and_orders(queue, filters, ids):
    claims = {"00000001-0000": "me", "00000002-0000": "someone"}
    page = wq.page_of(queue, RECORDS, claims, MONDAY, "me", **filters)
    assert [int(i["application_id"][:8]) for i in page.items] == ids
    assert page.total == len(ids)


def test_counts_actions_and_pages():
    many = [record(n, "submitted") for n in range(45)]
    first = wq.page_of(TOWNSHIP, many, {}, MONDAY, "me", per_page=20)
    last = wq.page_of(TOWNSHIP, many, {}, MONDAY, "me", page=9, per_page=20)  # past the end: the last page
    assert (first.pages, len(first.items), last.page, len(last.items)) == (3, 20, 3, 5)
    assert first.counts == {"submitted": 45, "accepted": 0, "checked": 0, "in_notice": 0, "overdue": 0, "claimed": 0}
    shown = wq.page_of(TOWNSHIP, RECORDS, {}, MONDAY, "me")
    actions = {i["application_id"][:8]: [a.name for a in i["actions"]] for i in shown.items}
    assert actions["00000002"] == ["acceptance"] and actions["00000005"] == ["decision"]
    assert shown.items[0]["state_title"] == "待公示" and shown.items[0]["working_days_left"] == -2


REVIEWS = wq.QUEUES["assistance-reviews-due"]
CONFLICTS = wq.QUEUES["funeral-date-conflicts"]
FOLLOW_UPS = wq.QUEUES["child-follow-ups"]


def review(n, due, household="hh-0000001-aaaa", complete=None):
    """A record of GET /api/v1/assistance/reviews-due (an entitlement, its household and re-check)."""
    return {
        "entitlement_id": n,
        "programme": "dibao",
        "monthly_amount_fen": 200500,
        "next_review_on": due,
        "household_id": household,
        "region_code": "330602001",
        "review_check": None if complete is None else {"check_id": "c", "complete": complete},
    }


def conflict(case_id, dates):
    """A record of GET /api/v1/funeral/date-conflicts (a case view)."""
    return {
        "case_id": case_id,
        "resident_id": "330602194007070310",
        "name": "赵老",
        "region_code": "330602001",
        "state": "open",
        "date_of_death": dates[0],
        "reported_dates": dates,
        "date_conflict": True,
    }


def follow_up(screening, level, due, overdue=False):
    """A record of GET /api/v1/care/follow-ups."""
    return {
        "screening_id": screening,
        "resident_id": "330602201504010511",
        "name": "孩子51",
        "level": level,
        "village_code": "330602001001",
        "follow_up_due": due,
        "overdue": overdue,
    }


@pytest.mark.parametrize(
    ("queue", "records", "filters", "ids"),
    [
        # reviews: past the re-check date first (no `overdue` field: past its due date is overdue)
        (REVIEWS, [review(7, "2026-05-20"), review(8, "2026-04-30"), review(9, "2026-05-06")], {}, ["8", "9", "7"]),
        (REVIEWS, [review(7, "2026-05-20"), review(8, "2026-04-30")], {"overdue": True}, ["8"]),
        (REVIEWS, [review(7, "2026-05-20"), review(8, "2026-04-30")], {"claim": "mine"}, ["7"]),
        # conflicts: no due date, no state filter; every record the source gives
        (
            CONFLICTS,
            [conflict("c-2", ["2026-05-01", "2026-05-03"]), conflict("c-1", ["2026-04-01"])],
            {},
            ["c-1", "c-2"],
        ),
        # follow-ups: the state is the colour (四色), overdue as the care service says
        (
            FOLLOW_UPS,
            [follow_up("s-1", "yellow", "2026-05-18"), follow_up("s-2", "red", "2026-05-01", overdue=True)],
            {},
            ["s-2", "s-1"],
        ),
        (
            FOLLOW_UPS,
            [follow_up("s-1", "yellow", "2026-05-18"), follow_up("s-2", "red", "2026-05-05")],
            {"state": "yellow"},
            ["s-1"],
        ),
        (FOLLOW_UPS, [follow_up("s-3", "purple", "2026-05-05")], {}, []),  # not one of the four colours
    ],
)
def test_queues_of_other_records_than_applications(queue, records, filters, ids):
    claims = {"7": "me", "c-2": "someone"}
    page = wq.page_of(queue, records, claims, MONDAY, "me", **filters)
    assert [i["record_id"] for i in page.items] == ids


def test_what_the_new_queues_show_and_where_their_rows_lead():
    reviews = wq.page_of(REVIEWS, [review(7, "2026-05-11", complete=False)], {"7": "me"}, MONDAY, "me")
    (item,) = reviews.items
    assert (item["household_short"], item["programme_title"], item["monthly_amount"]) == (
        "hh-00000",
        "最低生活保障（低保）",
        "2005.00 元",
    )
    assert (item["working_days_left"], item["overdue"], item["review_check_title"], item["claimed_by"]) == (
        5,
        False,
        "进行中",
        "me",
    )
    assert (REVIEWS.case_page, item["case_id"], REVIEWS.case_posted) == (
        "/console/households/",
        "hh-0000001-aaaa",
        False,
    )
    assert reviews.counts == {"overdue": 0, "claimed": 1}  # no states: no counts by state

    (case,) = wq.page_of(CONFLICTS, [conflict("c-1", ["2026-05-01", "2026-05-03"])], {}, MONDAY, "me").items
    assert (case["reported_dates_text"], case["state_title"], case["case_id"]) == (
        "2026-05-01、2026-05-03",
        "办理中",
        "c-1",
    )

    page = wq.page_of(FOLLOW_UPS, [follow_up("s-1", "red", "2026-05-05")], {}, MONDAY, "me")
    (child,) = page.items
    assert (child["state_title"], child["resident_id_masked"]) == ("红色", "330602********0511")
    # the row leads to the child by a POST of the resident ID, never by a URL holding it
    assert (FOLLOW_UPS.case_page, FOLLOW_UPS.case_posted, child["case_id"]) == (
        "/console/children",
        True,
        "330602201504010511",
    )
    assert page.counts == {"red": 1, "orange": 0, "yellow": 0, "green": 0, "overdue": 0, "claimed": 0}
    # no column shows a resident ID in full
    for queue in (REVIEWS, CONFLICTS, FOLLOW_UPS):
        assert "resident_id" not in [f for f, _ in queue.columns], queue.name
