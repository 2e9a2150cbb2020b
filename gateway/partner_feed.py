"""The partner feed: each partner department receives only its entitled events, only the fields it
needs (contracts.partners), on its own durable queue `partner.<code>`."""

from __future__ import annotations

from chassis import Database, Logger, Outbox, WorkerMetrics, handle_event
from contracts.partners import PARTNERS, project_for_partner
from contracts.subscriptions import SUBSCRIPTIONS


class PartnerFeedService:
    name = "partner_feed"

    db = Database()
    outbox = Outbox()
    log = Logger()
    metrics = WorkerMetrics()

    @handle_event(*SUBSCRIPTIONS["partner_feed.on_entitled_event"])
    def on_entitled_event(self, event):
        for partner in PARTNERS.values():
            fields = partner.entitlements.get(event.type)
            if fields:
                self.outbox.forward_to_partner(partner.code, event, project_for_partner(event.data, fields))
