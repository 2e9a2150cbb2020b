"""Time as a dependency: `clock = Clock()` gives the worker `now()` and the bureau's `today()`.

Legal periods (cooling-off days, 20 working days) run on the local calendar of China, so `today()`
is the date in Asia/Shanghai, not UTC. Config `CLOCK` chooses the clock:
- `system` (the default): the machine's time;
- `manual`: the process-wide `manual_clock`, which in-process tests move across a birthday or a
  cooling-off period;
- `shared:<file>`: the machine's time plus an offset kept in that file, which a test of the whole
  deployment (tests/faults) moves for every process at once, e.g. an hour of a partner's endpoint
  down passing in a minute.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from nameko.extensions import DependencyProvider

__all__ = ["Clock", "SystemClock", "ManualClock", "SharedClock", "manual_clock", "clock_for", "LOCAL_ZONE"]

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


class SharedClock(SystemClock):
    """The machine's time plus the offset (seconds) written in `path`, read again at most every
    `reread_seconds`: every process given the same file runs on the same moved time. No file is
    no offset; a file being replaced is never read half written (`advance` renames a whole one in)."""

    def __init__(self, path: str | Path, reread_seconds: float = 0.5):
        self.path, self.reread_seconds = Path(path), reread_seconds
        self._offset, self._read_at = timedelta(0), float("-inf")

    def offset(self) -> timedelta:
        if time.monotonic() - self._read_at >= self.reread_seconds:
            try:
                self._offset = timedelta(seconds=float(self.path.read_text()))
            except FileNotFoundError:
                self._offset = timedelta(0)
            self._read_at = time.monotonic()
        return self._offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset()

    def advance(self, **delta) -> None:
        """Move every reader of the file on by `delta` (within `reread_seconds`; this one at once)."""
        self._read_at = float("-inf")  # from the file as it is, not this reader's last look
        moved = self.offset() + timedelta(**delta)
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(repr(moved.total_seconds()))
        os.replace(scratch, self.path)
        self._read_at = float("-inf")


manual_clock = ManualClock()
system_clock = SystemClock()
_shared: dict[str, SharedClock] = {}  # one per file in a process, so its dependencies agree


def clock_for(config) -> SystemClock:
    kind = config.get("CLOCK") or "system"
    if kind == "manual":
        return manual_clock
    if kind.startswith("shared:") and kind[len("shared:") :]:
        path = kind[len("shared:") :]
        return _shared.setdefault(path, SharedClock(path))
    if kind != "system":
        raise ValueError(f"CLOCK is system, manual or shared:<file>, not {kind!r}")
    return system_clock


class Clock(DependencyProvider):
    def setup(self):
        self.clock = clock_for(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.clock
