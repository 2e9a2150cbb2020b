"""The fault suite's test bed: the whole system as real processes, N instances of every kind, on a
private RabbitMQ cluster and the suite's own scratch PostgreSQL, reached through the suite's TCP
proxies, so any piece can be killed, restarted, slowed or cut while load runs.

- Broker: three `rabbitmq-server` nodes of our own (infra.rabbit_nodes), quorum queues replicated
  across them; `$TONGBAN_FAULTS_RABBIT=name:base_port` reuses a cluster already started, else the
  suite starts `faults` on $TONGBAN_FAULTS_RABBIT_PORT (default 5745) and stops it at the end.
  Every process reaches the cluster through one TcpProxy (round robin over the live nodes).
- PostgreSQL: a scratch cluster made with initdb/pg_ctl on $TONGBAN_FAULTS_PG_PORT (default 5447),
  never the machine's server; it can be restarted (`pg.restart()`) and its backends terminated.
- Processes: every kind of infra.processes (each service, progress, partner feed, the gateway),
  `instances` of each, started with `nameko run` as a deployment would; `kill(kind)` sends SIGKILL
  to a random instance and `restart_dead()` starts it again on the same port.
- Partners: the partner simulator (infra.partner_sim) and the economic-check sources
  (infra.partner_data) run in this process; the simulator's `received` list is every message a
  partner acked, so the suite can tell lost from duplicated. With `webhook_partner`, that
  department takes its events by signed webhook instead (infra.webhook_sim, an endpoint served by
  this process that the suite can take down), as 人社 does in `make run`.
- Time: every process runs on one shared clock (chassis.clock, `CLOCK: shared:<file>`), the
  machine's time until the suite moves it (`bed.clock.advance(minutes=5)`).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import eventlet
import psycopg2
import requests

from chassis.clock import SharedClock
from chassis.migrations import upgrade
from contracts.partners import PARTNERS
from infra import rabbit_nodes
from infra.partner_data import DEV_SOURCE_TOKEN, PartnerData, serve
from infra.partner_sim import PartnerSimulator, provision_simulated
from infra.partners import PartnerBroker, broker_from
from infra.processes import PROCESSES
from infra.scratch import BrokerAdmin
from infra.webhook_sim import WebhookDepartment
from tests.faults.proxy import TcpProxy
from tests.helpers import wait_for
from tests.system import ISSUER

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("TONGBAN_PG_BIN", "/usr/lib/postgresql/15/bin"))
DATABASES = {
    "marriage": "services/marriage",
    "assistance": "services/assistance",
    "care": "services/care",
    "charity": "services/charity",
    "funeral": "services/funeral",
    "gateway": "gateway",
}


def argv(kind: str) -> list[str]:
    """The process's command, with this interpreter's nameko (the venv's)."""
    return [str(Path(sys.executable).parent / "nameko"), *PROCESSES[kind].argv()[1:]]


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class ScratchPostgres:
    """A PostgreSQL cluster of the suite's own (initdb + pg_ctl), on its own port and directory."""

    def __init__(self, port: int, directory: Path):
        self.port, self.directory = port, directory
        self.dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def start(self) -> None:
        self.stop()
        self.directory.parent.mkdir(parents=True, exist_ok=True)
        self.directory.parent.chmod(0o777)
        subprocess.run(
            _as_postgres([str(PG_BIN / "initdb"), "-D", str(self.directory), "-U", "postgres", "--auth=trust"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._pg_ctl("start")

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k /tmp -c max_connections=400 -c fsync=off -c listen_addresses=127.0.0.1"
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.directory),
                    "-l",
                    f"{self.directory}.log",
                    "-o",
                    options,
                    "-w",
                    *args,
                ]
            ),
            check=True,
            capture_output=True,
            timeout=180,
        )

    def restart(self) -> None:
        """An immediate stop (no checkpoint, every connection cut: a crash as clients see it), then start."""
        self._pg_ctl("-m", "immediate", "restart")

    def stop(self) -> None:
        if (self.directory / "PG_VERSION").exists():
            with contextlib.suppress(subprocess.SubprocessError):
                self._pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)
        Path(f"{self.directory}.log").unlink(missing_ok=True)

    def admin(self):
        conn = psycopg2.connect(self.dsn, connect_timeout=5)
        conn.autocommit = True
        return conn

    def terminate_backends(self, databases: list[str]) -> int:
        """pg_terminate_backend of every connection to these databases: how many were dropped."""
        with contextlib.closing(self.admin()) as conn:
            cur = conn.cursor()
            cur.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = ANY(%s)", (databases,)
            )
            return cur.fetchone()[0]


