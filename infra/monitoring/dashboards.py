"""The operations team's Grafana dashboards, generated from the panels below (never hand-edited).

    python -m infra.monitoring.dashboards --write   # infra/monitoring/dashboards/*.json
    python -m infra.monitoring.dashboards --check   # exit 1 if a file differs from this module

Every expression here is run by tests/integration/test_operations.py against a real Prometheus
that scraped the running system, and must return series (the partner-webhook panels only once a
process of the system exports the `tongban_webhook_*` metrics of docs/operations.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "dashboards"
RATE = "5m"  # the window of rate(); Grafana's $__rate_interval would not run outside Grafana


@dataclass(frozen=True)
class Panel:
    title: str
    expr: str
    legend: str = ""
    unit: str = "short"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _calls(match: str = "") -> str:
    return f"rate(tongban_entrypoint_calls_total{match}[{RATE}])"


DASHBOARDS = (
    Dashboard(
        "tongban-overview",
        "tongban: overview",
        "Rate, errors and duration of every service and entrypoint (HTTP, RPC, events, timers).",
        (
            Panel("Handled per second, by service", f"sum by (service) ({_calls()})", "{{service}}", "reqps"),
            Panel(
                "Handled per second, by entrypoint",
                f"sum by (service, entrypoint, kind) ({_calls()})",
                "{{service}}.{{entrypoint}} ({{kind}})",
                "reqps",
            ),
            Panel(
                "Errors per second (unexpected failures)",
                "sum by (service, entrypoint) (" + _calls('{outcome="error"}') + ")",
                "{{service}}.{{entrypoint}}",
                "reqps",
            ),
            Panel(
                "Refused per second (4xx: answers, not faults)",
                "sum by (service, entrypoint) (" + _calls('{outcome="refused"}') + ")",
                "{{service}}.{{entrypoint}}",
                "reqps",
            ),
            Panel(
                "Error ratio, by service",
                "sum by (service) (" + _calls('{outcome="error"}') + ") / sum by (service) (" + _calls() + ")",
                "{{service}}",
                "percentunit",
                "The error-budget alert fires above 1.44 % over 5 minutes and an hour.",
            ),
            Panel(
                "Duration p95, by entrypoint",
                "histogram_quantile(0.95, sum by (service, entrypoint, le) "
                f"(rate(tongban_entrypoint_latency_seconds_bucket[{RATE}])))",
                "{{service}}.{{entrypoint}}",
                "s",
            ),
            Panel(
                "Duration p50, by service",
                "histogram_quantile(0.5, sum by (service, le) "
                f"(rate(tongban_entrypoint_latency_seconds_bucket[{RATE}])))",
                "{{service}}",
                "s",
            ),
            Panel(
                "AMQP handshake ok, by process",
                "min by (service) (tongban_broker_up)",
                "{{service}}",
                description="0: the process gets no handshake from the broker (it reports not ready).",
            ),
        ),
    ),
    Dashboard(
        "tongban-one-matter",
        "tongban: one-matter flows",
        "一件事: matters opened and completed, time to complete, steps overdue by type and owner.",
        (
            Panel(
                "Opened per hour, by type",
                "sum by (matter_type) (increase(tongban_matters_opened_total[1h]))",
                "{{matter_type}}",
            ),
            Panel(
                "Completed per hour, by type",
                "sum by (matter_type) (increase(tongban_matters_completed_total[1h]))",
                "{{matter_type}}",
            ),
            Panel(
                "Time to complete, median, by type",
                "histogram_quantile(0.5, sum by (matter_type, le) (rate(tongban_matter_completion_seconds_bucket[1d])))",
                "{{matter_type}}",
                "s",
            ),
            Panel(
                "Time to complete, p90, by type",
                "histogram_quantile(0.9, sum by (matter_type, le) (rate(tongban_matter_completion_seconds_bucket[1d])))",
                "{{matter_type}}",
                "s",
            ),
            Panel(
                "Steps overdue, by type and owner",
                "max by (matter_type, owner) (tongban_matter_steps_overdue)",
                "{{matter_type}} / {{owner}}",
            ),
            Panel(
                "Progress projection: events waiting",
                'max by (queue) (tongban_queue_messages{queue="progress.on_matter_event"})',
                "{{queue}}",
            ),
        ),
    ),
    Dashboard(
        "tongban-outbox",
        "tongban: outbox and relay",
        "Events committed with their state change, and their way to the broker.",
        (
            Panel("Backlog (committed, not published)", "max by (service) (tongban_outbox_backlog)", "{{service}}"),
            Panel(
                "Oldest unpublished event's age",
                "max by (service) (tongban_outbox_oldest_unsent_age_seconds)",
                "{{service}}",
                "s",
                "The outbox-lag alert fires above 60 s for 2 minutes.",
            ),
            Panel(
                "Published per second, by type",
                f"sum by (service, event_type) (rate(tongban_events_published_total[{RATE}]))",
                "{{service}}: {{event_type}}",
                "ops",
            ),
            Panel(
                "Events per consumer batch, median",
                f"histogram_quantile(0.5, sum by (queue, le) (rate(tongban_event_batch_size_bucket[{RATE}])))",
                "{{queue}}",
            ),
        ),
    ),
    Dashboard(
        "tongban-queues",
        "tongban: queues and dead letters",
        "Every queue of the topology (service, partner, retry, dead), from the one queue watch; the broker's own view from rabbitmq_prometheus.",
        (
            Panel(
                "Ready messages, service queues",
                'max by (queue) (tongban_queue_messages{kind="service"})',
                "{{queue}}",
            ),
            Panel("Consumers, service queues", 'max by (queue) (tongban_queue_consumers{kind="service"})', "{{queue}}"),
            Panel(
                "Oldest message's wait, service and partner queues",
                'max by (queue) (tongban_queue_oldest_message_age_seconds{kind=~"service|partner"})',
                "{{queue}}",
                "s",
            ),
            Panel("Waiting to be retried", 'sum by (queue) (tongban_queue_messages{kind="retry"})', "{{queue}}"),
            Panel("Dead letters waiting", "max by (queue) (tongban_dead_letter_queue_messages)", "{{queue}}"),
            Panel(
                "Parked per hour, by reason",
                "sum by (queue, reason) (increase(tongban_dead_letters_total[1h]))",
                "{{queue}}: {{reason}}",
            ),
            Panel(
                "Retries scheduled per second",
                f"sum by (queue) (rate(tongban_event_retries_total[{RATE}]))",
                "{{queue}}",
                "ops",
            ),
            Panel("Broker: messages per queue", "sum by (queue) (rabbitmq_queue_messages)", "{{queue}}"),
            Panel("Broker: open connections", "sum(rabbitmq_connections)", "connections"),
        ),
    ),
    Dashboard(
        "tongban-payment-runs",
        "tongban: payment runs",
        "Monthly payment runs (care allowances, assistance): freeze, send to the bank, reconcile.",
        (
            Panel(
                "Steps per day, by outcome",
                "sum by (run, step, outcome) (increase(tongban_payment_run_steps_total[1d]))",
                "{{run}} {{step}}: {{outcome}}",
            ),
            Panel(
                "Step duration, p90",
                "histogram_quantile(0.9, sum by (run, step, le) (rate(tongban_payment_run_step_seconds_bucket[1d])))",
                "{{run}} {{step}}",
                "s",
            ),
            Panel(
                "Bank answers per day",
                "sum by (run, outcome) (increase(tongban_payment_run_payments_total[1d]))",
                "{{run}}: {{outcome}}",
            ),
        ),
    ),
    Dashboard(
        "tongban-partners",
        "tongban: partners",
        "Partner departments: their queues (partner.<code>[.<organisation>]) and webhook deliveries.",
        (
            Panel(
                "Partner queues: ready messages", 'max by (queue) (tongban_queue_messages{kind="partner"})', "{{queue}}"
            ),
            Panel("Partner queues: consumers", 'max by (queue) (tongban_queue_consumers{kind="partner"})', "{{queue}}"),
            Panel(
                "Partner queues: oldest message's wait",
                'max by (queue) (tongban_queue_oldest_message_age_seconds{kind="partner"})',
                "{{queue}}",
                "s",
            ),
            Panel(
                "Partner dead letters",
                'max by (queue) (tongban_dead_letter_queue_messages{queue=~"partner\\\\..*"})',
                "{{queue}}",
            ),
            Panel(
                "Simulated departments: messages taken",
                f"sum by (partner, outcome) (rate(tongban_partner_sim_messages_total[{RATE}]))",
                "{{partner}}: {{outcome}}",
                "ops",
            ),
            Panel("Webhooks: pending deliveries", "max by (partner) (tongban_webhook_backlog)", "{{partner}}"),
            Panel(
                "Webhooks: oldest pending delivery",
                "max by (partner) (tongban_webhook_oldest_pending_seconds)",
                "{{partner}}",
                "s",
            ),
            Panel(
                "Webhooks: deliveries per second, by outcome",
                f"sum by (partner, outcome) (rate(tongban_webhook_deliveries_total[{RATE}]))",
                "{{partner}}: {{outcome}}",
                "ops",
            ),
            Panel(
                "Webhooks: event to 2xx, p95",
                f"histogram_quantile(0.95, sum by (partner, le) (rate(tongban_webhook_delivery_seconds_bucket[{RATE}])))",
                "{{partner}}",
                "s",
            ),
            Panel(
                "Webhooks: endpoints disabled", "max by (partner) (tongban_webhook_endpoints_disabled)", "{{partner}}"
            ),
        ),
    ),
)

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def grafana(dashboard: Dashboard) -> dict:
    """The dashboard as Grafana's JSON model (schema 39), two panels a row."""
    panels = []
    for i, panel in enumerate(dashboard.panels):
        panels.append(
            {
                "id": i + 1,
                "type": "timeseries",
                "title": panel.title,
                "description": panel.description,
                "datasource": DATASOURCE,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [{"refId": "A", "datasource": DATASOURCE, "expr": panel.expr, "legendFormat": panel.legend}],
            }
        )
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["tongban"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [{"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"}]
        },
        "panels": panels,
    }


def rendered() -> dict[str, str]:
    return {
        f"{d.uid}.json": json.dumps(grafana(d), ensure_ascii=False, indent=2, sort_keys=True) + "\n" for d in DASHBOARDS
    }


def expressions() -> list[tuple[str, str, str]]:
    """(dashboard, panel, expression) of every panel."""
    return [(d.uid, p.title, p.expr) for d in DASHBOARDS for p in d.panels]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    files = rendered()
    if args.write:
        FOLDER.mkdir(exist_ok=True)
        for stale in {p.name for p in FOLDER.glob("*.json")} - set(files):
            (FOLDER / stale).unlink()
        for name, text in files.items():
            (FOLDER / name).write_text(text, encoding="utf-8")
        print(f"wrote {len(files)} dashboards to {FOLDER}")
        return 0
    differ = [n for n, t in files.items() if not (FOLDER / n).exists() or (FOLDER / n).read_text("utf-8") != t]
    if differ:
        print(f"out of date: {', '.join(differ)}; run python -m infra.monitoring.dashboards --write", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
