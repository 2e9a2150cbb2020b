"""Signed webhooks over the partner API, and operations' view of them; the AsyncAPI documents.

A partner registers endpoints for event types within its entitlements; the types an administrator
has approved for it are delivered at once, the others wait for an approval (widening). Endpoints
can be paused, resumed (a disabled one too), deleted, have their secret rotated (the old one signs
beside the new for 24 hours), their delivery log read and a time range replayed. Operations (the
admin role) read every endpoint and log and decide the widening requests.
"""

from __future__ import annotations

import functools
import uuid
from datetime import timedelta

from nameko.dependency_providers import Config
from sqlalchemy import delete, func, select, update

from chassis import Forbidden, InvalidInput, NotFound, http, json_response
from contracts import webhooks as w
from contracts.partners import PARTNERS
from contracts.roles import ADMIN, PARTNER
from gateway import webhook_rules as rules
from gateway.api import route
from gateway.asyncapi import asyncapi_document, partner_asyncapi_document
from gateway.models import WebhookApproval, WebhookAttempt, WebhookEndpoint, WebhookGrant, WebhookMessage

ENDPOINTS = "/api/v1/partner/webhooks/endpoints"
OPS = "/api/v1/webhooks"
SECRET_OVERLAP = timedelta(hours=24)


def endpoint_route(method: str, suffix: str, **kwargs):
    """A route on one of the calling partner's endpoints (ENDPOINTS/<endpoint_id>…). The handler is
    given the endpoint, loaded and authorised once by `_own_endpoint` (anyone but a partner is refused;
    another partner's endpoint is a 404)."""

    def decorate(handler):
        @functools.wraps(handler)
        def on_own_endpoint(self, actor, body, endpoint_id, **rest):
            return handler(self, actor, body, self._own_endpoint(actor, endpoint_id), **rest)

        kwargs.setdefault("forward", False)  # the gateway answers these itself, with the loaded values
        return route(method, f"{ENDPOINTS}/<endpoint_id>{suffix}", roles=(PARTNER,), tag="webhooks", **kwargs)(
            on_own_endpoint
        )

    return decorate


def _truthy(value) -> bool:
    return str(value).lower() in ("1", "true", "yes")


class WebhookRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints)."""

    webhook_config = Config()

    @http("GET", "/api/v1/asyncapi.json")
    def asyncapi(self, request):
        return json_response(200, asyncapi_document())

    @http("GET", "/api/v1/partners/<code>/asyncapi.json")
    def partner_asyncapi(self, request, code):
        if code not in PARTNERS:
            raise NotFound(f"no partner {code[:40]}")
        return json_response(200, partner_asyncapi_document(code))

    # --- the partner's own endpoints --------------------------------------------------------

    @route(
        "POST",
        ENDPOINTS,
        roles=(PARTNER,),
        tag="webhooks",
        summary="Register a webhook endpoint for event types within your entitlements (answers its secret once)",
        body=w.EndpointRequestSchema,
        forward=False,
        response=w.EndpointSecretSchema,
        status=201,
        example={"url": "https://hr.example.gov.cn/tongban/webhooks", "event_types": ["death.notified"]},
    )
    def create_webhook_endpoint(self, actor, body):
        partner = self._webhook_partner(actor)
        url = self._endpoint_url(body["url"])
        split = self._split(partner, body["event_types"])
        endpoint = WebhookEndpoint(
            id=str(uuid.uuid4()),
            partner=partner,
            organisation=actor.org,
            url=url,
            description=body["description"],
            event_types=list(split.approved),
            pending_event_types=list(split.pending),
            secret=rules.new_secret(),
            state="active",
            created_at=self.clock.now(),
        )
        self.db.add(endpoint)
        self._ask_approval(endpoint, split.pending)
        self.db.flush()
        return {**self._endpoint_view(endpoint), "secret": endpoint.secret}

    @route(
        "GET",
        ENDPOINTS,
        roles=(PARTNER,),
        tag="webhooks",
        summary="Your webhook endpoints, their state and backlog",
        response=w.EndpointListSchema,
    )
    def list_webhook_endpoints(self, actor, body):
        query = select(WebhookEndpoint).where(WebhookEndpoint.partner == self._webhook_partner(actor))
        if actor.org:
            query = query.where(WebhookEndpoint.organisation == actor.org)
        return {
            "endpoints": [
                self._endpoint_view(e) for e in self.db.execute(query.order_by(WebhookEndpoint.created_at)).scalars()
            ]
        }

    @endpoint_route(
        "GET",
        "",
        summary="One of your webhook endpoints (a disabled one says why)",
        response=w.EndpointSchema,
    )
    def get_webhook_endpoint(self, actor, body, endpoint):
        return self._endpoint_view(endpoint)

    @endpoint_route(
        "PUT",
        "/event-types",
        summary="Change an endpoint's event types (types not yet approved for you wait for an administrator)",
        body=w.EndpointChangeSchema,
        response=w.EndpointSchema,
    )
    def change_webhook_event_types(self, actor, body, endpoint):
        split = self._split(endpoint.partner, body["event_types"])
        endpoint.event_types = list(split.approved)
        endpoint.pending_event_types = list(split.pending)
        self._ask_approval(endpoint, split.pending)
        return self._endpoint_view(endpoint)

    @endpoint_route(
        "POST",
        "/pause",
        summary="Pause deliveries (they are kept and sent on resume)",
        response=w.EndpointSchema,
    )
    def pause_webhook_endpoint(self, actor, body, endpoint):
        if endpoint.state == "active":
            endpoint.state = "paused"
        return self._endpoint_view(endpoint)

    @endpoint_route(
        "POST",
        "/resume",
        summary="Resume a paused or disabled endpoint: what waits is sent now, with 24 hours again to succeed",
        response=w.EndpointSchema,
    )
    def resume_webhook_endpoint(self, actor, body, endpoint):
        endpoint.state, endpoint.disabled_at, endpoint.disabled_reason = "active", None, None
        self.db.execute(
            update(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.state == "pending")
            .values(next_attempt_at=self.clock.now(), failing_since=None)
        )
        return self._endpoint_view(endpoint)

    @endpoint_route(
        "POST",
        "/secret",
        summary="Rotate the signing secret (deliveries carry signatures by both for 24 hours)",
        response=w.EndpointSecretSchema,
    )
    def rotate_webhook_secret(self, actor, body, endpoint):
        endpoint.previous_secret, endpoint.secret = endpoint.secret, rules.new_secret()
        endpoint.previous_secret_until = self.clock.now() + SECRET_OVERLAP
        return {**self._endpoint_view(endpoint), "secret": endpoint.secret}

    @endpoint_route(
        "DELETE",
        "",
        summary="Delete an endpoint; what it had not received is not sent",
        response=w.EndpointSchema,
    )
    def delete_webhook_endpoint(self, actor, body, endpoint):
        view = self._endpoint_view(endpoint)
        self.db.execute(delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id))
        self.db.execute(delete(WebhookAttempt).where(WebhookAttempt.endpoint_id == endpoint.id))
        self.db.delete(endpoint)
        return view

    @endpoint_route(
        "GET",
        "/deliveries",
        summary="The endpoint's delivery log: every attempt, its status and latency, newest first",
        query=w.LogQuerySchema,
        response=w.DeliveryLogSchema,
    )
    def webhook_deliveries(self, actor, body, endpoint, query):
        return self._delivery_log(endpoint, int(query["limit"]))

    @endpoint_route(
        "POST",
        "/replay",
        status=202,
        summary="Send again every event of a time range this endpoint was sent (same webhook-id)",
        body=w.ReplayRequestSchema,
        response=w.ReplayAcceptedSchema,
    )
    def replay_webhooks(self, actor, body, endpoint):
        if body["until"] <= body["since"]:
            raise InvalidInput("the range ends before it starts", errors={"until": ["not after since"]})
        replayed = self.db.execute(
            update(WebhookMessage)
            .where(
                WebhookMessage.endpoint_id == endpoint.id,
                WebhookMessage.state.in_(("delivered", "abandoned")),
                WebhookMessage.event_time >= body["since"],
                WebhookMessage.event_time < body["until"],
            )
            .values(state="pending", next_attempt_at=self.clock.now(), failing_since=None)
        ).rowcount
        return {"endpoint_id": endpoint.id, "replayed": replayed}

    # --- operations ---------------------------------------------------------------------------

    @route(
        "GET",
        OPS + "/endpoints",
        roles=(ADMIN,),
        tag="webhooks",
        summary="Every partner's webhook endpoints, their state and backlog",
        response=w.EndpointListSchema,
    )
    def all_webhook_endpoints(self, actor, body):
        rows = self.db.execute(select(WebhookEndpoint).order_by(WebhookEndpoint.partner, WebhookEndpoint.created_at))
        return {"endpoints": [self._endpoint_view(e) for e in rows.scalars()]}

    @route(
        "GET",
        OPS + "/endpoints/<endpoint_id>/deliveries",
        roles=(ADMIN,),
        tag="webhooks",
        summary="An endpoint's delivery log, as operations read it",
        query=w.LogQuerySchema,
        response=w.DeliveryLogSchema,
    )
    def ops_webhook_deliveries(self, actor, body, endpoint_id, query):
        endpoint = self.db.get(WebhookEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFound(f"no webhook endpoint {endpoint_id}")
        return self._delivery_log(endpoint, int(query["limit"]))

    @route(
        "GET",
        OPS + "/approvals",
        roles=(ADMIN,),
        tag="webhooks",
        summary="Partners' requests to receive event types not yet approved for their webhooks",
        response=w.ApprovalListSchema,
    )
    def webhook_approvals(self, actor, body):
        rows = self.db.execute(select(WebhookApproval).order_by(WebhookApproval.requested_at)).scalars()
        return {"approvals": [self._approval_view(a) for a in rows]}

    @route(
        "POST",
        OPS + "/approvals/<approval_id>",
        roles=(ADMIN,),
        tag="webhooks",
        summary="Approve or refuse a widening: approved types are delivered to the partner's endpoints from now on",
        body=w.ApprovalDecisionSchema,
        forward=False,
        response=w.ApprovalSchema,
    )
    def decide_webhook_approval(self, actor, body, approval_id):
        approval = self.db.get(WebhookApproval, approval_id, with_for_update=True)
        if approval is None:
            raise NotFound(f"no approval {approval_id}")
        if approval.state != "pending":
            raise InvalidInput(f"already {approval.state}", errors={"approve": [f"the request was {approval.state}"]})
        now = self.clock.now()
        approval.state = "approved" if body["approve"] else "refused"
        approval.decided_at, approval.decided_by = now, actor.id
        if body["approve"]:
            granted = set(
                self.db.execute(
                    select(WebhookGrant.event_type).where(WebhookGrant.partner == approval.partner)
                ).scalars()
            )
            for event_type in approval.event_types:
                if event_type not in granted:
                    self.db.add(
                        WebhookGrant(
                            partner=approval.partner, event_type=event_type, granted_at=now, granted_by=actor.id
                        )
                    )
        endpoint = self.db.get(WebhookEndpoint, approval.endpoint_id)
        if endpoint is not None:
            decided = set(approval.event_types)
            if body["approve"]:
                endpoint.event_types = list(dict.fromkeys([*endpoint.event_types, *approval.event_types]))
            endpoint.pending_event_types = [t for t in endpoint.pending_event_types if t not in decided]
        return self._approval_view(approval)

    # --- helpers ------------------------------------------------------------------------------

    def _webhook_partner(self, actor) -> str:
        if actor.id not in PARTNERS:
            raise Forbidden("webhooks are for partner departments")
        if PARTNERS[actor.id].organisations and not actor.org:
            raise Forbidden("this partner's organisations act apart: the token must name one (org)")
        return actor.id

    def _own_endpoint(self, actor, endpoint_id) -> WebhookEndpoint:
        endpoint = self.db.get(WebhookEndpoint, endpoint_id)
        partner = self._webhook_partner(actor)
        if endpoint is None or endpoint.partner != partner or (actor.org and endpoint.organisation != actor.org):
            raise NotFound(f"no webhook endpoint {endpoint_id} of yours")  # not 403: do not confirm it exists
        return endpoint

    def _endpoint_url(self, url: str) -> str:
        try:
            return rules.check_url(url, _truthy(self.webhook_config.get("WEBHOOK_ALLOW_HTTP_LOOPBACK", False)))
        except rules.UrlRefused as exc:
            raise InvalidInput(str(exc), errors={"url": [str(exc)]}) from None

    def _split(self, partner: str, wanted) -> rules.EventTypeSplit:
        granted = set(self.db.execute(select(WebhookGrant.event_type).where(WebhookGrant.partner == partner)).scalars())
        split = rules.split_event_types(partner, wanted, granted)
        if split.refused:
            raise InvalidInput(
                "not every event type is one you are entitled to",
                errors={"event_types": [f"{t}: not entitled" for t in split.refused]},
            )
        return split

    def _ask_approval(self, endpoint: WebhookEndpoint, pending) -> None:
        if pending:
            self.db.add(
                WebhookApproval(
                    id=str(uuid.uuid4()),
                    partner=endpoint.partner,
                    endpoint_id=endpoint.id,
                    event_types=list(pending),
                    state="pending",
                    requested_at=self.clock.now(),
                )
            )

    def _endpoint_view(self, endpoint: WebhookEndpoint) -> dict:
        backlog = self.db.execute(
            select(func.count()).where(WebhookMessage.endpoint_id == endpoint.id, WebhookMessage.state == "pending")
        ).scalar_one()
        return {
            "endpoint_id": endpoint.id,
            "partner": endpoint.partner,
            "url": endpoint.url,
            "description": endpoint.description,
            "state": endpoint.state,
            "event_types": list(endpoint.event_types),
            "pending_event_types": list(endpoint.pending_event_types),
            "created_at": endpoint.created_at,
            "disabled_at": endpoint.disabled_at,
            "disabled_reason": endpoint.disabled_reason,
            "backlog": backlog,
        }

    def _delivery_log(self, endpoint: WebhookEndpoint, limit: int) -> dict:
        rows = self.db.execute(
            select(WebhookAttempt)
            .where(WebhookAttempt.endpoint_id == endpoint.id)
            .order_by(WebhookAttempt.id.desc())
            .limit(limit)
        ).scalars()
        return {
            "endpoint_id": endpoint.id,
            "attempts": [
                {
                    "webhook_id": a.webhook_id,
                    "event_type": a.event_type,
                    "attempt": a.attempt,
                    "at": a.at,
                    "status": a.status,
                    "latency_ms": a.latency_ms,
                    "outcome": a.outcome,
                    "error": a.error,
                }
                for a in rows
            ],
        }

    @staticmethod
    def _approval_view(approval: WebhookApproval) -> dict:
        return {
            "approval_id": approval.id,
            "partner": approval.partner,
            "endpoint_id": approval.endpoint_id,
            "event_types": list(approval.event_types),
            "state": approval.state,
            "requested_at": approval.requested_at,
            "decided_by": approval.decided_by,
        }
