"""Social assistance (社会救助) tables: households and members, applications and their journal,
household economic checks (核对) with one row per subject per source per fetch, entitlements,
and monthly payment cycles. Money is integer fen."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base

from chassis.payment_runs import PaymentTables
from chassis.types import UtcDateTime

Base = declarative_base()
Fen = BigInteger


class Household(Base):
    """户: the unit of means-tested assistance (一户一档)."""

    __tablename__ = "household"
    id = Column(String(36), primary_key=True)
    region_code = Column(String(12), nullable=False, index=True)  # village/community or township
    address = Column(Text, nullable=False)
    bank_account = Column(String(40))  # 社会化发放: paid through the household's bank account
    created_at = Column(UtcDateTime, nullable=False)


class Member(Base):
    __tablename__ = "member"
    id = Column(String(36), primary_key=True)
    household_id = Column(String(36), ForeignKey("household.id"), nullable=False, index=True)
    # None for a newborn until the hukou registration gives an ID; known until then by the birth
    # certificate (出生医学证明)
    resident_id = Column(String(18), index=True)
    birth_certificate_number = Column(String(40))
    birth_date = Column(Date)
    name = Column(String(60), nullable=False)
    relationship = Column(String(20), nullable=False)  # head | spouse | child | parent | other
    monthly_income_fen = Column(Fen, nullable=False, default=0)
    employment_cost_fen = Column(Fen, nullable=False, default=0)
    seriously_ill = Column(Boolean, nullable=False, default=False)
    severely_disabled = Column(Boolean, nullable=False, default=False)
    pregnant = Column(Boolean, nullable=False, default=False)
    single_person_listing = Column(Boolean, nullable=False, default=False)  # 单人户
    joined_on = Column(Date, nullable=False)
    left_on = Column(Date)
    left_reason = Column(Text)


class Application(Base):
    __tablename__ = "application"
    id = Column(String(36), primary_key=True)
    household_id = Column(String(36), ForeignKey("household.id"), nullable=False, index=True)
    programme = Column(String(30), nullable=False)
    state = Column(String(20), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)  # the township that accepts it
    channel = Column(String(20), nullable=False)  # online | caseworker
    applied_at = Column(UtcDateTime, nullable=False)
    applied_by = Column(String(80), nullable=False)
    accepted_on = Column(Date)
    decision_due = Column(Date)  # 20 working days from acceptance
    approval_level = Column(String(10), nullable=False, default="district")
    notice_ends = Column(Date)
    decided_on = Column(Date)
    decision_reason = Column(Text)
    monthly_amount_fen = Column(Fen)
    policy_version = Column(Text)
    matter_id = Column(String(36))


class ApplicationTransition(Base):
    """The application's journal: every move, who made it, why (append-only)."""

    __tablename__ = "application_transition"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    application_id = Column(String(36), ForeignKey("application.id"), nullable=False, index=True)
    from_state = Column(String(20))
    to_state = Column(String(20), nullable=False)
    action = Column(String(30), nullable=False)
    actor_id = Column(String(80), nullable=False)
    actor_role = Column(String(20), nullable=False)
    at = Column(UtcDateTime, nullable=False)
    reason = Column(Text)


class EconomicCheck(Base):
    """核对: one run of queries to the partner data sources for every member of a household."""

    __tablename__ = "economic_check"
    id = Column(String(36), primary_key=True)
    application_id = Column(String(36), ForeignKey("application.id"), index=True)  # an application's check, or
    entitlement_id = Column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("entitlement.id")
    )  # 动态复核: a re-check of an entitlement
    for_review_on = Column(Date)  # … for the review that fell due on this day (its cycle)
    started_at = Column(UtcDateTime, nullable=False)
    finished_at = Column(UtcDateTime)
    complete = Column(Boolean, nullable=False, default=False)  # False if any source failed
    __table_args__ = (
        Index("ix_economic_check_review", "entitlement_id", "for_review_on"),
        CheckConstraint(
            "application_id IS NOT NULL OR (entitlement_id IS NOT NULL AND for_review_on IS NOT NULL)",
            name="ck_economic_check_subject",
        ),
    )


class CheckFetch(Base):
    """One subject, one source, one fetch: what came back, or that it failed (never 'nothing')."""

    __tablename__ = "check_fetch"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    check_id = Column(String(36), ForeignKey("economic_check.id"), nullable=False, index=True)
    resident_id = Column(String(18), nullable=False)
    source = Column(String(30), nullable=False)
    status = Column(String(10), nullable=False)  # ok | failed | timeout
    fetched_at = Column(UtcDateTime, nullable=False)
    latency_ms = Column(Integer, nullable=False)
    result = Column(JSON)
    error = Column(Text)


