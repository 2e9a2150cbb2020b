"""Indicators (一组数据看态势): the one shape every service reports its figures in, and the one way a
figure is judged against its target.

Each owner computes its own figures from its own data in its `region_indicators(actor,
region_code, on)` RPC; the gateway gathers them. A target is policy data like any other parameter
(versioned by region and date, with its source): a row named `indicator.<name>` whose value is
`{"target": <number>, "comparison": "at_least" | "at_most"}`, or an existing parameter the owner
already keeps (the legal time limit of a decision). No target in force for the region: the figure
is reported and not judged (`met` is None), never judged against a default.

Pure except for `target_of`, which reads the policy book it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from chassis.audit import Actor
from chassis.errors import InvalidInput
from chassis.policy import PolicyBook, PolicyMissing, PolicyValue
from chassis.regions import require_known_division

__all__ = ["COMPARISONS", "Target", "judge", "indicator", "target_of", "indicator_request", "report", "year_to_date"]

COMPARISONS = ("at_least", "at_most")


@dataclass(frozen=True)
class Target:
    value: float
    comparison: str  # at_least | at_most
    version: str | None  # the policy version it came from
    source: str | None  # the document or law that sets it

    @classmethod
    def of(cls, policy: PolicyValue, comparison: str | None = None) -> Target:
        """From a policy row: an `indicator.*` mapping, or a bare number with the comparison the
        owner gives (a time limit is at most, a standard at least)."""
        raw = policy.value
        if isinstance(raw, dict):
            value, comparison = raw.get("target"), raw.get("comparison")
        else:
            value = raw
        if isinstance(value, bool) or not isinstance(value, int | float) or comparison not in COMPARISONS:
            raise InvalidInput(f"{policy.version} is not a usable target: a number and at_least or at_most")
        return cls(float(value), comparison, policy.version, policy.source)


def judge(value: float | int | None, target: Target | None) -> bool | None:
    """Met or not, on the figure as reported (the rounded value a reader sees is the one judged);
    None when there is no figure (nothing to divide by) or no target in force."""
    if value is None or target is None:
        return None
    if target.comparison == "at_least":
        return value >= target.value
    return value <= target.value


def indicator(
    name: str,
    title: str,
    unit: str,
    value: float | int | None,
    target: Target | None,
    counts: dict[str, int] | None = None,
    programme: str | None = None,
    met: bool | None = None,
) -> dict:
    """One figure as every owner reports it: `counts` are the numbers it was computed from; `met`
    when the owner judges it exactly (in whole fen) rather than on the rounded figure."""
    return {
        "name": name,
        "title": title,
        "unit": unit,
        "programme": programme,
        "value": value,
        "target": target.value if target else None,
        "comparison": target.comparison if target else None,
        "met": met if met is not None and target is not None else judge(value, target),
        "target_version": target.version if target else None,
        "target_source": target.source if target else None,
        "counts": counts or {},
    }


def target_of(book: PolicyBook, name: str, region_code: str, on: date, comparison: str | None = None):
    """The target in force for the region on the day, or None (the figure is then not judged)."""
    try:
        return Target.of(book.resolve(name, region_code, on), comparison)
    except PolicyMissing:
        return None


def indicator_request(actor: dict, region_code, on) -> tuple[Actor, str, date]:
    """The caller, a real division code and the date of a `region_indicators` call (the gateway
    checked them already; a service asked directly checks them again), staff of that area only."""
    staff = Actor.from_dict(actor)
    require_known_division(region_code)
    try:
        day = date.fromisoformat(on) if isinstance(on, str) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInput("not a date", errors={"date": ["an ISO date, YYYY-MM-DD"]})
    staff.require_staff_in(region_code)
    return staff, region_code, day


def year_to_date(on: date) -> tuple[date, date]:
    """The period of a flow figure (spending, decisions, burials, matters): 1 January of the year
    to the day itself; stocks (caseload, beds, organisations) are counted on the day."""
    return date(on.year, 1, 1), on


def report(owner: str, region_code: str, on: date, figures: list[dict]) -> dict:
    """A `region_indicators` reply: the owner's figures, each naming it."""
    return {"region_code": region_code, "on": on.isoformat(), "indicators": [{**f, "owner": owner} for f in figures]}
