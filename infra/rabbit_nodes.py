"""Private RabbitMQ nodes on this machine: one, or a cluster of several, for tests, fault runs and
benchmarks, never the machine's own broker.

Each node gets its own node name (`<name>-<i>@localhost`), ports and data directory under
`$TONGBAN_RABBIT_DIR` (default /tmp/tongban-rabbit/<name>/); they run as the calling user with its
own Erlang cookie, so `rabbitmqctl` of the machine's broker never reaches them, nor theirs it.
Node i (from 0) listens for AMQP on `base + i`, for the management API on `base + 10000 + i`, for
the broker's own Prometheus metrics (rabbitmq_prometheus) on `base + 11000 + i`, and for Erlang
distribution on `base + 20000 + i`.
More than one node is joined into one cluster (the first node is the seed).

    python -m infra.rabbit_nodes start --name t1 --nodes 3 --base-port 5701   # prints the URIs
    python -m infra.rabbit_nodes stop --name t1                               # stops and deletes them

`stop` kills what is left of a node and deletes its directory, so a run that died leaves nothing
behind once it is called again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

RABBIT_BIN = Path(os.environ.get("TONGBAN_RABBIT_BIN", "/usr/lib/rabbitmq/bin"))
ROOT = Path(os.environ.get("TONGBAN_RABBIT_DIR", "/tmp/tongban-rabbit"))
PLUGINS = ("rabbitmq_management", "rabbitmq_prometheus")
START_WAIT = 120  # seconds: a cold node boots in 5-15 s here, slower on a busy machine


@dataclass(frozen=True)
class Node:
    cluster: str
    index: int
    base_port: int

    @property
    def name(self) -> str:
        return f"{self.cluster}-{self.index}@localhost"

    @property
    def amqp_port(self) -> int:
        return self.base_port + self.index

    @property
    def admin_port(self) -> int:
        return self.base_port + 10000 + self.index

    @property
    def metrics_port(self) -> int:
        return self.base_port + 11000 + self.index

    @property
    def dist_port(self) -> int:
        return self.base_port + 20000 + self.index

    @property
    def home(self) -> Path:
        return ROOT / self.cluster / f"node{self.index}"

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    def env(self) -> dict:
        return {
            **os.environ,
            "HOME": str(self.home),  # the node's and its CLI's Erlang cookie live here
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_PID_FILE": str(self.home / "pid"),
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
            "RABBITMQ_ALLOW_INPUT": "false",
        }

    def cli(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )


def nodes(cluster: str, count: int, base_port: int) -> list[Node]:
    return [Node(cluster, i, base_port) for i in range(count)]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _admin_ready(node: Node) -> bool:
    request = urllib.request.Request(
        node.admin_url + "/api/overview", headers={"Authorization": "Basic " + b64encode(b"guest:guest").decode()}
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _write_files(node: Node, cookie: str) -> None:
    node.home.mkdir(parents=True, exist_ok=True)
    (node.home / "rabbitmq.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{node.amqp_port}\n"
        f"management.tcp.port = {node.admin_port}\n"
        "management.tcp.ip = 127.0.0.1\n"
        f"prometheus.tcp.port = {node.metrics_port}\n"
        "prometheus.tcp.ip = 127.0.0.1\n"
        "loopback_users.guest = true\n"
        # a busy test machine must not stall publishers on a disk alarm of its shared disk
        "disk_free_limit.absolute = 50MB\n"
    )
    (node.home / "enabled_plugins").write_text(f"[{','.join(PLUGINS)}].\n")
    (node.home / "rabbitmq-env.conf").write_text("")
    cookie_file = node.home / ".erlang.cookie"
    cookie_file.write_text(cookie)
    cookie_file.chmod(0o400)


def start(cluster: str, count: int, base_port: int) -> list[Node]:
    """Start `count` fresh nodes and join them into one cluster; returns them once every node's
    AMQP port and management API answer."""
    members = nodes(cluster, count, base_port)
    stop(cluster, count, base_port)  # whatever an earlier run left
    cookie = b64encode(os.urandom(24)).decode()
    for node in members:
        busy = [p for p in (node.amqp_port, node.admin_port, node.metrics_port, node.dist_port) if _listening(p)]
        if busy:
            raise RuntimeError(f"ports {busy} of {node.name} are taken: choose another --base-port")
        _write_files(node, cookie)
        _start_server(node)
    for node in members:
        wait_until(lambda node=node: _listening(node.amqp_port) and _admin_ready(node), f"{node.name} to boot")
    seed = members[0]
    for node in members[1:]:
        node.cli("stop_app")
        node.cli("join_cluster", seed.name)
        node.cli("start_app")
        wait_until(lambda node=node: _listening(node.amqp_port), f"{node.name} to rejoin")
    if count > 1:
        wait_until(lambda: len(running_nodes(seed)) == count, f"{count} nodes running in the cluster")
    return members


def running_nodes(node: Node) -> list[str]:
    request = urllib.request.Request(
        node.admin_url + "/api/nodes", headers={"Authorization": "Basic " + b64encode(b"guest:guest").decode()}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return [n["name"] for n in json.load(response) if n.get("running")]
    except OSError:
        return []


def kill_node(node: Node, sig: int = signal.SIGKILL) -> None:
    """Kill one node's Erlang VM (a crash, for fault tests); its data directory stays."""
    pid_file = node.home / "pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().strip()), sig)


def _start_server(node: Node) -> None:
    """rabbitmq-server, detached, as this node (its own environment, ports and data)."""
    subprocess.run(
        [str(RABBIT_BIN / "rabbitmq-server"), "-detached"],
        env=node.env(),
        cwd=node.home,
        check=True,
        capture_output=True,
        timeout=60,
    )


def restart_node(node: Node) -> None:
    """Start a node again on its existing data (after `kill_node`); it rejoins its cluster."""
    _start_server(node)
    wait_until(lambda: _listening(node.amqp_port) and _admin_ready(node), f"{node.name} to restart")


def stop(cluster: str, count: int = 9, base_port: int | None = None) -> None:
    """Stop the cluster's nodes and delete their directories (nodes found on disk, whatever `count`)."""
    directory = ROOT / cluster
    if not directory.exists():
        return
    for home in sorted(directory.glob("node*")):
        pid_file = home / "pid"
        if pid_file.exists():
            try:
                pid = int(pid_file.read_text().strip())
                os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    os.kill(pid, 0)
                    time.sleep(0.2)
                os.kill(pid, signal.SIGKILL)
            except (ValueError, ProcessLookupError, PermissionError):
                pass
    shutil.rmtree(directory, ignore_errors=True)


def wait_until(predicate, what: str, timeout: float = START_WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.3)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("start", "stop"):
        p = sub.add_parser(command)
        p.add_argument("--name", required=True, help="the cluster's name: node names and directories derive from it")
        p.add_argument("--nodes", type=int, default=1)
        p.add_argument("--base-port", type=int, default=5701)
    args = parser.parse_args(argv)
    if args.command == "stop":
        stop(args.name)
        return 0
    for node in start(args.name, args.nodes, args.base_port):
        print(json.dumps({"node": node.name, "amqp": node.amqp_uri, "admin": node.admin_url}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
