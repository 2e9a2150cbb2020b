"""The gateway: the HTTP edge for citizens, caseworkers and partner departments (/api/v1)."""

from __future__ import annotations

from chassis import (
    Clock,
    Database,
    Logger,
    Operable,
    Outbox,
    WorkerMetrics,
    http,
    json_response,
)
from gateway.assistance_routes import AssistanceRoutes
from gateway.auth import Authenticator
from gateway.care_routes import CareRoutes
from gateway.charity_routes import CharityRoutes
from gateway.console import ConsoleRoutes
from gateway.funeral_routes import FuneralRoutes
from gateway.idempotency import Idempotency
from gateway.indicator_routes import IndicatorRoutes
from gateway.marriage_routes import MarriageRoutes
from gateway.matter_routes import MatterRoutes
from gateway.openapi import openapi_document
from gateway.operations_routes import OperationsRoutes
from gateway.reads import PersonReads
from gateway.webhook_routes import WebhookRoutes
from gateway.work_queue_routes import WorkQueueRoutes


class GatewayService(
    MatterRoutes,
    MarriageRoutes,
    AssistanceRoutes,
    CareRoutes,
    CharityRoutes,
    FuneralRoutes,
    IndicatorRoutes,
    OperationsRoutes,
    WebhookRoutes,
    WorkQueueRoutes,
    ConsoleRoutes,
    PersonReads,
    Operable,
):
    name = "gateway"

    auth = Authenticator()
    db = Database()
    outbox = Outbox()
    idempotency = Idempotency()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()

    @http("GET", "/api/v1/openapi.json")
    def openapi(self, request):
        return json_response(200, openapi_document())
