"""Readiness says what a process needs: a process whose broker stops answering (TCP still
connects, the AMQP handshake never comes, as the machine's broker did after hours of churn)
reports not ready within seconds, says why, and is ready again once the broker answers."""

import signal
import socket
import time
import uuid

import requests

from chassis.ops import ProcessHealth
from infra import rabbit_nodes
from tests.conftest import free_port
from tests.helpers import wait_for


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_base() -> int:
    """A base port whose node ports (AMQP, management +10000, metrics +11000, Erlang +20000) are free."""
    while True:
        base = free_port()
        if all(_free(base + offset) for offset in (10000, 11000, 20000)):
            return base


def test_a_process_whose_broker_hangs_is_not_ready_within_seconds_and_says_why(start_service, make_database):
    cluster = f"ready-{uuid.uuid4().hex[:6]}"
    (node,) = rabbit_nodes.start(cluster, 1, _node_base())
    try:
        port = free_port()
        start_service(
            ProcessHealth,
            {
                "AMQP_URI": node.amqp_uri,
                "DATABASE_URL": make_database("ready"),
                "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
                "READY_BROKER_TIMEOUT": 2,
            },
        )
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: requests.get(url + "/health/ready", timeout=30).status_code == 200, what="ready")
        assert "tongban_broker_up" in requests.get(url + "/metrics", timeout=30).text

        rabbit_nodes.kill_node(node, signal.SIGSTOP)  # the VM freezes: connects, never a handshake
        started = time.monotonic()
        answer = requests.get(url + "/health/ready", timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 503
        assert took < 10, f"readiness took {took:.1f} s to answer"
        checks = answer.json()["checks"]
        assert checks["db"] == "ok"
        assert checks["broker"].startswith("failing:") and "handshake" in checks["broker"], checks
        metrics = requests.get(url + "/metrics", timeout=30).text
        assert 'tongban_broker_up{service="ops"} 0.0' in metrics

        rabbit_nodes.kill_node(node, signal.SIGCONT)
        wait_for(lambda: requests.get(url + "/health/ready", timeout=30).status_code == 200, what="ready again")
        assert 'tongban_broker_up{service="ops"} 1.0' in requests.get(url + "/metrics", timeout=30).text
    finally:
        rabbit_nodes.kill_node(node, signal.SIGCONT)
        rabbit_nodes.stop(cluster)
