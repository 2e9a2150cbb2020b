"""A partner-department simulator: plays every partner department (health 卫健, police 公安,
medical insurance 医保, the 救助一件事 departments, home-care providers) over the same protocols a
real one uses.

It is an outside client: each department (and each home-care provider) logs in to the partner
vhost with its own broker identity (infra.partners), consumes its own queue `partner.<code>`
(`partner.<code>.<organisation>`) with a prefetch and manual acks, and reports its step back through the gateway's partner API (HTTPS + bearer token, with the event id as
Idempotency-Key), so a redelivered event is reported once. As the hospital, it can also notify a birth.

    python -m infra.partner_sim run --credentials var/partners.json [--gateway URL] [--reject police:hukou_update]
    python -m infra.partner_sim birth --mother ID --father ID --name 小明 --sex male
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue as stdlib_queue
import threading
import time
import uuid
import zlib
from datetime import date
from pathlib import Path

import requests
from kombu import Connection, Consumer, Queue
from prometheus_client import Counter, start_http_server
from requests.adapters import HTTPAdapter

from chassis.logs import get_logger
from contracts.partners import PARTNERS
from contracts.subscriptions import partner_queue
from gateway.auth import dev_issuer, issue_token
from infra.partner_data import PartnerData, serve

# What each department does when it receives an event: which of its matter steps it completes.
STEP_FOR = {
    ("health", "marriage.registered"): "planned_birth_registration",
    ("police", "marriage.registered"): "hukou_update",
    ("police", "birth.notified"): "newborn_hukou",
    ("medical_insurance", "birth.notified"): "newborn_medical_insurance",
    # 身后一件事: cancel the hukou, stop the pension and pay survivors' benefits, close the account;
    # on a revocation, undo it and report the step reversed; on a corrected date of death, take it
    # again with that date and report the step done again, saying so (the progress view shows the
    # latest report, the first in the step's history)
    ("police", "death.notified"): "hukou_cancellation",
    ("human_resources", "death.notified"): "pension_and_survivors",
    ("medical_insurance", "death.notified"): "medical_insurance_closure",
    ("police", "death.revoked"): "hukou_cancellation",
    ("human_resources", "death.revoked"): "pension_and_survivors",
    ("medical_insurance", "death.revoked"): "medical_insurance_closure",
    ("police", "death.date_corrected"): "hukou_cancellation",
    ("human_resources", "death.date_corrected"): "pension_and_survivors",
    ("medical_insurance", "death.date_corrected"): "medical_insurance_closure",
}
REVERSING = frozenset({"death.revoked"})
# The organisations the simulator plays under codes whose organisations act apart (`make run`
# provisions an identity for each).
SIMULATED_ORGANISATIONS = {
    "care_providers": ("yuecheng-meals", "yuecheng-care", "p-1", "p-2"),
    "care_devices": ("yc-watch",),
}


def simulated_identities(partners=tuple(PARTNERS)) -> dict[str, tuple[str, str | None]]:
    """{identity: (code, organisation)} of every department and organisation the simulator plays."""
    out: dict[str, tuple[str, str | None]] = {}
    for code in partners:
        if PARTNERS[code].organisations:
            out.update({f"{code}/{org}": (code, org) for org in SIMULATED_ORGANISATIONS.get(code, ())})
        else:
            out[code] = (code, None)
    return out


def provision_simulated(broker, partners=tuple(PARTNERS)) -> dict[str, str]:
    """Provision every identity the simulator plays on `broker` (an infra.partners.PartnerBroker);
    returns {identity: AMQP URI}, what PartnerSimulator takes."""
    return {
        name: broker.provision(code, organisation)["uri"]
        for name, (code, organisation) in simulated_identities(partners).items()
    }


LOG = get_logger(service="partner-simulator")
# the simulated departments' side of the partner queues, on the simulator's own /metrics
SIM_MESSAGES = Counter(
    "tongban_partner_sim_messages_total",
    "Partner-queue messages the simulator took, by what became of them",
    ["partner", "outcome"],  # reported (acked) | requeued
)


def not_yet(response) -> bool:
    """A 409 whose problem is `NotYet` (chassis.errors): the same report may be taken later."""
    if response.status_code != 409:
        return False
    try:
        return str(response.json().get("type", "")).endswith("/NotYet")
    except ValueError:
        return False


def reason_for(event: dict) -> str | None:
    """What a department says with its step: a corrected date of death names the correction."""
    if event["type"] == "death.date_corrected":
        data = event["data"]
        return f"date of death corrected from {data['previous_date_of_death']} to {data['date_of_death']}"
    return None


class PartnerSimulator:
    """`identities`: {identity: AMQP URI}, each a partner's own login on the partner vhost
    (`police`, `care_providers/p-1`; what `python -m infra.partners provision` hands out)."""

    def __init__(
        self,
        identities: dict[str, str],
        gateway: str,
        secret: str,
        rejections: set[str] = frozenset(),
        prefetch: int = 50,
        workers: int = 8,
    ):
        self.identities, self.gateway, self.rejections = dict(identities), gateway.rstrip("/"), set(rejections)
        partners = tuple(dict.fromkeys(name.partition("/")[0] for name in self.identities))
        self.partners = partners
        self.secret = secret
        self.prefetch, self.workers = prefetch, workers
        self._stop = threading.Event()
        # partners whose organisations act apart get a token per organisation (`provider_token`)
        self.tokens = {
            code: issue_token(secret, code, "partner", ttl_seconds=30 * 24 * 3600)
            for code in partners
            if not PARTNERS[code].organisations
        }
        self.http = requests.Session()  # shared by every login's workers: a connection each in its pool
        adapter = HTTPAdapter(pool_maxsize=max(10, workers * len(self.identities)))
        self.http.mount("http://", adapter)
        self.http.mount("https://", adapter)
        self.reported: list[tuple[str, str, str]] = []  # (partner, matter, step), for demos and tests
        self.received: list[tuple[str, str, str]] = []  # (partner, event type, event id) of every message acked

    def report(self, code: str, event: dict) -> bool:
        """Report the step(s) this event asks of partner `code`; True when the message may be acked."""
        if (code, event["type"]) == ("care_providers", "care.order_requested"):
            return self.serve_order(event["data"]["order_id"], event["data"]["provider"])
        if not event.get("matter_id"):
            return True
        step = STEP_FOR.get((code, event["type"]))
        if step is not None:
            return self.report_step(
                code, event, step, "reversed" if event["type"] in REVERSING else None, reason_for(event)
            )
        # 救助一件事: the linked items are data, so ask the matter which steps are ours
        view = self.http.get(
            f"{self.gateway}/api/v1/partner/matters/{event['matter_id']}",
            timeout=10,
            headers={"Authorization": f"Bearer {self.tokens[code]}"},
        )
        if view.status_code == 404:
            return False  # the progress view has not seen the matter yet
        pending = [s["step"] for s in view.json()["steps"] if s["state"] == "pending"]
        reported = [self.report_step(code, event, name) for name in pending]  # every one, not up to a failure
        return all(reported)

    def provider_token(self, provider: str) -> str:
        """The token of one home-care provider: it acts on its own orders only."""
        key = f"care_providers/{provider}"
        if key not in self.tokens:
            self.tokens[key] = issue_token(
                self.secret, "care_providers", "partner", ttl_seconds=30 * 24 * 3600, org=provider
            )
        return self.tokens[key]

    def serve_order(self, order_id: str, provider: str) -> bool:
        """As the order's home-care provider: accept it and deliver it (the person then confirms)."""
        for step in ("acceptance", "delivery"):
            response = self.http.post(
                f"{self.gateway}/api/v1/care/orders/{order_id}/{step}",
                timeout=10,
                headers={"Authorization": f"Bearer {self.provider_token(provider)}"},
            )
            if response.status_code == 409:
                continue  # done before this redelivery
            if response.status_code != 200:
                LOG.warning("partner_sim.order_step_failed", step=step, order_id=order_id, status=response.status_code)
                return response.status_code < 500
        self.reported.append(("care_providers", order_id, "delivered"))
        return True

    def report_step(
        self, code: str, event: dict, step: str, state: str | None = None, reason: str | None = None
    ) -> bool:
        rejected = f"{code}:{step}" in self.rejections
        body = {"state": "rejected", "reason": "simulated rejection"} if rejected else {"state": state or "done"}
        if reason is not None and not rejected:
            body["reason"] = reason
        response = self.http.post(
            f"{self.gateway}/api/v1/partner/matters/{event['matter_id']}/steps/{step}",
            json=body,
            timeout=10,
            headers={
                "Authorization": f"Bearer {self.tokens[code]}",
                "Idempotency-Key": f"{event['id']}:{step}",
                # the report is logged under the event's correlation id: one id follows the matter
                "X-Request-Id": event.get("correlation_id") or event["id"],
            },
        )
        if response.status_code in (200, 202) or (response.status_code == 409 and "already" in response.text):
            self.reported.append(
                (code, event["matter_id"], step) if state is None else (code, event["matter_id"], f"{step}:{state}")
            )
            return True
        if response.status_code == 404 or not_yet(response):
            # the projection has not seen the matter (or its revocation) yet, or this report is
            # still being handled (the copy came again while its first report was in flight): later
            return False
        LOG.warning(
            "partner_sim.report_failed", partner=code, step=step, status=response.status_code, body=response.text
        )
        return response.status_code < 500  # a 4xx will not get better by retrying

    def run(self, stop_after: float | None = None):
        """Consume every identity's queue (a thread each) until `stop()` or `stop_after` seconds."""
        self._stop.clear()
        threads = [
            threading.Thread(target=self._consume, args=(name, uri), daemon=True, name=f"partner-{name}")
            for name, uri in self.identities.items()
        ]
        for thread in threads:
            thread.start()
        self._stop.wait(stop_after)
        self._stop.set()
        for thread in threads:
            thread.join(timeout=10)

    def stop(self):
        self._stop.set()

    def _consume(self, name: str, uri: str):
        """One partner's own login: basic.consume with a prefetch, a pool of workers answering (the
        events of one subject by one worker, in order), acks from the connection's own thread."""
        code, _, organisation = name.partition("/")
        queue = partner_queue(code, organisation or None)
        while not self._stop.is_set():
            try:
                with Connection(uri, heartbeat=30) as conn:
                    self._serve_queue(conn, code, queue)
            except Exception as exc:  # broker away, credentials rotated: log in again
                if self._stop.is_set():
                    return
                LOG.warning("partner_sim.connection_lost", identity=name, error=repr(exc))
                self._stop.wait(1.0)

    def _serve_queue(self, conn, code: str, queue: str):
        done: stdlib_queue.Queue = stdlib_queue.Queue()  # (delivery tag, ok)
        lanes = [stdlib_queue.Queue() for _ in range(self.workers)]

        def work(lane):
            while True:
                item = lane.get()
                if item is None:
                    return
                tag, event, deliveries = item
                try:
                    ok = self.report(code, event)
                except requests.RequestException as exc:
                    LOG.warning("partner_sim.gateway_unreachable", partner=code, error=repr(exc))
                    ok = False
                SIM_MESSAGES.labels(code, "reported" if ok else "requeued").inc()
                if ok:
                    self.received.append((code, event["type"], event["id"]))
                else:
                    # not yet (the projection is behind): back off before handing it back, longer
                    # each time, as a partner should: the queue parks a copy after its delivery
                    # limit (chassis.topology), so a fixed short pause gave up after a few seconds
                    time.sleep(retry_pause(deliveries))
                done.put((tag, ok))

        workers = [threading.Thread(target=work, args=(lane,), daemon=True) for lane in lanes]
        for worker in workers:
            worker.start()

        def on_message(body, message):
            event = json.loads(body) if isinstance(body, (str, bytes)) else body
            lane = zlib.crc32((event.get("subject") or event["id"]).encode()) % len(lanes)
            # quorum queues count deliveries in x-delivery-count (absent on the first)
            deliveries = int((message.headers or {}).get("x-delivery-count") or 0)
            lanes[lane].put((message.delivery_tag, event, deliveries))

        channel = conn.channel()
        try:
            consumer = Consumer(
                channel,
                queues=[Queue(queue, no_declare=True)],  # it may not declare: the broker says so
                callbacks=[on_message],
                prefetch_count=self.prefetch,
                accept=["json"],
                no_ack=False,
            )
            with consumer:
                beat = time.monotonic()
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        conn.drain_events(timeout=0.05)
                    if time.monotonic() - beat >= 1.0:
                        # kombu sends no heartbeat by itself: without this a quiet minute (no ack
                        # to send) made the broker close the login about once a minute
                        conn.heartbeat_check()
                        beat = time.monotonic()
                    while True:
                        try:
                            tag, ok = done.get_nowait()
                        except stdlib_queue.Empty:
                            break
                        if ok:
                            channel.basic_ack(tag)
                        else:
                            channel.basic_reject(tag, requeue=True)
        finally:
            for lane in lanes:
                lane.put(None)


