"""The charity service on its own fresh database and the test's vhost: `charity` yields (rpc,
engine), the clock set to 10 June 2026; `organisation` makes a charity ready to raise money."""

from __future__ import annotations

from datetime import date

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine, text

from chassis.migrations import upgrade
from services.charity.service import CharityService

DISTRICT, TOWNSHIP = "330602", "330602001"
DISTRICT_CLERK = {"id": "social-org-office", "role": "clerk", "area": DISTRICT}
ADMIN = {"id": "ops", "role": "admin"}


@pytest.fixture
def charity(make_database, base_config, start_service, manual_clock, amqp_uri):
    url = make_database("charity")
    upgrade("services/charity", url)
    start_service(CharityService, {**base_config, "DATABASE_URL": url})
    engine = create_engine(url)
    manual_clock.set_local_date(date(2026, 6, 10))
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        yield proxy.charity, engine
    engine.dispose()


def org_request(seq: int, registered_on: str = "2020-03-01", region: str = DISTRICT, **changes) -> dict:
    return {
        "credit_code": f"53330602MJ{seq:07d}X",
        "name": f"越城区慈善总会{seq}",
        "kind": "social_group",
        "region_code": region,
        "legal_representative": "陈慈",
        "registered_on": registered_on,
        **changes,
    }


def qualified_charity(rpc, seq: int = 1, actor: dict = DISTRICT_CLERK, **changes) -> str:
    """Registered in 2020, reports up to date, graded 4A, recognised and qualified."""
    org = rpc.register_organisation(actor, org_request(seq, **changes))
    for year in range(2020, 2026):
        rpc.submit_annual_report(
            actor, org["organisation_id"], {"year": year, "income_fen": 1_000_000, "expenditure_fen": 900_000}
        )
    rpc.grade_organisation(actor, org["organisation_id"], {"grade": "4A", "graded_on": "2025-11-01"})
    rpc.recognise_charity(actor, org["organisation_id"])
    assert rpc.qualify_fundraising(actor, org["organisation_id"])["fundraising_qualified_on"] == "2026-06-10"
    return org["organisation_id"]


def count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
