"""The README's walk-through, run as written (the block is read from README.md, so the two cannot
drift apart), twice in a row against one running system, as a new user would (issue 12)."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

from gateway.auth import DevIssuer
from tests.system import ISSUER

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", readme, re.S)
    assert found, "README.md has no walk-through block between its markers"
    return found.group(1)


def test_the_readme_walkthrough_runs_twice_in_a_row(system, tmp_path):
    # the tokens the block mints come from the development issuer, as under `make run`
    dev = DevIssuer(tmp_path / "dev-keys.json", tmp_path / "dev-jwks.json").current()
    jwks = tmp_path / "jwks.json"  # the gateway trusts it and the tests' issuer (the simulator's tokens)
    jwks.write_text(json.dumps({"keys": [dev.public_jwk(), ISSUER.public_jwk()]}))
    s = system(simulator=True, AUTH_JWKS=str(jwks))
    env = {
        **os.environ,
        "API": f"{s.url}/api/v1",
        "AUTH_DEV_KEYS": str(tmp_path / "dev-keys.json"),
        "AUTH_DEV_JWKS": str(tmp_path / "dev-jwks.json"),
    }
    script = "set -euo pipefail\n" + walkthrough()
    for run in (1, 2):
        log = tmp_path / f"run-{run}.log"
        with open(log, "w") as out:
            shell = subprocess.Popen(["bash", "-c", script], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            while shell.poll() is None:  # the system serves from this process meanwhile
                time.sleep(0.1)
        output = log.read_text()
        assert shell.returncode == 0, f"run {run}:\n{output}"
        for state in ("in_progress", "waiting", "completed"):
            assert re.search(rf"matter [0-9a-f-]{{36}}: {state}\n", output), f"run {run}:\n{output}"
        registered = re.search(r'\{"registration_id".*\}', output)
        assert registered and '"state": "registered"' in registered.group(0), output
        assert '"birth_id"' in output and "already_married" in output, output
