"""What the parts of the assistance service share: the policy parameters it reads, the outcome of
a benefit computation, and small view and authorisation helpers."""

from __future__ import annotations

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
)
from contracts.person import ResidentId
from contracts.roles import ADMIN
from services.assistance.models import (
    Application,
    Entitlement,
)

MATTER_TYPE = "assistance_linked_items"
# rules.AssistancePolicy field → policy parameter (chassis.policy); asset limits and the temporary
# caps are derived below.
POLICY_PARAMETERS = {
    "dibao_standard_monthly_fen": "assistance.dibao_standard_monthly_fen",
    "edge_ratio": "assistance.edge_ratio",
    "tekun_basic_ratio": "assistance.tekun_basic_ratio",
    "tekun_care_monthly_fen": "assistance.tekun_care_monthly_fen",
    "increments": "assistance.increment_ratios",
    "temporary_grades": "assistance.temporary_grades",
    "township_direct_threshold_fen": "assistance.township_direct_threshold_fen",
    "gradual_exit_months": "assistance.gradual_exit_months",
    "asset_limit_per_person_fen": "assistance.asset_limit_per_person_fen",
    "decision_working_days": "assistance.decision_working_days",
    "notice_days": "assistance.notice_days",
    "approval_level": "assistance.approval_level",
}
ACTION_AUDIT = {
    "accept": "accepted",
    "attach_check": "checked",
    "publish_notice": "in_notice",
    "objection": "objected",
    "approve": "approved",
    "reject": "rejected",
    "withdraw": "withdrawn",
}


def _entitlement_fields(entitlement: Entitlement) -> dict:
    """An entitlement's fields for EntitlementViewSchema (dumped alone, or nested in a household's view)."""
    return {
        "entitlement_id": entitlement.id,
        "programme": entitlement.programme,
        "monthly_amount_fen": entitlement.monthly_amount_fen,
        "starts_on": entitlement.starts_on,
        "ends_on": entitlement.ends_on,
        "gradual_exit_until": entitlement.gradual_exit_until,
        "exit_reason": entitlement.exit_reason,
        "next_review_on": entitlement.next_review_on,
        "policy_version": entitlement.policy_version,
    }


def _require_payments_office(actor: Actor) -> None:
    """The payment run is city-wide: the bureau's payments office (admin) runs it, not a township."""
    if actor.role != ADMIN:
        raise Forbidden("only the bureau's payments office (admin) runs payment cycles")


def _acting_level(actor: Actor) -> str:
    """A district bureau (6-digit area) or a township (9-digit area) decides; nobody else."""
    level = {6: "district", 9: "township"}.get(len(actor.area or ""))
    if level is None:
        raise Forbidden(
            f"decisions are made by a district bureau or a township, not by an actor with area {actor.area}"
        )
    return level


def _require(data: dict, field: str, what: str) -> None:
    if data.get(field) is None:
        raise InvalidInput(
            f"{field} is needed to approve this programme", errors={field: [f"required to approve: {what}"]}
        )


def _subject(application: Application) -> str:
    return f"application-{application.id}"


def _masked(resident_id: str) -> str:
    return str(ResidentId.parse(resident_id))


def _within_days(within_days) -> int:
    if not isinstance(within_days, int) or isinstance(within_days, bool) or not 0 <= within_days <= 366:
        raise InvalidInput("within_days is a whole number of days from 0 to 366", errors={"within_days": ["0 to 366"]})
    return within_days
