"""Social assistance's published language: events, request schemas, and the data sources of the
household economic check (核对)."""

from __future__ import annotations

from marshmallow import ValidationError, validate, validates_schema

from contracts import fields
from contracts.charity import NEEDS
from contracts.marriage import Strict
from contracts.payments import PaymentViewSchema
from contracts.person import ResidentIdField

PROGRAMMES = ("dibao", "dibao_edge", "tekun", "temporary", "disability_living", "disability_care")
REGION = validate.Regexp(r"^\d{9}(\d{3})?$", error="must be a 9-digit township or 12-digit village code")
SELF_CARE_LEVELS = ("full", "partial", "none")  # 全自理 / 半失能 / 全失能: the 特困 care tiers
RELATIONSHIPS = ("head", "spouse", "child", "parent", "sibling", "grandchild", "other")
# 追回: how money comes back on an overpayment (or is given up on), and what a recovery can be
REPAYMENT_METHODS = ("bank_return", "repayment", "write_off")  # 银行退回 / 退款 / 核销
RECOVERY_STATES = ("open", "recovered", "cancelled")
# 申请 → 受理 → 审核 → 公示 → 审批 (the state machine: services/assistance/rules/application.py)
APPLICATION_STATES = ("submitted", "accepted", "checked", "in_notice", "approved", "rejected", "withdrawn")
OPEN_APPLICATION_STATES = APPLICATION_STATES[:4]  # not yet decided or withdrawn
# a page of the caseworker's queue, and the most one page holds: an area's years of applications
# never come back in one answer
QUEUE_PAGE_ROWS = 50
QUEUE_PAGE_LIMIT = 200

# 核对: what each source tells, and the department that holds it. A source that fails is reported
# as failed, never read as "nothing found".
CHECK_SOURCES = {
    "social_insurance": "human_resources",  # 社保: pensions, wages paid in
    "vehicles": "police",  # 车管
    "bank_deposits": "banks",  # 银行
    "real_estate": "housing",  # 房管
    "tax": "tax",  # 税务
    "deaths": "funeral",  # 殡葬
    "hukou": "police",  # 公安 户籍
    "business": "market_regulation",  # 市场监管
    "housing_fund": "housing_fund",  # 公积金
}
# subjects one request may ask a source about (批量核对): the sources' side of the protocol
CHECK_BATCH_LIMIT = 500


class MemberSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS))
    monthly_income_fen = fields.Fen(required=True, validate=validate.Range(min=0))
    employment_cost_fen = fields.Fen(load_default=0, validate=validate.Range(min=0))
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
    """The decision, with what some programmes need to compute the amount (the service says which
    programme needs which): self-care ability for 特困; grade, amount asked for and urgency for 临时救助."""

    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))
    self_care = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(SELF_CARE_LEVELS),
        metadata={"description": "特困: self-care ability (full 全自理 / partial 半失能 / none 全失能)"},
    )
    grade = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=10),
        metadata={"description": "临时救助: the grade (分档) of the policy"},
    )
    requested_fen = fields.Fen(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1),
        metadata={"description": "临时救助: the amount asked for, in fen"},
    )
    urgent = fields.Boolean(load_default=False, metadata={"description": "临时救助: 急难 case"})


class ReasonOnlySchema(Strict):
    """A step of an application whose body is only why it is taken, kept in its journal."""

    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ObjectionRequestSchema(ReasonOnlySchema):
    """异议: the objection received during the notice."""


class WithdrawalRequestSchema(ReasonOnlySchema):
    """撤回: why the applicant withdraws."""


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
    monthly_amount_fen = fields.Fen(allow_none=True)
    explanation = fields.List(fields.String())
    policy_version = fields.String(allow_none=True)
    matter_id = fields.String(allow_none=True)
    economic_check = fields.Dict(allow_none=True)
    journal = fields.List(fields.Dict())


# --- households, exits, re-checks (复核) and policy versions --------------------------------------


class MemberJoinsSchema(MemberSchema):
    joined_on = fields.Date(required=True, metadata={"description": "e.g. the newborn's hukou registration"})


