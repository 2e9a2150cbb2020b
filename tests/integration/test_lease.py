"""Scheduled jobs across instances (chassis.lease): three charity instances, ticking every 50 ms,
run the hourly detection once per hour of the clock between them; a holder that dies mid-run
(its database connection gone, as with kill -9) leaves the hour to the next instance that ticks."""

from __future__ import annotations

from datetime import date

import psycopg2
from sqlalchemy import create_engine, text

from chassis.lease import lock_key
from chassis.metrics import CALLS
from chassis.migrations import upgrade
from services.charity.service import CharityService
from tests.helpers import wait_for

JOB = "charity.organisation_detection"
TICKS = 30  # ticks of the three instances together, between two looks


def ticks() -> float:
    return CALLS.labels("charity", "detect_hourly", "timer", "ok")._value.get()


def after_more_ticks(count: int = TICKS) -> None:
    start = ticks()
    wait_for(lambda: ticks() >= start + count, what=f"{count} more ticks of the instances' timers")


def lease_runs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT coalesce(max(runs), 0) FROM job_leases WHERE job = :j"), {"j": JOB}).scalar()


def detection_runs(engine, day: date) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT coalesce(max(runs), 0) FROM detection_run WHERE run_on = :d"), {"d": day}
        ).scalar()


def three_instances(make_database, base_config, start_service):
    url = make_database("charity")
    upgrade("services/charity", url)
    for _ in range(3):
        start_service(CharityService, {**base_config, "DATABASE_URL": url, "JOB_TICK_SECONDS": 0.05})
    return url, create_engine(url)


def test_three_instances_run_the_hourly_job_once_an_hour(make_database, base_config, start_service, manual_clock):
    manual_clock.set_local_date(date(2026, 6, 10), hour=9)
    url, engine = three_instances(make_database, base_config, start_service)
    wait_for(lambda: lease_runs(engine) == 1, what="the first hour's run")
    after_more_ticks()
    assert lease_runs(engine) == 1
    assert detection_runs(engine, date(2026, 6, 10)) == 1  # the job's own record: it ran once

    manual_clock.advance(minutes=59)  # the same hour of the clock still (9:00 + 59 min)
    after_more_ticks()
    assert (lease_runs(engine), detection_runs(engine, date(2026, 6, 10))) == (1, 1)

    manual_clock.advance(minutes=2)  # 10:01: the next hour
    wait_for(lambda: lease_runs(engine) == 2, what="the second hour's run")
    after_more_ticks()
    assert (lease_runs(engine), detection_runs(engine, date(2026, 6, 10))) == (2, 2)
    with engine.connect() as conn:
        holders = conn.execute(text("SELECT holder FROM job_leases")).scalars().all()
    assert len(holders) == 1 and ":" in holders[0]  # host:pid of whoever ran it last
    engine.dispose()


def test_a_holder_that_dies_mid_run_leaves_the_hour_to_another_instance(
    make_database, base_config, start_service, manual_clock
):
    manual_clock.set_local_date(date(2026, 6, 11), hour=9)
    url = make_database("charity")
    upgrade("services/charity", url)
    # a fourth instance, mid-run: its transaction holds the job's lock and has not committed
    holder = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    cursor = holder.cursor()
    cursor.execute("SELECT pg_try_advisory_xact_lock(%s), pg_backend_pid()", (lock_key(JOB),))
    taken, holder_pid = cursor.fetchone()
    assert taken
    engine = create_engine(url)
    for _ in range(3):
        start_service(CharityService, {**base_config, "DATABASE_URL": url, "JOB_TICK_SECONDS": 0.05})
    after_more_ticks()
    assert lease_runs(engine) == 0  # nobody runs it beside the holder
    assert detection_runs(engine, date(2026, 6, 11)) == 0

    with engine.connect() as conn:  # the holder dies: PostgreSQL ends its session, and the lock with it
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": holder_pid}).scalar()
    wait_for(lambda: lease_runs(engine) == 1, what="another instance to take the hour over")
    after_more_ticks()
    assert (lease_runs(engine), detection_runs(engine, date(2026, 6, 11))) == (1, 1)
    holder.close()
    engine.dispose()
