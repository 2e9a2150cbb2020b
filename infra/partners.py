"""Partners' broker identities: provisioning, rotation and revocation (RabbitMQ management API).

Partners never use the services' accounts or vhost. On the partner-facing vhost (`tongban-partners`
unless `--vhost` says otherwise) every partner department, and every organisation of a code whose
organisations act apart (each home-care provider, each device platform), has a broker user of its
own that may consume its own queue and nothing else:

    configure '^$'   write '^$'   read '^partner\\.<code>(\\.<organisation>)?$'

so declaring a queue, binding, publishing anywhere (the default exchange included) and reading any
other queue are refused by the broker (ACCESS_REFUSED), not by our code. The partner feed has an
account that may publish to `tongban.partners` and nothing else.

    python -m infra.partners setup                      # vhost, exchange, departments' queues, feed user
    python -m infra.partners provision police           # user + password for police (printed once)
    python -m infra.partners provision care_providers --org yuecheng-meals
    python -m infra.partners rotate police              # a new password; its open connections are closed
    python -m infra.partners revoke police [--purge]    # user deleted, connections closed (queue too)
    python -m infra.partners list

`--credentials FILE` also writes what was made into a JSON file (mode 0600) keyed by identity
(`police`, `care_providers/yuecheng-meals`), which is how `make run` hands them to the simulator.
Admin access: `--admin URL` (management API, default $RABBIT_ADMIN_URL or http://127.0.0.1:15672)
with the user and password of `--amqp` (default $AMQP_URI); `--host` is the broker address written
into partners' URIs (default that of `--amqp`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from chassis.topology import declare_partner_topology
from contracts.partners import PARTNERS
from contracts.subscriptions import PARTNER_EXCHANGE, PARTNER_VHOST, partner_queue

__all__ = ["PartnerBroker", "FEED", "identity", "main"]

FEED = "partner_feed"  # the feed's identity on the partner vhost
_ORGANISATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # one routing-key word: no dots, no wildcards


def identity(code: str, organisation: str | None = None) -> str:
    return code if organisation is None else f"{code}/{organisation}"


def partner_permissions(code: str, organisation: str | None = None) -> tuple[str, str, str]:
    """(configure, write, read) of a partner's user: nothing, nothing, its own queue."""
    return "^$", "^$", f"^{re.escape(partner_queue(code, organisation))}$"


FEED_PERMISSIONS = ("^$", f"^{re.escape(PARTNER_EXCHANGE)}$", "^$")  # publish to the partner exchange only