@dataclass
class Instance:
    kind: str
    index: int
    http: str
    env: dict
    process: subprocess.Popen | None = None
    kills: int = 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        try:
            return requests.get(f"http://{self.http}/health/ready", timeout=2).status_code == 200
        except requests.RequestException:
            return False


class Endpoint(WebhookDepartment):
    """The webhook department with an endpoint the suite can take down: while `down`, every
    delivery is answered 503 unread (as a partner's server in maintenance would). Counts the
    deliveries refused so (`while_down`) and those of a webhook-id it had acted on already (`again`)."""

    down = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.while_down = self.again = 0

    def handle(self, body: bytes, headers: dict) -> int:
        with self.lock:
            if self.down:
                self.while_down += 1
                return 503
            if headers.get("webhook-id") in self.handled:
                self.again += 1
        return super().handle(body, headers)


@dataclass
class Bed:
    instances: int = 3
    nodes: list = field(default_factory=list)
    owns_cluster: bool = False
    pg: ScratchPostgres | None = None
    broker: TcpProxy | None = None
    gateway: TcpProxy | None = None
    vhost: str = ""
    partner_vhost: str = ""
    partners: PartnerBroker | None = None
    urls: dict = field(default_factory=dict)
    running: list[Instance] = field(default_factory=list)
    simulator: PartnerSimulator | None = None
    threads: list = field(default_factory=list)
    servers: list = field(default_factory=list)
    log_dir: Path = ROOT / "var" / "faults"
    boot_failures: list[str] = field(default_factory=list)  # instances that exited before ready
    clock: SharedClock | None = None  # every process's time (chassis.clock)
    endpoint: Endpoint | None = None  # the webhook partner's, in a case that has one
    by_amqp: tuple[str, ...] = ()  # the partners the AMQP simulator plays

    # --- the cluster and the database: once per suite -------------------------------------------

    def start_infrastructure(self) -> None:
        reuse = os.environ.get("TONGBAN_FAULTS_RABBIT")
        if reuse:
            name, base = reuse.split(":")
            self.nodes = rabbit_nodes.nodes(name, 3, int(base))
        else:
            self.nodes = rabbit_nodes.start("faults", 3, int(os.environ.get("TONGBAN_FAULTS_RABBIT_PORT", "5745")))
            self.owns_cluster = True
        self.pg = ScratchPostgres(
            int(os.environ.get("TONGBAN_FAULTS_PG_PORT", "5447")), Path("/tmp/tongban-faults-pg/db")
        )
        self.pg.start()
        self.broker = TcpProxy([("127.0.0.1", n.amqp_port) for n in self.nodes])

    def stop_infrastructure(self) -> None:
        if self.broker:
            self.broker.close()
        if self.pg:
            self.pg.stop()
        if self.owns_cluster and self.nodes:
            rabbit_nodes.stop(self.nodes[0].cluster)

    @property
    def admin(self) -> BrokerAdmin:
        live = next(n for n in self.nodes if rabbit_nodes._admin_ready(n))
        return BrokerAdmin(live.admin_url, "guest:guest")

    @property
    def amqp_uri(self) -> str:
        return f"amqp://guest:guest@{self.broker.address}/{urllib.parse.quote(self.vhost, safe='')}"

    # --- the system: once per case ----------------------------------------------------------------

    def start_system(self, case: str, http_base: int, webhook_partner: str | None = None) -> None:
        self.vhost = f"faults-{case}-{os.getpid()}"
        self.boot_failures.clear()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        clock_file = self.log_dir / f"{case}-clock"
        clock_file.unlink(missing_ok=True)  # the machine's time until the case moves it
        self.clock = SharedClock(clock_file)
        self.admin.add_vhost(self.vhost)
        with contextlib.closing(self.pg.admin()) as conn:
            for name in DATABASES:
                db = f"faults_{case}_{name}"
                conn.cursor().execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
                conn.cursor().execute(f'CREATE DATABASE "{db}"')
                self.urls[name] = f"postgresql+psycopg2://postgres@127.0.0.1:{self.pg.port}/{db}"
                upgrade(ROOT / DATABASES[name], self.urls[name])
        data_port = http_base + 99
        self.servers.append(serve(PartnerData(), data_port))
        log = open(self.log_dir / f"{case}.log", "ab")  # noqa: SIM115 - kept open for the processes' lifetime
        # the partner-facing vhost, as `make run` has it: its topology, the feed's account, and a
        # login per simulated partner (never the machine's broker, which the config defaults to)
        self.partner_vhost = f"{self.vhost}-partners"
        self.partners = broker_from(self.amqp_uri, self.admin.url, self.partner_vhost)
        feed = self.partners.setup()
        env = {
            **os.environ,
            "PARTNER_AMQP_URI": feed["uri"],
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore",
            # a process killed with -9 loses what it had buffered: its last log lines are the ones wanted
            "PYTHONUNBUFFERED": "1",
            "AMQP_URI": self.amqp_uri,
            "TONGBAN_QUEUE_TYPE": "quorum",
            "E_CERTIFICATE_KEY": "faults-e-certificate-key",
            "CHECK_SOURCES_URL": f"http://127.0.0.1:{data_port}",
            "CHECK_SOURCES_TOKEN": DEV_SOURCE_TOKEN,  # what the suite's PartnerData accepts
            "JOB_TICK_SECONDS": "1",
            "LOG_LEVEL": "WARNING",
            "CLOCK": f"shared:{clock_file}",
            "WEBHOOK_ALLOW_HTTP_LOOPBACK": "true",  # the suite's endpoint listens on loopback
            # every address is 127.0.0.1: without eventlet's green DNS (dnspython) each of the 27
            # processes boots on about 0.6 s less CPU
            "EVENTLET_NO_GREENDNS": "yes",
            "BANK_FILES_DIR": str(self.log_dir / f"{case}-bank-files"),
            **ISSUER.gateway_config(self.log_dir / f"{case}-jwks.json"),
            **{f"{name.upper()}_DATABASE_URL": url for name, url in self.urls.items()},
        }
        env = {k: str(v) for k, v in env.items()}
        port = http_base
        for kind, process in PROCESSES.items():
            for k in range(self.instances):
                own = {**env, process.http_env: f"127.0.0.1:{port}"}
                instance = Instance(kind, k, f"127.0.0.1:{port}", own)
                instance.process = subprocess.Popen(argv(kind), cwd=ROOT, env=own, stdout=log, stderr=log)
                self.running.append(instance)
                port += 1
        self._log = log
        self.wait_all_ready()
        self.gateway = TcpProxy(
            [("127.0.0.1", int(i.http.rsplit(":", 1)[1])) for i in self.running if i.kind == "gateway"]
        )
        self.by_amqp = tuple(code for code in PARTNERS if code != webhook_partner)
        self.simulator = PartnerSimulator(provision_simulated(self.partners, self.by_amqp), self.url, ISSUER)
        self.threads.append(eventlet.spawn(self._simulate))
        self.endpoint = None
        if webhook_partner:
            self.endpoint = Endpoint(self.url, ISSUER, webhook_partner, port=http_base + 98).serve()
            wait_for(self._register_endpoint, timeout=120, interval=1.0, what="the webhook endpoint registered")

    def _register_endpoint(self) -> bool:
        try:
            self.endpoint.register()
            return True
        except requests.RequestException:  # a gateway instance still warming: again
            return False

    def _simulate(self):
        while True:  # the broker may go away under it: a partner reconnects and carries on
            try:
                self.simulator.run()
            except Exception as exc:
                print(f"partner simulator reconnecting after {exc!r}", file=sys.stderr)
                eventlet.sleep(0.5)

    @property
    def url(self) -> str:
        return f"http://{self.gateway.address}"

    def stop_system(self) -> None:
        for instance in self.running:  # first, so none outlives a failed start
            if instance.alive():
                instance.process.send_signal(signal.SIGTERM)
        if self.simulator:
            # its consumers are threads of their own: left running, each case's would log in again
            # to a vhost gone, once a second, for the rest of the run (the suite's process, every
            # process's broker proxy, spent its CPU on them by the fourth case)
            self.simulator.stop()
            self.simulator = None
        for thread in self.threads:
            thread.kill()
        self.threads.clear()
        for server in self.servers:
            server.shutdown()
        self.servers.clear()
        if self.endpoint:
            self.endpoint.stop()
        for instance in self.running:
            if instance.alive():
                instance.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for instance in self.running:  # a process that has not stopped within 15 s in all is killed
            if instance.process is not None:
                try:
                    instance.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    instance.process.kill()
                    instance.process.wait()
        self.running.clear()
        if self.gateway:
            self.gateway.close()
            self.gateway = None
        if getattr(self, "_log", None):
            self._log.close()
        with contextlib.suppress(Exception):
            self.admin.delete_vhost(self.vhost)
        with contextlib.suppress(Exception):
            self.admin.delete_vhost(self.partner_vhost)

    # --- faults -------------------------------------------------------------------------------

    def kill(self, kind: str | None = None, rng: random.Random | None = None) -> Instance:
        """kill -9 of one running instance (of `kind`, or of any kind)."""
        rng = rng or random
        candidates = [i for i in self.running if i.alive() and (kind is None or i.kind == kind)]
        victim = rng.choice(candidates)
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        victim.kills += 1
        return victim

    def restart_dead(self) -> list[Instance]:
        dead = [i for i in self.running if not i.alive()]
        for instance in dead:
            instance.process = subprocess.Popen(
                argv(instance.kind), cwd=ROOT, env=instance.env, stdout=self._log, stderr=self._log
            )
        return dead

    def revive(self) -> None:
        """After a case's faults (or a fault injection that failed half way): every killed process
        started again, every broker node that is down restarted, the broker's network healed."""
        self.restart_dead()
        for index, node in enumerate(self.nodes):
            if not rabbit_nodes._listening(node.amqp_port):
                self.restart_node(index)
        self.broker.heal()

    def wait_all_ready(self) -> None:
        """Until every instance answers ready. Only the ones not yet seen ready are asked, twice a
        second: 24 booting processes asked 20 times a second each spent the CPU they boot with."""
        waiting = list(self.running)

        def ready():
            for instance in waiting:
                if not instance.alive():  # it exited while booting: started again, as a supervisor would
                    self.boot_failures.append(f"{instance.kind}-{instance.index} exited {instance.process.returncode}")
            self.restart_dead()
            waiting[:] = [i for i in waiting if not i.ready()]
            return not waiting

        wait_for(ready, timeout=600, interval=0.5, what="every instance ready")

    def kill_node(self, index: int) -> None:
        rabbit_nodes.kill_node(self.nodes[index])
        wait_for(lambda: not rabbit_nodes._listening(self.nodes[index].amqp_port), what="the node gone")

    def restart_node(self, index: int) -> None:
        rabbit_nodes.restart_node(self.nodes[index])
        wait_for(
            lambda: len(rabbit_nodes.running_nodes(self.nodes[index])) == len(self.nodes),
            timeout=300,
            what="the node back in its cluster",
        )

    def queues(self, vhost: str | None = None) -> list[dict]:
        admin = self.admin
        request = urllib.request.Request(
            f"{admin.url}/api/queues/{urllib.parse.quote(vhost or self.vhost, safe='')}?columns=name,messages,type,leader,members",
            headers=admin.headers,
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def move_leader(self, queue: str) -> tuple[str, str]:
        """Move a quorum queue's leader: its replica on the leader's node is removed (a new leader
        is elected among the others) and added back as a follower. Returns (old, new) leader."""
        leader = wait_for(lambda: self._leader(queue), timeout=600, what=f"{queue}'s leader known")
        node = next(n for n in self.nodes if n.name != leader and rabbit_nodes._listening(n.amqp_port))
        for command in ("delete_member", "add_member"):
            subprocess.run(
                [
                    str(rabbit_nodes.RABBIT_BIN / "rabbitmq-queues"),
                    "-n",
                    node.name,
                    command,
                    "--vhost",
                    self.vhost,
                    queue,
                    leader,
                ],
                env=node.env(),
                capture_output=True,
                text=True,
                timeout=600,  # an Erlang CLI boots a VM of its own: minutes on a machine at load 30
                check=True,
            )
            if command == "delete_member":
                wait_for(lambda: self._leader(queue) not in (None, leader), timeout=600, what="a new leader elected")
            else:
                wait_for(
                    lambda: leader in self._members(queue),
                    timeout=600,
                    what="the old leader's replica back as a member",
                )
        return leader, self._leader(queue)

    def _queue(self, queue: str) -> dict:
        try:
            return next((q for q in self.queues() if q["name"] == queue), {})
        except OSError:  # the management API slow or restarting: not an answer yet
            return {}

    def _leader(self, queue: str) -> str | None:
        return self._queue(queue).get("leader")

    def _members(self, queue: str) -> list[str]:
        return self._queue(queue).get("members") or []
