"""Care (养老) tables: the elderly registry fed from person data, and old-age allowance
enrolments granted without an application. Money is integer fen."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import declarative_base

from chassis.payment_runs import PaymentTables
from chassis.types import UtcDateTime

Base = declarative_base()


class Elder(Base):
    """A person of the registry; age and sex come from the resident ID number."""

    __tablename__ = "elder"
    resident_id = Column(String(18), primary_key=True)
    name = Column(String(60), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)  # village/community of residence
    birth_date = Column(Date, nullable=False, index=True)
    sex = Column(String(6), nullable=False)
    registered_on = Column(Date, nullable=False)  # first seen in the city's registry (never updated)
    recorded_at = Column(UtcDateTime, nullable=False)  # last updated from the population registry
    deceased_on = Column(Date)  # set by the after-death flow (funeral issue)
    bank_account = Column(String(40))  # 社保卡 / bank account the old-age allowance is paid to


class AllowanceEnrolment(Base):
    """高龄津贴: one enrolment per person, made by the daily job on the qualifying birthday, paid
    every month from `starts_month` through the month of `ended_on` (rules.allowance_paid_in)."""

    __tablename__ = "allowance_enrolment"
    resident_id = Column(String(18), primary_key=True)  # once per person, however often the job runs
    region_code = Column(String(12), nullable=False, index=True)
    starts_month = Column(Date, nullable=False)  # the first month paid
    enrolled_on = Column(Date, nullable=False)  # the job's day (later than the birthday after downtime)
    policy_version = Column(Text, nullable=False)
    # The last day of entitlement (a date of death, a move out of the city), set only through
    # CareService.end_allowance; None while the enrolment lasts. Its month is still paid in full.
    ended_on = Column(Date)
    end_reason = Column(Text)
    # An end undone (a revoked death): the months after this day frozen while it stood are paid back.
    back_pay_after = Column(Date)


# The old-age allowance's monthly payment run (chassis.payment_runs): one cycle per paying district
# and month; what is paid is a person's enrolment, to their own bank account.
ALLOWANCE_PAYMENTS = PaymentTables(
    Base.metadata, "allowance_payment", payee=Column("resident_id", String(18), nullable=False)
)


class AllowancePaymentCycle(Base):
    __table__ = ALLOWANCE_PAYMENTS.cycle


class AllowancePayment(Base):
    __table__ = ALLOWANCE_PAYMENTS.payment


class AllowanceJobRun(Base):
    """One row per day the enrolment job ran: what operations read to see it is alive."""

    __tablename__ = "allowance_job_run"
    run_on = Column(Date, primary_key=True)
    runs = Column(Integer, nullable=False)  # how often it ran that day (it is idempotent)
    enrolled = Column(Integer, nullable=False)  # enrolments made that day
    last_run_at = Column(UtcDateTime, nullable=False)


class VoucherEligibility(Base):
    """养老服务补贴: a government-paid monthly home-care budget, from assistance's approval of the
    person's household (特困, 低保), never re-entered by hand. One row per programme: a person
    entitled through two gets the larger budget while either lasts."""

    __tablename__ = "voucher_eligibility"
    resident_id = Column(String(18), primary_key=True)
    programme = Column(String(30), primary_key=True)
    household_id = Column(String(36), nullable=False, index=True)  # assistance's, to end it with the household
    region_code = Column(String(12), nullable=False)
    monthly_fen = Column(Integer, nullable=False)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    policy_version = Column(Text, nullable=False)
    # What set `ends_on`: the event ("<type> <id>") or the death ("death (funeral case <id>)"); None
    # while open. A resumption reopens only what its own end closed and nothing closed since.
    ended_by = Column(Text)


class SupportedMember(Base):
    """A member of a household assistance supports (from its events), whatever their age: the daily
    job grants the home-care voucher to those who reach the policy's age later, as approval would
    have had they been old enough then. Ended with the household's benefit or the member's leaving."""

    __tablename__ = "supported_member"
    resident_id = Column(String(18), primary_key=True)
    programme = Column(String(30), primary_key=True)
    household_id = Column(String(36), nullable=False, index=True)
    region_code = Column(String(12), nullable=False)
    birth_date = Column(Date, nullable=False, index=True)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)
    policy_version = Column(Text, nullable=False)  # the assistance decision's
    ended_by = Column(Text)  # as VoucherEligibility.ended_by


class EntitlementEnd(Base):
    """assistance's ends of a household's benefit on a day (`assistance.entitlement_ended`) paired
    with their resumptions (`assistance.entitlement_resumed`, when the death that ended it is
    revoked), counted per household, programme and day. The two come on separate queues, and an end
    waiting in retry may be overtaken by its resumption: then `resumed` is ahead of `ended` and the
    end, when it comes, closes nothing. The row is also the lock that makes an end and its
    resumption take turns."""

    __tablename__ = "entitlement_end"
    household_id = Column(String(36), primary_key=True)
    programme = Column(String(30), primary_key=True)
    ends_on = Column(Date, primary_key=True)
    ended = Column(Integer, nullable=False)
    resumed = Column(Integer, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)


class ServiceOrder(Base):
    """A home-care service order: requested → accepted → delivered → confirmed (or cancelled).
    Paid by the voucher budget, or by the person's time-bank credits: then charity's answer moves
    `credits_state` (pending → redeemed | refused, returned after a cancellation)."""

    __tablename__ = "service_order"
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    service = Column(String(20), nullable=False)
    provider = Column(String(60), nullable=False, index=True)
    price_fen = Column(Integer, nullable=False)
    for_month = Column(Date, nullable=False)  # the budget month: the month it was requested
    state = Column(String(12), nullable=False)
    requested_by = Column(String(80), nullable=False)
    requested_at = Column(UtcDateTime, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)
    cancel_reason = Column(Text)
    payment = Column(String(10), nullable=False, server_default="voucher")  # voucher | time_bank
    credit_minutes = Column(Integer)  # time_bank: what the service costs, by policy
    credits_state = Column(String(10))  # time_bank: pending | redeemed | refused | returned


class VoucherDrawdown(Base):
    """What a confirmed order drew on the budget: one row per order, however often the
    confirmation event arrives."""

    __tablename__ = "voucher_drawdown"
    order_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False)
    month = Column(Date, nullable=False)
    voucher_fen = Column(Integer, nullable=False)
    copay_fen = Column(Integer, nullable=False)
    drawn_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (Index("ix_voucher_drawdown_person_month", "resident_id", "month"),)


class Assessment(Base):
    """能力评估: one assessment of a person's ability, valid until re-assessment is due."""

    __tablename__ = "assessment"
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    level = Column(String(10), nullable=False)  # intact | mild | moderate | severe | complete
    assessor = Column(String(80), nullable=False)
    assessed_on = Column(Date, nullable=False)
    valid_until = Column(Date, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    policy_version = Column(Text, nullable=False)


class Institution(Base):
    """养老机构 with its beds by type (capacity; admissions are a later slice)."""

    __tablename__ = "institution"
    code = Column(String(40), primary_key=True)
    name = Column(String(120), nullable=False)
    ownership = Column(String(20), nullable=False)  # public | public_private | private
    region_code = Column(String(12), nullable=False, index=True)
    ordinary_beds = Column(Integer, nullable=False)
    nursing_beds = Column(Integer, nullable=False)
    dementia_beds = Column(Integer, nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)


class Child(Base):
    """儿童福利: a child the welfare system follows, located to village, household and child."""

    __tablename__ = "child"
    resident_id = Column(String(18), primary_key=True)
    name = Column(String(60), nullable=False)
    category = Column(String(24), nullable=False)  # orphan | de_facto_unsupported | distressed | left_behind
    placement = Column(String(12), nullable=False)  # institution | community
    village_code = Column(String(12), nullable=False, index=True)
    household = Column(String(120), nullable=False)
    guardian = Column(String(60))
    guardian_resident_id = Column(String(18), index=True)  # so a guardian's death reaches the child
    birth_date = Column(Date, nullable=False)
    registered_by = Column(String(80), nullable=False)
    updated_at = Column(UtcDateTime, nullable=False)


class Screening(Base):
    """困境儿童 screening with its colour (四色管理) and the follow-up it calls for."""

    __tablename__ = "screening"
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    village_code = Column(String(12), nullable=False, index=True)
    level = Column(String(8), nullable=False)
    findings = Column(Text, nullable=False)
    screened_on = Column(Date, nullable=False)
    follow_up_due = Column(Date, nullable=False)
    followed_up_on = Column(Date)
    screened_by = Column(String(80), nullable=False)


class ChildDirector(Base):
    """儿童主任: one per village (community)."""

    __tablename__ = "child_director"
    village_code = Column(String(12), primary_key=True)
    name = Column(String(60), nullable=False)
    phone = Column(String(13), nullable=False)
    appointed_on = Column(Date, nullable=False)


class Admission(Base):
    """A stay in an institution, on a bed of a type; 集中供养 placements are flagged."""

    __tablename__ = "admission"
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    institution = Column(String(40), nullable=False, index=True)
    bed_type = Column(String(10), nullable=False)
    admitted_on = Column(Date, nullable=False)
    discharged_on = Column(Date)
    discharge_reason = Column(Text)
    concentrated_support = Column(Boolean, nullable=False)


class DeviceRegistration(Base):
    """A wearable device (智能手环, 一键呼叫) registered to a person by the bureau's staff, operated
    by one platform (`platform`: the `org` of that platform's tokens) from `registered_on` until
    the day before `retired_on`. A device is registered to one person at a time (the partial unique
    index) and again, to someone else, only from the day it was retired."""

    __tablename__ = "device_registration"
    id = Column(String(36), primary_key=True)
    device_id = Column(String(60), nullable=False, index=True)
    resident_id = Column(String(18), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)  # the person's, when registered
    platform = Column(String(60), nullable=False)
    registered_on = Column(Date, nullable=False)
    retired_on = Column(Date)
    retire_reason = Column(Text)
    registered_by = Column(String(80), nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (
        Index(
            "uq_device_registration_in_service",
            "device_id",
            unique=True,
            postgresql_where=text("retired_on IS NULL"),
            sqlite_where=text("retired_on IS NULL"),
        ),
    )


class EmergencyCall(Base):
    """紧急呼叫 from a wearable device: received → dispatched → arrived → closed."""

    __tablename__ = "emergency_call"
    id = Column(String(36), primary_key=True)
    device_id = Column(String(60), nullable=False)
    device_call_id = Column(String(60), nullable=False)
    platform = Column(String(60))  # the platform (token `org`) that reported it; None: taken before platforms were
    resident_id = Column(String(18), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    kind = Column(String(16), nullable=False)
    state = Column(String(12), nullable=False, index=True)
    raised_at = Column(UtcDateTime, nullable=False)
    dispatched_at = Column(UtcDateTime)
    responder = Column(String(80))
    arrived_at = Column(UtcDateTime)
    closed_at = Column(UtcDateTime)
    outcome = Column(Text)
    __table_args__ = (UniqueConstraint("device_id", "device_call_id", name="uq_emergency_call_device"),)


class FamilyBed(Base):
    """家庭养老床位: one per person, run by an institution, for someone assessed as disabled."""

    __tablename__ = "family_bed"
    resident_id = Column(String(18), primary_key=True)
    institution = Column(String(40), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    established_on = Column(Date, nullable=False)
    closed_on = Column(Date)
    assessed_level = Column(String(10), nullable=False)


class DeathRecord(Base):
    """身后一件事: what care stopped on a death, kept to report the step and to restore it all on a
    revocation. A revocation that overtakes its notice leaves a `revoked` row."""

    __tablename__ = "death_record"
    case_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    date_of_death = Column(Date, nullable=False)
    # which correction of the date it stands on (0: the notice's): an older correction is stale
    date_revision = Column(Integer, nullable=False, default=0, server_default="0")
    state = Column(String(20), nullable=False)  # applied | not_applicable | reversed | revoked
    changes = Column(JSON, nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)
    reversed_at = Column(UtcDateTime)


class AllowanceRecovery(Base):
    """追回 of the old-age allowance: what was paid (or is with the bank) for months after a death,
    one per death (funeral case), recounted when its date is corrected or the bank answers
    (rules.allowance_paid_after_death), cancelled when the death is revoked. Payments of cycles not
    yet sent are withheld instead (chassis.payment_runs withhold), and never counted here."""

    __tablename__ = "allowance_recovery"
    case_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    months = Column(JSON, nullable=False)  # ["2026-07-01", ...]
    amount_fen = Column(BigInteger, nullable=False)
    state = Column(String(12), nullable=False)  # open | cancelled
    opened_on = Column(Date, nullable=False)
    closed_on = Column(Date)
    note = Column(Text)


class ChildReview(Base):
    """A child whose last caregiver died: child welfare reviews the child's care (监护评估)."""

    __tablename__ = "child_review"
    id = Column(String(36), primary_key=True)
    child_resident_id = Column(String(18), nullable=False, index=True)
    village_code = Column(String(12), nullable=False, index=True)
    reason = Column(Text, nullable=False)
    case_id = Column(String(36), nullable=False, index=True)
    state = Column(String(12), nullable=False)  # open | done | withdrawn (the death was revoked)
    raised_on = Column(Date, nullable=False)
    due = Column(Date, nullable=False)


class ChildAdoption(Base):
    """A child a welfare institution raised was adopted (收养登记, from marriage's event): child
    welfare keeps where the child went, and from when."""

    __tablename__ = "child_adoption"
    adoption_id = Column(String(36), primary_key=True)
    child_resident_id = Column(String(18), nullable=False, index=True)
    institution_code = Column(String(40), nullable=False)
    adopted_on = Column(Date, nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)