class PartnerBroker:
    """The partner vhost, administered through the management API (and one AMQP connection as the
    administrator, to declare its topology)."""

    def __init__(self, admin_url: str, admin_user: str, admin_password: str, amqp_host: str, vhost: str):
        self.admin_url = admin_url.rstrip("/")
        self.admin_user, self.admin_password = admin_user, admin_password
        self.amqp_host, self.vhost = amqp_host, vhost  # host:port partners connect to
        token = base64.b64encode(f"{admin_user}:{admin_password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    # -- the management API --------------------------------------------------------------------
    def _call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.admin_url + path, data=data, method=method, headers=self.headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def _vh(self) -> str:
        return quote(self.vhost, safe="")

    def user_name(self, code: str, organisation: str | None = None) -> str:
        """Broker users are global, so each names its vhost: `tongban-partners.police`."""
        return f"{self.vhost}.{code}" if organisation is None else f"{self.vhost}.{code}.{organisation}"

    def admin_uri(self) -> str:
        return f"amqp://{quote(self.admin_user, safe='')}:{quote(self.admin_password, safe='')}@{self.amqp_host}/{self._vh()}"

    def uri(self, user: str, password: str) -> str:
        return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{self.amqp_host}/{self._vh()}"

    # -- commands -------------------------------------------------------------------------------
    def setup(self, feed_password: str | None = None) -> dict:
        """The vhost, its exchange, every department's queue, and the feed's account (idempotent,
        but the feed's password is set anew: `feed_password`, or a fresh one)."""
        self._call("PUT", f"/api/vhosts/{self._vh()}", {})
        self._set_permissions(self.admin_user, ".*", ".*", ".*")
        declare_partner_topology(self.admin_uri())
        user, password = self.user_name(FEED), feed_password or secrets.token_urlsafe(24)
        self._call("PUT", f"/api/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self._set_permissions(user, *FEED_PERMISSIONS)
        return {"user": user, "password": password, "vhost": self.vhost, "uri": self.uri(user, password)}

    def provision(self, code: str, organisation: str | None = None, password: str | None = None) -> dict:
        partner = PARTNERS.get(code)
        if partner is None:
            raise ValueError(f"no partner {code!r}; known: {', '.join(PARTNERS)}")
        if partner.organisations and organisation is None:
            raise ValueError(f"{code}: its organisations act apart; name one with --org")
        if not partner.organisations and organisation is not None:
            raise ValueError(f"{code}: one department, no organisations")
        if organisation is not None and not _ORGANISATION.match(organisation):
            raise ValueError(f"organisation {organisation!r}: lower-case letters, digits, '-' and '_' only")
        queue = partner_queue(code, organisation)
        if organisation is not None:  # a department's queue is made by `setup`; an organisation's now
            declare_partner_topology(self.admin_uri(), {code: [organisation]}, departments=False)
        user, password = self.user_name(code, organisation), password or secrets.token_urlsafe(24)
        self._call("PUT", f"/api/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self._set_permissions(user, *partner_permissions(code, organisation))
        return {
            "identity": identity(code, organisation),
            "user": user,
            "password": password,
            "vhost": self.vhost,
            "queue": queue,
            "uri": self.uri(user, password),
        }

    def rotate(self, code: str, organisation: str | None = None) -> dict:
        """A new password; sessions opened with the old one are closed."""
        user = self.user_name(code, organisation)
        self._call("GET", f"/api/users/{quote(user, safe='')}")  # 404 (HTTPError) when not provisioned
        password = secrets.token_urlsafe(24)
        self._call("PUT", f"/api/users/{quote(user, safe='')}", {"password": password, "tags": ""})
        self.close_connections(user)
        return {
            "identity": identity(code, organisation),
            "user": user,
            "password": password,
            "vhost": self.vhost,
            "queue": partner_queue(code, organisation),
            "uri": self.uri(user, password),
        }

    def revoke(self, code: str, organisation: str | None = None, purge: bool = False) -> None:
        user = self.user_name(code, organisation)
        with contextlib.suppress(urllib.error.HTTPError):
            self._call("DELETE", f"/api/users/{quote(user, safe='')}")
        self.close_connections(user)
        if purge:
            queue = partner_queue(code, organisation)
            for name in (queue, f"{queue}.dead"):
                with contextlib.suppress(urllib.error.HTTPError):
                    self._call("DELETE", f"/api/queues/{self._vh()}/{quote(name, safe='')}")

    def close_connections(self, user: str) -> int:
        closed = 0
        for connection in self._call("GET", "/api/connections?columns=name,user") or []:
            if connection.get("user") == user:
                with contextlib.suppress(urllib.error.HTTPError):  # it may have gone by itself
                    self._call("DELETE", f"/api/connections/{quote(connection['name'], safe='')}")
                    closed += 1
        return closed

    def identities(self) -> list[dict]:
        """Who may do what on the partner vhost."""
        return [
            {key: p[key] for key in ("user", "configure", "write", "read")}
            for p in self._call("GET", f"/api/vhosts/{self._vh()}/permissions") or []
        ]

    def delete_users(self) -> None:
        """Every user named for this vhost (tests' clean-up)."""
        for user in self._call("GET", "/api/users") or []:
            if user["name"].startswith(f"{self.vhost}."):
                with contextlib.suppress(urllib.error.HTTPError):
                    self._call("DELETE", f"/api/users/{quote(user['name'], safe='')}")

    def _set_permissions(self, user: str, configure: str, write: str, read: str) -> None:
        self._call(
            "PUT",
            f"/api/permissions/{self._vh()}/{quote(user, safe='')}",
            {"configure": configure, "write": write, "read": read},
        )


def broker_from(amqp_uri: str, admin_url: str, vhost: str, host: str | None = None) -> PartnerBroker:
    url = urlsplit(amqp_uri)
    return PartnerBroker(
        admin_url,
        unquote(url.username or "guest"),
        unquote(url.password or "guest"),
        host or f"{url.hostname}:{url.port or 5672}",
        vhost,
    )


def broker_for_vhost(admin_uri: str, admin_url: str) -> PartnerBroker:
    """The partner vhost that `admin_uri` (an administrator's URI, e.g. a scratch vhost) names."""
    return broker_from(admin_uri, admin_url, unquote(urlsplit(admin_uri).path.lstrip("/")))


def save_credentials(path: Path, made: dict) -> None:
    """Merge `made` (identity -> credentials) into the JSON file, readable by its owner only."""
    saved = json.loads(path.read_text()) if path.exists() else {}
    saved.update(made)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(saved, indent=2, ensure_ascii=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--amqp", default=os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"))
    parser.add_argument("--admin", default=os.environ.get("RABBIT_ADMIN_URL", "http://127.0.0.1:15672"))
    parser.add_argument("--vhost", default=os.environ.get("PARTNER_VHOST", PARTNER_VHOST))
    parser.add_argument("--host", help="host:port partners connect to (default: that of --amqp)")
    parser.add_argument("--credentials", type=Path, help="also write what was made into this JSON file")
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--credentials", type=Path, default=argparse.SUPPRESS)  # before or after the command
    for name in ("provision", "rotate", "revoke"):
        command = sub.add_parser(name)
        command.add_argument("--credentials", type=Path, default=argparse.SUPPRESS)
        command.add_argument("code", choices=sorted(PARTNERS))
        command.add_argument("--org", help="the organisation, for a code whose organisations act apart")
        if name == "revoke":
            command.add_argument("--purge", action="store_true", help="delete its queue and what waits in it")
    sub.add_parser("list")
    args = parser.parse_args(argv)
    broker = broker_from(args.amqp, args.admin, args.vhost, args.host)
    made: dict = {}
    try:
        if args.command == "setup":
            made[FEED] = broker.setup()
        elif args.command == "provision":
            made[identity(args.code, args.org)] = broker.provision(args.code, args.org)
        elif args.command == "rotate":
            made[identity(args.code, args.org)] = broker.rotate(args.code, args.org)
        elif args.command == "revoke":
            broker.revoke(args.code, args.org, args.purge)
            print(f"revoked {identity(args.code, args.org)}")
        else:
            print(json.dumps(broker.identities(), indent=2))
    except (ValueError, urllib.error.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if made:
        if args.credentials:
            save_credentials(args.credentials, made)
        print(json.dumps(made, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
