"""Throwaway RabbitMQ vhosts and PostgreSQL databases for tests and benchmarks.

`Scratch` makes them on demand and deletes them all in `close()`; every name starts with a prefix
and a run id, so nothing it did not create is ever touched.

Vhosts are made through RabbitMQ's management HTTP API, not `rabbitmqctl`: every CLI call boots an
Erlang node that takes one of about ten distribution ports, and closed ports linger in TIME_WAIT,
so after a dozen calls a minute the CLI fails with "Distribution failed" (seen in CI). The plugin
ships with RabbitMQ; `BrokerAdmin.ensure()` enables it once if it is not running.

`ensure()` also starts the broker, with the machine's own start command, when nothing listens on its
AMQP port: a broker restarted by hand in a working session dies with that session, and CI then
found none (every test waited minutes for it, and the run timed out). If the broker still cannot be
had, the first error is kept and every later test fails at once with it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import psycopg2
import psycopg2.errors

from chassis.migrations import ensure_service_role as chassis_ensure_service_role
from chassis.migrations import service_role_url

PG_ADMIN_DSN = os.environ.get("TONGBAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_HOST = os.environ.get("TONGBAN_TEST_AMQP", "guest:guest@127.0.0.1:5672")
BROKER_ADMIN_URL = os.environ.get("TONGBAN_TEST_BROKER_ADMIN", "http://127.0.0.1:15672")
# How the machine starts its broker (the environment's documented command); tests may override it.
BROKER_START = os.environ.get("TONGBAN_TEST_BROKER_START", "rabbitmq-server -detached").split()
BROKER_START_WAIT = 120  # seconds: a cold RabbitMQ with quorum queues to recover takes tens of them


def pg_admin():
    conn = psycopg2.connect(PG_ADMIN_DSN)
    conn.autocommit = True
    return conn


# The role the services connect with (chassis.migrations grants it what a service needs, the
# audit only to read and append): made once on the test server; its password is the harness's own.
SERVICE_ROLE = os.environ.get("TONGBAN_DB_SERVICE_ROLE", "tongban_service")
SERVICE_PASSWORD = os.environ.get("TONGBAN_DB_SERVICE_PASSWORD", "tongban-service-test")
_service_role_made = False


def ensure_service_role() -> None:
    """The services' database role on the test server (LOGIN, no ownership of anything)."""
    global _service_role_made
    if not _service_role_made:
        chassis_ensure_service_role(PG_ADMIN_DSN, SERVICE_PASSWORD, SERVICE_ROLE)
        _service_role_made = True


def as_service_role(url: str) -> str:
    """The same database's URL, connecting as the services' role."""
    return service_role_url(url, SERVICE_PASSWORD, SERVICE_ROLE)


def sqlalchemy_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    return f"{base}/{database}"


class BrokerAdmin:
    """Vhosts and permissions through the management HTTP API."""

    def __init__(self, url: str = BROKER_ADMIN_URL, credentials: str = AMQP_HOST.split("@")[0]):
        self.url = url.rstrip("/")
        self.user = credentials.split(":", 1)[0]
        token = base64.b64encode(credentials.encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def _call(self, method: str, path: str, body=None, timeout: float = 30) -> int:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status

    def reachable(self) -> bool:
        try:
            return self._call("GET", "/api/overview", timeout=3) == 200
        except OSError:
            return False

    def ensure(self) -> BrokerAdmin:
        """Start the broker if nothing listens, then enable the management plugin if its API does
        not answer (one CLI call each, then never)."""
        if self.reachable():
            return self
        ensure_listening(amqp_address(), BROKER_START, BROKER_START_WAIT)
        if self.reachable():
            return self
        plugins = shutil.which("rabbitmq-plugins") or "/usr/sbin/rabbitmq-plugins"
        subprocess.run([plugins, "-q", "enable", "rabbitmq_management"], check=True, capture_output=True, timeout=120)
        deadline = time.monotonic() + 60
        while not self.reachable():
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ management API at {self.url} did not come up")
            time.sleep(0.5)
        return self

    def add_vhost(self, vhost: str):
        name = urllib.parse.quote(vhost, safe="")
        self._call("PUT", f"/api/vhosts/{name}", {})
        self._call(
            "PUT",
            f"/api/permissions/{name}/{urllib.parse.quote(self.user, safe='')}",
            {"configure": ".*", "write": ".*", "read": ".*"},
        )

    def delete_vhost(self, vhost: str):
        try:
            self._call("DELETE", f"/api/vhosts/{urllib.parse.quote(vhost, safe='')}")
        except urllib.error.HTTPError as error:
            if error.code != 404:
                raise


def amqp_address() -> tuple[str, int]:
    host_port = AMQP_HOST.rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    return host, int(port or 5672)


def listening(address: tuple[str, int], timeout: float = 3) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def ensure_listening(address: tuple[str, int], start: list[str], wait: float) -> None:
    """Run `start` if nothing listens on `address`, then wait until something does."""
    if listening(address):
        return
    logging.getLogger(__name__).warning("nothing listens on %s:%s; starting it with %s", *address, " ".join(start))
    subprocess.run(start, check=True, capture_output=True, timeout=wait)
    deadline = time.monotonic() + wait
    while not listening(address, timeout=1):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{' '.join(start)} ran, but nothing listens on {address} after {wait} s")
        time.sleep(0.5)


_admin: BrokerAdmin | None = None
_admin_error: Exception | None = None


def broker_admin() -> BrokerAdmin:
    """The broker's admin, made ready once; if that failed, the same failure at once."""
    global _admin, _admin_error
    if _admin is None:
        if _admin_error is not None:
            raise RuntimeError(f"the test broker could not be had: {_admin_error!r}")
        try:
            _admin = BrokerAdmin().ensure()
        except Exception as exc:
            _admin_error = exc
            raise
    return _admin


class Scratch:
    """Creates vhosts and databases on demand and remembers them for `close()`."""

    def __init__(self, prefix: str = "scratch"):
        self.prefix = f"{prefix}_{uuid.uuid4().hex[:8]}"
        self.vhosts: list[str] = []
        self.databases: list[str] = []

    def vhost(self, label: str = "vhost") -> str:
        """A fresh vhost; returns its AMQP URI."""
        name = f"{self.prefix}_{label}_{len(self.vhosts)}"
        self.vhosts.append(name)  # remembered first: a half-made vhost is still deleted
        broker_admin().add_vhost(name)
        return f"amqp://{AMQP_HOST}/{name}"

    def database(self, label: str = "db") -> str:
        """A fresh, empty database; returns its SQLAlchemy URL."""
        name = f"{self.prefix}_{label}_{len(self.databases)}"
        self.databases.append(name)
        ensure_service_role()
        conn = pg_admin()
        try:
            conn.cursor().execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return sqlalchemy_url(name)

    def close(self) -> list[str]:
        """Delete everything made; returns what could not be deleted (empty when all went)."""
        failures = []
        if self.databases:
            try:
                conn = pg_admin()
                try:
                    for name in self.databases:
                        try:
                            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                        except Exception as exc:
                            failures.append(f"database {name}: {exc!r}")
                finally:
                    conn.close()
            except Exception as exc:
                failures.append(f"databases {self.databases}: {exc!r}")
        for name in self.vhosts:
            try:
                broker_admin().delete_vhost(name)
            except Exception as exc:
                failures.append(f"vhost {name}: {exc!r}")
        self.databases, self.vhosts = [], []
        return failures
