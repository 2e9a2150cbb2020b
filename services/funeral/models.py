"""Funeral (殡葬) tables: one case per deceased with every notice that reported the death,
bookings with their fees and waivers, the burial choice and its reward, the niche inventory, and
cremation certificates. Money is integer fen."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Date, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import declarative_base

from chassis.types import UtcDateTime

Base = declarative_base()
Fen = BigInteger


class DeathCase(Base):
    """One death, one case, one matter: the unique index on the deceased's standing case makes two
    notices that race end in the same case. A case revoked as made in error stands aside, so the
    person's real death, later, opens a case of its own."""

    __tablename__ = "death_case"
    __table_args__ = (
        Index(
            "uq_death_case_standing",
            "resident_id",
            unique=True,
            postgresql_where=text("state <> 'revoked'"),
            sqlite_where=text("state <> 'revoked'"),
        ),
    )
    id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False)
    matter_id = Column(String(36), nullable=False, unique=True)
    name = Column(String(60), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    date_of_death = Column(Date, nullable=False)  # the date the steps are taken with (the first notice's)
    date_conflict = Column(Boolean, nullable=False, default=False)  # notices disagree: for a clerk
    state = Column(String(12), nullable=False)  # open | cremated | revoked
    opened_at = Column(UtcDateTime, nullable=False)
    cremated_on = Column(Date)
    cremation_certificate = Column(String(30), unique=True)
    revoked_at = Column(UtcDateTime)
    revoked_by = Column(String(80))
    revoked_reason = Column(Text)
    # verified: acted on (death.notified sent) | awaiting: a family's notice held until a hospital
    # or police notice or a clerk confirms it, by `verify_by` | lapsed: not confirmed in time
    verification = Column(String(12), nullable=False, default="verified", server_default="verified")
    verify_by = Column(Date)


class DeathNotice(Base):
    """Every notification received, kept as it came; a resent one (same source and reference) is
    recognised."""

    __tablename__ = "death_notice"
    id = Column(String(36), primary_key=True)
    case_id = Column(String(36), nullable=False, index=True)
    source = Column(String(20), nullable=False)  # hospital | police | funeral_home | family
    reference = Column(String(60))
    date_of_death = Column(Date, nullable=False)
    place_of_death = Column(Text)
    reported_by = Column(String(80), nullable=False)
    informant_relationship = Column(String(30))
    received_at = Column(UtcDateTime, nullable=False)
    __table_args__ = (UniqueConstraint("source", "reference", name="uq_death_notice_reference"),)


class Booking(Base):
    """遗体接运 / 火化 booked at a funeral home, with the fee and the 惠民殡葬 waiver of the day."""

    __tablename__ = "booking"
    id = Column(String(36), primary_key=True)
    case_id = Column(String(36), nullable=False, index=True)
    kind = Column(String(12), nullable=False)  # transport | cremation
    scheduled_at = Column(UtcDateTime, nullable=False)
    funeral_home = Column(String(120), nullable=False)
    fee_fen = Column(Fen, nullable=False)
    waived_fen = Column(Fen, nullable=False)
    policy_version = Column(Text, nullable=False)
    booked_by = Column(String(80), nullable=False)
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_booking_kind"),)


class Burial(Base):
    """The family's burial choice; eco forms (节地生态安葬) earn the region's reward."""

    __tablename__ = "burial"
    case_id = Column(String(36), primary_key=True)
    region_code = Column(String(12), nullable=False, index=True)
    form = Column(String(12), nullable=False)
    eco = Column(Boolean, nullable=False)
    reward_fen = Column(Fen, nullable=False)
    niche_id = Column(Integer)
    chosen_on = Column(Date, nullable=False)
    policy_version = Column(Text, nullable=False)


class Niche(Base):
    """骨灰安放格位: one place in a columbarium, free or allocated to a case."""

    __tablename__ = "niche"
    id = Column(Integer, primary_key=True, autoincrement=True)
    facility = Column(String(40), nullable=False)
    region_code = Column(String(12), nullable=False, index=True)
    position = Column(Integer, nullable=False)
    case_id = Column(String(36), unique=True)  # None while free
    __table_args__ = (UniqueConstraint("facility", "position", name="uq_niche_position"),)


class CertificateSerial(Base):
    __tablename__ = "certificate_serial"
    region_code = Column(String(6), primary_key=True)
    year = Column(Integer, primary_key=True)
    last_serial = Column(Integer, nullable=False)


class DateReview(Base):
    """A clerk's decision on conflicting dates of death."""

    __tablename__ = "date_review"
    id = Column(String(36), primary_key=True)
    case_id = Column(String(36), nullable=False, index=True)
    reported_dates = Column(JSON, nullable=False)
    confirmed = Column(Date, nullable=False)
    reason = Column(Text, nullable=False)
    decided_by = Column(String(80), nullable=False)
    decided_at = Column(UtcDateTime, nullable=False)
