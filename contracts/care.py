"""Elderly care's published language: request and view schemas of the registry and the old-age
allowance (高龄津贴)."""
from __future__ import annotations

from marshmallow import fields, validate

from contracts.marriage import Strict
from contracts.person import ResidentIdField

REGION = validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$", error="must be a 6, 9 or 12-digit division code")


class PersonRecordSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    region_code = fields.String(required=True, validate=REGION)


class ElderImportSchema(Strict):
    """A batch from the population registry (户籍人口); age and sex come from the ID numbers."""
    people = fields.List(fields.Nested(PersonRecordSchema), required=True,
                         validate=validate.Length(min=1, max=10_000))


class AllowanceViewSchema(Strict):
    starts_month = fields.Date()
    enrolled_on = fields.Date()
    policy_version = fields.String()
    monthly_fen = fields.Integer(metadata={"description": "this month's amount by age band"})


class ElderViewSchema(Strict):
    resident_id = fields.String()
    name = fields.String()
    region_code = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    age = fields.Integer()
    allowance = fields.Nested(AllowanceViewSchema, allow_none=True)


class ImportViewSchema(Strict):
    received = fields.Integer()
    added = fields.Integer()
    updated = fields.Integer()


class AllowanceJobViewSchema(Strict):
    run_on = fields.Date()
    enrolled = fields.Integer(metadata={"description": "enrolled by this run"})
    enrolled_today = fields.Integer(metadata={"description": "enrolled by every run of the day"})
    runs_today = fields.Integer()