class MemberLeavesSchema(Strict):
    left_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class MemberIdentificationSchema(Strict):
    resident_id = ResidentIdField(required=True)


class MemberViewSchema(Strict):
    member_id = fields.String()
    resident_id = fields.String(allow_none=True, metadata={"description": "none for a newborn until the hukou"})
    birth_certificate_number = fields.String(allow_none=True)
    name = fields.String()
    relationship = fields.String()
    monthly_income_fen = fields.Fen()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    left_reason = fields.String(allow_none=True)


class EntitlementViewSchema(Strict):
    entitlement_id = fields.Integer()
    programme = fields.String()
    monthly_amount_fen = fields.Fen()
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    gradual_exit_until = fields.Date(allow_none=True, metadata={"description": "渐退期: paid until this day"})
    exit_reason = fields.String(allow_none=True)
    next_review_on = fields.Date(allow_none=True, metadata={"description": "复核: the next periodic re-check"})
    policy_version = fields.String()


class HouseholdViewSchema(Strict):
    household_id = fields.String()
    region_code = fields.String()
    address = fields.String()
    members = fields.List(fields.Nested(MemberViewSchema))
    entitlements = fields.List(fields.Nested(EntitlementViewSchema))
    changes = fields.List(fields.String(), metadata={"description": "what this request changed, in words"})


class ExitRequestSchema(Strict):
    ends_on = fields.Date(required=True, metadata={"description": "the last day of the entitlement"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))
    income_rose_above_standard = fields.Boolean(
        load_default=False, metadata={"description": "leaving because income rose: the gradual exit (渐退期) applies"}
    )


class ReviewRequestSchema(Strict):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=2, max=500),
        metadata={"description": "what the re-check found; to end the benefit use the exit"},
    )


class PolicyVersionRequestSchema(Strict):
    name = fields.String(required=True, validate=validate.Regexp(r"^(assistance|calendar)\.[a-z_]+$"))
    region_code = fields.String(required=True, validate=validate.Regexp(r"^(\d{6}|\d{9}|\d{12})$"))
    effective_from = fields.Date(required=True)
    value = fields.Raw(
        required=True,
        metadata={"description": "number, ratio string, or mapping, as the parameter takes", **fields.JSON_VALUE},
    )
    source = fields.String(
        required=True,
        validate=validate.Length(min=3, max=500),
        metadata={"description": "the document the figure comes from"},
    )


class PolicyVersionViewSchema(Strict):
    name = fields.String()
    region_code = fields.String()
    effective_from = fields.Date()
    value = fields.Raw()
    version = fields.String()


# --- proactive discovery (主动发现) ----------------------------------------------------------------


class AlertViewSchema(Strict):
    alert_id = fields.String()
    kind = fields.String(metadata={"description": "birth_in_household | household_changed"})
    household_id = fields.String()
    region_code = fields.String()
    reason = fields.String()
    state = fields.String(metadata={"description": "open | acknowledged | resolved"})
    raised_at = fields.AwareDateTime()
    visit_due = fields.Date()
    overdue = fields.Boolean()
    acknowledged_by = fields.String(allow_none=True)
    resolved_by = fields.String(allow_none=True)
    resolution = fields.String(allow_none=True)


class AlertResolutionSchema(Strict):
    resolution = fields.String(required=True, validate=validate.Length(min=2, max=1000))


# --- events --------------------------------------------------------------------------------------


class HouseholdMemberSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True)
    severely_disabled = fields.Boolean(
        load_default=False,
        dump_default=False,
        metadata={"description": "重度残疾: care's home-care vouchers follow it"},
    )


class AssistanceApprovedSchema(Strict):
    application_id = fields.String(required=True)
    household_id = fields.String(required=True)
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    monthly_amount_fen = fields.Fen(required=True, validate=validate.Range(min=0))
    starts_on = fields.Date(required=True)
    region_code = fields.String(required=True, validate=REGION)
    members = fields.List(fields.Nested(HouseholdMemberSchema), required=True)
    policy_version = fields.String(required=True)


