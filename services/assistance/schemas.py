"""Loading requests and dumping answers: the shapes come from `contracts.assistance`.

`DecisionRequestSchema` extends the contract's decision with what some programmes need to compute
the amount: self-care ability for 特困, grade, amount requested and urgency for 临时救助. The fields
are optional here; `service.AssistanceService.decide` says which programme needs which.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from chassis.errors import InvalidInput
from contracts.assistance import (ApplicationRequestSchema, ApplicationViewSchema,  # noqa: F401
                                  ObjectionRequestSchema)
from contracts.assistance import DecisionRequestSchema as ContractDecisionRequestSchema
from services.assistance.rules import SELF_CARE_LEVELS


class DecisionRequestSchema(ContractDecisionRequestSchema):
    self_care = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(SELF_CARE_LEVELS),
                              metadata={"description": "特困: self-care ability (全自理 / 半失能 / 全失能)"})
    grade = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=10),
                          metadata={"description": "临时救助: the grade (分档) of the policy"})
    requested_fen = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1),
                                   metadata={"description": "临时救助: the amount asked for, in fen"})
    urgent = fields.Boolean(load_default=False, metadata={"description": "临时救助: 急难 case"})


# A list shows the application without its journal, check report and explanation.
SUMMARY_FIELDS = tuple(name for name in ApplicationViewSchema().fields
                       if name not in ("journal", "economic_check", "explanation"))


def load(schema: type[Schema], payload) -> dict:
    """Validate a request; every field error comes back to the client at once."""
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", errors=exc.messages) from None


def dump(schema: type[Schema], obj, only=None) -> dict:
    return schema(only=only).dump(obj)
