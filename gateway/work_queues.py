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

from contracts.person import mask as person_mask

PER_PAGE = 20
# the claimed records' kinds (a claim is one per record of a kind)
APPLICATION = "assistance_application"
REVIEW = "assistance_review"  # an entitlement whose periodic re-check (复核) is due
FUNERAL_CASE = "funeral_case"
FOLLOW_UP = "child_follow_up"  # a screening's follow-up


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
    # what a record of the source is (not every queue holds applications): its id (what a claim
    # names), the date its working days left count to, the field `states` are of and its label
    id_field: str = "application_id"
    due_field: str | None = "decision_due"
    state_field: str | None = "state"
    state_label: str = "状态"
    # the console's case page of a row: its path before the id, and the record field with the id;
    # `case_posted`: the id is a resident ID, so the row opens the page by a POST form, never by a
    # URL holding it (URLs are logged and kept in browser history)
    case_page: str | None = "/console/applications/"
    case_field: str = "application_id"
    case_posted: bool = False


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
        WorkQueue(
            name="assistance-reviews-due",
            title="待复核的救助（30 日内到期）",
            roles=("clerk", "admin"),
            source="reviews_due",
            record_kind=REVIEW,
            states=(),
            columns=(
                ("household_short", "家庭编号"),
                ("programme_title", "救助类别"),
                ("monthly_amount", "月救助金"),
                ("region_code", "所属区划"),
                ("next_review_on", "复核日期"),
                ("working_days_left", "剩余工作日"),
                ("review_check_title", "动态复核核对"),
                ("claimed_by", "认领人"),
            ),
            actions=(),
            empty="辖区内 30 日内暂无到期的复核。",
            filters=("claim", "overdue"),
            id_field="entitlement_id",
            due_field="next_review_on",
            state_field=None,
            case_page="/console/households/",
            case_field="household_id",
        ),
        WorkQueue(
            name="funeral-date-conflicts",
            title="死亡日期不一致的殡葬案件",
            roles=("clerk", "admin"),
            source="funeral_date_conflicts",
            record_kind=FUNERAL_CASE,
            states=(),
            columns=(
                ("short_id", "案件编号"),
                ("name", "逝者"),
                ("region_code", "所属区划"),
                ("reported_dates_text", "各方上报的死亡日期"),
                ("date_of_death", "案件现用日期"),
                ("state_title", "案件状态"),
                ("claimed_by", "认领人"),
            ),
            actions=(),
            empty="辖区内暂无死亡日期不一致的案件。",
            filters=("claim",),
            id_field="case_id",
            due_field=None,
            state_field=None,
            case_page="/console/funeral-cases/",
            case_field="case_id",
        ),
        WorkQueue(
            name="child-follow-ups",
            title="困境儿童待跟进（四色管理）",
            roles=("clerk", "admin"),
            source="child_follow_ups",
            record_kind=FOLLOW_UP,
            states=("red", "orange", "yellow", "green"),
            columns=(
                ("name", "儿童"),
                ("resident_id_masked", "身份证号"),
                ("state_title", "风险颜色"),
                ("village_code", "村（社区）"),
                ("follow_up_due", "跟进期限"),
                ("working_days_left", "剩余工作日"),
                ("claimed_by", "认领人"),
            ),
            actions=(),
            empty="辖区内暂无待跟进的儿童。",
            id_field="screening_id",
            due_field="follow_up_due",
            state_field="level",
            state_label="风险颜色",
            case_page="/console/children",
            case_field="resident_id",
            case_posted=True,
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
LEVEL_TITLES = {"red": "红色", "orange": "橙色", "yellow": "黄色", "green": "绿色"}  # 四色管理
CASE_STATE_TITLES = {"open": "办理中", "cremated": "已火化", "revoked": "已撤销"}  # a funeral case's
TITLES = {**STATE_TITLES, **LEVEL_TITLES, **CASE_STATE_TITLES}  # the states' words, in every queue


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
        kept = record.get(queue.state_field) if queue.state_field else None
        if queue.states and kept not in queue.states:
            continue
        if queue.notice_over and not (record.get("notice_ends") and str(record["notice_ends"]) < today.isoformat()):
            continue
        due = (
            date.fromisoformat(str(record[queue.due_field]))
            if queue.due_field and record.get(queue.due_field)
            else None
        )
        record_id = str(record[queue.id_field])
        held.append(
            {
                **record,
                **_derived(record),
                "record_id": record_id,
                "state": kept,
                "short_id": record_id[:8],
                "state_title": TITLES.get(kept or record.get("state") or "", kept or record.get("state")),
                "working_days_left": working_days_left(today, due),
                # the source's own word where it says; else past its due date
                "overdue": bool(record["overdue"]) if "overdue" in record else due is not None and due < today,
                "claimed_by": claims.get(record_id),
                "case_id": record.get(queue.case_field),
                "actions": [a for a in queue.actions if kept in a.states],
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
            r["record_id"],
        )
    )
    pages = max(1, -(-len(chosen) // per_page))
    page = min(max(1, page), pages)
    return Page(chosen[(page - 1) * per_page : page * per_page], len(chosen), counts, page, pages)


def mask(resident_id: str | None) -> str:
    """A resident ID as pages and queues show it: never in full (contracts.person's mask)."""
    return person_mask(resident_id) if resident_id else "—"


def yuan(fen) -> str:
    """Integer fen as yuan with two decimals (money is never a float on the way)."""
    if fen is None:
        return "—"
    sign, fen = ("-" if fen < 0 else ""), abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d} 元"


def _derived(record: dict) -> dict:
    """The words a queue's columns show of a record's raw fields: a programme's title, a masked
    resident ID, money in yuan, a list of dates, whether the re-check's economic check is done."""
    out: dict = {}
    if "programme" in record:
        out["programme_title"] = PROGRAMME_TITLES.get(record["programme"] or "", record["programme"])
    if record.get("household_id"):
        out["household_short"] = str(record["household_id"])[:8]
    if "resident_id" in record:
        out["resident_id_masked"] = mask(record["resident_id"])
    if isinstance(record.get("monthly_amount_fen"), int):
        out["monthly_amount"] = yuan(record["monthly_amount_fen"])
    if isinstance(record.get("reported_dates"), list):
        out["reported_dates_text"] = "、".join(str(d) for d in record["reported_dates"])
    if "review_check" in record:
        check = record["review_check"]
        out["review_check_title"] = None if check is None else ("已完成" if check.get("complete") else "进行中")
    return out
