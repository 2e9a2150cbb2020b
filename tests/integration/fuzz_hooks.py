"""Schemathesis hooks for the gateway fuzz run (loaded by `SCHEMATHESIS_HOOKS`): what the OpenAPI
document names but no JSON Schema can say, and whose token each request carries."""

import itertools
import json
import os
import re
from datetime import date, timedelta

import schemathesis
from hypothesis import strategies as st

from contracts.person import compose_resident_id

# divisions that exist (GB/T 2260), so a drawn resident ID is one the registry could have issued
DIVISIONS = ("330602", "330603", "330604", "110101", "320102", "440305")

resident_ids = st.builds(
    compose_resident_id,
    st.sampled_from(DIVISIONS),
    st.dates(min_value=date(1920, 1, 1), max_value=date.today() - timedelta(days=1)),
    st.integers(min_value=0, max_value=999),
)
schemathesis.openapi.format("resident-id", resident_ids)

TOKENS = json.loads(os.environ.get("FUZZ_TOKENS", "{}"))  # role -> bearer token, minted by the test
_turns = itertools.count()


@schemathesis.auth(refresh_interval=None)
class EveryRole:
    """Each request carries the token of a role its operation admits, the roles taking turns, so
    every role goes through every operation it may call."""

    def get(self, case, ctx):
        return TOKENS

    def set(self, case, tokens, ctx):
        described = re.match(r"Roles: ([a-z, ]+)\.", case.operation.definition.raw.get("description") or "")
        if described is None:
            return  # a public document: no token
        roles = [r.strip() for r in described.group(1).split(",")]
        role = roles[next(_turns) % len(roles)]
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {tokens[role]}"}
