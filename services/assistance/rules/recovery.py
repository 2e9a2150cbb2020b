"""追回: the ledger of recovering an overpayment, returns, write-offs and refunds."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.assistance import RECOVERY_STATES, REPAYMENT_METHODS
from contracts.refusals import InvalidRuleInput, RuleRefused

from .numbers import _non_negative_int, yuan

# --- 追回: recovering an overpayment ----------------------------------------------------------------
# A recovery is owed the overpayment's amount. Money comes back (a bank return, a repayment) or an
# amount is written off (核销) until nothing is outstanding: the recovery is then `recovered`. The
# amount itself follows the bank: a payment the overpayment counted that the bank did not make
# (failed) is no overpayment, so the amount is recounted (`recount_recovery`), and it may drop to
# what came back already (recovered) or to nothing (cancelled). A revoked death cancels the
# recovery: nothing is owed. Money received beyond what is owed is owed back to the household
# (`refund_due_fen`) until a refund is recorded. A write-off is never given back: it was no money.

CASH_METHODS = ("bank_return", "repayment")


@dataclass(frozen=True)
class RecoveryLedger:
    state: str  # open | recovered | cancelled
    amount_fen: int  # what the overpayment comes to now
    recovered_fen: int = 0  # money received back, all time
    written_off_fen: int = 0
    refunded_fen: int = 0  # money given back, all time

    def __post_init__(self) -> None:
        if self.state not in RECOVERY_STATES:
            raise InvalidRuleInput(f"a recovery is {', '.join(RECOVERY_STATES)}, not {self.state!r}")
        for name in ("amount_fen", "recovered_fen", "written_off_fen", "refunded_fen"):
            _non_negative_int(getattr(self, name), name)
        if self.refunded_fen > self.recovered_fen:
            raise InvalidRuleInput("more was given back than was ever received")

    @property
    def owed_fen(self) -> int:
        """What the household owes in all: nothing once cancelled."""
        return 0 if self.state == "cancelled" else self.amount_fen

    @property
    def kept_fen(self) -> int:
        """Money received and not given back."""
        return self.recovered_fen - self.refunded_fen

    @property
    def outstanding_fen(self) -> int:
        return max(0, self.owed_fen - self.kept_fen - self.written_off_fen)

    @property
    def refund_due_fen(self) -> int:
        return max(0, self.kept_fen - self.owed_fen)


def _amount(amount_fen: object, field: str = "amount_fen") -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise RuleRefused("a whole number of fen greater than 0", field=field)
    return amount_fen


def _settled(ledger: RecoveryLedger) -> RecoveryLedger:
    """The state the balance leads to, for a recovery that is not cancelled by a revocation:
    nothing owed → cancelled; nothing outstanding → recovered; otherwise open."""
    if ledger.amount_fen == 0:
        state = "cancelled"
    elif ledger.amount_fen <= ledger.kept_fen + ledger.written_off_fen:
        state = "recovered"
    else:
        state = "open"
    return RecoveryLedger(state, ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen)


def record_repayment(ledger: RecoveryLedger, method: str, amount_fen: int, reason: str | None = None) -> RecoveryLedger:
    """Money back (bank_return, repayment) or an amount written off (write_off, with a reason), on
    an open recovery, never more than is outstanding; the recovery is `recovered` once nothing is."""
    if method not in REPAYMENT_METHODS:
        raise RuleRefused(f"one of {', '.join(REPAYMENT_METHODS)}", field="method")
    amount_fen = _amount(amount_fen)
    if method == "write_off" and not (reason or "").strip():
        raise RuleRefused("a write-off says why the amount is given up", field="reason")
    if ledger.state != "open":
        raise RuleRefused(f"the recovery is {ledger.state}: nothing is outstanding", field="recovery", conflict=True)
    if amount_fen > ledger.outstanding_fen:
        raise RuleRefused(
            f"{yuan(amount_fen)} is more than the {yuan(ledger.outstanding_fen)} outstanding", field="amount_fen"
        )
    if method == "write_off":
        after = RecoveryLedger(
            ledger.state,
            ledger.amount_fen,
            ledger.recovered_fen,
            ledger.written_off_fen + amount_fen,
            ledger.refunded_fen,
        )
    else:
        after = RecoveryLedger(
            ledger.state,
            ledger.amount_fen,
            ledger.recovered_fen + amount_fen,
            ledger.written_off_fen,
            ledger.refunded_fen,
        )
    return _settled(after)


def record_refund(ledger: RecoveryLedger, amount_fen: int) -> RecoveryLedger:
    """Money given back to the household, never more than is owed back; the state stays."""
    amount_fen = _amount(amount_fen)
    if ledger.refund_due_fen == 0:
        raise RuleRefused("nothing recovered is owed back", field="recovery", conflict=True)
    if amount_fen > ledger.refund_due_fen:
        raise RuleRefused(
            f"{yuan(amount_fen)} is more than the {yuan(ledger.refund_due_fen)} owed back", field="amount_fen"
        )
    return RecoveryLedger(
        ledger.state, ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen + amount_fen
    )


def recount_recovery(ledger: RecoveryLedger, amount_fen: int) -> RecoveryLedger:
    """The overpayment recounted from what the bank says was paid: the recovery is owed the new
    amount; it closes as recovered when that is no more than came back (and written off), as
    cancelled when it is nothing, and opens again when the amount grows past what came back (the
    bank paid after all). Anything received beyond the new amount is owed back (refund_due_fen)."""
    _non_negative_int(amount_fen, "amount_fen")
    return _settled(
        RecoveryLedger(ledger.state, amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen)
    )


def cancel_recovery(ledger: RecoveryLedger) -> RecoveryLedger:
    """The death was revoked: nothing is owed, whatever the state; what came back is owed back."""
    return RecoveryLedger(
        "cancelled", ledger.amount_fen, ledger.recovered_fen, ledger.written_off_fen, ledger.refunded_fen
    )
