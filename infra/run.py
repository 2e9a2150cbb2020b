"""Run the whole system on this machine: broker check, databases, migrations, topology, then the
marriage, assistance, care, charity and funeral services, the gateway (edge + progress + partner feed), the webhooks
process (signed webhook deliveries), the partner simulator (which also answers the assistance service's economic-check
queries) and the webhook simulator (人社, taking its events by signed webhook).

    python -m infra.run            # until Ctrl-C
    python -m infra.run --smoke    # start, walk one 结婚生育户口一件事 through the HTTP API, stop
    python -m infra.run --instances 3                 # three of every service (`make run INSTANCES=3`)
    python -m infra.run --instances 2,gateway=3,care=1  # a default count and per-service counts

N instances of a service compete for its queues (RPC and events) and share its database; instance
k (from 0) listens on its HTTP port + k * $INSTANCE_PORT_STEP (default 1000).

PostgreSQL (one database per service) is used when reachable at $TONGBAN_PG (default
postgresql://postgres@127.0.0.1:5432/postgres); otherwise SQLite files under var/.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from infra.processes import MIGRATIONS

ROOT = Path(__file__).resolve().parent.parent
SERVICES = MIGRATIONS  # every process with a database of its own, and where its migrations live


def say(message: str) -> None:
    print(f"[tongban] {message}", flush=True)


def reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_rabbitmq(amqp_uri: str) -> None:
    url = urlparse(amqp_uri)
    host, port = url.hostname or "127.0.0.1", url.port or 5672
    if reachable(host, port):
        return
    server = shutil.which("rabbitmq-server") or (
        "/usr/sbin/rabbitmq-server" if Path("/usr/sbin/rabbitmq-server").exists() else None
    )
    if server is None or host not in ("127.0.0.1", "localhost"):
        sys.exit(
            f"RabbitMQ is not reachable at {host}:{port} and is not installed here.\n"
            "Install it and run this again:\n"
            "  Debian/Ubuntu: sudo apt-get install -y rabbitmq-server\n"
            "  macOS:         brew install rabbitmq && brew services start rabbitmq\n"
            "or point AMQP_URI at a running broker (RabbitMQ >= 3.10 for quorum queues)."
        )
    say("RabbitMQ is installed but stopped: starting it (rabbitmq-server -detached)")
    subprocess.run([server, "-detached"], check=False)
    for _ in range(120):
        if reachable(host, port):
            return
        time.sleep(0.5)
    sys.exit("RabbitMQ did not come up within 60 s; see its log under /var/log/rabbitmq/")


DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
# the services' role's password when $TONGBAN_DB_SERVICE_PASSWORD does not give one: a local
# development value, like the development token issuer's (a deployment sets its own)
DEV_SERVICE_PASSWORD = "tongban-service-dev"


def database_urls(prefix: str) -> dict[str, str]:
    admin = os.environ.get("TONGBAN_PG", DEFAULT_PG)
    try:
        import psycopg2

        conn = psycopg2.connect(admin, connect_timeout=3)
    except Exception as exc:
        (ROOT / "var").mkdir(exist_ok=True)
        say(f"PostgreSQL not reachable ({exc.__class__.__name__}); using SQLite files under var/")
        return {name: f"sqlite:///{ROOT / 'var' / f'{prefix}_{name}.db'}" for name in SERVICES}
    conn.autocommit = True
    urls = {}
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    for name in SERVICES:
        db = f"{prefix}_{name}"
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{db}"')
        urls[name] = f"{base}/{db}"
    conn.close()
    return urls


def drop_databases(urls: dict[str, str]) -> None:
    conn = None
    if any(url.startswith("postgresql") for url in urls.values()):
        import psycopg2

        conn = psycopg2.connect(os.environ.get("TONGBAN_PG", DEFAULT_PG))
        conn.autocommit = True
    for url in urls.values():
        if url.startswith("sqlite:///"):
            for suffix in ("", "-wal", "-shm"):
                Path(url[len("sqlite:///") :] + suffix).unlink(missing_ok=True)
        elif url.startswith("postgresql"):
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    if conn is not None:
        conn.close()


def provision_partners(env: dict) -> None:
    """The partner vhost, the feed's account, and a broker identity for every department and
    organisation the simulator plays (infra.partners); the simulator reads them from
    $PARTNER_CREDENTIALS (var/partners.json, readable by its owner only)."""
    from infra.partner_data import DEV_SOURCE_TOKEN
    from infra.partner_sim import simulated_identities
    from infra.partners import broker_from, save_credentials

    services_vhost = urlparse(env["AMQP_URI"]).path.lstrip("/")
    # beside the services' vhost: `tongban-partners` next to `/` or `tongban`, `<vhost>-partners` otherwise
    default = "tongban-partners" if services_vhost in ("", "%2F", "tongban") else f"{services_vhost}-partners"
    vhost = env.setdefault("PARTNER_VHOST", default)
    admin_url = env.get("RABBIT_ADMIN_URL", "http://127.0.0.1:15672")
    broker = broker_from(env["AMQP_URI"], admin_url, vhost)
    try:
        feed = broker.setup()
    except OSError as exc:  # urllib's URLError is one
        sys.exit(
            f"RabbitMQ's management API is not reachable at {admin_url} ({exc}); partners' identities are "
            "made through it.\nEnable it (rabbitmq-plugins enable rabbitmq_management) or set RABBIT_ADMIN_URL."
        )
    env["PARTNER_AMQP_URI"] = feed["uri"]
    made = {name: broker.provision(code, organisation) for name, (code, organisation) in simulated_identities().items()}
    credentials = Path(env.setdefault("PARTNER_CREDENTIALS", str(ROOT / "var" / "partners.json")))
    save_credentials(credentials, made)
    say(f"partner vhost {vhost}: the feed's account and {len(made)} partner identities ({credentials})")
    if not env.get("CHECK_SOURCES_TOKEN"):
        env["CHECK_SOURCES_TOKEN"] = DEV_SOURCE_TOKEN
        say("CHECK_SOURCES_TOKEN not set: using the simulated sources' development token")


def wait_ready(url: str, timeout: float = 120.0) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not become ready within {timeout:.0f} s")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STOP_GRACE_SECONDS = 8.0  # SIGTERM to SIGKILL; all gone about 2 s later (docs/operations.md)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """The child gets SIGTERM if this process dies without stopping it (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# the variable each scalable process takes its HTTP address from (instance k: its port + k * step)
HTTP_ENV = {name: f"{name.upper()}_HTTP" for name in SERVICES}


def parse_instances(spec: str) -> dict[str, int]:
    """ "3" -> 3 of every service; "2,gateway=3" -> 3 gateways, 2 of the rest. Key "*": the default."""
    counts: dict[str, int] = {"*": 1}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, count = part.rpartition("=")
        if name and name not in SERVICES:
            raise argparse.ArgumentTypeError(f"unknown service {name!r} (one of {', '.join(SERVICES)})")
        if not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"an instance count is a positive whole number, not {count!r}")
        counts[name or "*"] = int(count)
    return counts


