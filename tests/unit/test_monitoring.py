"""The alert rules load in Prometheus and behave (promtool, with a test per alert firing and not
firing), every alert has its runbook section, and the dashboard files are what the generator
makes. promtool comes with Debian's `prometheus` package (.ci/run installs it)."""

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from infra.monitoring import dashboards

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "infra/monitoring/rules"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def _alerts() -> list[str]:
    groups = yaml.safe_load((RULES / "tongban.rules.yml").read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]


def test_promtool_checks_the_rules_and_the_example_config():
    for args in (["check", "rules", "tongban.rules.yml"],):
        result = subprocess.run([PROMTOOL, *args], cwd=RULES, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    result = subprocess.run(
        [PROMTOOL, "check", "config", "prometheus.yml"], cwd=RULES.parent, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_rules_pass():
    result = subprocess.run(
        [PROMTOOL, "test", "rules", "tongban.rules.test.yml"], cwd=RULES, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_alert_the_brief_asks_for_exists():
    assert set(_alerts()) >= {
        "TongbanOutboxLag",
        "TongbanDeadLettersWaiting",
        "TongbanQueueWithoutConsumer",
        "TongbanPartnerBacklogOld",
        "TongbanWebhookEndpointDisabled",
        "TongbanStepsOverdue",
        "TongbanErrorBudgetBurn",
        "TongbanPaymentRunFailed",
        "TongbanBrokerUnreachable",
    }


def test_every_alert_is_tested_firing_and_not_firing():
    tests = yaml.safe_load((RULES / "tongban.rules.test.yml").read_text())["tests"]
    firing, quiet = set(), set()
    for test in tests:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert set(_alerts()) == firing == quiet


def test_every_alert_has_its_runbook_section():
    runbook = (ROOT / "docs/operations.md").read_text(encoding="utf-8")
    headings = {m.group(1) for m in re.finditer(r"^#+ .*?`?(Tongban\w+)`?", runbook, re.M)}
    assert set(_alerts()) <= headings
    rules = yaml.safe_load((RULES / "tongban.rules.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"


def test_the_dashboard_files_are_generated():
    assert dashboards.main(["--check"]) == 0
    names = {p.name for p in (ROOT / "infra/monitoring/dashboards").glob("*.json")}
    assert names == set(dashboards.rendered())
    titles = {d.title for d in dashboards.DASHBOARDS}
    assert {
        "tongban: overview",
        "tongban: one-matter flows",
        "tongban: outbox and relay",
        "tongban: queues and dead letters",
        "tongban: payment runs",
        "tongban: partners",
    } == titles
