"""The one place that bounds every field of the published language.

Contracts declare their fields through this module (`from contracts import fields`), which offers
marshmallow's field types with bounds that nothing can forget: a string has a length limit and
refuses control characters (a NUL reaching PostgreSQL is a server error), an integer stays inside
the column it lands in (int32; money, `Fen`, inside the int64 columns it is kept in), a boolean is
JSON `true` or `false` and nothing else ("yes" is not a legal declaration), a date or a time lies
between 1900 and 2099, a list has a most number of items. Every bound is a validator or a pattern
that apispec turns into the OpenAPI document, so the document says exactly what is refused.
"""

from __future__ import annotations

import numbers
import re
import unicodedata
from datetime import date

from marshmallow import ValidationError, validate
from marshmallow.fields import *  # noqa: F403  (the rest of marshmallow's field types, unchanged)
from marshmallow.fields import AwareDateTime as _AwareDateTime
from marshmallow.fields import Boolean as _Boolean
from marshmallow.fields import Date as _Date
from marshmallow.fields import Float as _Float
from marshmallow.fields import Integer as _Integer
from marshmallow.fields import List as _List
from marshmallow.fields import Raw as _Raw
from marshmallow.fields import String as _String

INT32 = (-(2**31), 2**31 - 1)  # sqlalchemy Integer: PostgreSQL integer
FEN_MAX = 2**53 - 1  # money is kept in bigint columns; 2**53 keeps it exact in every JSON client
DEFAULT_MAX_LENGTH = 2000  # a string with no narrower bound (a reason, a note)
DEFAULT_MAX_ITEMS = 10_000
EARLIEST, LATEST = date(1900, 1, 1), date(2099, 12, 31)

# JSON Schema of "no control characters" (tab, line feed and carriage return are text)
PRINTABLE = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f]*$"
_YEAR = "(19[0-9]{2}|20[0-9]{2})"
DATE_PATTERN = f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
DATETIME_PATTERN = (
    f"^{_YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    "T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
DIVISION_PATTERN = "^[0-9]{6}([0-9]{3}){0,2}$"


class RuleMessage(str):
    """A field's refusal by a rule the document cannot state (a resident ID's check character): the
    value has the documented shape, so the loaders answer 422, not 400."""


class Printable(validate.Validator):
    """No control characters (NUL above all) and no lone surrogates: text a database can keep."""

    error = "must not contain control characters"

    def __call__(self, value):
        if isinstance(value, str):
            for ch in value:
                if ch in "\t\n\r":
                    continue
                if unicodedata.category(ch) in ("Cc", "Cs"):
                    raise ValidationError(self.error)
        return value


class Pattern(validate.Regexp):
    """A Regexp as JSON Schema reads `pattern`: ASCII classes (Python's `\\d` takes any script's
    digits) and no trailing line feed before `$` (Python's `$` allows one)."""

    def __init__(self, regex, flags: int = 0, *, error: str | None = None):
        text = regex.pattern if isinstance(regex, re.Pattern) else regex
        super().__init__(text, (flags & ~re.UNICODE) | re.ASCII, error=error)

    def __call__(self, value):
        if isinstance(value, str) and value.endswith("\n"):
            raise ValidationError(self._format_error(value))
        return super().__call__(value)


def _ascii(validators: list) -> list:
    return [
        Pattern(v.regex, v.regex.flags, error=v.error)
        if isinstance(v, validate.Regexp) and not isinstance(v, Pattern)
        else v
        for v in validators
    ]


def _has(validators, kind) -> bool:
    return any(isinstance(v, kind) for v in validators)


def _bounded(validators) -> bool:
    """A Length with a most (one with only a least bounds nothing)."""
    return any(isinstance(v, validate.Length) and (v.max is not None or v.equal is not None) for v in validators)


def _validators(kwargs) -> list:
    given = kwargs.pop("validate", None)
    if given is None:
        return []
    return list(given) if isinstance(given, list | tuple) else [given]


def _merge_metadata(kwargs, **extra) -> None:
    metadata = dict(kwargs.pop("metadata", None) or {})
    for key, value in extra.items():
        metadata.setdefault(key, value)
    kwargs["metadata"] = metadata


class String(_String):
    """Text of at most `DEFAULT_MAX_LENGTH` characters unless a narrower Length is given, without
    control characters."""

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs)
        if not _bounded(validators) and not _has(validators, validate.OneOf | validate.Equal):
            validators.append(validate.Length(max=DEFAULT_MAX_LENGTH))
        if not _has(validators, validate.Regexp | validate.OneOf | validate.Equal):
            _merge_metadata(kwargs, pattern=PRINTABLE)
        validators.append(Printable())
        super().__init__(*args, validate=_ascii(validators), **kwargs)


