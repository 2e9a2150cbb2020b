"""Exact numbers: ratios as `Fraction`, money as integer fen rounded once, half up."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from contracts.refusals import InvalidRuleInput

# --- exact numbers ---------------------------------------------------------------------------------

Ratio = int | str | Decimal | Fraction


def _exact(value: Ratio, what: str, int_scale: int) -> Fraction:
    if isinstance(value, bool | float):
        raise InvalidRuleInput(
            f"{what} must be exact (an integer, a Fraction, a Decimal or a decimal "
            f"string), not {type(value).__name__} {value!r}"
        )
    try:
        if isinstance(value, int):
            return Fraction(value, int_scale)
        if isinstance(value, (Fraction, Decimal, str)):
            return Fraction(value)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise InvalidRuleInput(f"{what} {value!r} is not a finite number") from None
    raise InvalidRuleInput(
        f"{what} must be an integer, a Fraction, a Decimal or a decimal string, not {type(value).__name__}"
    )


def as_ratio(value: Ratio, what: str = "ratio") -> Fraction:
    """An exact ratio: an int is per mille (1500 → 3/2); Fraction, Decimal or "1.5" as written."""
    return _exact(value, what, 1000)


def as_multiplier(value: Ratio, what: str = "multiplier") -> Fraction:
    """An exact multiple of the standard: an int is whole times (2 → 2×); otherwise as `as_ratio`."""
    return _exact(value, what, 1)


def round_half_up_fen(amount: Fraction | int) -> int:
    """Round an exact amount of fen to whole fen, halves away from zero (ROUND_HALF_UP: 0.5 → 1)."""
    amount = Fraction(amount)
    magnitude = abs(amount)
    rounded = (magnitude.numerator * 2 + magnitude.denominator) // (magnitude.denominator * 2)
    return rounded if amount >= 0 else -rounded


def _ceil_fen(amount: Fraction) -> int:
    return -(-amount.numerator // amount.denominator)


def monthly_from_yearly_fen(yearly_fen: int) -> int:
    """A yearly standard per person as a monthly one: yearly ÷ 12, rounded half up to the fen.

    10200 yuan/year → 850.00 yuan/month; 13000 yuan/year → 1083.33 yuan/month (108333.33 fen → 108333).
    """
    return round_half_up_fen(Fraction(yearly_fen, 12))


def yuan(fen: int) -> str:
    """Fen as yuan for people to read: 110500 → "1105.00 yuan"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d} yuan"


def _number(value: Fraction) -> str:
    """1.5, 2, 140834.2; 255001/3 when the value has no finite decimal form."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return str(value)
    text = f"{Decimal(value.numerator) / Decimal(value.denominator):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _times(ratio: Fraction) -> str:
    return f"{_number(ratio)}×"


def _exact_fen(amount: Fraction) -> str:
    """Exact amount in yuan when whole fen, else rounded with the exact fen value alongside."""
    if amount.denominator == 1:
        return yuan(amount.numerator)
    return f"about {yuan(round_half_up_fen(amount))} (exactly {_number(amount)} fen)"


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRuleInput(f"{what} must be a whole number of fen or days, not {value!r}")
    if value < 0:
        raise InvalidRuleInput(f"{what} must not be negative, got {value}")
    return value
