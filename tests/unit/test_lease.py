"""The lease's periods and lock keys (chassis.lease): pure arithmetic."""

from datetime import UTC, datetime, timedelta

import pytest

from chassis.lease import lock_key, period_start

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("now", "period", "start"),
    [
        (datetime(2026, 6, 10, 9, 0, tzinfo=UTC), HOUR, datetime(2026, 6, 10, 9, 0, tzinfo=UTC)),
        (datetime(2026, 6, 10, 9, 59, 59, tzinfo=UTC), HOUR, datetime(2026, 6, 10, 9, 0, tzinfo=UTC)),
        (datetime(2026, 6, 10, 10, 0, 1, tzinfo=UTC), HOUR, datetime(2026, 6, 10, 10, 0, tzinfo=UTC)),
        (datetime(2026, 6, 10, 23, 30, tzinfo=UTC), timedelta(days=1), datetime(2026, 6, 10, tzinfo=UTC)),
        (datetime(2026, 6, 10, 9, 7, tzinfo=UTC), timedelta(minutes=5), datetime(2026, 6, 10, 9, 5, tzinfo=UTC)),
    ],
)
def test_the_period_a_moment_falls_in(now, period, start):
    assert period_start(now, period) == start


def test_lock_keys_are_stable_signed_64_bit_and_differ_by_job():
    key = lock_key("care.allowance_enrolment")
    assert key == lock_key("care.allowance_enrolment")
    assert -(2**63) <= key < 2**63
    assert key != lock_key("charity.organisation_detection")


def test_a_leased_job_runs_only_when_this_instance_takes_the_period():
    from nameko.timer import Timer

    from chassis.lease import JobTimer, leased_job

    class Job:
        def __init__(self, granted):
            self.granted, self.asked, self.ran = granted, [], 0
            self.lease = self

        def take(self, job, period):
            self.asked.append((job, period))
            return self.granted

        @leased_job("marriage.divorce_lapse", every=HOUR)
        def lapse(self):
            self.ran += 1
            return "lapsed"

    (timer,) = Job.lapse.nameko_entrypoints
    assert isinstance(timer, JobTimer) and isinstance(timer, Timer) and timer.interval == 3600
    granted, refused = Job(True), Job(False)
    assert (granted.lapse(), granted.ran, granted.asked) == ("lapsed", 1, [("marriage.divorce_lapse", HOUR)])
    assert (refused.lapse(), refused.ran) == (None, 0)
