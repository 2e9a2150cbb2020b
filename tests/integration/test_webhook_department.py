"""A department that takes its events by signed webhook (infra.webhook_sim, 人社) does its part of
身后一件事 like the AMQP departments: it registers its endpoint through the partner API, verifies every
delivery with `standardwebhooks`, and reports its step; on the revocation it reports the step
reversed (the revocation delivered after the notice: one person, in order)."""

from datetime import date

from contracts.person import compose_resident_id
from gateway.webhooks import WebhooksService
from infra.webhook_sim import WebhookDepartment
from tests.conftest import free_port
from tests.helpers import wait_for
from tests.integration.test_after_death import APPROVER, DIED, DISTRICT, matter, notice, ok, steps_of
from tests.system import ISSUER


def test_a_webhook_department_reports_its_steps_of_after_death(system, base_config, start_service, manual_clock):
    manual_clock.set_local_date(date(2026, 6, 10))
    sys_ = system(funeral=True, WEBHOOK_ALLOW_HTTP_LOOPBACK=True)  # no AMQP simulator: only the webhook answers
    start_service(
        WebhooksService,
        {**base_config, "DATABASE_URL": sys_.databases["gateway"], "WEBHOOK_POLL_INTERVAL": 0.05, "max_workers": 1},
    )
    department = WebhookDepartment(sys_.url, ISSUER, "human_resources", port=free_port()).serve()
    try:
        department.register()
        elder = compose_resident_id(DISTRICT, date(1939, 2, 2), 31)
        case = ok(sys_.call("POST", "/api/v1/partner/deaths", ("partner", "health"), json=notice(elder, DIED, "D-31")))
        done = wait_for(
            lambda: (v := matter(sys_, case["matter_id"])) and steps_of(v)["pension_and_survivors"] == "done" and v,
            what="人社's step, reported from its webhook",
        )
        assert steps_of(done)["hukou_cancellation"] == "pending"  # police answer by AMQP: not running here
        revoked = sys_.call(
            "POST", f"/api/v1/funeral/cases/{case['case_id']}/revocation", APPROVER, json={"reason": "wrong person"}
        )
        assert revoked.status_code == 200, revoked.text
        wait_for(
            lambda: any(step == "pension_and_survivors:reversed" for _, _, step in department.reported),
            what="the step reversed on the revocation",
        )
        assert [step for _, m, step in department.reported if m == case["matter_id"]] == [
            "pension_and_survivors",
            "pension_and_survivors:reversed",
        ]
        assert department.refused == 0 and len(department.handled) == 2
        log = ok(
            sys_.call(
                "GET",
                f"/api/v1/partner/webhooks/endpoints/{department.endpoint_id}/deliveries",
                ("partner", "human_resources"),
            )
        )["attempts"]
        assert {a["event_type"] for a in log if a["outcome"] == "delivered"} == {"death.notified", "death.revoked"}
    finally:
        department.stop()
