"""The resident ID number (居民身份证号码, GB 11643-1999), shared by every service.

Layout: 6-digit administrative division code, 8-digit birth date (YYYYMMDD), 3-digit sequence
whose parity gives sex, and an ISO 7064 MOD 11-2 check character (0-9 or X).
Full numbers never go into logs: `str()` and `repr()` of a ResidentId, and `mask()`, give the
masked form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from marshmallow import ValidationError, validate
from marshmallow.fields import String as _String

from contracts.fields import Pattern, RuleMessage

__all__ = ["InvalidResidentId", "ResidentId", "ResidentIdField", "compose_resident_id", "mask"]

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"
_SHAPE = re.compile(r"[0-9]{17}[0-9X]")  # ASCII only: \d would accept other scripts' digits
_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidResidentId(ValueError):
    """The text is not a valid resident ID number; `reason` says why in words a citizen can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _check_char(first17: str) -> str:
    return _CHECK_CHARS[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def mask(text: str) -> str:
    """`330602********1234` for an 18-character string; otherwise keep at most the first 2 chars."""
    if len(text) == 18:
        return f"{text[:6]}{'*' * 8}{text[-4:]}"
    return text[:2] + "*" * max(len(text) - 2, 0)


def compose_resident_id(division_code: str, birth_date: date, sequence: int) -> str:
    """A valid number for tests, fixtures and simulators: the check character is computed."""
    if not re.fullmatch(r"[0-9]{6}", division_code):
        raise ValueError("division code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first17 = f"{division_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + _check_char(first17)


@dataclass(frozen=True)
class ResidentId:
    number: str
    division_code: str
    birth_date: date
    sex: str  # "male" | "female"

    @classmethod
    def parse(cls, text: str, today: date | None = None) -> ResidentId:
        """Validate and decompose; birth dates after `today` (when given) are refused."""
        number = text.upper()
        if len(number) != 18:
            raise InvalidResidentId("must be 18 characters")
        if not _SHAPE.fullmatch(number):
            raise InvalidResidentId("must be 17 digits followed by a digit or X")
        digits = number[6:14]
        try:
            birth = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        except ValueError:
            raise InvalidResidentId(f"birth date {digits} is not a real date") from None
        if birth < _EARLIEST_BIRTH:
            raise InvalidResidentId(f"birth date {digits} is before 1900")
        if today is not None and birth > today:
            raise InvalidResidentId("birth date is in the future")
        expected = _check_char(number[:17])
        if number[17] != expected:
            raise InvalidResidentId(f"check character is {number[17]} but should be {expected}")
        sex = "male" if int(number[16]) % 2 else "female"
        return cls(number=number, division_code=number[:6], birth_date=birth, sex=sex)

    def age_on(self, day: date) -> int:
        """Full years of age on `day`."""
        return age_on(self.birth_date, day)

    def __str__(self) -> str:
        return mask(self.number)

    def __repr__(self) -> str:
        return f"ResidentId({mask(self.number)!r})"


AGE_OF_MAJORITY = 18  # 民法典 第17条: eighteen and over is an adult (law, not regional policy)


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on `day` of someone born on `birth_date`."""
    # Tuple comparison: someone born on 29 February is still short of the birthday on
    # 28 February of a non-leap year and reaches the new age on 1 March.
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - int(before_birthday)


@dataclass(frozen=True)
class Newborn:
    """A child known by the birth certificate (出生医学证明) until the hukou registration gives a
    resident ID number. Answers what a household's rules ask of a person (`number` to tell people
    apart, `age_on`), so a birth can count in a household before the ID exists."""

    birth_certificate_number: str
    birth_date: date

    @property
    def number(self) -> str:
        return f"birth:{self.birth_certificate_number}"

    def age_on(self, day: date) -> int:
        return age_on(self.birth_date, day)

    def __str__(self) -> str:
        return f"newborn {self.birth_certificate_number[:2]}****"


_SHAPES = ("must be 18 characters", "must be 17 digits followed by a digit or X")


class ResidentIdField(_String):
    """Marshmallow field: loads the normalised number string, or fails with the reason. The
    OpenAPI document gives its shape (18 characters, the pattern) and names its format,
    `resident-id`; what no pattern can say (a real birth date, the check character) is refused as
    a rule (RuleMessage: 422), the shape as malformed (400)."""

    def __init__(self, *args, **kwargs):
        kwargs["validate"] = [validate.Length(equal=18), Pattern(r"^[0-9]{17}[0-9Xx]$")]
        metadata = {
            "format": "resident-id",
            "description": "GB 11643 resident ID number: 6-digit division, 8-digit birth date, 3-digit "
            "sequence, ISO 7064 MOD 11-2 check character (0-9 or X)",
            **(kwargs.pop("metadata", None) or {}),
        }
        super().__init__(*args, metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return ResidentId.parse(text).number
        except InvalidResidentId as exc:
            raise ValidationError(exc.reason if exc.reason in _SHAPES else RuleMessage(exc.reason)) from None


def main(argv=None) -> None:
    """`python -m contracts.person male 1995`: a made-up, valid number for a demo (a random day of
    that year, a random sequence of that sex, division 330602 unless another is given)."""
    import argparse
    import random

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("sex", choices=["male", "female"])
    parser.add_argument("year", type=int)
    parser.add_argument("--division", default="330602")
    args = parser.parse_args(argv)
    born = date(args.year, 1, 1) + timedelta(days=random.randrange(365))
    sequence = random.randrange(0, 999, 2) + (1 if args.sex == "male" else 0)
    print(compose_resident_id(args.division, born, sequence))


if __name__ == "__main__":
    main()
