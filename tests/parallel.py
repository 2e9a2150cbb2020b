"""Run the test suite as N pytest processes side by side, then check the broker is still healthy.

    python -m tests.parallel [-n N] [pytest arguments …]

Each process takes every N-th test (`TONGBAN_TEST_SHARD=k/N`, tests/conftest.py) and its own range of
HTTP ports; their output is shown line by line, prefixed with the shard. pytest-xdist cannot do this
here: its workers deadlock once eventlet monkey-patches the threads execnet talks through.

The integration tests mostly wait on the broker and the database, so two processes on two cores
take about half the time of one. At the end, whatever the tests did, the broker must still accept a
new AMQP connection (handshake and a channel) within a second: a broker worn down by test churn
once stopped answering handshakes while its management API still answered.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from urllib.parse import unquote, urlsplit

import amqp

from infra.scratch import AMQP_HOST

HEALTHY_HANDSHAKE_SECONDS = 1.0


def broker_answers(amqp_uri: str, within: float = HEALTHY_HANDSHAKE_SECONDS) -> tuple[bool, str]:
    """Whether a new connection gets through the AMQP handshake and opens a channel in time."""
    url = urlsplit(amqp_uri)
    started = time.monotonic()
    try:  # one attempt, each step bounded (kombu would retry)
        conn = amqp.Connection(
            f"{url.hostname}:{url.port or 5672}",
            userid=unquote(url.username or "guest"),
            password=unquote(url.password or "guest"),
            virtual_host=unquote(url.path[1:]) or "/",
            connect_timeout=within,
            read_timeout=within,
            write_timeout=within,
        )
        try:
            conn.connect()
            conn.channel().close()
        finally:
            conn.collect()
    except Exception as exc:  # any failure is the answer
        return False, f"{type(exc).__name__}: {exc}"
    took = time.monotonic() - started
    return took <= within, f"{took * 1000:.0f} ms"


# pytest's short summary lines (-ra): repeated at the very end, so a log read from its tail (CI
# keeps only the last part) still names what failed in every shard, not only in the last to finish
_SUMMARY = re.compile(r"^(FAILED|ERROR) ")


def _stream(shard: str, process: subprocess.Popen, summary: list[str]) -> None:
    for line in process.stdout:
        sys.stdout.write(f"[{shard}] {line}")
        sys.stdout.flush()
        if _SUMMARY.match(line):
            summary.append(f"[{shard}] {line.rstrip()}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=int(os.environ.get("TONGBAN_TEST_PROCESSES", "2")))
    args, pytest_args = parser.parse_known_args(argv)
    started = time.monotonic()
    processes = []
    summary: list[str] = []
    for k in range(args.n):
        env = {**os.environ, "TONGBAN_TEST_SHARD": f"{k}/{args.n}"}
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *pytest_args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        reader = threading.Thread(target=_stream, args=(f"{k + 1}/{args.n}", process, summary), daemon=True)
        reader.start()
        processes.append((process, reader))
    codes = []
    for process, reader in processes:
        codes.append(process.wait())
        reader.join()
    healthy, detail = broker_answers(f"amqp://{AMQP_HOST}/")
    for line in summary:
        print(line, flush=True)
    print(
        f"[tests] {args.n} processes finished in {time.monotonic() - started:.0f} s with exit codes {codes}; "
        f"a new broker connection: {'ok' if healthy else 'FAILED'} ({detail})",
        flush=True,
    )
    # pytest exits 5 when a shard selected no tests (a narrow -k): not a failure of the run
    failed = [code for code in codes if code not in (0, 5)]
    if failed or not healthy or all(code == 5 for code in codes):
        return failed[0] if failed else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
