"""Fixtures that give every test its own PostgreSQL database and RabbitMQ vhost.

Tests talk to the real broker and database on this machine (127.0.0.1:5672, :5432) and clean up
after themselves (see `infra.scratch`).
"""

import warnings

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")

import eventlet  # noqa: E402

eventlet.monkey_patch()  # before anything imports socket or threading for real

import socket  # noqa: E402
from datetime import UTC  # noqa: E402

import pytest  # noqa: E402
from nameko.containers import ServiceContainer  # noqa: E402

from infra.scratch import Scratch  # noqa: E402


@pytest.fixture
def scratch():
    """This test's throwaway databases and vhosts, deleted after it."""
    made = Scratch(prefix="test")
    yield made
    made.close()


@pytest.fixture
def make_database(scratch):
    """Create empty databases on demand (`make_database("label")` returns a SQLAlchemy URL)."""
    return scratch.database


@pytest.fixture
def amqp_uri(scratch):
    """A fresh vhost for the test: its queues, exchanges and messages vanish with it."""
    return scratch.vhost()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def base_config(amqp_uri):
    return {
        "AMQP_URI": amqp_uri,
        "CLOCK": "manual",
        "EVENT_RETRY_DELAYS_MS": [50, 100],
        "LOG_LEVEL": "WARNING",
        "max_workers": 10,
        "OUTBOX_POLL_INTERVAL": 0.2,
    }


@pytest.fixture
def start_service(scratch):  # after scratch, so containers stop before their vhost goes
    """Run service classes in containers in this process; kill them after the test."""
    containers = []

    def start(cls, config):
        container = ServiceContainer(cls, config)
        container.start()
        containers.append(container)
        return container

    yield start
    for container in reversed(containers):
        container.kill()


@pytest.fixture
def manual_clock():
    from datetime import datetime

    from chassis.clock import manual_clock

    saved = manual_clock.now()
    yield manual_clock
    manual_clock.set(max(saved, datetime.now(UTC)))
