"""Charity's published language (慈善, 社会组织, 志愿, 福彩): request and view schemas of social
organisations, charity fundraising, volunteers and the time bank, welfare-lottery funds, and the
events of the assistance–charity link. Money is integer fen; volunteer time is whole minutes."""

from __future__ import annotations

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict
from contracts.person import ResidentIdField

REGION = validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$", error="must be a 6, 9 or 12-digit division code")
FEN = validate.Range(min=1, max=10_000_000_000)  # up to 1亿元 in one entry

ORGANISATION_KINDS = ("social_group", "social_service_institution", "foundation")
# 社会团体 / 社会服务机构 (民办非企业单位) / 基金会
REGISTRATIONS = ("registered", "filed")  # 登记 / 备案 (community social organisations are filed)
ORGANISATION_STATES = ("active", "abnormal", "dormant", "cancelled")  # dormant: 僵尸
GRADES = ("1A", "2A", "3A", "4A", "5A")  # 社会组织评估等级
NEEDS = ("living", "medical", "education", "housing", "disaster", "elderly_care", "disability")
# what a referral asks help for, and what a campaign or fund serves
CAMPAIGN_KINDS = ("campaign", "fund")  # a time-bound public campaign, or a standing 慈善救助基金
LOTTERY_PURPOSES = (
    "elderly_care",
    "disability",
    "orphans",
    "poverty_relief",
    "social_work",
    "social_organisations",
    "other",
)  # 养老 / 助残 / 救孤 / 济困 / 社会工作 / 社会组织 / 其他


# --- social organisations (社会组织) -----------------------------------------------------------------


class OrganisationRequestSchema(Strict):
    credit_code = fields.String(
        required=True,
        validate=validate.Regexp(r"^[0-9A-HJ-NPQRTUWXY]{18}$"),
        metadata={"description": "统一社会信用代码 (18 characters)"},
    )
    name = fields.String(required=True, validate=validate.Length(min=2, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(ORGANISATION_KINDS))
    registration = fields.String(load_default="registered", validate=validate.OneOf(REGISTRATIONS))
    region_code = fields.String(
        required=True, validate=REGION, metadata={"description": "the registering authority's area"}
    )
    legal_representative = fields.String(required=True, validate=validate.Length(min=1, max=60))
    registered_on = fields.Date(required=True)


class OrganisationChangeSchema(Strict):
    """变更登记: the fields that change, with the reason."""

    name = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=2, max=120))
    legal_representative = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=60))
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class CancellationSchema(Strict):
    """注销登记."""

    cancelled_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class AnnualReportSchema(Strict):
    """年度报告 (年检/年报) for a completed year."""

    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    income_fen = fields.Fen(required=True, validate=validate.Range(min=0))
    expenditure_fen = fields.Fen(required=True, validate=validate.Range(min=0))


class GradeRequestSchema(Strict):
    """等级评估: the grade an evaluation gave, valid for the policy's years."""

    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    graded_on = fields.Date(required=True)


class OrganisationViewSchema(Strict):
    organisation_id = fields.String()
    credit_code = fields.String()
    name = fields.String()
    kind = fields.String()
    registration = fields.String()
    region_code = fields.String()
    legal_representative = fields.String()
    registered_on = fields.Date()
    state = fields.String(metadata={"description": " | ".join(ORGANISATION_STATES)})
    state_reason = fields.String(allow_none=True)
    grade = fields.String(allow_none=True, metadata={"description": "the grade in force (None once expired)"})
    grade_valid_until = fields.Date(allow_none=True)
    report_years = fields.List(fields.Integer(), metadata={"description": "years with an annual report"})
    charity_recognised_on = fields.Date(allow_none=True, metadata={"description": "慈善组织认定"})
    fundraising_qualified_on = fields.Date(allow_none=True, metadata={"description": "公开募捐资格"})
    cancelled_on = fields.Date(allow_none=True)


class DetectionJobViewSchema(Strict):
    run_on = fields.Date()
    changed = fields.Integer(metadata={"description": "organisations whose state this run changed"})
    changed_today = fields.Integer()
    runs_today = fields.Integer()


