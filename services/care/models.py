"""Care (养老) tables: the elderly registry fed from person data, and old-age allowance
enrolments granted without an application. Money is integer fen."""
from __future__ import annotations

from sqlalchemy import Column, Date, Integer, String, Text
from sqlalchemy.orm import declarative_base

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
    recorded_at = Column(UtcDateTime, nullable=False)
    deceased_on = Column(Date)  # set by the after-death flow (funeral issue)


class AllowanceEnrolment(Base):
    """高龄津贴: one enrolment per person, made by the daily job on the qualifying birthday."""
    __tablename__ = "allowance_enrolment"
    resident_id = Column(String(18), primary_key=True)  # once per person, however often the job runs
    region_code = Column(String(12), nullable=False, index=True)
    starts_month = Column(Date, nullable=False)  # the first month paid
    enrolled_on = Column(Date, nullable=False)   # the job's day (later than the birthday after downtime)
    policy_version = Column(Text, nullable=False)
    ended_on = Column(Date)


class AllowanceJobRun(Base):
    """One row per day the enrolment job ran: what operations read to see it is alive."""
    __tablename__ = "allowance_job_run"
    run_on = Column(Date, primary_key=True)
    runs = Column(Integer, nullable=False)        # how often it ran that day (it is idempotent)
    enrolled = Column(Integer, nullable=False)    # enrolments made that day
    last_run_at = Column(UtcDateTime, nullable=False)