class Entitlement(Base):
    """An active benefit of a household under a programme: what the monthly run pays."""

    __tablename__ = "entitlement"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    household_id = Column(String(36), ForeignKey("household.id"), nullable=False, index=True)
    programme = Column(String(30), nullable=False)
    monthly_amount_fen = Column(Fen, nullable=False)
    starts_on = Column(Date, nullable=False)
    ends_on = Column(Date)  # None while active
    gradual_exit_until = Column(Date)  # 渐退期
    exit_reason = Column(Text)
    policy_version = Column(Text, nullable=False)
    application_id = Column(String(36), ForeignKey("application.id"))
    next_review_on = Column(Date, index=True)  # 复核: the next periodic re-check (None for one-offs)
    __table_args__ = (Index("ix_entitlement_active", "starts_on", "ends_on"),)


# 社会化发放: the monthly payment run's ledger (chassis.payment_runs); what it pays is an entitlement,
# to its household's bank account.
PAYMENT_TABLES = PaymentTables(
    Base.metadata,
    "payment",
    payee=Column("entitlement_id", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    carried=[Column("household_id", String(36), nullable=False)],
    holder="household_id",
)


class PaymentCycle(Base):
    """One month's payment run, frozen when created: re-running it pays nobody twice."""

    __table__ = PAYMENT_TABLES.cycle


class Payment(Base):
    __table__ = PAYMENT_TABLES.payment


class LinkedItem(Base):
    """救助一件事: a subsidy item granted with an approval, and the department that grants it.
    The catalogue is data: a region adds or retires items without a release."""

    __tablename__ = "linked_item"
    code = Column(String(40), primary_key=True)
    title = Column(String(200), nullable=False)
    owner = Column(String(40), nullable=False)  # a partner department, or "assistance" itself
    deadline_days = Column(Integer, nullable=False)
    programmes = Column(JSON, nullable=False)  # the programmes whose approval grants it
    active = Column(Boolean, nullable=False, default=True)
    version = Column(Integer, nullable=False, default=1, server_default="1")  # the current one


class Alert(Base):
    """主动发现: a risk alert and visit task for the household's caseworkers, raised by a signal."""

    __tablename__ = "alert"
    id = Column(String(36), primary_key=True)
    kind = Column(String(40), nullable=False)
    household_id = Column(String(36), ForeignKey("household.id"), nullable=False, index=True)
    region_code = Column(String(12), nullable=False, index=True)
    reason = Column(Text, nullable=False)
    state = Column(String(20), nullable=False, index=True)  # open | acknowledged | resolved
    source_event_id = Column(String(36), nullable=False)  # the signal: one alert per event and household
    raised_at = Column(UtcDateTime, nullable=False)
    visit_due = Column(Date, nullable=False)
    acknowledged_by = Column(String(80))
    acknowledged_at = Column(UtcDateTime)
    resolved_by = Column(String(80))
    resolved_at = Column(UtcDateTime)
    resolution = Column(Text)
    __table_args__ = (UniqueConstraint("source_event_id", "household_id", name="uq_alert_signal"),)


class CharityReferral(Base):
    """A household referred to charity for a need its aid does not cover (or covers in part), and
    charity's answer: with the entitlements, the household's one chain of assistance."""

    __tablename__ = "charity_referral"
    id = Column(String(36), primary_key=True)
    household_id = Column(String(36), ForeignKey("household.id"), nullable=False, index=True)
    need = Column(String(20), nullable=False)
    coverage = Column(String(10), nullable=False)  # none | partial
    requested_fen = Column(Fen, nullable=False)
    reason = Column(Text, nullable=False)
    state = Column(String(10), nullable=False)  # referred | aided | declined
    referred_at = Column(UtcDateTime, nullable=False)
    referred_by = Column(String(80), nullable=False)
    aid_fen = Column(Fen)
    campaign_id = Column(String(36))
    organisation = Column(String(120))
    answer = Column(Text)


class DeathRecord(Base):
    """身后一件事: what assistance did on a death (to report it, and to undo it on revocation). A
    revocation that overtakes its notice leaves a `revoked` row, so the late notice is ignored."""

    __tablename__ = "death_record"
    case_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    date_of_death = Column(Date, nullable=False)
    # which correction of the date it stands on (0: the notice's): an older correction is stale
    date_revision = Column(Integer, nullable=False, default=0, server_default="0")
    state = Column(String(20), nullable=False)  # applied | not_applicable | reversed | revoked
    changes = Column(JSON, nullable=False)  # per household: the member who left, each benefit before/after
    recorded_at = Column(UtcDateTime, nullable=False)
    reversed_at = Column(UtcDateTime)


class Overpayment(Base):
    """Benefit paid for months after a death (Tell Us Once's lesson: payments made before the
    notice arrived are recorded, never silently written off)."""

    __tablename__ = "overpayment"
    id = Column(String(36), primary_key=True)
    case_id = Column(String(36), nullable=False, index=True)
    household_id = Column(String(36), nullable=False, index=True)
    entitlement_id = Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False)
    programme = Column(String(30), nullable=False)
    months = Column(JSON, nullable=False)  # ["2026-06-01", ...]: the months paid after the death
    amount_fen = Column(Fen, nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)


