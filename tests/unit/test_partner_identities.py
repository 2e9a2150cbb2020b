"""Partners' broker identities: what each user may touch, and how queues and routing keys are named
(the broker enforces the permissions; these tables check the patterns we give it)."""

import re

import pytest

from contracts.subscriptions import PARTNER_EXCHANGE, partner_queue, partner_routing_key
from infra.partner_sim import simulated_identities
from infra.partners import FEED_PERMISSIONS, partner_permissions


@pytest.mark.parametrize(
    ("code", "organisation", "readable", "not_readable"),
    [
        (
            "police",
            None,
            "partner.police",
            ["partner.health", "partner.police.dead", "partner.policex", "x.partner.police"],
        ),
        (
            "care_providers",
            "p-1",
            "partner.care_providers.p-1",
            [
                "partner.care_providers.p-10",
                "partner.care_providers.p-2",
                "partner.care_providers",
                "partner.care_providersXp-1",
            ],
        ),
    ],
)
def test_a_partner_may_read_its_own_queue_only(code, organisation, readable, not_readable):
    configure, write, read = partner_permissions(code, organisation)
    assert re.search(read, readable)
    for name in not_readable:
        assert not re.search(read, name), name
    # nothing may be declared, bound or published: '^$' matches no resource name but the empty one,
    # and the default exchange is checked as 'amq.default'
    for pattern in (configure, write):
        for name in ("amq.default", PARTNER_EXCHANGE, readable, "tongban.events"):
            assert not re.search(pattern, name)


def test_the_feed_may_only_publish_to_the_partner_exchange():
    configure, write, read = FEED_PERMISSIONS
    assert re.search(write, PARTNER_EXCHANGE)
    for name in ("tongban.partnersx", "amq.default", "partner.police", "tongban.events"):
        assert not re.search(write, name)
    assert not re.search(configure, "partner.police") and not re.search(read, "partner.police")


@pytest.mark.parametrize(
    ("code", "organisation", "event_type", "queue", "key"),
    [
        ("police", None, "marriage.registered", "partner.police", "police.marriage.registered"),
        (
            "care_providers",
            "p-1",
            "care.order_requested",
            "partner.care_providers.p-1",
            "care_providers.p-1.care.order_requested",
        ),
    ],
)
def test_queue_and_routing_key_names(code, organisation, event_type, queue, key):
    assert partner_queue(code, organisation) == queue
    assert partner_routing_key(code, organisation, event_type) == key


def test_the_simulator_plays_each_organisation_apart():
    identities = simulated_identities(("police", "care_providers"))
    assert identities["police"] == ("police", None)
    assert "care_providers" not in identities  # no login for the code itself: one per provider
    assert identities["care_providers/p-1"] == ("care_providers", "p-1")


@pytest.mark.parametrize(
    ("deliveries", "pause"),
    [(0, 0.2), (1, 0.4), (3, 1.6), (6, 12.8), (7, 15.0), (19, 15.0), (1000, 15.0)],
)
def test_the_simulated_partner_backs_off_longer_each_time_a_copy_comes_back(deliveries, pause):
    from infra.partner_sim import retry_pause

    assert retry_pause(deliveries) == pytest.approx(pause)


def test_the_backoff_outlasts_a_projection_behind_by_minutes_within_the_delivery_limit():
    from chassis.topology import DELIVERY_LIMIT
    from infra.partner_sim import retry_pause

    assert 180 <= sum(retry_pause(n) for n in range(DELIVERY_LIMIT)) <= 300
