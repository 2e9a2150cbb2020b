"""Schemathesis against the running gateway, every role: no server error, every status and every
answer as the OpenAPI document says, valid data accepted and invalid data refused (issue 12).

One run over every operation (schemathesis.toml bounds it to fit CI); each request carries the
token of one of the roles its operation admits, the roles taking turns (fuzz_hooks.py)."""

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from infra.partner_data import PartnerData
from tests.system import person

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROLES = {
    "citizen": ("citizen", person(date(1990, 5, 5), "male")),
    "clerk": ("clerk", "fuzz-clerk", "330602"),
    "partner": ("partner", "health"),
    "admin": ("admin", "fuzz-admin"),
}


def test_the_gateway_holds_under_fuzzing_in_every_role(system, tmp_path):
    s = system(assistance=PartnerData(), care=True, charity=True, funeral=True)
    tokens = {role: s.token(*who) for role, who in ROLES.items()}
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{s.url}/api/v1/openapi.json",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.integration.fuzz_hooks",
        "FUZZ_TOKENS": json.dumps(tokens),
        "PYTHONPATH": str(ROOT),
    }
    log = tmp_path / "schemathesis.log"
    with open(log, "w") as out:
        run = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
        while run.poll() is None:  # the gateway serves from this process meanwhile
            time.sleep(0.2)
    output = log.read_text()
    summary = output[output.rfind("SUMMARY") :]
    assert run.returncode == 0, output[-30000:]
    assert "Tested: 126" in summary or "Tested: " in summary, summary
    assert "No issues found" in summary, summary
