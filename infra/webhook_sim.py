"""A simulated department that takes its events by signed webhook, not AMQP (人社 by default).

It registers an HTTPS endpoint (http:// to loopback in development) through the partner API,
verifies every delivery with the `standardwebhooks` library (a client the project does not use to
send), handles each `webhook-id` once, and reports its matter steps back through the partner API,
as the AMQP simulator (infra.partner_sim) does for the other departments. It answers 2xx only once
the step is reported, so a delivery it could not act on yet comes again.

    python -m infra.webhook_sim --gateway http://127.0.0.1:8000 --port 8210 [--partner human_resources]

`make run` starts it; in development it also plays the administrator who approves its event
types (in production an operator does: POST /api/v1/webhooks/approvals/<id>).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from chassis.logs import get_logger
from contracts.partners import PARTNERS
from gateway.auth import dev_issuer, issue_token
from infra.partner_sim import REVERSING, STEP_FOR, not_yet, reason_for

ENDPOINTS = "/api/v1/partner/webhooks/endpoints"
LOG = get_logger(service="webhook-simulator")  # JSON lines, like every process of `make run`


class WebhookDepartment:
    def __init__(self, gateway: str, issuer, partner: str, host: str = "127.0.0.1", port: int = 8210):
        self.gateway, self.partner = gateway.rstrip("/"), partner
        self.url = f"http://{host}:{port}/webhooks/tongban"
        self.host, self.port = host, port
        self.token = issue_token(issuer, partner, "partner", ttl_seconds=30 * 24 * 3600)
        self.issuer = issuer
        self.http = requests.Session()
        self.secret: str | None = None
        self.endpoint_id: str | None = None
        self.handled: set[str] = set()  # webhook-ids acted on
        self.reported: list[tuple[str, str, str]] = []  # (partner, matter, step)
        self.refused = 0
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def _call(self, method, path, token, json_body=None):
        return self.http.request(
            method,
            self.gateway + path,
            json=json_body,
            timeout=10,
            headers={"Authorization": f"Bearer {token}"},
        )

    def register(self) -> None:
        """Our endpoint for every type we are entitled to: created, or its secret rotated if it exists."""
        types = sorted(PARTNERS[self.partner].entitlements)
        existing = [e for e in self._call("GET", ENDPOINTS, self.token).json()["endpoints"] if e["url"] == self.url]
        if existing:
            self.endpoint_id = existing[0]["endpoint_id"]
            answer = self._call("POST", f"{ENDPOINTS}/{self.endpoint_id}/secret", self.token)
            self._call("POST", f"{ENDPOINTS}/{self.endpoint_id}/resume", self.token)
        else:
            answer = self._call("POST", ENDPOINTS, self.token, {"url": self.url, "event_types": types})
        answer.raise_for_status()
        self.endpoint_id, self.secret = answer.json()["endpoint_id"], answer.json()["secret"]
        admin = issue_token(self.issuer, "dev-operator", "admin")  # staff tokens are short-lived: one now
        approvals = self._call("GET", "/api/v1/webhooks/approvals", admin)
        approvals.raise_for_status()
        for approval in approvals.json()["approvals"]:
            if approval["state"] == "pending" and approval["endpoint_id"] == self.endpoint_id:
                decided = self._call(
                    "POST", f"/api/v1/webhooks/approvals/{approval['approval_id']}", admin, {"approve": True}
                )
                decided.raise_for_status()

    def handle(self, body: bytes, headers: dict) -> int:
        """The HTTP status to answer a delivery with."""
        try:
            data = Webhook(self.secret or "").verify(body, headers)
        except WebhookVerificationError as exc:
            self.refused += 1
            LOG.warning("webhook_sim.delivery_refused", partner=self.partner, error=str(exc))
            return 400
        webhook_id = headers["webhook-id"]
        with self.lock:
            if webhook_id in self.handled:
                return 204  # a redelivery: handled once
        event = {
            "id": headers["ce-id"],
            "type": headers["ce-type"],
            "matter_id": headers.get("ce-matterid"),
            "data": data,
        }
        if not self.report(event):
            return 503  # not yet: deliver it again later
        with self.lock:
            self.handled.add(webhook_id)
        return 204

    def report(self, event: dict) -> bool:
        if not event["matter_id"]:
            return True
        step = STEP_FOR.get((self.partner, event["type"]))
        if step is not None:
            return self.report_step(
                event, step, "reversed" if event["type"] in REVERSING else "done", reason_for(event)
            )
        view = self._call("GET", f"/api/v1/partner/matters/{event['matter_id']}", self.token)
        if view.status_code == 404:
            return False  # the progress view has not seen the matter yet
        pending = [s["step"] for s in view.json()["steps"] if s["state"] == "pending"]
        reported = [self.report_step(event, name, "done", None) for name in pending]  # every one, not up to a failure
        return all(reported)

    def report_step(self, event: dict, step: str, state: str, reason: str | None) -> bool:
        body = {"state": state, **({"reason": reason} if reason else {})}
        response = self.http.post(
            f"{self.gateway}/api/v1/partner/matters/{event['matter_id']}/steps/{step}",
            json=body,
            timeout=10,
            headers={"Authorization": f"Bearer {self.token}", "Idempotency-Key": f"{event['id']}:{step}"},
        )
        if response.status_code in (200, 202) or (response.status_code == 409 and "already" in response.text):
            self.reported.append((self.partner, event["matter_id"], step if state == "done" else f"{step}:{state}"))
            return True
        if response.status_code == 404 or not_yet(response):
            # not yet seen, not yet revoked, or this report still being handled (the delivery came
            # again while its first report was in flight): deliver it again later
            return False
        LOG.warning(
            "webhook_sim.report_failed", partner=self.partner, step=step, status=response.status_code,
            detail=response.text[:200],
        )  # fmt: skip
        return response.status_code < 500

    def serve(self) -> WebhookDepartment:
        department = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = department.handle(body, {k.lower(): v for k, v in self.headers.items()})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=os.environ.get("GATEWAY_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--partner", default="human_resources", choices=sorted(PARTNERS))
    parser.add_argument("--port", type=int, default=int(os.environ.get("WEBHOOK_SIM_PORT", "8210")))
    args = parser.parse_args(argv)
    department = WebhookDepartment(args.gateway, dev_issuer(), args.partner, port=args.port).serve()
    for attempt in range(60):  # the gateway may still be starting
        try:
            department.register()
            break
        except requests.RequestException as exc:
            if attempt == 59:
                raise
            LOG.info("webhook_sim.gateway_not_ready", partner=args.partner, error=type(exc).__name__)
            time.sleep(1)
    print(
        json.dumps({"webhook_simulator": args.partner, "endpoint": department.endpoint_id, "url": department.url}),
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        department.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
