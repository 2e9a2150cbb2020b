"""What the operations team reads from every process: `/health/live`, `/health/ready`, `/metrics`.

A service that owns the process's HTTP port inherits `Operable`; readiness asks every dependency
that can tell (database reachable, outbox relay healthy) and the broker.
"""

from __future__ import annotations

from kombu import Connection
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from chassis.db import Database
from chassis.entrypoints import http, json_response
from chassis.metrics import DEAD_LETTER_DEPTH
from chassis.topology import dead_queue_name
from contracts.subscriptions import SUBSCRIPTIONS

__all__ = ["Operable", "ProcessHealth", "Readiness"]


class Readiness(DependencyProvider):
    """Gives the worker a `check()` that reports each part of the process as ok or failing."""

    def get_dependency(self, worker_ctx):
        return self.check

    def check(self) -> dict:
        results = {}
        for provider in sorted(self.container.dependencies, key=lambda p: p.attr_name or ""):
            probe = getattr(provider, "check_ready", None)
            if probe is not None:
                results[provider.attr_name] = _run(probe)
        results["broker"] = _run(self._check_broker)
        return results

    def _check_broker(self):
        with Connection(self.container.config["AMQP_URI"], connect_timeout=3) as conn:
            conn.connect()
            channel = conn.channel()
            # every consumer's dead letters, whichever process runs it: any process can answer
            for queue in SUBSCRIPTIONS:  # partner queues are on the partner vhost (infra.partners)
                dead = dead_queue_name(queue)
                try:
                    _, depth, _ = channel.queue_declare(dead, passive=True)
                except Exception:  # not declared yet (nothing has started it): nothing parked
                    channel = conn.channel()
                    continue
                DEAD_LETTER_DEPTH.labels(dead).set(depth)


def _run(probe) -> str:
    try:
        probe()
        return "ok"
    except Exception as exc:
        return f"failing: {exc!r}"[:300]


class Operable:
    readiness = Readiness()

    @http("GET", "/health/live")
    def health_live(self, request):
        return json_response(200, {"status": "live"})

    @http("GET", "/health/ready")
    def health_ready(self, request):
        checks = self.readiness()
        ready = all(v == "ok" for v in checks.values())
        return json_response(200 if ready else 503, {"status": "ready" if ready else "not ready", "checks": checks})

    @http("GET", "/metrics")
    def prometheus_metrics(self, request):
        self.readiness()  # refreshes the dead-letter depth gauges
        return Response(
            generate_latest(), mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Content-Type": CONTENT_TYPE_LATEST}
        )


class ProcessHealth(Operable):
    """`/health/*` and `/metrics` for a process whose services serve no HTTP of their own (the
    progress projection, the partner feed), run beside them: `nameko run ... chassis.ops:ProcessHealth`.
    Ready when the process's database and the broker answer; `/metrics` is the process's registry,
    so the consumers' counters and the relay's gauges are there too."""

    name = "ops"

    db = Database()
