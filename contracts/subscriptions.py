"""Every consumer queue in the system and the event types bound to it.

The broker topology is declared from this table before anything is published (`chassis.topology`),
so no event is dropped for want of a bound queue even if a consumer has never started. A handler
(`chassis.handle_event`) refuses to start unless its queue and event types are listed here.
Queue names are `<service>.<handler method>`; partner queues are `partner.<code>`.
"""

from __future__ import annotations

from contracts.partners import PARTNERS

__all__ = ["SUBSCRIPTIONS", "IN_ORDER", "partner_queue", "partner_routing_key", "PARTNER_EXCHANGE", "PARTNER_VHOST"]

# Partner deliveries are filtered copies published by the partner feed to this exchange with
# routing key `<partner code>.<event type>` (`<code>.<organisation>.<event type>` for a code whose
# organisations act apart). The exchange and the partner queues live on a vhost of their own, the
# partner-facing one (infra.partners); the services' vhost holds none of them.
PARTNER_EXCHANGE = "tongban.partners"
PARTNER_VHOST = "tongban-partners"  # the default; a deployment names its own (PARTNER_AMQP_URI)

SUBSCRIPTIONS: dict[str, tuple[str, ...]] = {
    "progress.on_matter_event": ("matter.opened", "matter.step_reported", "birth.notified", "death.revoked"),
    "assistance.on_divorce": ("marriage.divorce_registered",),
    "assistance.on_birth": ("birth.notified",),
    "care.on_assistance_approved": ("assistance.approved",),
    "care.on_entitlement_ended": ("assistance.entitlement_ended",),
    "care.on_entitlement_resumed": ("assistance.entitlement_resumed",),
    "care.on_member_left": ("assistance.member_left",),
    "care.on_order_confirmed": ("care.order_confirmed",),
    "care.on_credits_answered": ("charity.credits_answered",),
    "care.on_adoption_registered": ("adoption.registered",),
    "charity.on_household_referred": ("assistance.household_referred",),
    "charity.on_service_recorded": ("charity.service_recorded",),
    "charity.on_credits_requested": ("care.credits_requested",),
    "charity.on_order_cancelled": ("care.order_cancelled",),
    "assistance.on_charity_answer": ("charity.referral_answered",),
    # 身后一件事: one queue per service for the notice, its revocation and a corrected date of death,
    # so they arrive in order
    "assistance.on_death": ("death.notified", "death.revoked", "death.date_corrected"),
    "care.on_death": ("death.notified", "death.revoked", "death.date_corrected"),
    "marriage.on_death": ("death.notified", "death.revoked", "death.date_corrected"),
    "partner_feed.on_entitled_event": tuple(sorted({t for p in PARTNERS.values() for t in p.entitlements})),
    # the webhook intake (gateway.webhooks): the deliveries of every registered endpoint, in order
    "webhooks.on_entitled_event": tuple(sorted({t for p in PARTNERS.values() for t in p.entitlements})),
    "webhooks.on_endpoint_disabled": ("webhook.endpoint_disabled",),
}

# Queues one consumer takes at a time (RabbitMQ's single active consumer; the other replicas stand
# by), so their events are handled in the order they arrived however many replicas run: the
# webhook intake writes one person's events, and so delivers them, in that order.
IN_ORDER = frozenset({"webhooks.on_entitled_event"})


def partner_queue(code: str, organisation: str | None = None) -> str:
    """`partner.<code>`, or `partner.<code>.<organisation>` for one organisation under a code."""
    return f"partner.{code}" if organisation is None else f"partner.{code}.{organisation}"


def partner_routing_key(code: str, organisation: str | None, event_type: str) -> str:
    return f"{code}.{event_type}" if organisation is None else f"{code}.{organisation}.{event_type}"
