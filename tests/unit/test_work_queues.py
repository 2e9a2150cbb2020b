"""Work queues as data (gateway/work_queues.py): who gets which queue, the working days left,
what a page holds, in which order, with which counts."""

from datetime import date

import pytest

from gateway import work_queues as wq

MONDAY = date(2026, 5, 4)


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
        ("clerk", "330602001", ["dibao-township"]),
        ("clerk", "330602", ["dibao-district-decisions"]),
        ("clerk", None, []),
        ("admin", None, []),
        ("citizen", None, []),
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
