"""The module boundaries of the design card, checked by import-linter (.importlinter)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(linter), "--config", str(ROOT / ".importlinter")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 kept, 0 broken" in result.stdout


# A module a reader can hold in mind: a service's sub-domain, one concern of the chassis or the
# gateway. Frozen migrations are history and are not counted.
MODULE_LINES = 620
SIZED = ("services", "chassis", "gateway", "contracts")


def test_no_module_is_over_about_six_hundred_lines():
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for folder in SIZED
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and "node_modules" not in path.parts
    }
    assert len(sizes) > 100  # the walk found the code
    over = {name: lines for name, lines in sizes.items() if lines > MODULE_LINES}
    assert not over, over


def test_every_service_keeps_its_after_death_code_in_the_same_place():
    """Each participant of 身后一件事 in services/<name>/after_death.py, one AfterDeath class on the
    chassis participant; the owner (funeral) and services a death does not touch have none."""
    participants = sorted(
        path.parent.name
        for path in (ROOT / "services").glob("*/*.py")
        if "AfterDeathParticipant" in path.read_text(encoding="utf-8")
    )
    assert participants == ["assistance", "care", "marriage"]
    for name in participants:
        source = (ROOT / "services" / name / "after_death.py").read_text(encoding="utf-8")
        assert "class AfterDeath(AfterDeathParticipant):" in source, name