def retry_pause(deliveries: int) -> float:
    """Seconds to wait before handing back a copy delivered `deliveries` times before: 0.2 s,
    doubling, at most 15 s, so the 20 deliveries a queue allows span about four minutes."""
    return min(0.2 * 2 ** min(deliveries, 10), 15.0)


def notify_birth(
    gateway: str,
    secret: str,
    mother: str,
    father: str | None,
    name: str,
    sex: str,
    born: date,
    matter_id: str | None = None,
) -> dict:
    token = issue_token(secret, "health", "partner")
    response = requests.post(
        f"{gateway.rstrip('/')}/api/v1/partner/births",
        timeout=10,
        json={
            "child": {
                "name": name,
                "birth_date": born.isoformat(),
                "sex": sex,
                "birth_certificate_number": f"O{uuid.uuid4().hex[:10].upper()}",
            },
            "mother_resident_id": mother,
            "father_resident_id": father,
            "hospital": "市妇幼保健院",
            "matter_id": matter_id,
        },
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
    )
    response.raise_for_status()
    return response.json()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
    run.add_argument(
        "--credentials",
        type=Path,
        default=Path(os.environ.get("PARTNER_CREDENTIALS", "var/partners.json")),
        help="the partners' broker identities (python -m infra.partners provision --credentials FILE)",
    )
    run.add_argument("--reject", action="append", default=[], help="partner:step to answer 'rejected'")
    run.add_argument(
        "--data-port",
        type=int,
        default=int(os.environ.get("PARTNER_DATA_PORT", "8200")),
        help="where the departments answer economic-check queries",
    )
    run.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ.get("PARTNER_SIM_METRICS_PORT", "8201")),
        help="where /metrics is served (0: nowhere)",
    )
    run.add_argument("--slow-source", action="append", default=[], help="a 核对 source that never answers in time")
    data = sub.add_parser("data", help="only the departments' data sources (核对), no broker (benchmarks)")
    data.add_argument("--data-port", type=int, default=int(os.environ.get("PARTNER_DATA_PORT", "8200")))
    birth = sub.add_parser("birth")
    birth.add_argument("--mother", required=True)
    birth.add_argument("--father")
    birth.add_argument("--name", required=True)
    birth.add_argument("--sex", choices=["male", "female"], required=True)
    birth.add_argument("--born", type=date.fromisoformat, default=date.today())
    birth.add_argument("--matter")
    args = parser.parse_args(argv)
    secret = dev_issuer()  # the signing key of `make run`'s local issuer
    if args.command == "data":
        server = serve(PartnerData(), args.data_port)
        print(f"partner data sources on :{args.data_port}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
        server.shutdown()
    elif args.command == "run":
        serve(PartnerData(slow_sources=args.slow_source), args.data_port)
        saved = json.loads(args.credentials.read_text())
        identities = {name: entry["uri"] for name, entry in saved.items() if name.partition("/")[0] in PARTNERS}
        if args.metrics_port:
            for name in identities:
                for outcome in ("reported", "requeued"):
                    SIM_MESSAGES.labels(name.partition("/")[0], outcome)
            start_http_server(args.metrics_port, addr="127.0.0.1")
        print(f"partner simulator: {', '.join(identities)}; data sources on :{args.data_port}", flush=True)
        PartnerSimulator(identities, args.gateway, secret, set(args.reject)).run()
    else:
        print(
            json.dumps(
                notify_birth(
                    args.gateway, secret, args.mother, args.father, args.name, args.sex, args.born, args.matter
                ),
                ensure_ascii=False,
            )
        )


if __name__ == "__main__":
    main()
