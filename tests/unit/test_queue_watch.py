"""The queue watch's pure parts: which kind a queue is, every queue of the topology named, and
how long a queue's head has waited, from successive looks at its depth."""

from chassis.metrics import queue_kind
from chassis.ops import QueueAges, partner_queue_names, topology_queue_names
from contracts.partners import PARTNERS
from contracts.subscriptions import SUBSCRIPTIONS


def test_queue_kinds_follow_the_topology_names():
    assert queue_kind("progress.on_matter_event") == "service"
    assert queue_kind("progress.on_matter_event.retry.1000ms") == "retry"
    assert queue_kind("progress.on_matter_event.dead") == "dead"
    assert queue_kind("partner.police") == "partner"
    assert queue_kind("partner.police.330602-pcs") == "partner"
    assert queue_kind("partner.police.dead") == "dead"


def test_the_watch_names_every_queue_of_the_topology():
    names = set(topology_queue_names((1000, 5000)))
    for consumer in SUBSCRIPTIONS:
        assert {consumer, f"{consumer}.dead", f"{consumer}.retry.1000ms", f"{consumer}.retry.5000ms"} <= names
    assert not any(name.startswith("partner.") for name in names)  # those are on the partner vhost


def test_the_watch_names_every_partner_queue_of_the_partner_vhost():
    names = set(partner_queue_names({"care_providers": ["p-1", "p-2"]}))
    for code, partner in PARTNERS.items():
        if partner.organisations:
            assert f"partner.{code}" not in names
        else:
            assert {f"partner.{code}", f"partner.{code}.dead"} <= names
    assert {"partner.care_providers.p-1", "partner.care_providers.p-2.dead"} <= names


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_a_head_that_does_not_move_ages_and_a_moving_one_does_not():
    clock = Clock()
    ages = QueueAges(now=clock)
    rows = [
        # (seconds later, depth seen, age expected)
        (0, 0, 0),  # empty
        (10, 3, 0),  # messages arrived: the head waits from now
        (10, 5, 10),  # more arrived, none left: the head has waited 10 s
        (10, 5, 20),
        (10, 4, 0),  # one left: the head moved (a lower bound again)
        (15, 4, 15),
        (5, 0, 0),  # drained
        (5, 1, 0),
    ]
    for later, depth, expected in rows:
        clock.t += later
        assert ages.observe("q", depth) == expected, (later, depth, expected)
    assert ages.observe("other", 2) == 0  # each queue on its own
