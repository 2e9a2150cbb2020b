"""The console's words (zh-CN, the domain's own terms) and how values read on a page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from contracts.assistance import OPEN_APPLICATION_STATES as OPEN_APPLICATION_STATES  # a step may follow
from gateway.work_queues import LEVEL_TITLES, PROGRAMME_TITLES, TITLES
from gateway.work_queues import mask as mask  # a resident ID as pages show it (queues share it)
from gateway.work_queues import yuan as yuan  # money as pages show it (queues share it)

BEIJING = ZoneInfo("Asia/Shanghai")
SIGN_IN_ROLES = {
    "citizen": "群众（居民身份证号码）",
    "clerk": "经办人员（工号 + 所属区划）",
    "admin": "管理人员（工号）",
}
APPLICATION_STEPS = {
    "acceptance": "受理",
    "economic-check": "核对",
    "notice": "公示",
    "decision": "审批",
    "withdrawal": "撤回",  # the applicant's own step
}
MATTER_STATES = {
    "in_progress": "办理中",
    "waiting": "等待中",
    "completed": "已办结",
    "revoked": "已撤销",
    "rejected": "未通过",
}
STEP_STATES = {
    "pending": "待办",
    "not_started": "未开始",
    "waiting": "等待前序环节",
    "in_progress": "办理中",
    "done": "已完成",
    "rejected": "未通过",
    "not_applicable": "不适用",
    "reversed": "已撤回",
}
OWNERS = {
    "marriage": "婚姻登记机关",
    "police": "公安（户籍）",
    "health": "卫生健康",
    "medical_insurance": "医疗保障",
    "human_resources": "人力资源社会保障",
    "assistance": "社会救助",
    "funeral": "殡葬管理",
}
SOURCES = {"status": "状态"}
CHECK_STATUS = {"ok": "已返回", "timeout": "超时", "error": "失败", "not_found": "无记录"}
DECISIONS = {"approve": "批准", "reject": "不予批准"}
RELATIONSHIPS = {"head": "户主", "spouse": "配偶", "child": "子女", "parent": "父母", "other": "其他"}
programmes, states, levels = PROGRAMME_TITLES, TITLES, LEVEL_TITLES


def when(value) -> str:
    """An ISO instant in Beijing time, to the minute; a date as it is."""
    if not value:
        return "—"
    text = str(value)
    if "T" not in text:
        return text
    return datetime.fromisoformat(text).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def refusal(answer) -> str:
    """What the API said when it refused, in a sentence (its detail, with the fields it named)."""
    if not isinstance(answer, dict):
        return "操作未完成。"
    detail = answer.get("detail") or answer.get("title") or "操作未完成"
    errors = answer.get("errors") or {}
    named = "；".join(f"{field}: {reasons}" for field, reasons in list(errors.items())[:5])
    return f"操作未完成：{detail}" + (f"（{named}）" if named else "")


INFORMANTS = {"spouse": "配偶", "child": "子女", "parent": "父母", "sibling": "兄弟姐妹", "other": "其他亲属"}
CYCLE_STATES = {"frozen": "已冻结，待发送银行", "sent": "已发送，待银行回盘对账", "reconciled": "已对账"}
PAYMENT_STATES = {"pending": "待发放", "sent": "已发送银行", "paid": "已到账", "failed": "发放失败"}
OWNER_TITLES = {
    "gateway": "一件事联办",
    "assistance": "社会救助",
    "care": "养老服务",
    "funeral": "殡葬管理",
    "charity": "慈善",
}
ORGANISATION_KINDS = {"social_group": "社会团体", "social_service_institution": "社会服务机构", "foundation": "基金会"}
REGISTRATIONS = {"registered": "登记", "filed": "备案"}
ORGANISATION_STATES = {"active": "正常", "abnormal": "异常", "dormant": "僵尸（长期未活动）", "cancelled": "已注销"}
CHILD_CATEGORIES = {
    "orphan": "孤儿",
    "de_facto_unsupported": "事实无人抚养儿童",
    "distressed": "困境儿童",
    "left_behind": "留守儿童",
}
PLACEMENTS = {"institution": "机构养育", "community": "社会散居"}
SEXES = {"male": "男", "female": "女"}
NOTICE_SOURCES = {"hospital": "医院（死亡医学证明）", "police": "公安", "funeral_home": "殡仪馆", "family": "家属"}
BOOKINGS = {"transport": "遗体接运", "cremation": "遗体火化"}
BURIALS = {
    "tree": "树葬",
    "lawn": "草坪葬",
    "flower_bed": "花坛葬",
    "sea": "海葬",
    "niche": "骨灰堂格位",
    "traditional": "传统墓葬",
}
VERIFICATION = {"verified": "已核实", "awaiting": "待核实", "lapsed": "逾期未核实"}
UNITS = {
    "ratio": "",
    "per_10k": "每万人",
    "households": "户",
    "fen": "元",
    "yuan/person/year": "元/人/年",
    "working_days": "个工作日",
}


def bank_results(text: str) -> tuple[list[dict], int]:
    """The bank's answers as typed or pasted, one a line: `payment id,paid` or `payment id,failed,reason`
    (commas or tabs). Returns (the answers, 0), or ([], the first malformed line's number): the
    form's parsing only; what an answer may say is the API's to judge."""
    results = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace("\t", ",").split(",", 2)]
        if len(parts) < 2 or not parts[0].isdigit() or parts[1] not in ("paid", "failed"):
            return [], number
        results.append(
            {"payment_id": int(parts[0]), "status": parts[1], "reason": (parts[2] if len(parts) > 2 else "") or None}
        )
    return results, 0


def figure(value, unit: str) -> str:
    """An indicator's value as a page reads it: a ratio as a percentage, money in yuan."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "fen":
        return yuan(int(value))
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.2f} {UNITS.get(unit, unit)}".strip()
    return f"{int(value)} {UNITS.get(unit, unit)}".strip()


def chart_of(figures: list[dict]) -> dict:
    """What charts.js draws: the ratio figures (all on one 0-100% axis), now against target."""
    ratios = [f for f in figures if f.get("unit") == "ratio"]
    return {
        "titles": [f["title"] for f in ratios],
        "now": [None if f["value"] is None else round(f["value"] * 100, 1) for f in ratios],
        "target": [None if f["target"] is None else round(f["target"] * 100, 1) for f in ratios],
    }