class MemberLeftSchema(Strict):
    """A member left a household that receives assistance (divorce, moving out): whatever followed
    from the household's benefit for that person ends with it."""

    household_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    left_on = fields.Date(required=True)
    reason = fields.String(required=True)
    case_id = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the funeral case, when the member left by death (身后一件事): "
            "a revocation of that case undoes the leaving"
        },
    )


class EntitlementEndedSchema(Strict):
    household_id = fields.String(required=True)
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    ends_on = fields.Date(required=True)
    reason = fields.String(required=True)


class EntitlementResumedSchema(Strict):
    household_id = fields.String(required=True)
    programme = fields.String(required=True, validate=validate.OneOf(PROGRAMMES))
    resumed_from = fields.Date(required=True, metadata={"description": "the day it had been ended on"})
    reason = fields.String(required=True)


# --- the assistance–charity link (政府救助与慈善救助衔接) -------------------------------------------------


class ReferralRequestSchema(Strict):
    """A caseworker refers a household to charity for a need government aid leaves uncovered."""

    need = fields.String(required=True, validate=validate.OneOf(NEEDS))
    coverage = fields.String(
        required=True,
        validate=validate.OneOf(["none", "partial"]),
        metadata={"description": "government aid covers none or part of the need"},
    )
    requested_fen = fields.Fen(
        required=True,
        validate=validate.Range(min=1, max=10_000_000_000),
        metadata={"description": "the gap left, in fen"},
    )
    reason = fields.String(required=True, validate=validate.Length(min=2, max=1000))


class ReferralViewSchema(Strict):
    referral_id = fields.String()
    household_id = fields.String()
    need = fields.String()
    coverage = fields.String()
    requested_fen = fields.Fen()
    state = fields.String(metadata={"description": "referred | aided | declined"})
    referred_at = fields.AwareDateTime()
    aid_fen = fields.Fen(allow_none=True, metadata={"description": "what charity gave"})
    campaign_id = fields.String(allow_none=True)
    organisation = fields.String(allow_none=True)
    answer = fields.String(allow_none=True, metadata={"description": "charity's reason"})


class ReferredMemberSchema(Strict):
    """Who the household is, as much as charity needs to help each person once for a need: no name."""

    resident_id = ResidentIdField(required=True)


class HouseholdReferredSchema(Strict):
    """Event: a household referred to charity; charity answers with `charity.referral_answered`."""

    referral_id = fields.String(required=True)
    household_id = fields.String(required=True)
    region_code = fields.String(required=True, validate=REGION)
    need = fields.String(required=True, validate=validate.OneOf(NEEDS))
    coverage = fields.String(required=True, validate=validate.OneOf(["none", "partial"]))
    requested_fen = fields.Fen(required=True, validate=validate.Range(min=1))
    members = fields.List(fields.Nested(ReferredMemberSchema), required=True, validate=validate.Length(min=1))


# --- recovery of an overpayment (追回), for the payments office -------------------------------------


class RepaymentRequestSchema(Strict):
    """Money back on a recovery (the bank returned it, or the family repaid), or an amount written
    off (核销, with the reason). Never more than what is outstanding."""

    amount_fen = fields.Fen(required=True, validate=validate.Range(min=1, max=10_000_000_000))
    received_on = fields.Date(
        required=True, metadata={"description": "the day the money came back (or the write-off was decided)"}
    )
    method = fields.String(
        required=True,
        validate=validate.OneOf(REPAYMENT_METHODS),
        metadata={"description": "bank_return (银行退回) | repayment (退款) | write_off (核销)"},
    )
    reference = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=80),
        metadata={"description": "the bank's or the receipt's reference"},
    )
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=500),
        metadata={"description": "required for a write-off: why it is given up"},
    )

    @validates_schema
    def _reason_for_write_off(self, data, **_):
        if data.get("method") == "write_off" and not data.get("reason"):
            raise ValidationError(fields.RuleMessage("say why the amount is written off"), field_name="reason")


