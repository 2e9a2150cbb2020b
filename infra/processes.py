"""Every process a deployment runs, by name: the one container image's command.

    python -m infra.processes marriage           # nameko run --config infra/config/marriage.yaml ...
    python -m infra.processes migrate marriage   # the service's database to head (a Job)
    python -m infra.processes topology           # exchanges and queues declared (a Job)
    python -m infra.processes --list

The compose file, the Kubernetes manifests and tests/unit/test_deployment.py read this table, so a
manifest cannot start a process that does not exist or listen on a port its config does not name.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Process:
    config: str  # the nameko config file (its ${VAR:default} are the environment it reads)
    services: tuple[str, ...]  # module:Class, as `nameko run` takes them
    database: str  # whose database it uses (the service directory's migrations)
    http_env: str  # the variable its WEB_SERVER_ADDRESS comes from
    queues_of: str  # consumer queues `<name>.<handler>` it competes for (contracts.subscriptions)
    rpc: bool = True  # whether it serves nameko RPC (`rpc-<service>`)

    def argv(self) -> list[str]:
        return ["nameko", "run", "--config", self.config, *self.services]


PROCESSES: dict[str, Process] = {
    "marriage": Process(
        "infra/config/marriage.yaml",
        ("services.marriage.service:MarriageService",),
        "marriage",
        "MARRIAGE_HTTP",
        "marriage",
    ),
    "assistance": Process(
        "infra/config/assistance.yaml",
        ("services.assistance.service:AssistanceService",),
        "assistance",
        "ASSISTANCE_HTTP",
        "assistance",
    ),
    "care": Process("infra/config/care.yaml", ("services.care.service:CareService",), "care", "CARE_HTTP", "care"),
    "charity": Process(
        "infra/config/charity.yaml", ("services.charity.service:CharityService",), "charity", "CHARITY_HTTP", "charity"
    ),
    "funeral": Process(
        "infra/config/funeral.yaml", ("services.funeral.service:FuneralService",), "funeral", "FUNERAL_HTTP", "funeral"
    ),
    # the gateway's three share its database and config, and run apart so each scales on its own
    "gateway": Process(
        "infra/config/gateway.yaml", ("gateway.service:GatewayService",), "gateway", "GATEWAY_HTTP", "gateway"
    ),
    "progress": Process(
        "infra/config/gateway.yaml",
        ("gateway.progress:ProgressService", "chassis.ops:ProcessHealth"),
        "gateway",
        "GATEWAY_HTTP",
        "progress",
    ),
    "partner-feed": Process(
        "infra/config/gateway.yaml",
        ("gateway.partner_feed:PartnerFeedService", "chassis.ops:ProcessHealth"),
        "gateway",
        "GATEWAY_HTTP",
        "partner_feed",
        rpc=False,
    ),
    # signed webhooks: the intake writes the webhook outbox, the delivering loop sends it
    "webhooks": Process(
        "infra/config/webhooks.yaml",
        ("gateway.webhooks:WebhooksService", "chassis.ops:ProcessHealth"),
        "gateway",
        "WEBHOOKS_HTTP",
        "webhooks",
        rpc=False,
    ),
}

# where each database's migrations live (chassis.migrations.upgrade)
MIGRATIONS = {
    "marriage": "services/marriage",
    "assistance": "services/assistance",
    "care": "services/care",
    "charity": "services/charity",
    "funeral": "services/funeral",
    "gateway": "gateway",
}

_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([^}]*))?\}")


def config_variables(config: str) -> dict[str, str | None]:
    """The environment variables a nameko config file reads, with their defaults (None: required):
    the `${VAR:default}` in its values (its comments say nothing)."""
    import yaml

    values = yaml.safe_load((ROOT / config).read_text(encoding="utf-8")).values()
    return {m.group(1): m.group(2) for v in values if isinstance(v, str) for m in _VARIABLE.finditer(v)}


def default_port(process: Process) -> int:
    """The port of the process's HTTP server when its address is not set (the config's default)."""
    default = config_variables(process.config)[process.http_env]
    if not default:
        raise ValueError(f"{process.config} gives {process.http_env} no default")
    return int(default.rsplit(":", 1)[1])


def database_url_env(database: str) -> str:
    return f"{database.upper()}_DATABASE_URL"


def migrate(database: str) -> None:
    from chassis.migrations import upgrade

    url = os.environ.get(database_url_env(database))
    if not url:
        sys.exit(f"{database_url_env(database)} is not set")
    upgrade(ROOT / MIGRATIONS[database], url)
    print(f"[tongban] {database} database at head", flush=True)


def declare(amqp_uri: str) -> None:
    from chassis.topology import declare_topology

    queues = declare_topology(amqp_uri)
    print(f"[tongban] topology declared: {len(queues)} queues", flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("process", nargs="?", help=f"one of {', '.join(PROCESSES)}, migrate, topology")
    parser.add_argument("database", nargs="?", help="for migrate: " + ", ".join(MIGRATIONS))
    parser.add_argument("--list", action="store_true")
    args = parser.parse_args(argv)
    if args.list or not args.process:
        for name, process in PROCESSES.items():
            print(name, " ".join(process.argv()))
        return 0
    if args.process == "migrate":
        if args.database not in MIGRATIONS:
            parser.error(f"migrate takes one of {', '.join(MIGRATIONS)}")
        migrate(args.database)
        return 0
    if args.process == "topology":
        declare(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
        return 0
    if args.process not in PROCESSES:
        parser.error(f"unknown process {args.process!r}; known: {', '.join(PROCESSES)}, migrate, topology")
    os.chdir(ROOT)  # the config paths are the repository's
    argv_ = PROCESSES[args.process].argv()
    os.execvp(argv_[0], argv_)  # nameko becomes the process: signals reach it, not a wrapper
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
