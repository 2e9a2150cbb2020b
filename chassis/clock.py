"""Time as a dependency: `clock = Clock()` gives the worker `now()` and the bureau's `today()`.

Legal periods (cooling-off days, 20 working days) run on the local calendar of China, so `today()`
is the date in Asia/Shanghai, not UTC. Config `CLOCK: manual` swaps in the process-wide
`manual_clock`, which tests move across a birthday or a cooling-off period.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider

__all__ = ["Clock", "SystemClock", "ManualClock", "manual_clock", "clock_for", "LOCAL_ZONE"]

LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(LOCAL_ZONE).date()


class ManualClock(SystemClock):
    """A clock that stands still until moved; starts at the real time."""

    def __init__(self, at: datetime | None = None):
        self._now = at or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("the clock takes aware datetimes")
        self._now = at

    def set_local_date(self, day: date, hour: int = 10) -> None:
        self.set(datetime(day.year, day.month, day.day, hour, tzinfo=LOCAL_ZONE))

    def advance(self, **delta) -> None:
        self._now += timedelta(**delta)


manual_clock = ManualClock()
system_clock = SystemClock()


def clock_for(config) -> SystemClock:
    return manual_clock if config.get("CLOCK") == "manual" else system_clock


class Clock(DependencyProvider):
    def setup(self):
        self.clock = clock_for(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.clock
