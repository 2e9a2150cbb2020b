"""The gateway's own tables: idempotency records and the matter-progress projection."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import declarative_base

from chassis.types import UtcDateTime

Base = declarative_base()


class IdempotencyRecord(Base):
    """A POST's answer kept under its Idempotency-Key, so a retried request is answered, not redone."""

    __tablename__ = "idempotency_record"
    principal = Column(String(80), primary_key=True)
    key = Column(String(120), primary_key=True)
    request_hash = Column(String(64), nullable=False)
    status = Column(Integer)  # None while the first request is still being handled
    response = Column(JSON)
    created_at = Column(UtcDateTime, nullable=False)


class Matter(Base):
    """Projection of a one-matter (一件事): folded from the steps' reports, never edited by hand."""

    __tablename__ = "matter"
    id = Column(String(36), primary_key=True)
    matter_type = Column(String(60), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    opened_at = Column(UtcDateTime, nullable=False)
    opened_by = Column(String(40), nullable=False)
    completed_at = Column(UtcDateTime)
    revoked_at = Column(UtcDateTime)  # revoked (made in error): its owners reverse their steps


class MatterSubject(Base):
    """Citizens a matter is about: the ones who may see it."""

    __tablename__ = "matter_subject"
    matter_id = Column(String(36), ForeignKey("matter.id"), primary_key=True)
    resident_id = Column(String(18), primary_key=True, index=True)


class MatterStep(Base):
    __tablename__ = "matter_step"
    matter_id = Column(String(36), ForeignKey("matter.id"), primary_key=True)
    step = Column(String(60), primary_key=True)
    position = Column(Integer, nullable=False)  # the step's place in the matter's list
    owner = Column(String(40), nullable=False)
    title = Column(String(200), nullable=False)
    deadline_days = Column(Integer, nullable=False)
    starts_on = Column(String(120))  # the event that starts the step's phase; None = at opening
    state = Column(String(20), nullable=False)
    started_at = Column(UtcDateTime)
    deadline = Column(UtcDateTime)
    reported_at = Column(UtcDateTime)
    reason = Column(Text)


class StepReport(Base):
    """Every report received, kept even when it does not change the step (the matter's journal)."""

    __tablename__ = "step_report"
    id = Column(Integer, primary_key=True, autoincrement=True)
    event_id = Column(String(36), nullable=False, unique=True)
    matter_id = Column(String(36), ForeignKey("matter.id"), nullable=False, index=True)
    step = Column(String(60), nullable=False)
    state = Column(String(20), nullable=False)
    reported_by = Column(String(40), nullable=False)
    reported_at = Column(UtcDateTime, nullable=False)
    reason = Column(Text)
    applied = Column(String(10), nullable=False)  # yes | ignored (the step was already closed)


class BirthNotice(Base):
    """A hospital birth certificate seen once: a repeated notification with the same facts answers
    with the first; the same number with other facts is refused (it names another birth)."""

    __tablename__ = "birth_notice"
    hospital = Column(String(120), primary_key=True)
    birth_certificate_number = Column(String(40), primary_key=True, unique=True)
    facts = Column(JSON)  # the first notice's child, parents and hospital (none before revision 0006)
    birth_id = Column(String(36), nullable=False, unique=True)
    matter_id = Column(String(36))
    event_id = Column(String(36), nullable=False)


# --- signed webhooks (gateway.webhooks, gateway.webhook_routes) ---------------------------------

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class WebhookEndpoint(Base):
    """A partner's HTTPS endpoint and the event types delivered to it."""

    __tablename__ = "webhook_endpoint"
    id = Column(String(36), primary_key=True)
    partner = Column(String(40), nullable=False, index=True)
    organisation = Column(String(80))  # under a code whose organisations act apart: only its own events
    url = Column(String(500), nullable=False)
    description = Column(String(200))
    event_types = Column(JSON, nullable=False)  # approved: delivered
    pending_event_types = Column(JSON, nullable=False)  # asked for, awaiting an administrator
    secret = Column(String(80), nullable=False)
    previous_secret = Column(String(80))  # still signs beside the new one until previous_secret_until
    previous_secret_until = Column(UtcDateTime)
    state = Column(String(12), nullable=False)  # active | paused | disabled
    created_at = Column(UtcDateTime, nullable=False)
    disabled_at = Column(UtcDateTime)
    disabled_reason = Column(Text)


class WebhookGrant(Base):
    """An event type an administrator approved for a partner's webhooks."""

    __tablename__ = "webhook_grant"
    partner = Column(String(40), primary_key=True)
    event_type = Column(String(120), primary_key=True)
    granted_at = Column(UtcDateTime, nullable=False)
    granted_by = Column(String(80), nullable=False)


class WebhookApproval(Base):
    """A partner's request to widen its webhooks beyond the types approved for it."""

    __tablename__ = "webhook_approval"
    id = Column(String(36), primary_key=True)
    partner = Column(String(40), nullable=False, index=True)
    endpoint_id = Column(String(36), nullable=False)
    event_types = Column(JSON, nullable=False)
    state = Column(String(12), nullable=False)  # pending | approved | refused
    requested_at = Column(UtcDateTime, nullable=False)
    decided_at = Column(UtcDateTime)
    decided_by = Column(String(80))


class WebhookMessage(Base):
    """The webhook outbox: one row per (event, endpoint), written in the transaction that consumed
    the event; the delivering process sends it until a 2xx, always with the same webhook-id."""

    __tablename__ = "webhook_message"
    __table_args__ = (
        # the deliverer's questions: what is due, is an earlier one of this person still pending, a replay's range
        Index(
            "ix_webhook_message_pending",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
            sqlite_where=text("state = 'pending'"),
        ),
        Index("ix_webhook_message_subject", "endpoint_id", "subject", "state"),
        Index("ix_webhook_message_committed", "endpoint_id", "event_time"),
    )
    id = Column(_BigId, primary_key=True, autoincrement=True)
    endpoint_id = Column(String(36), nullable=False)
    partner = Column(String(40), nullable=False)
    webhook_id = Column(String(36), nullable=False, unique=True)
    event_id = Column(String(36), nullable=False)
    event_type = Column(String(120), nullable=False)
    source = Column(String(40), nullable=False)
    subject = Column(String(160), nullable=False)
    matter_id = Column(String(36))
    event_time = Column(UtcDateTime, nullable=False)  # the event's commit at its producer
    created_at = Column(UtcDateTime, nullable=False)
    data = Column(JSON, nullable=False)  # projected to the partner's entitled fields
    state = Column(String(12), nullable=False)  # pending | delivered | abandoned
    attempts = Column(Integer, nullable=False, default=0, server_default=text("0"))
    next_attempt_at = Column(UtcDateTime, nullable=False)
    failing_since = Column(UtcDateTime)
    delivered_at = Column(UtcDateTime)
    last_status = Column(Integer)
    last_error = Column(Text)


class WebhookAttempt(Base):
    """The delivery log: every attempt, its HTTP status and latency."""

    __tablename__ = "webhook_attempt"
    id = Column(_BigId, primary_key=True, autoincrement=True)
    endpoint_id = Column(String(36), nullable=False, index=True)
    webhook_id = Column(String(36), nullable=False)
    event_type = Column(String(120), nullable=False)
    attempt = Column(Integer, nullable=False)
    at = Column(UtcDateTime, nullable=False)
    status = Column(Integer)
    latency_ms = Column(Integer, nullable=False)
    outcome = Column(String(20), nullable=False)
    error = Column(Text)


class WorkClaim(Base):
    """A case claimed from a work queue (认领) by one caseworker until they release it."""

    __tablename__ = "work_claim"
    record_kind = Column(String(40), primary_key=True)  # e.g. assistance_application
    record_id = Column(String(64), primary_key=True)
    queue = Column(String(60), nullable=False)
    claimed_by = Column(String(80), nullable=False, index=True)  # the actor's principal
    claimed_at = Column(UtcDateTime, nullable=False)