class Integer(_Integer):
    """A JSON integer (not a string, not a boolean, not 1.0) inside an int32 column."""

    bounds = INT32

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs)
        validators.append(validate.Range(min=self.bounds[0], max=self.bounds[1]))
        kwargs.setdefault("strict", True)
        super().__init__(*args, validate=validators, **kwargs)

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Fen(Integer):
    """Money in fen (分), kept in bigint columns."""

    bounds = (-FEN_MAX, FEN_MAX)


class Float(_Float):
    """A JSON number, never a string or a boolean."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


class Boolean(_Boolean):
    """JSON `true` or `false`; "yes", 1 and "on" are refused (a legal declaration is explicit)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class _Plausible(validate.Validator):
    def __call__(self, value):
        day = value.date() if hasattr(value, "date") and callable(value.date) else value
        if not EARLIEST <= day <= LATEST:
            raise ValidationError(f"must lie between {EARLIEST} and {LATEST}")
        return value


class Date(_Date):
    """An ISO date between 1900 and 2099."""

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs) + [_Plausible()]
        _merge_metadata(kwargs, pattern=DATE_PATTERN)
        super().__init__(*args, validate=validators, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class AwareDateTime(_AwareDateTime):
    """An RFC 3339 time with its offset, between 1900 and 2099."""

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs) + [_Plausible()]
        _merge_metadata(kwargs, pattern=DATETIME_PATTERN)
        super().__init__(*args, validate=validators, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE)
        return super()._deserialize(value, attr, data, **kwargs)


class List(_List):
    """At most `DEFAULT_MAX_ITEMS` items unless a narrower Length is given."""

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs)
        if not _bounded(validators):
            validators.append(validate.Length(max=DEFAULT_MAX_ITEMS))
        super().__init__(*args, validate=validators, **kwargs)


class Raw(_Raw):
    """Any JSON value, its strings (and keys) without control characters, never null unless
    allowed: what a JSON column keeps (PostgreSQL refuses \\u0000 in one)."""

    def _deserialize(self, value, attr, data, **kwargs):
        def walk(item):
            if isinstance(item, str):
                Printable()(item)
            elif isinstance(item, dict):
                for key, inner in item.items():
                    walk(key)
                    walk(inner)
            elif isinstance(item, list):
                for inner in item:
                    walk(inner)

        try:
            walk(value)
        except ValidationError:
            if isinstance(value, str):  # the document's pattern says so: malformed
                raise
            # inside a list or mapping, which the document cannot constrain: a rule's refusal
            raise ValidationError(RuleMessage(Printable.error)) from None
        return super()._deserialize(value, attr, data, **kwargs)


JSON_VALUE = {  # how the document shows a Raw value: a number, a string, a list or a mapping, never null
    "anyOf": [
        {"type": "number"},
        {"type": "string", "maxLength": DEFAULT_MAX_LENGTH, "pattern": PRINTABLE},
        {"type": "array", "maxItems": DEFAULT_MAX_ITEMS, "items": {}},
        {"type": "object"},
    ]
}


class DivisionCode(String):
    """An administrative division code (GB/T 2260 district, a township or a village below it)."""

    def __init__(self, *args, **kwargs):
        validators = _validators(kwargs)
        validators.append(validate.Length(min=6, max=12))
        validators.append(validate.Regexp(DIVISION_PATTERN, error="must be a 6-, 9- or 12-digit division code"))
        super().__init__(*args, validate=validators, **kwargs)


class Text(String):
    """Free text of at most `max` characters (the column it lands in)."""

    def __init__(self, *args, max: int, min: int = 0, **kwargs):
        validators = _validators(kwargs) + [validate.Length(min=min, max=max)]
        super().__init__(*args, validate=validators, **kwargs)
