"""The HTTP edge: authentication, roles, problems, OpenAPI, health and metrics of every process."""

from datetime import date

import requests

from tests.helpers import wait_for
from tests.system import person


def test_unauthenticated_and_wrong_role_get_problems(system):
    sys_ = system()
    anonymous = requests.post(sys_.url + "/api/v1/marriage/registrations", json={})
    assert anonymous.status_code == 401
    assert anonymous.headers["Content-Type"] == "application/problem+json"
    assert anonymous.json()["status"] == 401
    citizen = ("citizen", person(date(1990, 1, 1), "male"))
    forbidden = sys_.call("POST", "/api/v1/marriage/registrations", citizen, json={})
    assert forbidden.status_code == 403
    clerk_elsewhere = sys_.call(
        "POST",
        "/api/v1/marriage/registrations",
        ("clerk", "c-9", "330111"),
        json={
            "office_code": "330602",
            "declared_not_close_relatives": True,
            "party_a": {"resident_id": person(date(1990, 1, 1), "male"), "name": "甲"},
            "party_b": {"resident_id": person(date(1992, 1, 1), "female"), "name": "乙"},
        },
    )
    assert clerk_elsewhere.status_code == 403
    assert "outside your area" in clerk_elsewhere.json()["detail"]
    not_json = requests.post(
        sys_.url + "/api/v1/marriage/registrations",
        data="{oops",
        headers={"Authorization": f"Bearer {sys_.token('clerk', 'c-1', '330602')}"},
    )
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["detail"]


def test_openapi_is_generated_from_the_contracts(system):
    sys_ = system()
    document = requests.get(sys_.url + "/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    registration = document["paths"]["/api/v1/marriage/registrations"]["post"]
    schema_ref = registration["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = document["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert "declared_not_close_relatives" in schema["required"]
    assert "/api/v1/partner/matters/{matter_id}/steps/{step}" in document["paths"]
    # a step shows its latest report, with the owner's other reports in its history
    schemas = document["components"]["schemas"]
    step_view = schemas["StepView"]["properties"]
    assert {"state", "reason", "reported_at", "overdue", "history"} <= set(step_view)
    assert step_view["history"]["type"] == "array"
    entry = schemas[step_view["history"]["items"]["$ref"].rsplit("/", 1)[-1]]["properties"]
    assert set(entry) == {"state", "reason", "reported_at", "applied"}


def test_health_and_metrics_of_every_process(system):
    sys_ = system()
    ready = wait_for(
        lambda: (r := requests.get(sys_.url + "/health/ready")).status_code == 200 and r.json(), what="readiness"
    )
    assert set(ready["checks"]) == {"db", "outbox", "broker"}
    assert set(ready["checks"].values()) == {"ok"}
    sys_.call("GET", "/api/v1/marriage/certificates/J330602-2026-999999/verification", ("admin", "ops"))
    for url in (sys_.url, sys_.marriage_url):
        wait_for(lambda url=url: requests.get(url + "/health/ready").status_code == 200, what=f"{url} ready")
        metrics = requests.get(url + "/metrics").text
        samples = {
            line.split("{")[0].split(" ")[0] for line in metrics.splitlines() if line and not line.startswith("#")
        }
        for name in (
            "tongban_entrypoint_calls_total",
            "tongban_entrypoint_latency_seconds_bucket",
            "tongban_outbox_backlog",
            "tongban_outbox_oldest_unsent_age_seconds",
            "tongban_broker_up",
        ):
            assert name in samples, (url, name)
        assert "# TYPE tongban_dead_letters_total counter" in metrics  # counted when something is parked
    assert 'service="gateway"' in requests.get(sys_.url + "/metrics").text
    assert 'service="marriage"' in requests.get(sys_.marriage_url + "/metrics").text
