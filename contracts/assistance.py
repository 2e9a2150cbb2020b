"""Social assistance's published language: events, request schemas, and the data sources of the
household economic check (核对)."""
from __future__ import annotations

from marshmallow import fields, validate

from contracts.marriage import Strict
from contracts.person import ResidentIdField

PROGRAMMES = ("dibao", "dibao_edge", "tekun", "temporary", "disability_living", "disability_care")
REGION = validate.Regexp(r"^\d{9}(\d{3})?$", error="must be a 9-digit township or 12-digit village code")
RELATIONSHIPS = ("head", "spouse", "child", "parent", "sibling", "grandchild", "other")

# 核对: what each source tells, and the department that holds it. A source that fails is reported
# as failed, never read as "nothing found".
CHECK_SOURCES = {
    "social_insurance": "human_resources",   # 社保: pensions, wages paid in
    "vehicles": "police",                     # 车管
    "bank_deposits": "banks",                 # 银行
    "real_estate": "housing",                 # 房管
    "tax": "tax",                             # 税务
    "deaths": "funeral",                      # 殡葬
    "hukou": "police",                        # 公安 户籍
    "business": "market_regulation",          # 市场监管
    "housing_fund": "housing_fund",           # 公积金
}


class MemberSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS))
    monthly_income_fen = fields.Integer(required=True, validate=validate.Range(min=0))
    employment_cost_fen = fields.Integer(load_default=0, validate=validate.Range(min=0))
    seriously_ill = fields.Boolean(load_default=False)
    severely_disabled = fields.Boolean(load_default=False)
    pregnant = fields.Boolean(load_default=False)
    single_person_listing = fields.Boolean(load_default=False, metadata={"description": "单人户"})


class ApplicationRequestSchema(Strict):
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    region_code = fields.String(required=True, validate=REGION)
    address = fields.String(required=True, validate=validate.Length(min=2, max=200))
    bank_account = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=8, max=40))
    members = fields.List(fields.Nested(MemberSchema), required=True, validate=validate.Length(min=1, max=20))


class DecisionRequestSchema(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ObjectionRequestSchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ApplicationViewSchema(Strict):
    application_id = fields.String()
    household_id = fields.String()
    programme = fields.String()
    state = fields.String()
    region_code = fields.String()
    accepted_on = fields.Date(allow_none=True)
    decision_due = fields.Date(allow_none=True)
    overdue = fields.Boolean()
    notice_ends = fields.Date(allow_none=True)
    decided_on = fields.Date(allow_none=True)
    decision_reason = fields.String(allow_none=True)
    monthly_amount_fen = fields.Integer(allow_none=True)
    explanation = fields.List(fields.String())
    policy_version = fields.String(allow_none=True)
    matter_id = fields.String(allow_none=True)
    economic_check = fields.Dict(allow_none=True)
    journal = fields.List(fields.Dict())


# --- events --------------------------------------------------------------------------------------

class HouseholdMemberSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True)


class AssistanceApprovedSchema(Strict):
    application_id = fields.String(required=True)
    household_id = fields.String(required=True)
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    monthly_amount_fen = fields.Integer(required=True, validate=validate.Range(min=0))
    starts_on = fields.Date(required=True)
    region_code = fields.String(required=True, validate=REGION)
    members = fields.List(fields.Nested(HouseholdMemberSchema), required=True)
    policy_version = fields.String(required=True)


class EntitlementEndedSchema(Strict):
    household_id = fields.String(required=True)
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    ends_on = fields.Date(required=True)
    reason = fields.String(required=True)
