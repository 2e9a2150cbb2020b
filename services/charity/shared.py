"""What the parts of the charity service share: its module-level constants and helpers."""

from __future__ import annotations

from datetime import date

from sqlalchemy import String, cast, func, select

from services.charity.models import (
    AnnualReport,
    Campaign,
    Organisation,
)

_DETECTION_POLICY = (
    "charity.annual_report_deadline",
    "charity.abnormal_after_missing_reports",
    "charity.dormant_after_missing_reports",
)
_CHUNK = 5000  # rows per statement: well under the bind-parameter limits of PostgreSQL and SQLite


def _chunks(items: list) -> list[list]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _standing_query(organisation_ids: list[str] | None = None):
    """`CharityService._standing`'s query: the reports grouped per organisation (restricted to the
    ids given, so one organisation's read does not group every report), joined to the organisations."""
    reported = select(
        AnnualReport.organisation_id, func.aggregate_strings(cast(AnnualReport.year, String), ",").label("years")
    )
    query = select(Organisation.id, Organisation.region_code, Organisation.registered_on, Organisation.state)
    if organisation_ids is not None:
        reported = reported.where(AnnualReport.organisation_id.in_(organisation_ids))
        query = query.where(Organisation.id.in_(organisation_ids))
    reported = reported.group_by(AnnualReport.organisation_id).subquery()
    return (
        query.add_columns(reported.c.years)
        .outerjoin(reported, reported.c.organisation_id == Organisation.id)
        .where(Organisation.state != "cancelled")
        .order_by(Organisation.id)
    )


def _grade_in_force(org: Organisation, today: date) -> str | None:
    return org.grade if org.grade and org.grade_valid_until and org.grade_valid_until >= today else None


def _org_subject(org: Organisation) -> str:
    return f"organisation-{org.id}"


def _campaign_subject(campaign: Campaign) -> str:
    return f"campaign-{campaign.id}"


def _order_key(order_id: str) -> str:
    """The ledger key of care's order: the key the redemption command's callers were told to use
    for care's orders, so the command and the events never debit one order twice."""
    return f"care-order-{order_id}"
