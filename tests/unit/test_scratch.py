"""The test harness brings up a broker that is not running, and fails fast when it cannot."""

import subprocess
import sys

import pytest

from infra import scratch
from tests.conftest import free_port


def test_nothing_listening_runs_the_start_command_and_waits_for_the_port():
    address = ("127.0.0.1", free_port())
    assert not scratch.listening(address)
    # Like `rabbitmq-server -detached`: the command returns at once, the server comes up later.
    start = [
        "sh",
        "-c",
        f"sleep 1; exec {sys.executable} -m http.server {address[1]} --bind 127.0.0.1 >/dev/null 2>&1 &",
    ]
    try:
        scratch.ensure_listening(address, start, wait=30)
        assert scratch.listening(address)
    finally:
        subprocess.run(["pkill", "-f", f"http.server {address[1]}"])


def test_something_listening_is_left_alone():
    address = ("127.0.0.1", free_port())
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(address[1]), "--bind", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        scratch.ensure_listening(address, ["sh", "-c", "exit 0"], wait=30)  # waits for the server
        scratch.ensure_listening(address, ["false"], wait=1)  # would raise if it were run
    finally:
        server.kill()
        server.wait()


def test_a_start_that_brings_nothing_up_fails_with_the_command_named():
    address = ("127.0.0.1", free_port())
    with pytest.raises(RuntimeError, match="nothing listens"):
        scratch.ensure_listening(address, ["true"], wait=1)


def test_a_broker_that_cannot_be_had_fails_every_later_test_at_once(monkeypatch):
    calls = []

    def unavailable(self):
        calls.append(1)
        raise OSError("connection refused")

    monkeypatch.setattr(scratch, "_admin", None)
    monkeypatch.setattr(scratch, "_admin_error", None)
    monkeypatch.setattr(scratch.BrokerAdmin, "ensure", unavailable)
    with pytest.raises(OSError):
        scratch.broker_admin()
    with pytest.raises(RuntimeError, match="connection refused"):
        scratch.broker_admin()
    assert len(calls) == 1
