"""The suite's runner (tests.parallel): shards that together run every test once, and the end-of-run
check that a broker still takes a new connection in time (here against stand-ins, not the broker)."""

import socket
import subprocess
import sys
import threading

from tests.conftest import free_port
from tests.parallel import broker_answers


def test_a_listener_that_never_answers_the_handshake_is_not_a_healthy_broker():
    # what the worn-down broker did: TCP connects, the AMQP handshake never comes
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_port()))
        listener.listen(8)
        held = []
        threading.Thread(target=lambda: held.append(listener.accept()), daemon=True).start()
        healthy, detail = broker_answers(f"amqp://guest:guest@127.0.0.1:{listener.getsockname()[1]}/")
    assert not healthy
    assert "timed out" in detail


def test_nothing_listening_is_not_a_healthy_broker():
    healthy, detail = broker_answers(f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    assert not healthy
    assert "refused" in detail.lower()


def test_the_shards_together_run_each_test_once(tmp_path):
    suite = tmp_path / "test_many.py"
    suite.write_text("import pytest\n\n@pytest.mark.parametrize('n', range(7))\ndef test_n(n):\n    pass\n")

    def collected(shard: str) -> set[str]:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "tests.conftest", str(suite)],
            capture_output=True,
            text=True,
            env={"TONGBAN_TEST_SHARD": shard, "PATH": "/usr/bin:/bin", "PYTHONPATH": "."},
            cwd=".",
        )
        return {line.split("::", 1)[1] for line in result.stdout.splitlines() if "::" in line}

    first, second = collected("0/2"), collected("1/2")
    assert first.isdisjoint(second)
    assert first | second == {f"test_n[{n}]" for n in range(7)}
    assert {len(first), len(second)} == {3, 4}
