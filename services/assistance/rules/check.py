"""The household economic check's totals (核对) from each source's answer."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

# --- the household economic check's totals (核对) -----------------------------------------------------


@dataclass(frozen=True)
class SourceAnswer:
    """One fetch of a check as the rules count it: whose (`subject`: the masked ID the notes name),
    which source, how it went, and the findings it stands on: its own, or those of the earlier
    answer standing in for it (`stand_in_on`: that answer's day; failure policy last_known)."""

    resident_id: str
    subject: str
    source: str
    status: str  # ok | failed | timeout
    findings: Mapping | None
    stand_in_on: date | None = None


@dataclass(frozen=True)
class CheckTotals:
    members: int
    deposits_fen: int | None  # None: a bank_deposits fetch has no answer to stand on
    notes: tuple[str, ...]


def check_totals(answers: Iterable[SourceAnswer]) -> CheckTotals:
    """The members checked, their deposits together (never an unanswered source read as none),
    and a note for each fetch that did not answer."""
    members: set[str] = set()
    notes: list[str] = []
    deposits, known = 0, True
    for answer in answers:
        members.add(answer.resident_id)
        if answer.status != "ok":
            if answer.stand_in_on is not None:
                notes.append(
                    f"{answer.source} {answer.status} for {answer.subject}: the last known answer "
                    f"of {answer.stand_in_on.isoformat()} was used (failure policy last_known)"
                )
            else:
                notes.append(
                    f"{answer.source} {answer.status} for {answer.subject}: not answered, the check is incomplete"
                )
        if answer.source == "bank_deposits":
            found = answer.findings.get("deposits_fen") if answer.findings is not None else None
            if isinstance(found, int):
                deposits += found
            else:
                known = False
    return CheckTotals(len(members), deposits if known else None, tuple(notes))
