"""Fixtures that give every test its own PostgreSQL database and RabbitMQ vhost.

Tests talk to the real broker and database on this machine (127.0.0.1:5672, :5432) and clean up
after themselves (see `infra.scratch`). The harness is light on the broker and patient with a busy
machine:

- the topology's queues are classic queues, except in tests marked `quorum` (those about what only
  quorum queues do: delivery limits, at-least-once dead-lettering): a quorum queue is a Raft group
  with its own log, and a test declares about 150 of them;
- containers are killed together at the end of a test, not one after another (each waits up to a
  second for its consumer loop to notice);
- `TONGBAN_TEST_SHARD=k/n` runs every n-th test from the k-th, so `tests/parallel.py` can run n
  pytest processes side by side; each shard takes its HTTP ports from its own range.
"""

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything imports socket or threading for real

import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
from datetime import UTC  # noqa: E402

import pytest  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from infra.scratch import Scratch  # noqa: E402
from tests.helpers import PATIENCE, close_broker_connections  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "quorum: the test's topology uses quorum queues, as production does")


def _shard() -> tuple[int, int]:
    """(k, n) of TONGBAN_TEST_SHARD=k/n: this process runs the tests at positions k, k+n, … (from 0)."""
    k, _, n = (os.environ.get("TONGBAN_TEST_SHARD") or "0/1").partition("/")
    return int(k), int(n)


def pytest_collection_modifyitems(config, items):
    k, n = _shard()
    if n > 1:
        kept = [item for position, item in enumerate(items) if position % n == k]
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept


@pytest.fixture(autouse=True)
def queue_type(request, monkeypatch):
    """Classic queues unless the test is about quorum queues (chassis.topology reads this)."""
    kind = "quorum" if request.node.get_closest_marker("quorum") else "classic"
    monkeypatch.setenv("TONGBAN_QUEUE_TYPE", kind)
    return kind


@pytest.fixture
def scratch():
    """This test's throwaway databases and vhosts, deleted after it."""
    made = Scratch(prefix="test")
    yield made
    close_broker_connections()
    made.close()


@pytest.fixture
def make_database(scratch):
    """Create empty databases on demand (`make_database("label")` returns a SQLAlchemy URL)."""
    return scratch.database


@pytest.fixture
def amqp_uri(scratch):
    """A fresh vhost for the test: its queues, exchanges and messages vanish with it."""
    return scratch.vhost()


_PORTS_PER_SHARD = 2500  # below the ephemeral range (32768-), so no outgoing connection takes one
_next_port: dict[int, int] = {}


def free_port() -> int:
    """A port nothing listens on, from this shard's own range (20000 + 2500 k …), so two shards
    never hand out the same one; each process starts at a random place in it, so other test runs
    on the machine at the same time rarely meet it."""
    k, _ = _shard()
    low = 20000 + k * _PORTS_PER_SHARD
    for _ in range(_PORTS_PER_SHARD):
        port = _next_port.get(k) or low + random.randrange(_PORTS_PER_SHARD)
        _next_port[k] = low + (port + 1 - low) % _PORTS_PER_SHARD
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{low + _PORTS_PER_SHARD - 1}")


@pytest.fixture
def base_config(amqp_uri):
    return {
        "AMQP_URI": amqp_uri,
        "CLOCK": "manual",
        "EVENT_RETRY_DELAYS_MS": [50, 100],
        "LOG_LEVEL": "WARNING",
        "max_workers": 10,
        "OUTBOX_POLL_INTERVAL": 0.2,
        # The gateway's RPC deadline is generous here, below the test client's own, so a busy
        # machine makes a request slow, never a 503 (a test about the deadline sets its own).
        "RPC_TIMEOUT_SECONDS": PATIENCE * 0.75,
    }


@pytest.fixture
def start_service(scratch):  # after scratch, so containers stop before their vhost goes
    """Run service classes in containers in this process; kill them after the test, together."""
    containers = []

    def start(cls, config):
        container = ServiceContainer(cls, config)
        container.start()
        containers.append(container)
        return container

    yield start
    pool = eventlet.GreenPool()
    for container in containers:
        pool.spawn_n(container.kill)
    pool.waitall()


@pytest.fixture
def manual_clock():
    from datetime import datetime

    from chassis.clock import manual_clock

    saved = manual_clock.now()
    yield manual_clock
    manual_clock.set(max(saved, datetime.now(UTC)))
