"""The marriage registry's tables (婚姻登记档案). Resident ID numbers are stored in full here, in the
registry's own database; events carry them only where a consumer needs them (contracts), partners
get only their entitled fields, and logs mask them."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Date, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import declarative_base

from chassis.types import UtcDateTime

Base = declarative_base()


class Office(Base):
    """A registration office (婚姻登记处) and how many couples one appointment slot takes."""

    __tablename__ = "office"
    code = Column(String(6), primary_key=True)  # division code of the district it serves
    name = Column(String(120), nullable=False)
    slot_minutes = Column(Integer, nullable=False)
    slot_capacity = Column(Integer, nullable=False)


class Appointment(Base):
    __tablename__ = "appointment"
    id = Column(String(36), primary_key=True)
    office_code = Column(String(6), ForeignKey("office.code"), nullable=False)
    slot_start = Column(UtcDateTime, nullable=False)
    party_a_id = Column(String(18), nullable=False)
    party_a_name = Column(String(60), nullable=False)
    party_b_id = Column(String(18), nullable=False)
    party_b_name = Column(String(60), nullable=False)
    state = Column(String(20), nullable=False)  # booked | used | cancelled
    matter_id = Column(String(36))
    booked_at = Column(UtcDateTime, nullable=False)
    booked_by = Column(String(80), nullable=False)
    __table_args__ = (Index("ix_appointment_slot", "office_code", "slot_start"),)


class Marriage(Base):
    __tablename__ = "marriage"
    id = Column(String(36), primary_key=True)
    office_code = Column(String(6), ForeignKey("office.code"), nullable=False)
    registered_on = Column(Date, nullable=False)
    party_a_id = Column(String(18), nullable=False, index=True)
    party_a_name = Column(String(60), nullable=False)
    party_b_id = Column(String(18), nullable=False, index=True)
    party_b_name = Column(String(60), nullable=False)
    state = Column(String(20), nullable=False)  # registered | divorced | ended_by_death
    ended_on = Column(Date)
    matter_id = Column(String(36))
    new_style_wedding_notice_given = Column(Boolean, nullable=False)  # 婚事新办告知书
    policy_version = Column(Text, nullable=False)
    registered_by = Column(String(80), nullable=False)
    # 补录: entered afterwards from historical evidence (what it is and where it is kept)
    back_entered = Column(Boolean, nullable=False, default=False, server_default=false())
    evidence = Column(JSON)


class Spouse(Base):
    """One row per person currently married: the primary key is what makes bigamy (重婚)
    impossible even when two registrations for the same person race."""

    __tablename__ = "spouse"
    resident_id = Column(String(18), primary_key=True)
    marriage_id = Column(String(36), ForeignKey("marriage.id"), nullable=False)


class Divorce(Base):
    """A divorce by agreement (协议离婚) and its cooling-off period (离婚冷静期)."""

    __tablename__ = "divorce"
    id = Column(String(36), primary_key=True)
    marriage_id = Column(String(36), ForeignKey("marriage.id"), nullable=False, index=True)
    office_code = Column(String(6), ForeignKey("office.code"), nullable=False)
    received_on = Column(Date, nullable=False)
    cooling_off_ends = Column(Date, nullable=False)
    certificate_window_ends = Column(Date, nullable=False)
    state = Column(String(20), nullable=False)
    closed_on = Column(Date)
    withdrawn_by = Column(String(18))
    policy_version = Column(Text, nullable=False)


class Certificate(Base):
    """Every certificate number ever issued; a re-issue voids the number it replaces."""

    __tablename__ = "certificate"
    number = Column(String(40), primary_key=True)
    kind = Column(String(20), nullable=False)  # marriage | divorce | reissue
    marriage_id = Column(String(36), ForeignKey("marriage.id"), nullable=False, index=True)
    divorce_id = Column(String(36), ForeignKey("divorce.id"))
    issued_on = Column(Date, nullable=False)
    state = Column(String(10), nullable=False)  # valid | void
    void_reason = Column(Text)


class CertificateSerial(Base):
    __tablename__ = "certificate_serial"
    office_code = Column(String(6), primary_key=True)
    year = Column(Integer, primary_key=True)
    kind = Column(String(20), primary_key=True)
    last_serial = Column(Integer, nullable=False)


class DeathRecord(Base):
    """身后一件事: the marriage a death ended, kept to restore it if the death is revoked. A
    revocation that overtakes its notice leaves a `revoked` row."""

    __tablename__ = "death_record"
    case_id = Column(String(36), primary_key=True)
    resident_id = Column(String(18), nullable=False, index=True)
    date_of_death = Column(Date, nullable=False)
    # which correction of the date it stands on (0: the notice's): an older correction is stale
    date_revision = Column(Integer, nullable=False, default=0, server_default="0")
    marriage_id = Column(String(36), ForeignKey("marriage.id"))  # None: the deceased was not married
    state = Column(String(20), nullable=False)  # applied | not_applicable | reversed | revoked
    recorded_at = Column(UtcDateTime, nullable=False)


class Adoption(Base):
    """收养登记: one adoption of one child by one adopter or a married couple, from the day of its
    registration (Civil Code art. 1105), until dissolved by agreement (art. 1114-1116)."""

    __tablename__ = "adoption"
    id = Column(String(36), primary_key=True)
    office_code = Column(String(6), ForeignKey("office.code"), nullable=False)
    registered_on = Column(Date, nullable=False)
    adopter_a_id = Column(String(18), nullable=False, index=True)
    adopter_a_name = Column(String(60), nullable=False)
    adopter_b_id = Column(String(18), index=True)  # the spouse adopting together, if any
    adopter_b_name = Column(String(60))
    adoptee_id = Column(String(18), nullable=False, index=True)
    adoptee_name = Column(String(60), nullable=False)
    adoptee_birth_date = Column(Date, nullable=False)
    category = Column(String(24), nullable=False)  # orphan | parents_unknown | parents_in_difficulty
    placer_kind = Column(String(12), nullable=False)  # guardian | institution | parents
    placer_name = Column(String(120), nullable=False)
    institution_code = Column(String(40))
    certificate_number = Column(String(40), nullable=False, unique=True)
    state = Column(String(12), nullable=False)  # registered | dissolved
    dissolved_on = Column(Date)
    dissolution_certificate_number = Column(String(40), unique=True)
    policy_version = Column(Text, nullable=False)
    registered_by = Column(String(80), nullable=False)
    __table_args__ = (
        Index(
            "uq_adoption_standing",
            "adoptee_id",
            unique=True,
            postgresql_where=text("state = 'registered'"),
            sqlite_where=text("state = 'registered'"),
        ),
    )
