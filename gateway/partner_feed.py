"""The partner feed: each partner department receives only its entitled events, only the fields it
needs (contracts.partners), on its own durable queue `partner.<code>` (and each organisation of a
code whose organisations act apart, such as every home-care provider, on its own
`partner.<code>.<organisation>`), on the partner-facing vhost.

The feed is the only bridge between the services' vhost and the partners' one. It consumes entitled
events like any consumer (inbox: once), writes each partner's projection into the outbox in the
same transaction, and its own relay (`PartnerRelay`) publishes those rows, with confirms and
`mandatory`, to the partner vhost, as an account that may publish to `tongban.partners` and nothing
else (infra.partners). A row that no queue takes (an organisation not provisioned yet) stays in the
outbox and is tried again, with a growing pause: nothing is lost, nothing reaches a wrong queue.

Config:
- `PARTNER_AMQP_URI`: the partner vhost, as the feed's account (default: the services' broker
  and credentials, vhost `tongban-partners`).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import eventlet
from nameko.extensions import DependencyProvider

from chassis import Database, Logger, Outbox, WorkerMetrics, handle_event
from chassis.clock import clock_for
from chassis.db import make_engine
from chassis.relay import OutboxRelay
from contracts.partners import PARTNERS, project_for_partner
from contracts.subscriptions import PARTNER_EXCHANGE, PARTNER_VHOST, SUBSCRIPTIONS

# For a code whose organisations act apart: which field of the event names the organisation.
ORGANISATION_FIELD = {("care_providers", "care.order_requested"): "provider"}


def partner_amqp_uri(config) -> str:
    """The partner vhost's URI: `PARTNER_AMQP_URI`, else the services' broker on `tongban-partners`."""
    if config.get("PARTNER_AMQP_URI"):
        return config["PARTNER_AMQP_URI"]
    url = urlsplit(config["AMQP_URI"])
    return urlunsplit((url.scheme, url.netloc, f"/{PARTNER_VHOST}", url.query, ""))


class PartnerRelay(DependencyProvider):
    """Publishes the outbox's partner rows (exchange `tongban.partners`) to the partner vhost."""

    def setup(self):
        config = self.container.config
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.relay: OutboxRelay | None = None
        self.enabled = config.get("OUTBOX_RELAY", True)
        self.uri = partner_amqp_uri(config)
        self.clock = clock_for(config)

    def start(self):
        if not self.enabled:
            return
        config = self.container.config
        engine = make_engine(config[self.database.url_key], pool_size=2)
        self.relay = OutboxRelay(
            lambda: engine,
            self.uri,
            "partner_feed",
            clock=self.clock,
            batch_size=int(config.get("OUTBOX_BATCH", 200)),
            poll_interval=float(config.get("OUTBOX_POLL_INTERVAL", 0.5)),
            linger=float(config.get("OUTBOX_LINGER", 0.01)),
            only_exchanges=(PARTNER_EXCHANGE,),
            declare=False,  # the partners' topology is provisioned (infra.partners); we may only publish
        )
        eventlet.spawn(self.relay.run)

    def stop(self):
        if self.relay is not None:
            self.relay.stop()
            self.relay = None

    kill = stop

    def check_ready(self) -> None:
        if self.relay is not None and not self.relay.healthy and self.relay.last_error:
            raise RuntimeError(f"partner relay unhealthy: {self.relay.last_error}")


class PartnerFeedService:
    name = "partner_feed"

    db = Database()
    outbox = Outbox()
    partner_relay = PartnerRelay()
    log = Logger()
    metrics = WorkerMetrics()

    @handle_event(*SUBSCRIPTIONS["partner_feed.on_entitled_event"])
    def on_entitled_event(self, event):
        for partner in PARTNERS.values():
            fields = partner.entitlements.get(event.type)
            if not fields:
                continue
            organisation = None
            if partner.organisations:
                organisation = event.data.get(ORGANISATION_FIELD.get((partner.code, event.type), ""))
                if not organisation:
                    self.log.error("partner_feed.no_organisation", partner=partner.code, event_type=event.type)
                    continue
            self.outbox.forward_to_partner(
                partner.code, event, project_for_partner(event.data, fields), organisation=organisation
            )
