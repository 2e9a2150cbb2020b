"""The README's run command really starts the system: `python -m infra.run --smoke` boots every
process (marriage, assistance, care, charity, funeral, gateway, partner simulator) and walks one matter through the HTTP API."""

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from infra.partners import broker_from
from infra.scratch import BROKER_ADMIN_URL, PG_ADMIN_DSN
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_run_command_boots_everything_and_completes_a_matter(amqp_uri, scratch, database):
    prefix = f"test_run_{uuid.uuid4().hex[:8]}"
    partner_vhost = f"{amqp_uri.rsplit('/', 1)[1]}-partners"  # what infra.run provisions beside it
    scratch.vhosts.append(partner_vhost)  # deleted with the test's own
    env = {
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
    }
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
