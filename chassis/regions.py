"""Administrative division codes (行政区划代码): city → district/county → township → village.

Six digits name province (XX0000), city (XXXX00) and district (XXXXXX); a township adds three
digits, a village three more. Staff are scoped to a region and see everything below it.
"""

from __future__ import annotations

from chassis.errors import InvalidInput

__all__ = ["NATIONAL", "is_region_code", "require_region_code", "region_ancestors", "region_prefix", "region_covers"]

NATIONAL = "000000"


def is_region_code(code) -> bool:
    return isinstance(code, str) and code.isdigit() and len(code) in (6, 9, 12)


def require_region_code(code) -> str:
    """A division code from a caller (a path, an argument), or a 400 naming region_code."""
    if not is_region_code(code):
        raise InvalidInput("not a division code", errors={"region_code": ["6, 9 or 12 digits"]})
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
