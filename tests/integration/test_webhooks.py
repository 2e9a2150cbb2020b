"""Signed webhooks end to end: a receiver written here (a plain http.server) verifies every delivery
with the `standardwebhooks` library; events go in on the real broker, the intake and the
delivering loop run on the real database.

- registration within entitlements, widening only by an administrator, pause, resume, rotate, delete;
- every delivery verifies; a tampered body or a stale timestamp fails the library's check;
- CloudEvents binary mode: the ce-* headers parse with the `cloudevents` SDK, the body is the
  event's data projected to the partner's entitled fields;
- for one person a death.revoked never overtakes its death.notified;
- the receiver down for hours (moved clock): every delivery arrives once it is back;
- failing for 24 hours: the endpoint is disabled, webhook.endpoint_disabled published and recorded,
  the gauge raised; resumed and replayed, what was abandoned arrives;
- the delivering process killed (kill -9) mid-delivery: every entitled event reaches the receiver
  at least once, is processed once by its webhook-id, and nothing else arrives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from cloudevents.core.bindings.http import HTTPMessage, from_binary_event
from kombu import Connection, Exchange, Producer
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, select, text
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chassis.migrations import upgrade
from chassis.topology import EVENTS_EXCHANGE, declare_topology
from contracts.events import EVENTS
from contracts.partners import entitled_fields
from contracts.person import compose_resident_id
from gateway.asyncapi import example_of
from gateway.auth import issue_token
from gateway.service import GatewayService
from gateway.webhook_rules import sign
from gateway.webhooks import WebhooksService
from tests.conftest import free_port
from tests.helpers import PATIENCE, wait_for
from tests.system import ISSUER

ROOT = Path(__file__).resolve().parents[2]
DEATH_TYPES = ["death.notified", "death.revoked"]


class Receiver:
    """A partner's webhook endpoint: verifies with standardwebhooks, processes each webhook-id once."""

    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks"
        self.secrets: list[str] = []
        self.raw: list[tuple[dict, bytes]] = []  # every verified request, as it came
        self.processed: dict[str, dict] = {}  # webhook-id -> the event, the first time only
        self.order: list[tuple[str, str]] = []  # (subject, type) in the order first processed
        self.refused: list[str] = []
        self.hold: threading.Event | None = None  # while set up: the next request waits for release
        self.in_hand = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.answer_after = 0.0  # seconds each verified request takes to answer
        self.in_flight = self.most_in_flight = 0

    def verify(self, body: bytes, headers: dict):
        for secret in self.secrets:
            try:
                return Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
        raise WebhookVerificationError("no secret of ours signed it")

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    data = receiver.verify(body, headers)
                except WebhookVerificationError as exc:
                    receiver.refused.append(str(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                if receiver.hold is not None:
                    receiver.in_hand.set()
                    receiver.release.wait()
                with receiver.lock:
                    receiver.in_flight += 1
                    receiver.most_in_flight = max(receiver.most_in_flight, receiver.in_flight)
                time.sleep(receiver.answer_after)
                with receiver.lock:
                    receiver.in_flight -= 1
                with receiver.lock:
                    receiver.raw.append((headers, body))
                    webhook_id = headers["webhook-id"]
                    if webhook_id not in receiver.processed:
                        receiver.processed[webhook_id] = {
                            "type": headers["ce-type"],
                            "subject": headers["ce-subject"],
                            "id": headers["ce-id"],
                            "data": data,
                        }
                        receiver.order.append((headers["ce-subject"], headers["ce-type"]))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver():
    made = Receiver(free_port()).start()
    yield made
    made.release.set()
    made.stop()


class Webhooks:
    def __init__(self, url: str, amqp_uri: str, database: str):
        self.url, self.amqp_uri, self.database = url, amqp_uri, database
        self.engine = create_engine(database)

    def call(self, method, path, role, subject, json=None):
        token = issue_token(ISSUER, subject, role)
        return requests.request(
            method, self.url + path, json=json, headers={"Authorization": f"Bearer {token}"}, timeout=PATIENCE
        )

    def register(self, partner: str, url: str, event_types) -> dict:
        """An endpoint of `partner` for these types, approved by an administrator."""
        created = self.call(
            "POST", "/api/v1/partner/webhooks/endpoints", "partner", partner, {"url": url, "event_types": event_types}
        )
        assert created.status_code == 201, created.text
        for approval in self.call("GET", "/api/v1/webhooks/approvals", "admin", "ops-01").json()["approvals"]:
            if approval["state"] == "pending" and approval["endpoint_id"] == created.json()["endpoint_id"]:
                decided = self.call(
                    "POST",
                    f"/api/v1/webhooks/approvals/{approval['approval_id']}",
                    "admin",
                    "ops-01",
                    {"approve": True},
                )
                assert decided.status_code == 200, decided.text
        return created.json()

    def endpoint(self, partner, endpoint_id) -> dict:
        return self.call("GET", f"/api/v1/partner/webhooks/endpoints/{endpoint_id}", "partner", partner).json()

    def log(self, partner, endpoint_id) -> list[dict]:
        answer = self.call(
            "GET", f"/api/v1/partner/webhooks/endpoints/{endpoint_id}/deliveries?limit=1000", "partner", partner
        )
        assert answer.status_code == 200, answer.text
        return answer.json()["attempts"]

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM webhook_message WHERE state = 'pending'")).scalar_one()


@pytest.fixture
def webhooks(make_database, base_config, start_service, tmp_path):
    def boot(delivering: bool = True, **delivery) -> Webhooks:
        database = make_database("gateway")
        upgrade("gateway", database)
        declare_topology(base_config["AMQP_URI"])
        port = free_port()
        start_service(
            GatewayService,
            {
                **base_config,
                "DATABASE_URL": database,
                **ISSUER.gateway_config(tmp_path / f"jwks-{port}.json"),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                "WEBHOOK_ALLOW_HTTP_LOOPBACK": True,
            },
        )
        if delivering:
            start_service(
                WebhooksService,
                {**base_config, "DATABASE_URL": database, "WEBHOOK_POLL_INTERVAL": 0.05, "max_workers": 1, **delivery},
            )
        return Webhooks(f"http://127.0.0.1:{port}", base_config["AMQP_URI"], database)

    yield boot


def person(seq: int) -> str:
    return compose_resident_id("330602", datetime(1950, 5, 6).date(), seq)


def envelope(event_type: str, subject: str, data: dict, at: datetime) -> dict:
    event_id = str(uuid.uuid4())
    return {
        "id": event_id,
        "type": event_type,
        "source": sorted(EVENTS[event_type].publishers)[0],
        "time": at.isoformat(),
        "subject": subject,
        "data": data,
        "matter_id": str(uuid.uuid4()),
        "correlation_id": event_id,
        "causation_id": None,
        "schema_version": EVENTS[event_type].version,
    }


def death(seq: int, at: datetime) -> list[dict]:
    """A death notified and then revoked, for one person (subject)."""
    case = f"case-{uuid.uuid4()}"
    notified = {**example_of(EVENTS["death.notified"].schema), "case_id": case, "resident_id": person(seq)}
    revoked = {**example_of(EVENTS["death.revoked"].schema), "case_id": case, "resident_id": person(seq)}
    subject = f"death-case-{case}"
    return [
        envelope("death.notified", subject, notified, at),
        envelope("death.revoked", subject, revoked, at + timedelta(milliseconds=1)),
    ]


def publish(amqp_uri: str, *envelopes: dict) -> None:
    with Connection(amqp_uri) as conn:
        producer = Producer(conn.channel())
        for item in envelopes:
            producer.publish(
                item, exchange=Exchange(EVENTS_EXCHANGE, type="topic"), routing_key=item["type"], serializer="json"
            )


def metric(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_registration_signed_deliveries_in_order_and_the_endpoint_lifecycle(webhooks, receiver, manual_clock):
    sys_ = webhooks()
    endpoints = "/api/v1/partner/webhooks/endpoints"
    # not entitled: health receives no deaths; https required beyond loopback; a stranger is no partner
    refused = sys_.call(
        "POST", endpoints, "partner", "health", {"url": receiver.url, "event_types": ["death.notified"]}
    )
    assert refused.status_code == 422 and "event_types" in refused.json()["errors"], refused.text
    plain = sys_.call(
        "POST", endpoints, "partner", "police", {"url": "http://hr.example.gov.cn/x", "event_types": DEATH_TYPES}
    )
    assert plain.status_code == 422 and "url" in plain.json()["errors"]
    assert sys_.call("GET", endpoints, "citizen", person(1)).status_code == 403

    # within the entitlements but never approved: the endpoint waits for an administrator
    created = sys_.call("POST", endpoints, "partner", "police", {"url": receiver.url, "event_types": DEATH_TYPES})
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_") and endpoint["event_types"] == []
    assert endpoint["pending_event_types"] == DEATH_TYPES
    receiver.secrets = [endpoint["secret"]]
    approvals = sys_.call("GET", "/api/v1/webhooks/approvals", "admin", "ops-01").json()["approvals"]
    (approval,) = [a for a in approvals if a["endpoint_id"] == endpoint["endpoint_id"]]
    assert sys_.call("GET", "/api/v1/webhooks/approvals", "partner", "police").status_code == 403
    decided = sys_.call(
        "POST", f"/api/v1/webhooks/approvals/{approval['approval_id']}", "admin", "ops-01", {"approve": True}
    )
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    view = sys_.endpoint("police", endpoint["endpoint_id"])
    assert (view["event_types"], view["pending_event_types"], view["state"]) == (DEATH_TYPES, [], "active")
    assert "secret" not in view
    # the approved set now covers a second endpoint at once
    second = sys_.call(
        "POST", endpoints, "partner", "police", {"url": receiver.url + "/2", "event_types": ["death.notified"]}
    )
    assert second.json()["event_types"] == ["death.notified"]
    assert sys_.call("DELETE", f"{endpoints}/{second.json()['endpoint_id']}", "partner", "police").status_code == 200
    listed = sys_.call("GET", endpoints, "partner", "police").json()["endpoints"]
    assert [e["endpoint_id"] for e in listed] == [endpoint["endpoint_id"]]
    # another partner does not see it
    assert sys_.call("GET", f"{endpoints}/{endpoint['endpoint_id']}", "partner", "human_resources").status_code == 404

    now = manual_clock.now()
    deaths = [event for seq in range(3) for event in death(10 + seq, now)]
    unsubscribed = envelope(
        "marriage.registered", "registration-x", example_of(EVENTS["marriage.registered"].schema), now
    )  # police is entitled to it, the endpoint did not ask for it
    publish(sys_.amqp_uri, *deaths, unsubscribed)
    wait_for(lambda: len(receiver.processed) == 6, what="six deliveries")
    assert receiver.refused == []
    by_event = {e["id"]: e for e in deaths}
    for got in receiver.processed.values():
        sent = by_event[got["id"]]
        assert got["type"] == sent["type"] and got["subject"] == sent["subject"]
        fields = entitled_fields("police", sent["type"])
        assert got["data"] == {k: v for k, v in sent["data"].items() if k in fields}  # entitled fields only
        assert "reason" not in got["data"] and "region_code" not in got["data"]
    for subject in {e["subject"] for e in deaths}:
        assert [t for s, t in receiver.order if s == subject] == DEATH_TYPES  # revoked never first

    headers, body = receiver.raw[0]
    event = from_binary_event(HTTPMessage(headers=headers, body=body))  # CloudEvents binary mode
    assert event.get_specversion() == "1.0" and event.get_source() == "/tongban/funeral"
    assert event.get_id() in by_event and event.get_extension("matterid") == by_event[event.get_id()]["matter_id"]
    assert headers["content-type"] == "application/json"
    secret = endpoint["secret"]
    assert Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # tampered body
        Webhook(secret).verify(body.replace(b"case-", b"case_"), headers)
    with pytest.raises(WebhookVerificationError):  # an old delivery played again later: stale timestamp
        stale = int(time.time()) - 3600
        Webhook(secret).verify(
            body,
            {
                **headers,
                "webhook-timestamp": str(stale),
                "webhook-signature": sign(secret, headers["webhook-id"], stale, body),
            },
        )
    with pytest.raises(WebhookVerificationError):  # a signature of another secret
        Webhook(Webhook._SECRET_PREFIX + "c2VjcmV0LW9mLWFub3RoZXItcGFydG5lcg==").verify(body, headers)

    log = sys_.log("police", endpoint["endpoint_id"])
    assert len(log) == 6 and {a["outcome"] for a in log} == {"delivered"} and {a["status"] for a in log} == {204}
    assert all(a["latency_ms"] >= 0 and a["attempt"] == 1 for a in log)
    ops = sys_.call("GET", f"/api/v1/webhooks/endpoints/{endpoint['endpoint_id']}/deliveries", "admin", "ops-01")
    assert ops.status_code == 200 and len(ops.json()["attempts"]) == 6
    assert sys_.call("GET", f"{endpoints}/{endpoint['endpoint_id']}/deliveries", "partner", "health").status_code == 404

    # paused: kept, sent on resume
    paused = sys_.call("POST", f"{endpoints}/{endpoint['endpoint_id']}/pause", "partner", "police")
    assert paused.json()["state"] == "paused"
    manual_clock.advance(minutes=5)
    later = death(20, manual_clock.now())
    publish(sys_.amqp_uri, *later)
    wait_for(lambda: sys_.endpoint("police", endpoint["endpoint_id"])["backlog"] == 2, what="the paused backlog")
    assert len(receiver.processed) == 6
    # rotated while paused: the next deliveries carry both signatures for a day
    rotated = sys_.call("POST", f"{endpoints}/{endpoint['endpoint_id']}/secret", "partner", "police").json()
    assert rotated["secret"] != secret
    receiver.secrets = [rotated["secret"]]
    assert (
        sys_.call("POST", f"{endpoints}/{endpoint['endpoint_id']}/resume", "partner", "police").json()["state"]
        == "active"
    )
    wait_for(lambda: len(receiver.processed) == 8, what="the deliveries kept while paused")
    headers, body = receiver.raw[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(secret).verify(body, headers)  # the old secret still verifies, for the overlap
    assert receiver.refused == []

    # replay of a time range: the same webhook-ids again
    before = len(receiver.raw)
    replay = sys_.call(
        "POST",
        f"{endpoints}/{endpoint['endpoint_id']}/replay",
        "partner",
        "police",
        {"since": (now - timedelta(seconds=1)).isoformat(), "until": (now + timedelta(seconds=1)).isoformat()},
    )
    assert replay.status_code == 202 and replay.json()["replayed"] == 6, replay.text
    wait_for(lambda: len(receiver.raw) == before + 6, what="the replay")
    assert {h["webhook-id"] for h, _ in receiver.raw[before:]} <= set(receiver.processed)
    assert len(receiver.processed) == 8  # processed once each by webhook-id

    # widening an endpoint beyond the approved set waits for an administrator; refused, nothing changes
    wider = sys_.call(
        "PUT",
        f"{endpoints}/{endpoint['endpoint_id']}/event-types",
        "partner",
        "police",
        {"event_types": [*DEATH_TYPES, "death.date_corrected"]},
    )
    assert wider.status_code == 200, wider.text
    assert (wider.json()["event_types"], wider.json()["pending_event_types"]) == (DEATH_TYPES, ["death.date_corrected"])
    (asked,) = [
        a
        for a in sys_.call("GET", "/api/v1/webhooks/approvals", "admin", "ops-01").json()["approvals"]
        if a["state"] == "pending"
    ]
    no = sys_.call("POST", f"/api/v1/webhooks/approvals/{asked['approval_id']}", "admin", "ops-01", {"approve": False})
    assert no.json()["state"] == "refused"
    view = sys_.endpoint("police", endpoint["endpoint_id"])
    assert (view["event_types"], view["pending_event_types"]) == (DEATH_TYPES, [])
    again = sys_.call(
        "POST", f"/api/v1/webhooks/approvals/{asked['approval_id']}", "admin", "ops-01", {"approve": True}
    )
    assert again.status_code == 422  # decided once
    beyond = sys_.call(
        "PUT",
        f"{endpoints}/{endpoint['endpoint_id']}/event-types",
        "partner",
        "police",
        {"event_types": ["care.order_requested"]},
    )
    assert beyond.status_code == 422  # not entitled at all


def test_the_receiver_down_for_hours_gets_every_delivery_once_it_is_back(webhooks, receiver, manual_clock):
    sys_ = webhooks()
    endpoint = sys_.register("police", receiver.url, DEATH_TYPES)
    receiver.secrets = [endpoint["secret"]]
    receiver.stop()
    delivered_before = metric("tongban_webhook_deliveries_total", partner="police", outcome="delivered")
    events = [event for seq in range(4) for event in death(30 + seq, manual_clock.now())]
    publish(sys_.amqp_uri, *events)

    def failed_heads():
        return {
            a["webhook_id"] for a in sys_.log("police", endpoint["endpoint_id"]) if a["outcome"] == "failed_attempt"
        }

    wait_for(lambda: len(failed_heads()) == 4, what="a failed attempt for each person's first event")
    # only the heads were tried: each person's death.revoked waits behind its death.notified
    assert len(sys_.log("police", endpoint["endpoint_id"])) >= 4 and sys_.pending() == 8
    wait_for(lambda: metric("tongban_webhook_backlog", partner="police") == 8, what="the backlog gauge")
    assert metric("tongban_webhook_oldest_pending_seconds", partner="police") >= 0
    for _ in range(6):  # three hours, in half-hour steps: attempts keep failing, nothing is given up
        manual_clock.advance(minutes=30)
        tried = len(sys_.log("police", endpoint["endpoint_id"]))
        wait_for(lambda t=tried: len(sys_.log("police", endpoint["endpoint_id"])) > t, what="another attempt")
    assert sys_.endpoint("police", endpoint["endpoint_id"])["state"] == "active"
    receiver.start()
    manual_clock.advance(hours=1)  # past any backoff
    wait_for(lambda: len(receiver.processed) == 8, what="every delivery once the receiver is back")
    assert {got["id"] for got in receiver.processed.values()} == {e["id"] for e in events}
    for subject in {e["subject"] for e in events}:
        assert [t for s, t in receiver.order if s == subject] == DEATH_TYPES
    wait_for(lambda: metric("tongban_webhook_backlog", partner="police") == 0, what="the backlog drained")
    assert metric("tongban_webhook_deliveries_total", partner="police", outcome="delivered") - delivered_before >= 8


def test_deliveries_in_flight_stay_within_the_concurrency_across_every_loop(webhooks, receiver, manual_clock):
    """WEBHOOK_CONCURRENCY bounds the sends of all WEBHOOK_LOOPS passes together: a partner's server
    gets no more requests at once than that, and the connection pool (sized by it) is never short."""
    sys_ = webhooks(WEBHOOK_CONCURRENCY=3, WEBHOOK_LOOPS=4, WEBHOOK_BATCH=10)
    endpoint = sys_.register("police", receiver.url, DEATH_TYPES)
    receiver.secrets, receiver.answer_after = [endpoint["secret"]], 0.1
    events = [event for seq in range(20) for event in death(200 + seq, manual_clock.now())]
    publish(sys_.amqp_uri, *events)
    wait_for(lambda: len(receiver.processed) == len(events), what="every delivery")
    assert {got["id"] for got in receiver.processed.values()} == {e["id"] for e in events}
    assert 1 < receiver.most_in_flight <= 3, receiver.most_in_flight
    assert len(receiver.raw) == len(events)  # none sent twice


def test_an_endpoint_failing_for_24_hours_is_disabled_and_ops_are_told(webhooks, receiver, manual_clock):
    sys_ = webhooks()
    endpoint = sys_.register("human_resources", receiver.url, ["death.notified"])
    receiver.secrets = [endpoint["secret"]]
    receiver.stop()
    (notified, _) = death(40, manual_clock.now())
    publish(sys_.amqp_uri, notified)
    wait_for(lambda: sys_.log("human_resources", endpoint["endpoint_id"]), what="the first failed attempt")
    manual_clock.advance(hours=24, minutes=1)
    wait_for(lambda: sys_.endpoint("human_resources", endpoint["endpoint_id"])["state"] == "disabled", what="disabled")
    view = sys_.endpoint("human_resources", endpoint["endpoint_id"])
    assert "24 hours" in view["disabled_reason"] and view["disabled_at"]
    assert sys_.log("human_resources", endpoint["endpoint_id"])[0]["outcome"] == "abandoned"
    wait_for(lambda: metric("tongban_webhook_endpoints_disabled", partner="human_resources") == 1, what="the gauge")
    # a disabled endpoint's deliveries are not backlog
    wait_for(lambda: metric("tongban_webhook_backlog", partner="human_resources") == 0, what="no backlog")

    def told():  # the event went through the broker to operations' consumer, which audited it
        with sys_.engine.connect() as conn:
            return conn.execute(
                text("SELECT details FROM audit_log WHERE action = 'webhook.disable_endpoint' AND subject = :s"),
                {"s": f"webhook-endpoint-{endpoint['endpoint_id']}"},
            ).all()

    (row,) = wait_for(told, what="webhook.endpoint_disabled published and recorded")
    with sys_.engine.connect() as conn:
        (body,) = conn.execute(
            select(text("body")).select_from(text("outbox")).where(text("event_type = 'webhook.endpoint_disabled'"))
        ).one()
    assert body["data"]["partner"] == "human_resources" and body["data"]["endpoint_id"] == endpoint["endpoint_id"]

    # the partner fixes its endpoint, resumes and replays what was abandoned
    receiver.start()
    path = f"/api/v1/partner/webhooks/endpoints/{endpoint['endpoint_id']}"
    assert sys_.call("POST", f"{path}/resume", "partner", "human_resources").json()["state"] == "active"
    replay = sys_.call(
        "POST",
        f"{path}/replay",
        "partner",
        "human_resources",
        {"since": "2000-01-01T00:00:00+00:00", "until": (manual_clock.now() + timedelta(days=1)).isoformat()},
    )
    assert replay.json()["replayed"] == 1
    wait_for(lambda: len(receiver.processed) == 1, what="the abandoned delivery, replayed")
    wait_for(lambda: metric("tongban_webhook_endpoints_disabled", partner="human_resources") == 0, what="re-enabled")


def start_delivering_process(sys_: Webhooks, amqp_uri: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "GATEWAY_DATABASE_URL": sys_.database,
        "WEBHOOKS_HTTP": f"127.0.0.1:{free_port()}",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",
    }
    nameko = str(Path(sys.executable).parent / "nameko")
    return subprocess.Popen(
        [nameko, "run", "--config", "infra/config/webhooks.yaml", "gateway.webhooks:WebhooksService"], cwd=ROOT, env=env
    )


def test_killed_mid_delivery_every_entitled_event_arrives_and_is_processed_once(
    webhooks, receiver, manual_clock, amqp_uri
):
    sys_ = webhooks(delivering=False)  # the API here; the delivering process a subprocess
    endpoint = sys_.register("medical_insurance", receiver.url, ["death.notified", "death.revoked", "birth.notified"])
    receiver.secrets = [endpoint["secret"]]
    now = datetime.now(UTC)
    entitled = [event for seq in range(10) for event in death(50 + seq, now)]
    not_entitled = [  # medical insurance is not told of marriages; this endpoint did not ask for approvals
        envelope("marriage.registered", "registration-y", example_of(EVENTS["marriage.registered"].schema), now),
        envelope("assistance.approved", "household-z", example_of(EVENTS["assistance.approved"].schema), now),
    ]
    receiver.hold = threading.Event()  # the first delivery is held in hand until the process is dead
    process = start_delivering_process(sys_, amqp_uri)
    try:
        publish(amqp_uri, *entitled[:6], not_entitled[0], *entitled[6:], not_entitled[1])
        # the delivering process boots first (imports, nameko, its consumer): slow on a busy machine
        wait_for(receiver.in_hand.is_set, timeout=3 * PATIENCE, what="a delivery in hand")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=PATIENCE)
        receiver.hold = None
        receiver.release.set()
        process = start_delivering_process(sys_, amqp_uri)
        wait_for(lambda: len(receiver.processed) == len(entitled), timeout=3 * PATIENCE, what="every entitled event")
        wait_for(lambda: sys_.pending() == 0, what="nothing left pending")
    finally:
        process.kill()
        process.wait(timeout=PATIENCE)
    assert receiver.refused == []
    assert {got["id"] for got in receiver.processed.values()} == {e["id"] for e in entitled}
    assert {got["type"] for got in receiver.processed.values()} == {"death.notified", "death.revoked"}
    ids = [h["webhook-id"] for h, _ in receiver.raw]
    assert set(ids) == set(receiver.processed)  # nothing else arrived
    # the delivery in hand when the process died arrived again (at least once), processed once by its id
    assert len(ids) > len(set(ids))
    for subject in {e["subject"] for e in entitled}:
        assert [t for s, t in receiver.order if s == subject] == DEATH_TYPES
    with sys_.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM webhook_message")).scalar_one() == len(entitled)
