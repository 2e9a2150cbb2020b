"""The care service on its own fresh database and the test's vhost: `care` yields (rpc, engine),
the clock set to 10 June 2026; bank files go to the test's temporary folder."""

from __future__ import annotations

from datetime import date

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import create_engine

from chassis.migrations import upgrade
from services.care.service import CareService


@pytest.fixture
def care(make_database, base_config, start_service, manual_clock, amqp_uri, tmp_path):
    url = make_database("care")
    upgrade("services/care", url)
    start_service(CareService, {**base_config, "DATABASE_URL": url, "BANK_FILES_DIR": str(tmp_path / "bank-files")})
    engine = create_engine(url)
    manual_clock.set_local_date(date(2026, 6, 10))
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as proxy:
        yield proxy.care, engine
    engine.dispose()