class AfterDeathPayment(Base):
    """A payment for a month after a death, as the death found it (any state), with what the
    month is still due after the death (0: the benefit ended; the survivors' amount otherwise).
    Another death of the household counts the month only up to the lowest due the deaths recorded
    before it left (rules.overpaid_after_deaths).
    The overpayment is recounted from these payments' states as the bank answers, and a failed
    one is paid again as arrears only for what the month is due (payments.py)."""

    __tablename__ = "after_death_payment"
    id = Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)
    case_id = Column(String(36), nullable=False)
    entitlement_id = Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False)
    payment_id = Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False, index=True)
    cycle_id = Column(String(20), nullable=False, index=True)
    for_month = Column(Date, nullable=False)
    amount_fen = Column(Fen, nullable=False)
    due_fen = Column(Fen, nullable=False)
    __table_args__ = (UniqueConstraint("case_id", "payment_id", name="uq_after_death_payment"),)


class Recovery(Base):
    """追回: the recovery of an overpayment, for the payments office to pursue (rules.RecoveryLedger)."""

    __tablename__ = "recovery"
    id = Column(String(36), primary_key=True)
    overpayment_id = Column(String(36), ForeignKey("overpayment.id"), nullable=False, unique=True)
    amount_fen = Column(Fen, nullable=False)  # the overpayment's amount as the bank's answers show it
    recovered_fen = Column(Fen, nullable=False, default=0)  # money received back
    written_off_fen = Column(Fen, nullable=False, default=0, server_default=text("0"))  # 核销
    refunded_fen = Column(Fen, nullable=False, default=0, server_default=text("0"))  # given back to the household
    # open | recovered | cancelled (nothing owed: the death was revoked, or what was counted was never paid)
    state = Column(String(12), nullable=False)
    opened_on = Column(Date, nullable=False)
    closed_on = Column(Date)
    note = Column(Text)


class Repayment(Base):
    """Each entry on a recovery, never edited: money back (bank_return, repayment), an amount
    written off (write_off, with the reason), or money given back to the household (refund)."""

    __tablename__ = "repayment"
    id = Column(String(36), primary_key=True)
    recovery_id = Column(String(36), ForeignKey("recovery.id"), nullable=False, index=True)
    method = Column(String(12), nullable=False)  # bank_return | repayment | write_off | refund
    amount_fen = Column(Fen, nullable=False)
    received_on = Column(Date, nullable=False)  # a refund: the day it was paid
    reference = Column(String(80))
    reason = Column(Text)
    recorded_by = Column(String(80), nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)


class BackPay(Base):
    """补发: what a revoked death (or a date of death corrected to a later day) stopped, owed back
    month by month."""

    __tablename__ = "back_pay"
    id = Column(String(36), primary_key=True)
    case_id = Column(String(36), nullable=False, index=True)
    household_id = Column(String(36), nullable=False, index=True)
    entitlement_id = Column(BigInteger().with_variant(Integer(), "sqlite"), nullable=False)
    months = Column(JSON, nullable=False)  # [{"month": "2026-07-01", "owed_fen": .., "paid_fen": ..}]
    amount_fen = Column(Fen, nullable=False)
    # due | paid | superseded: the payment run pays each month's difference as a top-up (payments.py)
    # and a reconciliation marks the record paid once every month's top-up is paid; a corrected
    # date of death (or a revocation after one) supersedes what is still due and owes it afresh
    state = Column(String(12), nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)


class LinkedItemVersion(Base):
    """Every version of a linked item, as added, changed or retired (never edited): what an
    approval granted on a day can always be told."""

    __tablename__ = "linked_item_version"
    code = Column(String(40), ForeignKey("linked_item.code"), primary_key=True)
    version = Column(Integer, primary_key=True)
    title = Column(String(200), nullable=False)
    owner = Column(String(40), nullable=False)
    deadline_days = Column(Integer, nullable=False)
    programmes = Column(JSON, nullable=False)
    active = Column(Boolean, nullable=False)
    recorded_at = Column(UtcDateTime, nullable=False)
    recorded_by = Column(String(80), nullable=False)
    reason = Column(Text)


def paid_after(day: date):
    """Entitlements the payment run still pays for some day after `day` (payments.py): a query condition."""
    return (Entitlement.ends_on.is_(None)) | (Entitlement.ends_on > day) | (Entitlement.gradual_exit_until > day)