class RefundRequestSchema(Strict):
    """Money recovered that the household is owed back (the death was revoked, or the bank never
    paid what was recovered), recorded as given back."""

    amount_fen = fields.Fen(required=True, validate=validate.Range(min=1, max=10_000_000_000))
    paid_on = fields.Date(required=True)
    reference = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))


class RecoveryListQuerySchema(Strict):
    state = fields.String(
        load_default="open",
        validate=validate.OneOf([*RECOVERY_STATES, "refund_due", "all"]),
        metadata={
            "description": "open (default) | recovered | cancelled | all | refund_due "
            "(money recovered that is owed back, whatever the state)"
        },
    )
    region_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$"),
        metadata={"description": "narrow the list to a district, township or village inside your area"},
    )


class RepaymentViewSchema(Strict):
    repayment_id = fields.String()
    method = fields.String(metadata={"description": "bank_return | repayment | write_off | refund (given back)"})
    amount_fen = fields.Fen()
    received_on = fields.Date(metadata={"description": "for a refund: the day it was paid"})
    reference = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    recorded_by = fields.String()
    recorded_at = fields.AwareDateTime()


class RecoverySummarySchema(Strict):
    recovery_id = fields.String()
    case_id = fields.String(metadata={"description": "the funeral case (身后一件事) that found the overpayment"})
    household_id = fields.String()
    region_code = fields.String()
    entitlement_id = fields.Integer()
    programme = fields.String()
    months = fields.List(fields.String(), metadata={"description": "the months after the death paid too much"})
    state = fields.String(
        metadata={
            "description": "open | recovered | cancelled (nothing owed: the death was "
            "revoked, or the payments counted were never made)"
        }
    )
    amount_fen = fields.Fen(
        metadata={"description": "what the overpayment comes to, as the bank's answers now show it"}
    )
    recovered_fen = fields.Fen(metadata={"description": "money received back (bank returns and repayments)"})
    written_off_fen = fields.Fen()
    refunded_fen = fields.Fen(metadata={"description": "money given back to the household"})
    outstanding_fen = fields.Fen(metadata={"description": "still to recover"})
    refund_due_fen = fields.Fen(metadata={"description": "recovered beyond what is owed: to give back"})
    opened_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    note = fields.String(allow_none=True)


class RecoveryViewSchema(RecoverySummarySchema):
    repayments = fields.List(fields.Nested(RepaymentViewSchema), metadata={"description": "oldest first"})


class RecoveryListViewSchema(Strict):
    recoveries = fields.List(fields.Nested(RecoverySummarySchema))
    outstanding_fen = fields.Fen(metadata={"description": "the listed recoveries' total still to recover"})
    refund_due_fen = fields.Fen(metadata={"description": "the listed recoveries' total owed back"})


# --- answers the gateway wraps in an envelope (lists) ---------------------------------------------


class ApplicationListSchema(Strict):
    applications = fields.List(fields.Nested(ApplicationViewSchema))


class ApplicationQuerySchema(Strict):
    state = fields.String(load_default=None, validate=validate.OneOf(APPLICATION_STATES))
    # a query string is text: the digits, read as a number by the service; 1 to QUEUE_PAGE_LIMIT,
    # spelt out in the pattern so the published document says where the bound is
    limit = fields.String(
        load_default=str(QUEUE_PAGE_ROWS),
        validate=[
            validate.Length(max=3),
            # 1 to 200 (tests/unit/test_contracts.py holds it to QUEUE_PAGE_LIMIT)
            fields.Pattern(r"^(200|1[0-9]{2}|[1-9][0-9]?)$", error=f"1 to {QUEUE_PAGE_LIMIT} rows"),
        ],
        metadata={"description": f"rows on the page, 1 to {QUEUE_PAGE_LIMIT} ({QUEUE_PAGE_ROWS} unless given)"},
    )
    after = fields.String(
        load_default=None,
        validate=[
            validate.Length(max=36),
            fields.Pattern(r"^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$", error="an application id"),
        ],
        metadata={"description": "the previous page's `next`: the page starts after that application"},
    )


