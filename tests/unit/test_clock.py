"""The clocks a process can be given (chassis.clock): the shared one is how the fault suite moves
the time of every process of a deployment at once."""

from datetime import UTC, datetime, timedelta

import pytest

from chassis.clock import SharedClock, clock_for, manual_clock, system_clock


def test_a_shared_clock_without_its_file_is_the_machines_time(tmp_path):
    clock = SharedClock(tmp_path / "offset")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)


def test_moving_a_shared_clock_moves_every_reader_of_its_file(tmp_path):
    mover, reader = SharedClock(tmp_path / "offset"), SharedClock(tmp_path / "offset", reread_seconds=0)
    mover.advance(minutes=30)
    mover.advance(minutes=30)
    assert (tmp_path / "offset").read_text() == "3600.0"
    for clock in (mover, reader):
        assert abs(clock.now() - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=1)
    assert [p.name for p in tmp_path.iterdir()] == ["offset"]  # no scratch file left behind


def test_a_reader_sees_the_move_once_its_reread_interval_has_passed(tmp_path):
    reader = SharedClock(tmp_path / "offset", reread_seconds=3600)
    before = reader.now()
    SharedClock(tmp_path / "offset").advance(hours=5)
    assert reader.now() - before < timedelta(hours=1)  # still the offset it read


def test_config_chooses_the_clock(tmp_path):
    assert clock_for({}) is system_clock
    assert clock_for({"CLOCK": "system"}) is system_clock
    assert clock_for({"CLOCK": "manual"}) is manual_clock
    shared = {"CLOCK": f"shared:{tmp_path / 'offset'}"}
    assert isinstance(clock_for(shared), SharedClock)
    assert clock_for(shared) is clock_for(dict(shared))  # one per file: a process's dependencies agree
    for wrong in ("sundial", "shared:", "shared"):
        with pytest.raises(ValueError, match="system, manual or shared:<file>"):
            clock_for({"CLOCK": wrong})
