"""The rules of signed webhooks, by tables: URLs, event types against entitlements and approvals,
backoff with jitter for at least 24 hours, and a signature the standardwebhooks library accepts."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from gateway import webhook_rules as rules


@pytest.mark.parametrize(
    "url, loopback_allowed, ok",
    [
        ("https://hr.example.gov.cn/hooks", False, True),
        ("https://hr.example.gov.cn:8443/hooks?x=1", False, True),
        ("http://hr.example.gov.cn/hooks", True, False),  # http only to loopback
        ("http://127.0.0.1:8400/hooks", True, True),
        ("http://localhost:8400/hooks", True, True),
        ("http://[::1]:8400/hooks", True, True),
        ("http://127.0.0.1:8400/hooks", False, False),  # and only where allowed (dev, tests)
        ("ftp://hr.example.gov.cn/hooks", True, False),
        ("https://user:pw@hr.example.gov.cn/hooks", False, False),
        ("https:///nohost", False, False),
        ("https://hr.example.gov.cn/hooks#frag", False, False),
        ("hr.example.gov.cn/hooks", False, False),
        ("https://[::1/hooks", True, False),  # not a URL: refused, not a crash
        ("https://hr.example.gov.cn:99999/hooks", False, False),
        ("https://hr.example.gov.cn/a b", False, False),
    ],
)
def test_endpoint_urls(url, loopback_allowed, ok):
    if ok:
        assert rules.check_url(url, loopback_allowed) == url
    else:
        with pytest.raises(rules.UrlRefused):
            rules.check_url(url, loopback_allowed)


@pytest.mark.parametrize(
    "partner, wanted, granted, approved, pending, refused",
    [
        ("police", ["death.notified"], {"death.notified"}, ("death.notified",), (), ()),
        (
            "police",
            ["death.notified", "death.revoked"],
            {"death.notified"},
            ("death.notified",),
            ("death.revoked",),
            (),
        ),
        ("police", ["death.notified"], set(), (), ("death.notified",), ()),
        ("health", ["death.notified"], {"death.notified"}, (), (), ("death.notified",)),  # granted is not entitled
        ("health", ["marriage.registered", "no.such"], set(), (), ("marriage.registered",), ("no.such",)),
        ("banks", ["death.notified"], set(), (), (), ("death.notified",)),
        ("police", ["death.notified", "death.notified"], {"death.notified"}, ("death.notified",), (), ()),
    ],
)
def test_event_types_against_entitlements_and_approvals(partner, wanted, granted, approved, pending, refused):
    split = rules.split_event_types(partner, wanted, granted)
    assert (split.approved, split.pending, split.refused) == (approved, pending, refused)


@pytest.mark.parametrize(
    "failures, draw, seconds",
    [
        (1, 0.0, 2.5),
        (1, 0.999999, 5.0),
        (2, 0.0, 5.0),
        (3, 1.0, 20.0),
        (10, 1.0, 2560.0),
        (11, 1.0, 3600.0),  # capped at an hour
        (500, 0.0, 1800.0),
    ],
)
def test_backoff_doubles_with_jitter_up_to_an_hour(failures, draw, seconds):
    assert rules.retry_delay(failures, draw).total_seconds() == pytest.approx(seconds, rel=1e-5)


def test_retries_run_for_at_least_24_hours():
    """Even with the shortest jitter every time, the attempts span 24 hours before giving up."""
    start = now = datetime(2026, 9, 1, tzinfo=UTC)
    failures = 0
    while not rules.gives_up(start, now):
        failures += 1
        now += rules.retry_delay(failures, 0.0)
    assert now - start >= timedelta(hours=24)
    assert 20 < failures < 60  # about one an hour after the first ten minutes
    assert not rules.gives_up(start, start + timedelta(hours=23, minutes=59))
    assert rules.gives_up(start, start + timedelta(hours=24))


def test_the_signature_verifies_with_standardwebhooks_and_tampering_fails():
    secret = rules.new_secret()
    body = b'{"case_id":"c-1","date_of_death":"2026-08-30"}'
    stamp = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": rules.signature_header([secret], "msg_1", stamp, body),
    }
    assert Webhook(secret).verify(body, headers) == {"case_id": "c-1", "date_of_death": "2026-08-30"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"08-30", b"08-31"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(rules.new_secret()).verify(body, headers)
    stale = int(time.time()) - 600
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(
            body,
            {**headers, "webhook-timestamp": str(stale), "webhook-signature": rules.sign(secret, "msg_1", stale, body)},
        )


def test_after_a_rotation_both_secrets_verify():
    old, new = rules.new_secret(), rules.new_secret()
    body, stamp = b"{}", int(time.time())
    header = rules.signature_header([new, old], "msg_2", stamp, body)
    assert len(header.split(" ")) == 2
    for secret in (old, new):
        Webhook(secret).verify(
            body, {"webhook-id": "msg_2", "webhook-timestamp": str(stamp), "webhook-signature": header}
        )


def test_the_readme_verification_snippet_works_as_written():
    """docs/partners.md "Webhooks": the few lines a department writes accept a signed delivery once, and refuse a forged one."""
    import re
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "partners.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- webhook-verify:start -->\n```python\n(.*?)```\n<!-- webhook-verify:end -->", page, re.S)
    assert found, "docs/partners.md has no verification snippet between its markers"
    secret, handled = rules.new_secret(), []
    scope = {"SECRET": secret, "seen": set(), "handle": lambda *args: handled.append(args)}
    exec(found.group(1), scope)
    body, stamp = b'{"case_id":"c-9"}', int(time.time())
    headers = {
        "webhook-id": "msg_9",
        "webhook-timestamp": str(stamp),
        "webhook-signature": rules.sign(secret, "msg_9", stamp, body),
        "ce-type": "death.notified",
        "ce-matterid": "m-1",
    }
    assert scope["receive"](body, headers) == 204
    assert scope["receive"](body, headers) == 204  # again: not handled twice
    assert handled == [("death.notified", "m-1", {"case_id": "c-9"})]
    assert scope["receive"](b'{"case_id":"c-10"}', headers) == 400


def test_the_webhook_intake_queue_has_one_active_consumer_whatever_the_replicas():
    """One person's events reach the webhook outbox in the order they arrived: RabbitMQ gives the
    intake queue to one consumer at a time (the other replicas stand by)."""
    from chassis.topology import consumer_queue
    from contracts.subscriptions import SUBSCRIPTIONS

    for quorum in (True, False):
        intake = consumer_queue("webhooks.on_entitled_event", SUBSCRIPTIONS["webhooks.on_entitled_event"], quorum)
        assert intake.queue_arguments["x-single-active-consumer"] is True
        other = consumer_queue(
            "partner_feed.on_entitled_event", SUBSCRIPTIONS["partner_feed.on_entitled_event"], quorum
        )
        assert "x-single-active-consumer" not in other.queue_arguments