class ApplicationPageSchema(Strict):
    applications = fields.List(fields.Nested(ApplicationViewSchema))
    next = fields.String(
        allow_none=True,
        metadata={"description": "pass as `after` for the next page; null on the last page"},
    )


class ReviewCheckSchema(Strict):
    check_id = fields.String()
    complete = fields.Boolean(metadata={"description": "every member × every source answered"})
    started_at = fields.DateTime()


class ReviewDueSchema(EntitlementViewSchema):
    household_id = fields.String()
    region_code = fields.String()
    review_check = fields.Nested(
        ReviewCheckSchema,
        allow_none=True,
        metadata={"description": "动态复核: the latest economic check the re-check job made for this review"},
    )


class ReviewsDueSchema(Strict):
    entitlements = fields.List(fields.Nested(ReviewDueSchema))


class AlertListSchema(Strict):
    alerts = fields.List(fields.Nested(AlertViewSchema))


class ReferralListSchema(Strict):
    referrals = fields.List(fields.Nested(ReferralViewSchema))


class HouseholdPaymentsSchema(Strict):
    payments = fields.List(fields.Nested(PaymentViewSchema))


class AfterDeathAssistanceSchema(Strict):
    """身后一件事 in assistance: what the death changed in its households, overpayments, back pay."""

    case_id = fields.String()
    state = fields.String()
    date_of_death = fields.Date()
    households = fields.Raw(metadata={"description": "the households' changes, as recorded"})
    overpayments = fields.List(fields.Dict(), metadata={"description": "benefits paid after the death, to recover"})
    back_pay = fields.List(fields.Dict(), metadata={"description": "benefits paid back after a revocation"})


# --- 救助一件事: the linked-item catalogue (data, managed by administrators) -----------------------

ITEM_CODE = validate.Regexp(r"^[a-z][a-z0-9_]{1,39}$", error="lower-case letters, digits and _")


class LinkedItemRequestSchema(Strict):
    """A subsidy item granted with an approval (救助一件事), the department that owns it (its step's
    reporter: a partner department's code, or assistance itself) and the programmes that grant it."""

    title = fields.Text(required=True, min=2, max=200)
    owner = fields.String(
        required=True,
        validate=validate.Length(min=2, max=40),
        metadata={"description": "the owning department: a partner code (contracts.partners) or assistance"},
    )
    deadline_days = fields.Integer(required=True, validate=validate.Range(min=1, max=366))
    programmes = fields.List(
        fields.String(validate=validate.OneOf(PROGRAMMES)), required=True, validate=validate.Length(min=1)
    )
    reason = fields.Text(load_default=None, allow_none=True, max=500, metadata={"description": "why (audited)"})


class NewLinkedItemRequestSchema(LinkedItemRequestSchema):
    code = fields.String(required=True, validate=ITEM_CODE)


class LinkedItemRetirementSchema(Strict):
    reason = fields.Text(required=True, min=2, max=500)


class LinkedItemVersionSchema(Strict):
    version = fields.Integer()
    title = fields.String()
    owner = fields.String()
    deadline_days = fields.Integer()
    programmes = fields.List(fields.String())
    active = fields.Boolean()
    recorded_at = fields.AwareDateTime()
    recorded_by = fields.String()
    reason = fields.String(allow_none=True)


class LinkedItemViewSchema(Strict):
    code = fields.String()
    title = fields.String()
    owner = fields.String()
    owner_title = fields.String(allow_none=True, metadata={"description": "the owning department's name"})
    deadline_days = fields.Integer()
    programmes = fields.List(fields.String())
    active = fields.Boolean()
    version = fields.Integer()
    versions = fields.List(
        fields.Nested(LinkedItemVersionSchema), metadata={"description": "every version, oldest first"}
    )


class LinkedItemListSchema(Strict):
    items = fields.List(fields.Nested(LinkedItemViewSchema))


class LinkedItemQuerySchema(Strict):
    include_retired = fields.String(
        load_default="false", validate=validate.OneOf(["true", "false"]), metadata={"description": "retired ones too"}
    )
