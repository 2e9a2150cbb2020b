"""`lease = Lease()`: a scheduled job runs once per period across every instance of its service.

    @job_timer(every=timedelta(hours=1))
    def enrol_hourly(self):
        if not self.lease.take("care.allowance_enrolment", timedelta(hours=1)):
            return  # another instance has run it for this hour, or is running it now
        ...

`take` works inside the worker's own transaction (the service's `Database` session), so the lease
and the job's work commit together:
- on PostgreSQL it first takes a transaction-scoped advisory lock on the job's name
  (`pg_try_advisory_xact_lock`); an instance that cannot have it skips this tick, so two instances
  never run the job at the same moment;
- under the lock it reads the period the job last ran for (`job_leases`); the current period done
  already, it skips; otherwise it records this period (and the holder) and the job runs.
Failover: the lock belongs to the holder's transaction. If the holder dies (kill -9, its database
connection dropped) the transaction rolls back, PostgreSQL releases the lock, the period stays
not done, and the next tick of any instance runs the job. A job that committed is never run again
for its period, so `job_leases.runs` counts one run per period, whoever ran it.

Periods are counted on the service's clock (chassis.clock), from 2000-01-01 UTC, so a manual clock
moved an hour starts the next period. The timer only says how often an instance asks: with a
`JOB_TICK_SECONDS` shorter than the period (config), a dead holder's period is picked up within a
tick. On SQLite (one process, the embedded default) there is no advisory lock; the row alone decides.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
from datetime import UTC, datetime, timedelta

from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from sqlalchemy import func, select

from chassis.clock import clock_for
from chassis.db import Database, dialect_insert
from chassis.tables import job_leases

__all__ = ["Lease", "JobLease", "job_timer", "leased_job", "period_start", "lock_key", "tally_run"]

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def period_start(now: datetime, period: timedelta) -> datetime:
    """The start of the period `now` falls in (periods counted from EPOCH)."""
    return EPOCH + ((now - EPOCH) // period) * period


def lock_key(job: str) -> int:
    """A stable signed 64-bit advisory-lock key for a job's name (the same in every process)."""
    return int.from_bytes(hashlib.sha256(f"tongban.job:{job}".encode()).digest()[:8], "big", signed=True)


class JobLease:
    def __init__(self, session, clock, holder: str):
        self._session = session  # resolved late: dependencies are injected in no fixed order
        self._clock = clock
        self.holder = holder

    def take(self, job: str, period: timedelta) -> bool:
        """True: this instance runs `job` for the current period, in this worker's transaction."""
        session = self._session()
        postgresql = session.get_bind().dialect.name == "postgresql"
        if postgresql and not session.execute(select(func.pg_try_advisory_xact_lock(lock_key(job)))).scalar():
            return False  # another instance is running it right now
        start = period_start(self._clock.now(), period)
        last = session.execute(
            select(job_leases.c.period_start).where(job_leases.c.job == job).with_for_update()
        ).scalar()
        if last is not None and last >= start:
            return False
        insert = dialect_insert(session, job_leases)
        session.execute(
            insert.values(
                job=job, period_start=start, holder=self.holder, taken_at=self._clock.now(), runs=1
            ).on_conflict_do_update(
                index_elements=["job"],
                set_={
                    "period_start": insert.excluded.period_start,
                    "holder": insert.excluded.holder,
                    "taken_at": insert.excluded.taken_at,
                    "runs": job_leases.c.runs + 1,
                },
            )
        )
        return True


class Lease(DependencyProvider):
    """Gives the worker a JobLease over the service's database (its only `Database`)."""

    def setup(self):
        self.clock = clock_for(self.container.config)
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.holder = f"{socket.gethostname()}:{os.getpid()}"[:120]

    def get_dependency(self, worker_ctx):
        return JobLease(lambda: self.database.session_for(worker_ctx), self.clock, self.holder)


class JobTimer(Timer):
    """nameko's timer, ticking every `JOB_TICK_SECONDS` (config) when set, else every `interval`:
    with a lease the tick is how soon a period whose holder died is picked up, not how often the job runs."""

    def setup(self):
        tick = self.container.config.get("JOB_TICK_SECONDS")
        if tick:
            self.interval = float(tick)
        super().setup()


job_timer = JobTimer.decorator


def leased_job(job: str, every: timedelta = timedelta(hours=1)):
    """A timer entrypoint (`job_timer`, ticking every `every`) whose method runs only when this
    instance takes `job`'s lease for the current period (the service declares `lease = Lease()`)."""

    def decorate(method):
        @functools.wraps(method)
        def tick(self):
            if not self.lease.take(job, every):
                return None  # another instance ran it this period, or is running it now
            return method(self)

        return job_timer(interval=every.total_seconds())(tick)

    return decorate


def tally_run(db, table, day, now: datetime, counted: str, count: int) -> tuple[int, int]:
    """A job's day in its run table (run_on, runs, `counted`, last_run_at): one more run and `count`
    more of what it does, as an upsert, so two processes running it at once both count and neither
    fails. The day's runs and total so far."""
    insert = dialect_insert(db, table)
    runs, total = db.execute(
        insert.values(run_on=day, runs=1, last_run_at=now, **{counted: count})
        .on_conflict_do_update(
            index_elements=["run_on"],
            set_={
                "runs": table.c.runs + 1,
                counted: table.c[counted] + count,
                "last_run_at": insert.excluded.last_run_at,
            },
        )
        .returning(table.c.runs, table.c[counted])
    ).one()
    return runs, total
