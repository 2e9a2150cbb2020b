"""The README's run command really starts the system: `python -m infra.run --smoke` boots every
process (marriage, assistance, care, charity, funeral, gateway, partner simulator) and walks one matter through the HTTP API."""

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from chassis.migrations import service_role_url
from infra.partners import broker_from
from infra.scratch import BROKER_ADMIN_URL, PG_ADMIN_DSN, SERVICE_PASSWORD, SERVICE_ROLE, pg_admin
from tests.conftest import free_port
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


def run_env(amqp_uri: str, prefix: str) -> dict:
    return {
        **os.environ,
        "AMQP_URI": amqp_uri,
        "RABBIT_ADMIN_URL": BROKER_ADMIN_URL,
        "PARTNER_CREDENTIALS": str(ROOT / "var" / f"{prefix}_partners.json"),
        "GATEWAY_HTTP": f"127.0.0.1:{free_port()}",
        "MARRIAGE_HTTP": f"127.0.0.1:{free_port()}",
        "ASSISTANCE_HTTP": f"127.0.0.1:{free_port()}",
        "CARE_HTTP": f"127.0.0.1:{free_port()}",
        "CHARITY_HTTP": f"127.0.0.1:{free_port()}",
        "FUNERAL_HTTP": f"127.0.0.1:{free_port()}",
        "PARTNER_DATA_PORT": str(free_port()),
        "WEBHOOKS_HTTP": f"127.0.0.1:{free_port()}",
        "WEBHOOK_SIM_PORT": str(free_port()),
        "TONGBAN_DB_PREFIX": prefix,
        "TONGBAN_PG": os.environ.get("TONGBAN_PG", PG_ADMIN_DSN),  # the harness's PostgreSQL, not the machine's
        "TONGBAN_SMOKE_DROP_DATABASES": "1",
        "LOG_LEVEL": "INFO",
        # the role the services connect as (made on the harness's server with this password)
        "TONGBAN_DB_SERVICE_ROLE": SERVICE_ROLE,
        "TONGBAN_DB_SERVICE_PASSWORD": SERVICE_PASSWORD,
    }


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_run_command_boots_everything_and_completes_a_matter(amqp_uri, scratch, database):
    prefix = f"test_run_{uuid.uuid4().hex[:8]}"
    partner_vhost = f"{amqp_uri.rsplit('/', 1)[1]}-partners"  # what infra.run provisions beside it
    scratch.vhosts.append(partner_vhost)  # deleted with the test's own
    env = run_env(amqp_uri, prefix)
    if database == "sqlite":  # no PostgreSQL reachable: the embedded default under var/
        env["TONGBAN_PG"] = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "infra.run", "--smoke"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        for leftover in (ROOT / "var").glob(f"{prefix}_*"):
            leftover.unlink()
        broker_from(amqp_uri, BROKER_ADMIN_URL, partner_vhost).delete_users()
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "smoke: marriage registered, certificate J330602-" in result.stdout
    assert "smoke: matter completed, every step done" in result.stdout
    assert "smoke: human_resources takes its events by signed webhook" in result.stdout
    assert ("using SQLite files under var/" in result.stdout) == (database == "sqlite")
    # the partners were given identities of their own on the partner vhost, and used them
    assert f"partner vhost {partner_vhost}: the feed's account and" in result.stdout
    # the processes logged the registration, and no full resident ID number reached any log line
    output = result.stdout + result.stderr
    assert '"event": "marriage.registered"' in output
    assert "********" in output
    assert not re.search(r"(?<![0-9A-Za-z])[0-9]{17}[0-9X](?![0-9A-Za-z])", output)


def test_the_processes_connect_as_the_service_role_and_cannot_change_the_audit(amqp_uri, scratch, tmp_path):
    """`python -m infra.run` migrates as the databases' owner and starts every process connecting as
    the services' role: every connection to the run's databases is that role's (pg_stat_activity),
    and that role is refused a change or a deletion of an audit row in each of them."""
    prefix = f"test_role_{uuid.uuid4().hex[:8]}"
    partner_vhost = f"{amqp_uri.rsplit('/', 1)[1]}-partners"
    scratch.vhosts.append(partner_vhost)
    log = tmp_path / "run.log"
    databases = [f"{prefix}_{name}" for name in ("marriage", "assistance", "care", "charity", "funeral", "gateway")]
    with log.open("w") as out:
        run = subprocess.Popen(
            [sys.executable, "-m", "infra.run"],
            cwd=ROOT,
            env=run_env(amqp_uri, prefix),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    admin = pg_admin()
    try:
        wait_for(
            lambda: "[tongban] ready:" in log.read_text() or run.poll() is not None,
            timeout=240,
            interval=1,
            what="the run command's ready line",
        )
        assert run.poll() is None, log.read_text()[-3000:]
        cursor = admin.cursor()

        def connections():
            cursor.execute(
                "SELECT datname, usename FROM pg_stat_activity WHERE datname = ANY(%s) AND pid <> pg_backend_pid()",
                (databases,),
            )
            return cursor.fetchall()

        # every service holds connections (its relay listens, its workers have served the ready checks)
        seen = wait_for(
            lambda: (rows := connections()) and {d for d, _ in rows} == set(databases) and rows,
            timeout=60,
            what="connections to every database",
        )
        assert {user for _, user in seen} == {SERVICE_ROLE}, seen
        for database in databases:
            dsn = PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{database}"
            conn = psycopg2.connect(service_role_url(dsn, SERVICE_PASSWORD, SERVICE_ROLE))
            conn.autocommit = True
            try:
                check = conn.cursor()
                check.execute("SELECT current_user, count(*) FROM audit_log")
                assert check.fetchone()[0] == SERVICE_ROLE
                for statement in (
                    "DELETE FROM audit_log",
                    "UPDATE audit_log SET outcome = 'x'",
                    "DROP TABLE audit_log",
                ):
                    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                        check.execute(statement)
            finally:
                conn.close()
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=60)
        broker_from(amqp_uri, BROKER_ADMIN_URL, partner_vhost).delete_users()
        for leftover in (ROOT / "var").glob(f"{prefix}_*"):
            leftover.unlink()
        cursor = admin.cursor()
        for database in databases:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
