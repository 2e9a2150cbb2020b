"""Fault cases (Jepsen style): the system with three instances of every process on a three-node
broker cluster, a steady load of one-matters and a payment cycle, one kind of fault injected at
random moments; at the end every count must balance (tests/faults/load.py) and the row is written
to var/faults/results.jsonl for the README's table.

    make test-faults                      # the short profile
    make test-faults FAULTS_PROFILE=long  # longer load, more faults
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
from datetime import datetime, timedelta

import eventlet
import pytest

from chassis.clock import LOCAL_ZONE
from infra.processes import PROCESSES
from tests.faults.bed import ROOT, Bed
from tests.faults.load import Load, assert_balanced, in_flight, ledger, rows
from tests.helpers import wait_for

PROFILE = os.environ.get("FAULTS_PROFILE", "short")
SECONDS, RATE, ELDERS, FAULTS = {"short": (60, 0.5, 20, 3), "long": (300, 1.0, 200, 10)}[PROFILE]
SECONDS = int(os.environ.get("FAULTS_SECONDS", SECONDS))
SEED = int(os.environ.get("FAULTS_SEED", str(int(time.time()) % 10_000)))


def kill_processes(bed: Bed, rng: random.Random, faults: list) -> None:
    """kill -9 of an instance of every kind, in random order at random moments; restarted a while after."""
    kinds = list(PROCESSES) * max(1, FAULTS // 3)
    rng.shuffle(kinds)
    for kind in kinds:
        eventlet.sleep(rng.uniform(1, SECONDS / len(kinds)))
        victim = bed.kill(kind, rng)
        faults.append(f"kill -9 {victim.kind}-{victim.index}")
        eventlet.sleep(rng.uniform(1, 4))
        bed.restart_dead()


def kill_broker_node(bed: Bed, rng: random.Random, faults: list) -> None:
    """One broker node killed (SIGKILL of its VM) and restarted; then a quorum queue's leader moved."""
    for _ in range(max(1, FAULTS // 3)):
        eventlet.sleep(rng.uniform(3, SECONDS / 3))
        index = rng.randrange(len(bed.nodes))
        bed.kill_node(index)
        faults.append(f"kill -9 broker node {index}")
        try:
            eventlet.sleep(rng.uniform(5, 10))
        finally:
            bed.restart_node(index)
    eventlet.sleep(rng.uniform(1, 5))
    old, new = bed.move_leader("marriage.on_death")
    faults.append(f"leader of marriage.on_death moved {old} -> {new}")


def drop_connections(bed: Bed, rng: random.Random, faults: list) -> None:
    """pg_terminate_backend of every connection to the services' databases, several times."""
    databases = [url.rsplit("/", 1)[1] for url in bed.urls.values()]
    for _ in range(FAULTS):
        eventlet.sleep(rng.uniform(2, SECONDS / FAULTS))
        dropped = bed.pg.terminate_backends(databases)
        faults.append(f"pg_terminate_backend x{dropped}")


def restart_postgres(bed: Bed, rng: random.Random, faults: list) -> None:
    """The scratch PostgreSQL restarted (immediate stop: a crash as its clients see it)."""
    for _ in range(max(1, FAULTS // 3)):
        eventlet.sleep(rng.uniform(3, SECONDS / 2))
        bed.pg.restart()
        faults.append("PostgreSQL restarted (immediate)")


def broker_network(bed: Bed, rng: random.Random, faults: list) -> None:
    """The network to the broker slowed (every chunk delayed), then cut (connections dropped, new ones refused)."""
    for _ in range(max(1, FAULTS // 3)):
        eventlet.sleep(rng.uniform(2, SECONDS / 4))
        bed.broker.slow(0.05)
        faults.append("broker network +50 ms per chunk")
        eventlet.sleep(rng.uniform(3, 8))
        bed.broker.heal()
        eventlet.sleep(rng.uniform(1, 4))
        bed.broker.cut()
        faults.append("broker network cut")
        eventlet.sleep(rng.uniform(3, 8))
        bed.broker.heal()


def partner_down_an_hour(bed: Bed, rng: random.Random, faults: list) -> None:
    """人社's webhook endpoint down (503 to every delivery) for an hour of the system's clock, moved
    five minutes at a time; then back, and the clock moved on until every delivery refused in the
    hour is due again (they back off to an hour between attempts, gateway.webhook_rules)."""
    eventlet.sleep(rng.uniform(2, SECONDS / 4))
    bed.endpoint.down = True
    faults.append(f"{bed.endpoint.partner}'s webhook endpoint down (503)")
    for _ in range(12):
        eventlet.sleep(rng.uniform(2, 4))
        bed.clock.advance(minutes=5)
    back_at = bed.clock.now()
    bed.endpoint.down = False
    faults.append("the clock moved 60 min while it was down; then it answered again")
    moved = timedelta(0)
    while True:  # what the outage left pending, when its next attempt is due
        due = [
            at
            for (at,) in rows(
                bed.urls["gateway"],
                "SELECT next_attempt_at FROM webhook_message WHERE endpoint_id = :e AND state = 'pending' "
                "AND failing_since < :back",
                e=bed.endpoint.endpoint_id,
                back=back_at,
            )
        ]
        if not due:
            break
        wait = min(due) - bed.clock.now()
        if wait > timedelta(seconds=5):
            bed.clock.advance(seconds=wait.total_seconds() + 1)
            moved += wait
        eventlet.sleep(2)
    faults.append(f"then on {moved.total_seconds() / 60:.0f} min, until the last refused delivery was due again")


def no_fault(bed: Bed, rng: random.Random, faults: list) -> None:
    """The same load with nothing broken: the baseline row of the table."""
    eventlet.sleep(SECONDS)


def settled_ledger(bed: Bed, load: Load) -> dict:
    """The ledger once nothing is in flight (a condition, read every 2 s; up to 5 minutes)."""
    book: dict = {}

    def settled():
        book.clear()
        book.update(ledger(bed, load))
        return not in_flight(book)

    with contextlib.suppress(AssertionError):  # still in flight then: the row counts it as lost
        wait_for(settled, timeout=300, interval=2.0, what="every event delivered")
    return book


CASES = {
    "baseline": no_fault,
    "kill9_processes": kill_processes,
    "broker_node": kill_broker_node,
    "pg_terminate": drop_connections,
    "pg_restart": restart_postgres,
    "broker_network": broker_network,
    "partner_down_an_hour": partner_down_an_hour,
}


@pytest.mark.quorum  # the production topology: quorum queues, replicated on the three nodes
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_fault_case(bed, case):
    rng = random.Random(f"{SEED}-{case}")
    started_hour = bed.clock.now().astimezone(LOCAL_ZONE).replace(minute=0, second=0, microsecond=0)
    load = Load(bed.url, RATE, seed=rng.randrange(1, 900), clock=bed.clock)
    load.start(SECONDS, ELDERS)
    faults: list[str] = []
    nemesis = eventlet.spawn(CASES[case], bed, rng, faults)
    begun = time.monotonic()
    failures: list[str] = []  # what kept the case from running as planned: in its row, then failed
    try:
        nemesis.wait()
    except Exception as exc:
        failures.append(f"fault injection: {exc!r}")
    # each step after the faults may fail in its own way; whatever fails is named in the row,
    # which is written all the same (a run that ends without its row tells nobody what happened)
    for step in (bed.revive, load.finish, bed.wait_all_ready):
        try:
            step()
        except Exception as exc:
            failures.append(f"{step.__name__}: {exc!r}")
    book = settled_ledger(bed, load)
    row = {
        "case": case,
        "profile": PROFILE,
        "seed": SEED,
        "date": datetime.now(LOCAL_ZONE).isoformat(timespec="minutes"),
        "load": f"{RATE:g} matters/s for {SECONDS} s + one payment cycle of {ELDERS}",
        "instances": bed.instances,
        "faults": faults,
        "seconds": round(time.monotonic() - begun),
        **{k: v for k, v in book.items() if k != "stuck"},
        "stuck": len(book["stuck"]),
        "stuck_examples": book["stuck"][:3],
        "failures": failures,
        "boot_failures": list(bed.boot_failures),
    }
    out = ROOT / "var" / "faults"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "results.jsonl", "a") as handle:
        handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    print(json.dumps(row, ensure_ascii=False, default=str))
    assert failures == []
    assert_balanced(book, started_hour, bed.clock.now().astimezone(LOCAL_ZONE))
    assert len(book["job_runs"]) == 3  # the three hourly jobs all ran (once an hour)
