"""Charity tables: social organisations with their changes, annual reports and grades; charity
campaigns with donations and spending kept in separate ledgers (募用分离); aid given on assistance's
referrals; volunteers, their service records and the time-bank ledger; welfare-lottery
allocations. Money is integer fen, volunteer time whole minutes."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import declarative_base

from chassis.types import UtcDateTime

Base = declarative_base()
Fen = BigInteger


class Organisation(Base):
    """社会组织: a social group, social service institution or foundation, registered (登记) or
    filed (备案) with the bureau of its area."""

    __tablename__ = "organisation"
    id = Column(String(36), primary_key=True)
    credit_code = Column(String(18), nullable=False, unique=True)  # 统一社会信用代码
    name = Column(String(120), nullable=False)
    kind = Column(String(30), nullable=False)
    registration = Column(String(12), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    legal_representative = Column(String(60), nullable=False)
    registered_on = Column(Date, nullable=False)
    state = Column(String(12), nullable=False, index=True)  # active | abnormal | dormant | cancelled
    state_reason = Column(Text)
    state_since = Column(Date, nullable=False)
    grade = Column(String(2))
    graded_on = Column(Date)
    grade_valid_until = Column(Date)
    charity_recognised_on = Column(Date)
    fundraising_qualified_on = Column(Date)
    cancelled_on = Column(Date)
    updated_at = Column(UtcDateTime, nullable=False)


class OrganisationChange(Base):
    """变更登记: one row per field changed, with the value before and after."""

    __tablename__ = "organisation_change"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    organisation_id = Column(String(36), nullable=False, index=True)
    field = Column(String(40), nullable=False)
    before = Column(Text)
    after = Column(Text)
    reason = Column(Text, nullable=False)
    changed_at = Column(UtcDateTime, nullable=False)
    changed_by = Column(String(80), nullable=False)


class AnnualReport(Base):
    """年度报告: one per organisation and completed year."""

    __tablename__ = "annual_report"
    organisation_id = Column(String(36), primary_key=True)
    year = Column(Integer, primary_key=True)
    income_fen = Column(Fen, nullable=False)
    expenditure_fen = Column(Fen, nullable=False)
    submitted_on = Column(Date, nullable=False)


class DetectionRun(Base):
    """One row per day the abnormal/dormant detection ran (it is idempotent)."""

    __tablename__ = "detection_run"
    run_on = Column(Date, primary_key=True)
    runs = Column(Integer, nullable=False)
    changed = Column(Integer, nullable=False)
    last_run_at = Column(UtcDateTime, nullable=False)


class RegionPopulation(Base):
    """Resident population (常住人口) of a region in a year: the denominator of 每万人社会组织数."""

    __tablename__ = "region_population"
    region_code = Column(String(12), primary_key=True)
    year = Column(Integer, primary_key=True)
    residents = Column(Integer, nullable=False)


class Campaign(Base):
    """A public fundraising campaign or standing fund (慈善救助基金) with its plan (募捐方案);
    it takes donations only once the plan is filed (备案)."""

    __tablename__ = "campaign"
    id = Column(String(36), primary_key=True)
    organisation_id = Column(String(36), nullable=False, index=True)
    title = Column(String(200), nullable=False)
    kind = Column(String(10), nullable=False)
    needs = Column(JSON, nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    target_fen = Column(Fen, nullable=False)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    state = Column(String(10), nullable=False)  # draft | filed
    filed_on = Column(Date)
    created_at = Column(UtcDateTime, nullable=False)


class Donation(Base):
    """A donation with its receipt (捐赠票据); the channel's request id makes a resend the same one."""

    __tablename__ = "donation"
    id = Column(String(36), primary_key=True)
    campaign_id = Column(String(36), nullable=False, index=True)
    request_id = Column(String(80), nullable=False)
    donor_name = Column(String(120))  # never disclosed
    donor_kind = Column(String(12), nullable=False)
    amount_fen = Column(Fen, nullable=False)
    receipt_number = Column(String(40), nullable=False, unique=True)
    received_on = Column(Date, nullable=False)
    __table_args__ = (UniqueConstraint("campaign_id", "request_id", name="uq_donation_request"),)


class Spending(Base):
    """What a campaign's money paid for, kept apart from the donations (募用分离). Aid given on a
    referral is spending too, with its referral."""

    __tablename__ = "spending"
    id = Column(String(36), primary_key=True)
    campaign_id = Column(String(36), nullable=False, index=True)
    request_id = Column(String(80), nullable=False)
    kind = Column(String(10), nullable=False)  # project | aid
    amount_fen = Column(Fen, nullable=False)
    purpose = Column(Text, nullable=False)
    beneficiaries = Column(Integer, nullable=False)
    spent_on = Column(Date, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    __table_args__ = (UniqueConstraint("campaign_id", "request_id", name="uq_spending_request"),)


class Referral(Base):
    """A household assistance referred, and charity's answer: one row per referral."""

    __tablename__ = "referral"
    id = Column(String(36), primary_key=True)  # assistance's referral id
    household_id = Column(String(36), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    need = Column(String(20), nullable=False)
    requested_fen = Column(Fen, nullable=False)
    outcome = Column(String(10), nullable=False)  # aided | declined
    campaign_id = Column(String(36))
    amount_fen = Column(Fen, nullable=False)
    reason = Column(Text, nullable=False)
    answered_on = Column(Date, nullable=False)


class AidRecipient(Base):
    """Who an aid reached, by need: nobody is helped twice for the same need."""

    __tablename__ = "aid_recipient"
    referral_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), primary_key=True)
    need = Column(String(20), nullable=False)
    aided_on = Column(Date, nullable=False)
    __table_args__ = (Index("ix_aid_recipient_person_need", "resident_id", "need"),)


class Volunteer(Base):
    """志愿者, registered by real name."""

    __tablename__ = "volunteer"
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, unique=True)
    name = Column(String(60), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    registered_on = Column(Date, nullable=False)


class ServiceRecord(Base):
    """志愿服务记录: the service point's request id makes a resend the same record."""

    __tablename__ = "service_record"
    id = Column(String(36), primary_key=True)
    volunteer_id = Column(String(36), nullable=False, index=True)
    request_id = Column(String(80), nullable=False)
    activity = Column(String(200), nullable=False)
    served_on = Column(Date, nullable=False)
    minutes = Column(Integer, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    __table_args__ = (UniqueConstraint("volunteer_id", "request_id", name="uq_service_record_request"),)


class TimeBankEntry(Base):
    """时间银行 ledger: a credit per service record, a debit per redemption, a return per cancelled
    order paid with credits, each once."""

    __tablename__ = "time_bank_entry"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    volunteer_id = Column(String(36), nullable=False, index=True)
    kind = Column(String(10), nullable=False)  # credit | redemption | return
    minutes = Column(Integer, nullable=False)  # positive for a credit or a return, negative for a redemption
    # record-<id> | the redemption key (care-order-<id> for care's orders) | care-order-<id>-return
    # (the minutes given back on the order's cancellation; 0 if none were redeemed, which bars a late one)
    key = Column(String(90), nullable=False, unique=True)
    purpose = Column(Text)
    by = Column(String(80), nullable=False)
    at = Column(UtcDateTime, nullable=False)


class LotteryAllocation(Base):
    """福彩公益金 allocated by purpose and region; the document's reference makes a resend the same."""

    __tablename__ = "lottery_allocation"
    reference = Column(String(80), primary_key=True)
    region_code = Column(String(12), nullable=False, index=True)
    year = Column(Integer, nullable=False)
    purpose = Column(String(30), nullable=False)
    amount_fen = Column(Fen, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)
