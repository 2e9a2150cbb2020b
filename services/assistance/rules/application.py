"""The application's state machine (申请 → 受理 → 审核 → 公示 → 审批), as a table."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from types import MappingProxyType

from contracts.assistance import APPLICATION_STATES, OPEN_APPLICATION_STATES
from contracts.refusals import InvalidRuleInput, RuleRefused

from .policy import APPROVAL_LEVELS

# --- the application ------------------------------------------------------------------------------

SUBMITTED = "submitted"  # 申请
ACCEPTED = "accepted"  # 受理 by the township
CHECKED = "checked"  # 审核: home visit done, household economic check (核对) report attached
IN_NOTICE = "in_notice"  # 公示
APPROVED = "approved"  # 审批/确认 granted (payment is the payment side's business)
REJECTED = "rejected"  # 不予批准
WITHDRAWN = "withdrawn"  # 撤回 by the applicant

STATES = APPLICATION_STATES  # the names above, in the order the contract publishes them
OPEN_STATES = OPEN_APPLICATION_STATES  # SUBMITTED, ACCEPTED, CHECKED, IN_NOTICE
ACTIONS = ("accept", "attach_check", "publish_notice", "objection", "approve", "reject", "withdraw")

TRANSITIONS: Mapping[tuple[str, str], str] = MappingProxyType(
    {
        (SUBMITTED, "accept"): ACCEPTED,
        (ACCEPTED, "attach_check"): CHECKED,
        (CHECKED, "attach_check"): CHECKED,  # re-review: a fresh check report replaces the old one
        (CHECKED, "publish_notice"): IN_NOTICE,
        (CHECKED, "reject"): REJECTED,  # review finds the household ineligible: no notice needed
        (IN_NOTICE, "objection"): CHECKED,  # 异议: back to review
        (IN_NOTICE, "approve"): APPROVED,
        (IN_NOTICE, "reject"): REJECTED,
        **{(state, "withdraw"): WITHDRAWN for state in OPEN_STATES},
    }
)

_DECISIONS = ("approve", "reject")


def transition(
    state: str,
    action: str,
    *,
    on: date | None = None,
    notice_ends_on: date | None = None,
    acting_level: str | None = None,
    approval_level: str | None = None,
) -> str:
    """The state after `action`, or `RuleRefused` saying why not.

    Besides the table: an objection needs `on` within the notice (on ≤ `notice_ends_on`); approving
    or rejecting needs `acting_level` equal to the policy's `approval_level` (the township decides
    only where approval is delegated to it, and then the district does not), and, from the notice,
    `on` after the notice has ended. Unknown states or actions, and missing arguments, are
    programming errors (`InvalidRuleInput`)."""
    if state not in STATES:
        raise InvalidRuleInput(f"unknown application state {state!r}")
    if action not in ACTIONS:
        raise InvalidRuleInput(f"unknown action {action!r}")
    if state not in OPEN_STATES:
        raise RuleRefused(f"the application is already {state}; it cannot be {_past(action)}")
    new_state = TRANSITIONS.get((state, action))
    if new_state is None:
        allowed = sorted(a for (s, a) in TRANSITIONS if s == state)
        raise RuleRefused(
            f"an application that is {state.replace('_', ' ')} cannot be {_past(action)}; allowed: {', '.join(allowed)}"
        )
    if action in _DECISIONS:
        if acting_level not in APPROVAL_LEVELS or approval_level not in APPROVAL_LEVELS:
            raise InvalidRuleInput(
                f"{action} needs acting_level and approval_level, each one of {', '.join(APPROVAL_LEVELS)}"
            )
        if acting_level != approval_level:
            delegated = (
                "is delegated to the township" if approval_level == "township" else "is not delegated to the township"
            )
            raise RuleRefused(f"approval {delegated}: the {acting_level} cannot {action}; the {approval_level} decides")
    if state == IN_NOTICE and action in _DECISIONS + ("objection",):
        if on is None or notice_ends_on is None:
            raise InvalidRuleInput(f"{action} during or after the notice needs on and notice_ends_on")
        if action == "objection" and on > notice_ends_on:
            raise RuleRefused(
                f"the notice (公示) ended on {notice_ends_on.isoformat()}; objections were possible until then"
            )
        if action in _DECISIONS and on <= notice_ends_on:
            raise RuleRefused(
                f"the notice (公示) runs until {notice_ends_on.isoformat()}; a decision "
                f"can be made from {(notice_ends_on + timedelta(days=1)).isoformat()}"
            )
    return new_state


def _past(action: str) -> str:
    return {
        "accept": "accepted",
        "attach_check": "given a check report",
        "publish_notice": "put on notice",
        "objection": "objected to",
        "approve": "approved",
        "reject": "rejected",
        "withdraw": "withdrawn",
    }[action]
