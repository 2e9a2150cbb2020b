"""Work queues (工作队列) over HTTP: a queue's page of records with its counts, and claims (认领)
(gateway/work_queues.py defines the queues; gateway/work_queue_routes.py serves them)."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict


class WorkQueueQuerySchema(Strict):
    page = fields.String(load_default="1", validate=validate.Regexp(r"^[1-9][0-9]{0,4}$", error="a page number"))
    state = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z_]{1,30}$", error="a state"))
    claim = fields.String(
        load_default=None,
        validate=validate.OneOf(["mine", "unclaimed"]),
        metadata={"description": "mine: claimed by the caller; unclaimed: by nobody; absent: all"},
    )
    overdue = fields.String(load_default="false", validate=validate.OneOf(["true", "false"]))


class WorkQueueColumnSchema(Strict):
    field = fields.String()
    title = fields.String()


class WorkQueueActionSchema(Strict):
    name = fields.String(metadata={"description": "the record route's last segment, e.g. acceptance"})
    title = fields.String()


class WorkQueueItemSchema(Strict):
    record_id = fields.String()
    case_id = fields.String(allow_none=True, metadata={"description": "the id of the record's case page"})
    state = fields.String()
    overdue = fields.Boolean()
    working_days_left = fields.Integer(allow_none=True, metadata={"description": "Monday-Friday days to the due date"})
    claimed_by = fields.String(allow_none=True)
    values = fields.Dict(metadata={"description": "the columns' values"})
    actions = fields.List(fields.Nested(WorkQueueActionSchema))


class WorkQueueSummarySchema(Strict):
    name = fields.String()
    title = fields.String()
    counts = fields.Dict(metadata={"description": "records by state, overdue and claimed"})
    state_label = fields.String(metadata={"description": "what the queue's states are (状态, 风险颜色)"})
    available = fields.Boolean(metadata={"description": "false: the service the records come from is not running"})


class WorkQueueListSchema(Strict):
    queues = fields.List(fields.Nested(WorkQueueSummarySchema))


class WorkQueuePageSchema(Strict):
    name = fields.String()
    title = fields.String()
    empty = fields.String()
    filters = fields.List(fields.String(), metadata={"description": "the filters it offers: state, claim, overdue"})
    state_label = fields.String()
    case_page = fields.String(allow_none=True, metadata={"description": "the console's case page of its rows"})
    case_posted = fields.Boolean(metadata={"description": "the case id is a resident ID: opened by a POST form"})
    columns = fields.List(fields.Nested(WorkQueueColumnSchema))
    counts = fields.Dict()
    total = fields.Integer()
    page = fields.Integer()
    pages = fields.Integer()
    items = fields.List(fields.Nested(WorkQueueItemSchema))


class WorkClaimSchema(Strict):
    queue = fields.String()
    record_id = fields.String()
    claimed_by = fields.String(allow_none=True, metadata={"description": "absent once released"})
    claimed_at = fields.DateTime(allow_none=True)
