"""The payment run's published language (社会化发放), the same for every paying service: a cycle
frozen for a month, its bank batch, the bank's answers and their reconciliation."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict


class PaymentCycleRequestSchema(Strict):
    month = fields.Date(required=True, metadata={"description": "any day of the month to pay"})


class PaymentCycleViewSchema(Strict):
    cycle_id = fields.String()
    scope = fields.String(metadata={"description": "the paying region; empty when one cycle a month pays everyone"})
    month = fields.Date()
    state = fields.String(metadata={"description": "frozen | sent | reconciled"})
    created = fields.Boolean(metadata={"description": "false when the month was already frozen"})
    payments = fields.Integer()
    total_fen = fields.Fen()
    regular = fields.Integer()
    arrears = fields.Integer(metadata={"description": "failed payments of earlier cycles paid again"})
    arrears_fen = fields.Fen()
    back_pay = fields.Integer(metadata={"description": "earlier months frozen without the payee, paid now"})
    back_pay_fen = fields.Fen()
    top_up = fields.Integer(metadata={"description": "earlier months paid short, their difference paid now (补发)"})
    top_up_fen = fields.Fen()
    to_bank = fields.Integer()
    to_bank_fen = fields.Fen()
    without_account = fields.Integer()
    without_account_fen = fields.Fen()


class BankBatchViewSchema(Strict):
    cycle_id = fields.String()
    file = fields.String(metadata={"description": "the CSV handed to the bank (payment_id,bank_account,amount_fen)"})
    rows = fields.Integer()
    total_fen = fields.Fen()
    state = fields.String()


class BankResultSchema(Strict):
    payment_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**63 - 1))
    status = fields.String(required=True, validate=validate.OneOf(["paid", "failed"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class BankResultsRequestSchema(Strict):
    results = fields.List(fields.Nested(BankResultSchema), required=True, validate=validate.Length(min=1))


class ReconcileViewSchema(Strict):
    cycle_id = fields.String()
    paid = fields.Integer()
    failed = fields.Integer()
    unchanged = fields.Integer()
    conflicts = fields.List(fields.Dict(), metadata={"description": "answers refused: payment_id, recorded, reported"})
    unknown = fields.List(fields.Integer(), metadata={"description": "ids that are not payments of this cycle"})
    pending = fields.Integer()
    state = fields.String()


class PaymentViewSchema(Strict):
    payment_id = fields.Integer()
    cycle_id = fields.String()
    for_month = fields.Date()
    kind = fields.String(metadata={"description": "regular | arrears | back_pay | top_up"})
    amount_fen = fields.Fen()
    state = fields.String()
    failure_reason = fields.String(allow_none=True)
