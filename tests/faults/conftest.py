"""The fault suite's fixtures: one private three-node broker cluster and one scratch PostgreSQL for
the whole run (tests/faults/bed.py); each case boots the system afresh on its own vhost and databases."""

import os

import pytest

from tests.faults.bed import Bed

PROFILE = os.environ.get("FAULTS_PROFILE", "short")
INSTANCES = int(os.environ.get("FAULTS_INSTANCES", "3"))
# the cases in which a department takes its events by signed webhook (its endpoint is what fails)
WEBHOOK_PARTNER = {"partner_down_an_hour": "human_resources"}


@pytest.fixture(scope="session")
def infrastructure():
    bed = Bed(instances=INSTANCES)
    bed.start_infrastructure()
    yield bed
    bed.stop_infrastructure()


@pytest.fixture
def bed(infrastructure, request):
    case = request.node.callspec.id if hasattr(request.node, "callspec") else request.node.name
    try:
        infrastructure.start_system(
            case.replace("-", "_"),
            int(os.environ.get("TONGBAN_FAULTS_HTTP_BASE", "8600")),
            webhook_partner=WEBHOOK_PARTNER.get(case),
        )
        yield infrastructure
    finally:
        infrastructure.stop_system()