class PopulationSchema(Strict):
    """Resident population of a region (统计部门), the denominator of 每万人社会组织数."""

    region_code = fields.String(required=True, validate=REGION)
    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    residents = fields.Integer(required=True, validate=validate.Range(min=1))


# --- charity organisations, fundraising, donations, spending -----------------------------------------


class CampaignRequestSchema(Strict):
    """A fundraising plan (募捐方案): what for, where, how much, when."""

    organisation_id = fields.String(required=True)
    title = fields.String(required=True, validate=validate.Length(min=2, max=200))
    kind = fields.String(load_default="campaign", validate=validate.OneOf(CAMPAIGN_KINDS))
    needs = fields.List(
        fields.String(validate=validate.OneOf(NEEDS)),
        required=True,
        validate=validate.Length(min=1),
        metadata={"description": "what the money may aid"},
    )
    region_code = fields.String(required=True, validate=REGION, metadata={"description": "where it aids"})
    target_fen = fields.Fen(required=True, validate=FEN)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "none for a standing fund"})


class CampaignViewSchema(Strict):
    campaign_id = fields.String()
    organisation_id = fields.String()
    title = fields.String()
    kind = fields.String()
    needs = fields.List(fields.String())
    region_code = fields.String()
    target_fen = fields.Fen()
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    state = fields.String(metadata={"description": "draft | filed (募捐方案已备案)"})
    filed_on = fields.Date(allow_none=True)
    raised_fen = fields.Fen()
    spent_fen = fields.Fen()
    balance_fen = fields.Fen()


class DonationRequestSchema(Strict):
    request_id = fields.String(
        required=True,
        validate=validate.Length(min=4, max=80),
        metadata={"description": "the payment channel's transaction id: sent again, it is the same donation"},
    )
    donor_name = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=120),
        metadata={"description": "none: anonymous; never disclosed"},
    )
    donor_kind = fields.String(load_default="individual", validate=validate.OneOf(["individual", "enterprise"]))
    amount_fen = fields.Fen(required=True, validate=FEN)


class DonationViewSchema(Strict):
    donation_id = fields.String()
    campaign_id = fields.String()
    amount_fen = fields.Fen()
    receipt_number = fields.String(metadata={"description": "捐赠票据 number"})
    received_on = fields.Date()


class SpendingRequestSchema(Strict):
    """What a campaign's money was used for (募用分离: recorded apart from the donations)."""

    request_id = fields.String(required=True, validate=validate.Length(min=4, max=80))
    amount_fen = fields.Fen(required=True, validate=FEN)
    purpose = fields.String(required=True, validate=validate.Length(min=2, max=300))
    beneficiaries = fields.Integer(required=True, validate=validate.Range(min=0))
    spent_on = fields.Date(required=True)


class DisclosureViewSchema(Strict):
    """阳光慈善: what anyone may see of a campaign; no donor, no beneficiary is named."""

    campaign_id = fields.String()
    title = fields.String()
    organisation = fields.String()
    filed_on = fields.Date(allow_none=True)
    starts_on = fields.Date()
    ends_on = fields.Date(allow_none=True)
    target_fen = fields.Fen()
    raised_fen = fields.Fen()
    donations = fields.Integer()
    spent_fen = fields.Fen()
    aid_fen = fields.Fen(metadata={"description": "of the spending: aid to households referred by assistance"})
    beneficiaries = fields.Integer(metadata={"description": "people reached (a count only)"})
    balance_fen = fields.Fen()


# --- volunteers and the time bank (时间银行) ------------------------------------------------------------


class VolunteerRequestSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))
    region_code = fields.String(required=True, validate=REGION)


class VolunteerViewSchema(Strict):
    volunteer_id = fields.String()
    resident_id = fields.String()
    name = fields.String()
    region_code = fields.String()
    registered_on = fields.Date()
    service_minutes = fields.Integer(metadata={"description": "every service recorded"})
    credit_minutes = fields.Integer(metadata={"description": "time-bank balance: credited less redeemed"})


class ServiceRecordRequestSchema(Strict):
    request_id = fields.String(
        required=True,
        validate=validate.Length(min=4, max=80),
        metadata={"description": "the service point's record id: sent again, it is the same record"},
    )
    activity = fields.String(required=True, validate=validate.Length(min=2, max=200))
    served_on = fields.Date(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))


