"""The tongban microservice chassis: infrastructure every service declares, no domain logic.

class MarriageService(Operable):
    name = "marriage"
    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()

    @rpc
    def register(self, request, actor): ...

    @handle_event("death.notified")
    def on_death(self, event): ...
"""

from chassis.audit import SYSTEM, Actor, Audit, AuditEntry
from chassis.clock import Clock
from chassis.db import Database
from chassis.entrypoints import http, json_response, rpc
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, Refused, Unauthorized
from chassis.events import handle_event
from chassis.logs import Logger
from chassis.metrics import WorkerMetrics
from chassis.ops import Operable
from chassis.outbox import Outbox
from chassis.policy import Policy
from chassis.remote import ServiceRpc

__all__ = [
    "Actor",
    "Audit",
    "AuditEntry",
    "SYSTEM",
    "Clock",
    "Database",
    "http",
    "json_response",
    "rpc",
    "Conflict",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "Problem",
    "Refused",
    "Unauthorized",
    "handle_event",
    "Logger",
    "WorkerMetrics",
    "Operable",
    "Outbox",
    "Policy",
    "ServiceRpc",
]
