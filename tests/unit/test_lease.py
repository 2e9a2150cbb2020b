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
