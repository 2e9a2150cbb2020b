"""A payment cycle as the callers of the run see it: its id, its summary, and the ways the run says
no (plain exceptions, and `as_problems`, which turns them into problems on the wire)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date

from chassis.errors import Conflict, InvalidInput, NotFound, Unavailable


class UnsupportedDatabase(Exception):
    """The payment run's set-based SQL needs PostgreSQL (the embedded SQLite default cannot run it)."""


class CycleStateError(Exception):
    """The cycle is missing, or not in a state that allows the step asked for."""


class UnknownCycle(CycleStateError):
    """No cycle has this id: a 404 to the caller, not a conflict."""


class CycleNotReady(Conflict):
    """A payment cycle that is missing, or not in the state the step needs (send before reconcile)."""

    title = "Payment cycle not ready for this step"


@contextmanager
def as_problems():
    """The run says no with plain exceptions; a service's entrypoints want Problems on the wire."""
    try:
        yield
    except UnknownCycle as exc:
        raise NotFound(str(exc)) from None
    except CycleStateError as exc:
        raise CycleNotReady(str(exc)) from None
    except UnsupportedDatabase as exc:
        raise Unavailable(str(exc)) from None
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


@dataclass(frozen=True)
class CycleSummary:
    cycle_id: str
    month: date
    state: str
    created: bool  # False when the cycle already existed and nothing was inserted
    payments: int  # every payment of the cycle (regular, arrears, back pay, whatever their state)
    total_fen: int
    regular: int
    arrears: int
    arrears_fen: int
    to_bank: int  # pending at freeze: what the bank batch holds
    to_bank_fen: int
    without_account: int  # regular (and back) payments recorded failed because the holder had no account
    without_account_fen: int
    scope: str = ""  # the paying region of the cycle; "" for a run with one cycle a month
    back_pay: int = 0  # months before this one, frozen without the payee, paid now
    back_pay_fen: int = 0
    top_up: int = 0  # months before this one paid short, their difference paid now
    top_up_fen: int = 0


@dataclass(frozen=True)
class ReconcileSummary:
    cycle_id: str
    paid: int  # payments moved to paid by this call
    failed: int  # payments moved to failed by this call
    unchanged: int  # answers that repeat what is already recorded (a re-applied file)
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)  # (id, recorded, reported)
    unknown: list[int] = field(default_factory=list)  # ids that are not payments of this cycle
    pending: int = 0  # payments of the cycle still waiting for an answer
    state: str = ""  # the cycle's state afterwards

    def view(self) -> dict:
        """As contracts.payments.ReconcileViewSchema shows it (conflicts named, not positional)."""
        view = asdict(self)
        view["conflicts"] = [{"payment_id": i, "recorded": was, "reported": said} for i, was, said in self.conflicts]
        return view


def cycle_id_of(month: date, scope: str = "") -> str:
    return f"{scope + '-' if scope else ''}{month.year:04d}-{month.month:02d}"


def cycle_summary(cycle_row, created: bool, tally: Iterable) -> CycleSummary:
    """`tally`: (kind, state, recorded without a bank account, count, fen) groups of the cycle."""
    counts = dict.fromkeys(
        (
            "payments",
            "total_fen",
            "regular",
            "arrears",
            "arrears_fen",
            "back_pay",
            "back_pay_fen",
            "top_up",
            "top_up_fen",
            "to_bank",
            "to_bank_fen",
            "without_account",
            "without_account_fen",
        ),
        0,
    )
    for kind, state, no_account, n, fen in tally:
        counts["payments"] += n
        counts["total_fen"] += fen
        counts[kind] += n
        if kind != "regular":
            counts[f"{kind}_fen"] += fen
        if state == "pending":
            counts["to_bank"] += n
            counts["to_bank_fen"] += fen
        elif kind != "arrears" and state == "failed" and no_account:
            counts["without_account"] += n
            counts["without_account_fen"] += fen
    return CycleSummary(
        cycle_id=cycle_row.id,
        month=cycle_row.month,
        state=cycle_row.state,
        created=created,
        scope=cycle_row.scope,
        **counts,
    )
