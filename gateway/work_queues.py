"""Work queues as data (工作队列), as OpenCRVS keeps them: a name, the records it draws on (the
query), the columns it shows and the actions it offers, and what it says when it is empty.

A queue draws its records from an API route the caller could call themselves (`source`: the
route's handler), so it shows exactly what that route lets the caller see in their area: the
queue adds no rule of who sees what, it only selects, orders, counts and pages. Claims (认领) are
the gateway's (gateway/work_queue_routes.py). Pure: no I/O, tested by tables in tests/unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

PER_PAGE = 20
APPLICATION = "assistance_application"  # the claimed record's kind


@dataclass(frozen=True)
class Action:
    name: str  # the API route's last path segment, e.g. acceptance
    title: str  # the button's words
    states: tuple[str, ...]  # the record states it applies to
    needs_reason: bool = False


@dataclass(frozen=True)
class WorkQueue:
    name: str
    title: str
    roles: tuple[str, ...]
    source: str  # the handler of the GET route the records come from
    record_kind: str
    states: tuple[str, ...]  # which of the source's records the queue holds
    columns: tuple[tuple[str, str], ...]  # (field, heading)
    actions: tuple[Action, ...]
    empty: str
    # the actor's area must be this many digits (a township's 9, a district's 6); None: any
    area_digits: int | None = None
    notice_over: bool = False  # only records whose public notice has ended (审批 may follow)
    filters: tuple[str, ...] = field(default=("state", "claim", "overdue"))


ACCEPT = Action("acceptance", "受理", ("submitted",))
CHECK = Action("economic-check", "核对", ("accepted",))
PUBLISH = Action("notice", "公示", ("checked",))
DECIDE = Action("decision", "审批", ("in_notice",), needs_reason=True)

APPLICATION_COLUMNS = (
    ("short_id", "申请编号"),
    ("programme_title", "救助类别"),
    ("state_title", "状态"),
    ("region_code", "所属区划"),
    ("accepted_on", "受理日期"),
    ("decision_due", "办结期限"),
    ("working_days_left", "剩余工作日"),
    ("claimed_by", "认领人"),
)

QUEUES: dict[str, WorkQueue] = {
    q.name: q
    for q in (
        WorkQueue(
            name="dibao-township",
            title="低保申请（乡镇受理、核对、公示）",
            roles=("clerk",),
            source="assistance_queue",
            record_kind=APPLICATION,
            states=("submitted", "accepted", "checked", "in_notice"),
            columns=APPLICATION_COLUMNS,
            actions=(ACCEPT, CHECK, PUBLISH, DECIDE),
            empty="本乡镇暂无待办的低保申请。",
            area_digits=9,
        ),
        WorkQueue(
            name="dibao-district-decisions",
            title="待审批的低保申请（区县）",
            roles=("clerk",),
            source="assistance_queue",
            record_kind=APPLICATION,
            states=("in_notice",),
            columns=APPLICATION_COLUMNS,
            actions=(DECIDE,),
            empty="辖区各乡镇暂无公示期满、待审批的申请。",
            area_digits=6,
            notice_over=True,
        ),
    )
}

PROGRAMME_TITLES = {
    "dibao": "最低生活保障（低保）",
    "dibao_edge": "低保边缘",
    "tekun": "特困人员供养",
    "temporary": "临时救助",
    "disability": "残疾人两项补贴",
}
STATE_TITLES = {
    "submitted": "待受理",
    "accepted": "待核对",
    "checked": "待公示",
    "in_notice": "公示中",
    "approved": "已批准",
    "rejected": "不予批准",
    "withdrawn": "已撤回",
}


def queues_for(role: str, area: str | None) -> list[WorkQueue]:
    """The queues a caller of this role and area works (their records are still the source's)."""
    return [
        q
        for q in QUEUES.values()
        if role in q.roles and (q.area_digits is None or (area is not None and len(area) == q.area_digits))
    ]


def working_days_left(today: date, due: date | None) -> int | None:
    """Monday-to-Friday days after today up to the due date (negative: that many past it). The
    service's due date already counts the region's holidays and make-up days; this only says how
    far off it is, so a holiday between now and then shows one day too many, never too few past."""
    if due is None:
        return None
    if due == today:
        return 0
    step = 1 if due > today else -1
    count, day = 0, today
    while day != due:
        day += timedelta(days=step)
        if day.weekday() < 5:
            count += step
    return count


@dataclass(frozen=True)
class Page:
    items: list[dict]
    total: int  # records matching the filters
    counts: dict[str, int]  # the queue's records (before filters) by state, and overdue, claimed
    page: int
    pages: int


def page_of(
    queue: WorkQueue,
    records: list[dict],
    claims: dict[str, str],
    today: date,
    principal: str,
    state: str | None = None,
    claim: str | None = None,
    overdue: bool = False,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> Page:
    """The queue's records, filtered and paged, overdue first, then the fewest working days left.
    `claims`: record id -> who claimed it; `claim`: mine / unclaimed / None (all)."""
    held = []
    for record in records:
        if record.get("state") not in queue.states:
            continue
        if queue.notice_over and not (record.get("notice_ends") and str(record["notice_ends"]) < today.isoformat()):
            continue
        due = date.fromisoformat(record["decision_due"]) if record.get("decision_due") else None
        held.append(
            {
                **record,
                "short_id": record["application_id"][:8],
                "programme_title": PROGRAMME_TITLES.get(record.get("programme", ""), record.get("programme")),
                "state_title": STATE_TITLES.get(record["state"], record["state"]),
                "working_days_left": working_days_left(today, due),
                "claimed_by": claims.get(record["application_id"]),
                "actions": [a for a in queue.actions if record["state"] in a.states],
            }
        )
    counts = {s: sum(1 for r in held if r["state"] == s) for s in queue.states}
    counts["overdue"] = sum(1 for r in held if r.get("overdue"))
    counts["claimed"] = sum(1 for r in held if r["claimed_by"])
    chosen = [
        r
        for r in held
        if (state is None or r["state"] == state)
        and (not overdue or r.get("overdue"))
        and (claim is None or (claim == "mine") == (r["claimed_by"] == principal))
        and (claim != "unclaimed" or r["claimed_by"] is None)
    ]
    chosen.sort(
        key=lambda r: (
            not r.get("overdue"),
            r["working_days_left"] is None,
            r["working_days_left"] if r["working_days_left"] is not None else 0,
            r["application_id"],
        )
    )
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(1, page), pages)
    return Page(chosen[(page - 1) * per_page : page * per_page], len(chosen), counts, page, pages)
