"""The whole system in one test process: marriage, gateway (edge, progress, partner feed) and,
when asked, assistance with its partner data sources, care, charity, funeral, and the partner simulator, each on its own fresh database and the test's own vhost."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date

import eventlet
import pytest
import requests

from chassis.migrations import upgrade
from contracts.partners import PARTNERS
from contracts.person import compose_resident_id
from gateway.auth import Issuer, issue_token
from gateway.partner_feed import PartnerFeedService
from gateway.progress import ProgressService
from gateway.service import GatewayService
from infra.partner_data import DEV_SOURCE_TOKEN, PartnerData, serve
from infra.partner_sim import PartnerSimulator, provision_simulated
from infra.partners import PartnerBroker, broker_for_vhost
from infra.scratch import BROKER_ADMIN_URL
from services.assistance.service import AssistanceService
from services.care.service import CareService
from services.charity.service import CharityService
from services.funeral.service import FuneralService
from services.marriage.service import MarriageService
from tests.conftest import free_port
from tests.helpers import CHECK_TIMEOUT_SECONDS, PATIENCE

# The identity provider of the tests: one ES256 key, its public JWKS written for each system booted.
# Tests mint their tokens through `System.token()` / `System.call()`, and nowhere else.
ISSUER = Issuer.generate()


@dataclass
class System:
    url: str
    marriage_url: str
    amqp_uri: str
    databases: dict
    partner_amqp_uri: str  # the partner vhost, as the broker's administrator (for the test's own reads)
    partners: PartnerBroker  # provisions partners' identities on it
    simulator: PartnerSimulator | None = None
    partner_data: PartnerData | None = None  # the departments' 核对 sources, with assistance
    start_progress: object = None  # with progress=False: starts the progress projection later
    session: requests.Session = field(default_factory=requests.Session)

    def token(self, role: str, subject: str, area: str | None = None, org: str | None = None) -> str:
        return issue_token(ISSUER, subject, role, area, org=org)

    def call(self, method: str, path: str, as_: tuple, json=None, headers=None) -> requests.Response:
        role, subject, *area_and_org = as_  # (role, subject[, area[, org]])
        all_headers = {"Authorization": f"Bearer {self.token(role, subject, *area_and_org)}", **(headers or {})}
        return self.session.request(method, self.url + path, json=json, headers=all_headers, timeout=PATIENCE)


_sequences: dict[tuple, itertools.cycle] = {}


def person(birth: date, sex: str, division: str = "330602", seq: int | None = None) -> str:
    """A valid resident ID number for a person born on `birth`. Unnamed sequence numbers go round a
    shuffled cycle per birth, sex and division, so no two of 500 people drawn alike are one person
    (random draws were: two couples sharing a spouse made a test fail now and then)."""
    if seq is None:
        key = (division, birth, sex)
        if key not in _sequences:
            numbers = list(range(0, 999, 2))
            random.shuffle(numbers)
            _sequences[key] = itertools.cycle(numbers)
        seq = next(_sequences[key])
    seq = seq - (seq % 2) + (1 if sex == "male" else 0)
    return compose_resident_id(division, birth, seq)


@pytest.fixture
def system(make_database, base_config, start_service, manual_clock, tmp_path, scratch):
    def boot(
        simulator: bool = False,
        assistance: PartnerData | None = None,
        care: bool = False,
        charity: bool = False,
        funeral: bool = False,
        simulated_partners: tuple | None = None,
        progress: bool = True,
        **overrides,
    ) -> System:
        """`assistance`: also run the assistance service, its 核对 sources answered by this PartnerData
        (one-second timeout per fetch). `simulated_partners`: the departments the simulator plays
        (default every one). `progress=False`: the progress projection is not started until the
        test calls `start_progress()` (its queue fills meanwhile)."""
        # the partner-facing vhost: its topology and the feed's account, as `make run` has them
        partner_admin_uri = scratch.vhost("partners")
        partners = broker_for_vhost(partner_admin_uri, BROKER_ADMIN_URL)
        brokers.append(partners)
        feed = partners.setup()
        urls = {"marriage": make_database("marriage"), "gateway": make_database("gateway")}
        upgrade("services/marriage", urls["marriage"])
        upgrade("gateway", urls["gateway"])
        port = free_port()
        common = {**base_config, "PARTNER_AMQP_URI": feed["uri"], **overrides}
        if care:
            urls["care"] = make_database("care")
            upgrade("services/care", urls["care"])
            start_service(
                CareService,
                {
                    **common,
                    "DATABASE_URL": urls["care"],
                    "BANK_FILES_DIR": str(tmp_path / "bank-files"),
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                },
            )
        if charity:
            urls["charity"] = make_database("charity")
            upgrade("services/charity", urls["charity"])
            start_service(
                CharityService,
                {**common, "DATABASE_URL": urls["charity"], "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"},
            )
        if funeral:
            urls["funeral"] = make_database("funeral")
            upgrade("services/funeral", urls["funeral"])
            start_service(
                FuneralService,
                {**common, "DATABASE_URL": urls["funeral"], "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}"},
            )
        if assistance is not None:
            urls["assistance"] = make_database("assistance")
            upgrade("services/assistance", urls["assistance"])
            data_port = free_port()
            servers.append(serve(assistance, data_port))
            sources.append(assistance)
            start_service(
                AssistanceService,
                {
                    **common,
                    "DATABASE_URL": urls["assistance"],
                    "CHECK_SOURCES_URL": f"http://127.0.0.1:{data_port}",
                    "CHECK_SOURCES_TOKEN": DEV_SOURCE_TOKEN,
                    "CHECK_TIMEOUT_SECONDS": CHECK_TIMEOUT_SECONDS,
                    "BANK_FILES_DIR": str(tmp_path / "bank-files"),
                    "WEB_SERVER_ADDRESS": f"127.0.0.1:{free_port()}",
                },
            )
        marriage_port = free_port()
        start_service(
            MarriageService,
            {
                **common,
                "DATABASE_URL": urls["marriage"],
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{marriage_port}",
                "E_CERTIFICATE_KEY": "test-e-certificate-signing-key",
            },
        )

        def start_progress():
            return start_service(ProgressService, {**common, "DATABASE_URL": urls["gateway"]})

        if progress:
            start_progress()
        start_service(PartnerFeedService, {**common, "DATABASE_URL": urls["gateway"]})
        start_service(
            GatewayService,
            {
                **common,
                "DATABASE_URL": urls["gateway"],
                **ISSUER.gateway_config(tmp_path / f"jwks-{port}.json"),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                **overrides,
            },
        )
        built = System(
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{marriage_port}",
            common["AMQP_URI"],
            urls,
            partner_admin_uri,
            partners,
            partner_data=assistance,
            start_progress=None if progress else start_progress,
        )
        if simulator:
            # each department and provider the simulator plays logs in with its own identity
            identities = provision_simulated(partners, simulated_partners or tuple(PARTNERS))
            built.simulator = PartnerSimulator(identities, built.url, ISSUER)
            thread = eventlet.spawn(built.simulator.run)
            stops.append((built.simulator, thread))
        return built

    stops: list = []
    servers: list = []
    brokers: list[PartnerBroker] = []
    sources: list[PartnerData] = []
    yield boot
    for simulator, thread in stops:
        simulator.stop()
        thread.wait()
    for server in servers:
        server.shutdown()
    for data in sources:  # across every test with sources: no URL the system requested holds an ID
        assert data.urls_with_resident_ids() == [], "a resident ID in a URL requested of a data source"
    for broker in brokers:  # users are the broker's, not the vhost's: they outlive it unless deleted
        broker.delete_users()