def instance_addresses(address: str, count: int, step: int) -> list[str]:
    host, _, port = address.rpartition(":")
    return [f"{host}:{int(port) + k * step}" for k in range(count)]


class Processes:
    """The children, each in a session of its own: a terminal's Ctrl-C reaches only this process,
    which stops them all the same way as on SIGTERM."""

    def __init__(self, instances: dict[str, int] | None = None, port_step: int = 1000):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.instances = instances or {"*": 1}
        self.port_step = port_step

    def count(self, name: str) -> int:
        return self.instances.get(name, self.instances["*"]) if name in HTTP_ENV else 1

    def addresses(self, name: str, env: dict) -> list[str]:
        return instance_addresses(env[HTTP_ENV[name]], self.count(name), self.port_step)

    def start(self, name: str, args: list[str], env: dict) -> None:
        for k in range(self.count(name)):
            own = dict(env)
            label = name
            if self.count(name) > 1:
                own[HTTP_ENV[name]], label = self.addresses(name, env)[k], f"{name}-{k}"
            child = subprocess.Popen(args, cwd=ROOT, env=own, start_new_session=True, preexec_fn=_die_with_parent)
            self.children.append((label, child))
            say(f"started {label} (pid {child.pid})")

    def exited(self):
        return next(((n, p.returncode) for n, p in self.children if p.poll() is not None), None)

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to every child at once (nameko lets its workers in flight finish; a message not
        acked yet goes back to its queue), then SIGKILL whatever is left after `grace` seconds."""
        for _, process in self.children:
            if process.poll() is None:
                process.terminate()
        started = time.monotonic()
        deadline = started + grace
        for name, process in self.children:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
                say(f"{name} stopped ({time.monotonic() - started:.1f} s)")
            except subprocess.TimeoutExpired:
                say(f"{name} (pid {process.pid}) still running after {grace:.0f} s: killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="walk one matter through, then stop")
    parser.add_argument(
        "--instances",
        type=parse_instances,
        default=parse_instances(os.environ.get("INSTANCES", "1")),
        help='instances of each service: "3", or "2,gateway=3" (default $INSTANCES or 1)',
    )
    args = parser.parse_args(argv)

    env = dict(os.environ)
    env.setdefault("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
    env.setdefault("GATEWAY_HTTP", "127.0.0.1:8000")
    env.setdefault("MARRIAGE_HTTP", "127.0.0.1:8101")
    env.setdefault("ASSISTANCE_HTTP", "127.0.0.1:8102")
    env.setdefault("CARE_HTTP", "127.0.0.1:8103")
    env.setdefault("CHARITY_HTTP", "127.0.0.1:8104")
    env.setdefault("FUNERAL_HTTP", "127.0.0.1:8105")
    env.setdefault("WEBHOOKS_HTTP", "127.0.0.1:8106")
    env.setdefault("WEBHOOK_SIM_PORT", "8210")
    env.setdefault("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")  # the simulated department listens on loopback
    env.setdefault("PARTNER_DATA_PORT", "8200")
    env.setdefault("PARTNER_SIM_METRICS_PORT", "8201")
    env.setdefault("CHECK_SOURCES_URL", f"http://127.0.0.1:{env['PARTNER_DATA_PORT']}")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONWARNINGS", "ignore:Eventlet is deprecated")  # nameko issue #785
    # the banner starts with a newline, which a PYTHONWARNINGS filter cannot match; this variable is
    # the only thing eventlet reads it for (eventlet/__init__.py): no banner at every start
    env.setdefault("EVENTLET_TESTS", "1")
    os.environ.setdefault("EVENTLET_TESTS", env["EVENTLET_TESTS"])  # this process imports nameko below
    prefix = env.get("TONGBAN_DB_PREFIX", "tongban")
    ensure_rabbitmq(env["AMQP_URI"])

    sys.path.insert(0, str(ROOT))
    from chassis.migrations import ensure_service_role, service_role_url, upgrade
    from chassis.topology import declare_topology
    from gateway.auth import DEV_JWKS_FILE, DEV_KEY_FILE, dev_issuer

    if not env.get("E_CERTIFICATE_KEY"):
        env["E_CERTIFICATE_KEY"] = "dev-only-e-certificate-signing-key"
        say("E_CERTIFICATE_KEY not set: using a development value (never in production)")
    if not env.get("AUTH_JWKS"):  # no identity provider named: the local development issuer signs
        issuer = dev_issuer()
        env["AUTH_JWKS"], env["AUTH_ISSUER"], env["AUTH_AUDIENCE"] = str(DEV_JWKS_FILE), issuer.issuer, issuer.audience
        say(f"AUTH_JWKS not set: tokens come from the local development issuer ({DEV_JWKS_FILE.parent})")
        # the console's sign-in page mints with the same issuer: pick a role and an area
        env.setdefault("CONSOLE_DEV_ISSUER_KEYS", str(DEV_KEY_FILE))

    urls = database_urls(prefix)
    service_urls = dict(urls)
    if any(url.startswith("postgresql") for url in urls.values()):
        # migrations run as the owner; the services connect as a role that owns nothing, may read
        # and write their tables but only read and append to the audit (chassis.migrations)
        password = env.get("TONGBAN_DB_SERVICE_PASSWORD") or DEV_SERVICE_PASSWORD
        role = ensure_service_role(
            os.environ.get("TONGBAN_PG", DEFAULT_PG), password, env.get("TONGBAN_DB_SERVICE_ROLE")
        )
        service_urls = {name: service_role_url(url, password, role) for name, url in urls.items()}
        say(f"the services connect as database role {role}; migrations run as the databases' owner")
    for name, path in SERVICES.items():
        upgrade(ROOT / path, urls[name], service_role=env.get("TONGBAN_DB_SERVICE_ROLE"))
        say(f"{name} database migrated: {urls[name].split('@')[-1]}")
    for name in SERVICES:
        env[f"{name.upper()}_DATABASE_URL"] = service_urls[name]
    declare_topology(env["AMQP_URI"])
    say("broker topology declared (exchanges, consumer, retry and dead-letter queues)")
    provision_partners(env)

    nameko = str(Path(sys.executable).parent / "nameko")
    processes = Processes(args.instances, int(env.get("INSTANCE_PORT_STEP", "1000")))

    def shutdown(*_):
        # once: a second signal while the children stop must not cut the stopping short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    try:
        processes.start(
            "marriage",
            [nameko, "run", "--config", "infra/config/marriage.yaml", "services.marriage.service:MarriageService"],
            env,
        )
        processes.start(
            "assistance",
            [
                nameko,
                "run",
                "--config",
                "infra/config/assistance.yaml",
                "services.assistance.service:AssistanceService",
            ],
            env,
        )
        processes.start(
            "care", [nameko, "run", "--config", "infra/config/care.yaml", "services.care.service:CareService"], env
        )
        processes.start(
            "charity",
            [nameko, "run", "--config", "infra/config/charity.yaml", "services.charity.service:CharityService"],
            env,
        )
        processes.start(
            "funeral",
            [nameko, "run", "--config", "infra/config/funeral.yaml", "services.funeral.service:FuneralService"],
            env,
        )
        processes.start(
            "gateway",
            [
                nameko,
                "run",
                "--config",
                "infra/config/gateway.yaml",
                "gateway.service:GatewayService",
                "gateway.progress:ProgressService",
                "gateway.partner_feed:PartnerFeedService",
            ],
            env,
        )
        processes.start(
            "webhooks",
            [
                nameko,
                "run",
                "--config",
                "infra/config/webhooks.yaml",
                "gateway.webhooks:WebhooksService",
                "chassis.ops:ProcessHealth",
            ],
            env,
        )
        gateway_url = f"http://{env['GATEWAY_HTTP']}"
        for name in SERVICES:  # every instance of every service
            for address in processes.addresses(name, env):
                wait_ready(f"http://{address}/health/ready")
        wait_ready(f"http://{env['WEBHOOKS_HTTP']}/health/ready")
        processes.start(
            "partner-simulator",
            [sys.executable, "-m", "infra.partner_sim", "--gateway", gateway_url, "run"],
            env,
        )
        processes.start(  # 人社 takes its events by signed webhook
            "webhook-simulator",
            [sys.executable, "-m", "infra.webhook_sim", "--gateway", gateway_url, "--port", env["WEBHOOK_SIM_PORT"]],
            env,
        )
        say(
            f"ready: API {gateway_url}/api/v1 (OpenAPI at /api/v1/openapi.json, AsyncAPI at /api/v1/asyncapi.json "
            "and /api/v1/partners/<code>/asyncapi.json), "
            f"metrics {gateway_url}/metrics and /metrics of marriage {env['MARRIAGE_HTTP']}, "
            f"assistance {env['ASSISTANCE_HTTP']}, care {env['CARE_HTTP']}, charity {env['CHARITY_HTTP']}, "
            f"funeral {env['FUNERAL_HTTP']}, webhooks {env['WEBHOOKS_HTTP']}, "
            f"partner simulator 127.0.0.1:{env['PARTNER_SIM_METRICS_PORT']}"
        )
        if args.smoke:
            smoke(gateway_url, dev_issuer())
            return 0
        while (gone := processes.exited()) is None:
            time.sleep(1)
        say(f"{gone[0]} exited with code {gone[1]}; stopping everything")
        return 1
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        processes.stop()
        if args.smoke and env.get("TONGBAN_SMOKE_DROP_DATABASES") == "1":
            drop_databases(urls)


def smoke(gateway_url: str, issuer) -> None:
    """The README walk-through, in Python: apply, register, partners answer, birth, all done."""
    import requests

    from chassis.clock import LOCAL_ZONE
    from contracts.person import compose_resident_id
    from gateway.auth import issue_token
    from infra.partner_sim import notify_birth

    seq = int(time.time()) % 400 * 2
    husband = {"resident_id": compose_resident_id("330602", date(1995, 4, 1), seq + 1), "name": "王刚"}
    wife = {"resident_id": compose_resident_id("330602", date(1997, 8, 8), seq + 2), "name": "周敏"}
    citizen = {"Authorization": f"Bearer {issue_token(issuer, husband['resident_id'], 'citizen')}"}
    clerk = {"Authorization": f"Bearer {issue_token(issuer, 'registrar-01', 'clerk', area='330602')}"}
    day = datetime.now(LOCAL_ZONE).date() + timedelta(days=3 + seq % 20)
    slot = datetime(day.year, day.month, day.day, 9 + seq % 8, 30 * (seq % 2), tzinfo=LOCAL_ZONE)
    response = requests.post(
        f"{gateway_url}/api/v1/matters/marriage-birth-hukou",
        headers=citizen,
        timeout=10,
        json={"office_code": "330602", "slot_start": slot.isoformat(), "party_a": husband, "party_b": wife},
    )
    response.raise_for_status()
    matter_id = response.json()["matter_id"]
    say(f"smoke: matter {matter_id} opened")
    response = requests.post(
        f"{gateway_url}/api/v1/marriage/registrations",
        headers=clerk,
        timeout=10,
        json={
            "office_code": "330602",
            "party_a": husband,
            "party_b": wife,
            "declared_not_close_relatives": True,
            "matter_id": matter_id,
        },
    )
    response.raise_for_status()
    say(f"smoke: marriage registered, certificate {response.json()['certificate_number']}")

    def state():
        return (
            requests.get(f"{gateway_url}/api/v1/matters/{matter_id}", headers=citizen, timeout=10).json().get("state")
        )

    wait_until(lambda: state() == "waiting", "the health and police steps")
    notify_birth(gateway_url, issuer, wife["resident_id"], husband["resident_id"], "王小满", "female", date.today())
    wait_until(lambda: state() == "completed", "the newborn steps")
    say("smoke: matter completed, every step done")
    operator = {"Authorization": f"Bearer {issue_token(issuer, 'dev-operator', 'admin')}"}

    def webhook_department() -> bool:
        endpoints = requests.get(f"{gateway_url}/api/v1/webhooks/endpoints", headers=operator, timeout=10).json()
        return any(e["partner"] == "human_resources" and e["event_types"] for e in endpoints["endpoints"])

    wait_until(webhook_department, "the webhook simulator's endpoint")
    say("smoke: human_resources takes its events by signed webhook")


def wait_until(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"smoke: timed out waiting for {what}")
        time.sleep(0.3)


if __name__ == "__main__":
    sys.exit(main())