class RedemptionRequestSchema(Strict):
    """Time-bank credits redeemed for care (by care, a care provider, or a caseworker)."""

    redemption_key = fields.String(
        required=True,
        validate=validate.Length(min=4, max=80),
        metadata={"description": "the caller's key, e.g. care-order-<id>: sent again, it is the same redemption"},
    )
    resident_id = ResidentIdField(required=True, metadata={"description": "the volunteer whose credits pay"})
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    purpose = fields.String(required=True, validate=validate.Length(min=2, max=200))


class RedemptionViewSchema(Strict):
    redemption_key = fields.String()
    minutes = fields.Integer()
    credit_minutes = fields.Integer(metadata={"description": "balance after the redemption"})


# --- welfare-lottery public-welfare funds (福彩公益金) ----------------------------------------------------


class LotteryAllocationSchema(Strict):
    reference = fields.String(
        required=True,
        validate=validate.Length(min=2, max=80),
        metadata={"description": "the allocation document's number: sent again, the same"},
    )
    region_code = fields.String(required=True, validate=REGION)
    year = fields.Integer(required=True, validate=validate.Range(min=1990, max=2100))
    purpose = fields.String(required=True, validate=validate.OneOf(LOTTERY_PURPOSES))
    amount_fen = fields.Fen(required=True, validate=FEN)


class LotteryReportSchema(Strict):
    region_code = fields.String()
    year = fields.Integer()
    total_fen = fields.Fen()
    by_purpose_fen = fields.Dict(keys=fields.String(), values=fields.Fen())
    elderly_care_ratio = fields.Float(allow_none=True)
    minimum_ratio = fields.Float(allow_none=True, metadata={"description": "the rule in force (policy)"})
    met = fields.Boolean(allow_none=True)
    policy_version = fields.String(allow_none=True)


class StatisticsViewSchema(Strict):
    region_code = fields.String()
    on = fields.Date()
    organisations = fields.Integer(metadata={"description": "registered and filed, not cancelled"})
    registered = fields.Integer()
    residents = fields.Integer(allow_none=True)
    organisations_per_10k = fields.Float(allow_none=True)
    registered_per_10k = fields.Float(allow_none=True)
    target_per_10k = fields.Float(allow_none=True, metadata={"description": "registered and filed (policy)"})
    registered_target_per_10k = fields.Float(
        allow_none=True, metadata={"description": "registered only, where the plan sets one (policy)"}
    )
    graded_ratio = fields.Float(allow_none=True, metadata={"description": "等级社会组织覆盖率"})
    abnormal = fields.Integer()
    dormant = fields.Integer()
    charities = fields.Integer()
    fundraising_qualified = fields.Integer()
    raised_fen = fields.Fen()
    spent_fen = fields.Fen()
    referrals_aided = fields.Integer()
    volunteers = fields.Integer()
    service_minutes = fields.Integer()
    lottery = fields.Nested(LotteryReportSchema)


# --- events (assistance's referral is in contracts.assistance) --------------------------------------------


class ReferralAnsweredSchema(Strict):
    """Charity's answer: aided (in full or in part) from a campaign or fund, or declined with why."""

    referral_id = fields.String(required=True)
    household_id = fields.String(required=True)
    need = fields.String(required=True, validate=validate.OneOf(NEEDS))
    outcome = fields.String(required=True, validate=validate.OneOf(["aided", "declined"]))
    amount_fen = fields.Fen(required=True, validate=validate.Range(min=0))
    campaign_id = fields.String(load_default=None, allow_none=True)
    organisation = fields.String(load_default=None, allow_none=True)
    reason = fields.String(required=True)


class ServiceRecordedSchema(Strict):
    """A volunteer's service hours were recorded; the time bank credits them."""

    record_id = fields.String(required=True)
    volunteer_id = fields.String(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    served_on = fields.Date(required=True)


class CreditsAnsweredSchema(Strict):
    """The time bank's answer to care about an order's credits: redeemed (debited once per order),
    refused with the reason (nothing debited), or returned (credited back on the order's cancellation)."""

    order_id = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(["redeemed", "refused", "returned"]))
    minutes = fields.Integer(required=True, validate=validate.Range(min=0))
    reason = fields.String(required=True)
