"""A partner-department simulator: plays every partner department (health 卫健, police 公安,
medical insurance 医保, the 救助一件事 departments, home-care providers) over the same protocols a
real one uses.

It reads its entitled events from its own durable queue `partner.<code>` (AMQP, manual ack) and
reports its step back through the gateway's partner API (HTTPS + bearer token, with the event id as
Idempotency-Key), so a redelivered event is reported once. As the hospital, it can also notify a birth.

    python -m infra.partner_sim run [--gateway URL] [--reject police:hukou_update]
    python -m infra.partner_sim birth --mother ID --father ID --name 小明 --sex male
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import date

import requests
from kombu import Connection
from prometheus_client import Counter, start_http_server

from chassis.logs import get_logger
from chassis.topology import declare_topology
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


LOG = get_logger(service="partner-simulator")
# the simulated departments' side of the partner queues, on the simulator's own /metrics
SIM_MESSAGES = Counter(
    "tongban_partner_sim_messages_total",
    "Partner-queue messages the simulator took, by what became of them",
    ["partner", "outcome"],  # reported (acked) | requeued
)


def reason_for(event: dict) -> str | None:
    """What a department says with its step: a corrected date of death names the correction."""
    if event["type"] == "death.date_corrected":
        data = event["data"]
        return f"date of death corrected from {data['previous_date_of_death']} to {data['date_of_death']}"
    return None


class PartnerSimulator:
    def __init__(
        self, amqp_uri: str, gateway: str, secret: str, rejections: set[str] = frozenset(), partners=tuple(PARTNERS)
    ):
        self.amqp_uri, self.gateway, self.rejections = amqp_uri, gateway.rstrip("/"), set(rejections)
        self.partners = partners
        self.secret = secret
        # partners whose organisations act apart get a token per organisation (`provider_token`)
        self.tokens = {
            code: issue_token(secret, code, "partner", ttl_seconds=30 * 24 * 3600)
            for code in partners
            if not PARTNERS[code].organisations
        }
        self.http = requests.Session()
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
        if response.status_code == 404 or (response.status_code == 409 and "not revoked" in response.text):
            return False  # the projection has not seen the matter (or its revocation) yet: try again later
        LOG.warning(
            "partner_sim.report_failed", partner=code, step=step, status=response.status_code, body=response.text
        )
        return response.status_code < 500  # a 4xx will not get better by retrying

    def run(self, stop_after: float | None = None):
        declare_topology(self.amqp_uri)
        started = time.monotonic()
        with Connection(self.amqp_uri) as conn:
            channel = conn.channel()
            channel.basic_qos(0, 10, False)
            while stop_after is None or time.monotonic() - started < stop_after:
                idle = True
                for code in self.partners:
                    message = channel.basic_get(partner_queue(code), no_ack=False)
                    if message is None:
                        continue
                    idle = False
                    event = json.loads(message.body)
                    try:
                        ok = self.report(code, event)
                    except requests.RequestException as exc:
                        LOG.warning("partner_sim.gateway_unreachable", partner=code, error=repr(exc))
                        ok = False
                    SIM_MESSAGES.labels(code, "reported" if ok else "requeued").inc()
                    if ok:
                        self.received.append((code, event["type"], event["id"]))
                        channel.basic_ack(message.delivery_tag)
                    else:
                        channel.basic_reject(message.delivery_tag, requeue=True)
                        time.sleep(0.2)
                if idle:
                    time.sleep(0.05)


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
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run")
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
    birth = sub.add_parser("birth")
    birth.add_argument("--mother", required=True)
    birth.add_argument("--father")
    birth.add_argument("--name", required=True)
    birth.add_argument("--sex", choices=["male", "female"], required=True)
    birth.add_argument("--born", type=date.fromisoformat, default=date.today())
    birth.add_argument("--matter")
    args = parser.parse_args(argv)
    secret = dev_issuer()  # the signing key of `make run`'s local issuer
    if args.command == "run":
        serve(PartnerData(slow_sources=args.slow_source), args.data_port)
        if args.metrics_port:
            for code in PARTNERS:
                for outcome in ("reported", "requeued"):
                    SIM_MESSAGES.labels(code, outcome)
            start_http_server(args.metrics_port, addr="127.0.0.1")
        print(f"partner simulator: {', '.join(PARTNERS)}; data sources on :{args.data_port}", flush=True)
        PartnerSimulator(args.amqp, args.gateway, secret, set(args.reject)).run()
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
