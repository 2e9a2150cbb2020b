"""Policy parameters as data: amounts, ratios, thresholds and legal periods by region and date.

A value is looked up for a division code on a date: the most specific region that has a version
in force wins (village → township → district → city → province → national "000000"), and within
it the latest `effective_from` on or before the date. Every decision keeps the returned
`version` string, so it can always be said which figure it used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from nameko.extensions import DependencyProvider
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from chassis.clock import clock_for
from chassis.db import Database
from chassis.errors import Conflict, InvalidInput
from chassis.regions import NATIONAL, region_ancestors
from chassis.tables import policy_parameters

__all__ = ["NATIONAL", "region_ancestors", "PolicyMissing", "PolicyValue", "PolicyBook", "Policy"]


class PolicyMissing(InvalidInput):
    """No version of a policy parameter is in force for the region on the day: the request is
    refused (422, naming the field that gave the region and the policy), never decided by a
    default. There is no national row of nothing to fall back on."""

    title = "No policy in force for the region"

    @classmethod
    def of(cls, name: str, region_code: str, on: date, field: str) -> PolicyMissing:
        return cls(
            f"no policy {name!r} in force for region {region_code} on {on}",
            errors={field: [f"{region_code} has no policy {name} in force on {on}"]},
            code="no_policy",
        )


@dataclass(frozen=True)
class PolicyValue:
    name: str
    value: object
    region_code: str
    effective_from: date
    source: str | None = None  # where the figure comes from (a document, a law, "assumed")

    @property
    def version(self) -> str:
        return f"{self.region_code}/{self.name}@{self.effective_from.isoformat()}"


class PolicyBook:
    def __init__(self, session_getter, clock):
        self._session = session_getter
        self._clock = clock

    def resolve(self, name: str, region_code: str, on: date, field: str = "region_code") -> PolicyValue:
        """The version in force; `field`: the request field the region came from, named when
        there is none (PolicyMissing)."""
        session: Session = self._session()
        chain = region_ancestors(region_code)
        rows = session.execute(
            select(
                policy_parameters.c.region_code,
                policy_parameters.c.value,
                policy_parameters.c.effective_from,
                policy_parameters.c.source,
            ).where(
                policy_parameters.c.name == name,
                policy_parameters.c.region_code.in_(chain),
                policy_parameters.c.effective_from <= on,
            )
        ).all()
        if not rows:
            raise PolicyMissing.of(name, region_code, on, field)
        best = min(rows, key=lambda r: (chain.index(r.region_code), -r.effective_from.toordinal()))
        return PolicyValue(name, best.value, best.region_code, best.effective_from, best.source)

    def add(
        self, name: str, region_code: str, effective_from: date, value, source: str, recorded_by: str
    ) -> PolicyValue:
        session: Session = self._session()
        exists = session.execute(
            select(policy_parameters.c.id).where(
                policy_parameters.c.name == name,
                policy_parameters.c.region_code == region_code,
                policy_parameters.c.effective_from == effective_from,
            )
        ).first()
        if exists:
            raise Conflict(
                f"{name} for {region_code} from {effective_from} already exists; "
                "versions are never edited, add one with a later date"
            )
        session.execute(
            insert(policy_parameters).values(
                name=name,
                region_code=region_code,
                effective_from=effective_from,
                value=value,
                source=source,
                recorded_at=self._clock.now(),
                recorded_by=recorded_by,
            )
        )
        return PolicyValue(name, value, region_code, effective_from, source)


class Policy(DependencyProvider):
    def setup(self):
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.clock = clock_for(self.container.config)

    def get_dependency(self, worker_ctx):
        return PolicyBook(lambda: self.database.session_for(worker_ctx), self.clock)
