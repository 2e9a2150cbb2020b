"""One resolved version of the assistance parameters (by region and date), checked when built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from types import MappingProxyType

from contracts.assistance import SELF_CARE_LEVELS
from contracts.person import AGE_OF_MAJORITY
from contracts.refusals import InvalidRuleInput

from .numbers import _non_negative_int, as_multiplier, as_ratio

INCREMENT_CATEGORIES = ("aged_80_plus", "minor", "seriously_ill", "severely_disabled", "pregnant")
APPROVAL_LEVELS = ("township", "district")  # 乡镇(街道) / 区(县)民政局

# --- policy ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssistancePolicy:
    """One resolved version of the assistance parameters. Ratios and multipliers are normalised to
    `Fraction`, mappings to read-only copies, when the policy is built; bad values raise `InvalidRuleInput`.
    (The ratio fields are typed as what they hold once built; they may be given as any `Ratio`.)"""

    version: str
    dibao_standard_monthly_fen: int  # 低保标准, per person per month
    edge_ratio: Fraction  # 低保边缘: income line as a ratio of the standard (1.5)
    tekun_basic_ratio: Fraction  # 特困基本生活标准 ≥ this × 低保标准 (1.3)
    tekun_care_monthly_fen: Mapping[str, int]  # 照料护理标准 by self-care: full / partial / none
    increments: Mapping[str, Fraction]  # 分类施保: monthly increment per member, share of standard
    temporary_cap_multiplier_min: Fraction  # 临时救助: lowest cap, times the monthly standard (2)
    temporary_cap_multiplier_max: Fraction  # highest cap (10)
    temporary_grades: Mapping[str, Fraction]  # 分类分档: grade → cap as a multiple of the standard
    township_direct_threshold_fen: int  # 急难 under this is decided by the township (2000 yuan)
    gradual_exit_months: int  # 渐退期 (12 in Jiaxing)
    asset_limits: Mapping[str, int]  # per person, fen, by kind of asset (e.g. "deposits")
    decision_working_days: int  # 低保/特困 decision within this many working days (20)
    notice_days: int  # 公示期
    approval_level: str  # "district", or "township" where delegated (委托下放)
    stack_increments: bool = False  # False: a member in several groups gets the highest (就高)
    aged_from_age: int = 80  # "aged_80_plus" from this birthday on
    adult_from_age: int = AGE_OF_MAJORITY  # "minor" until this birthday

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:  # normalise a field of this frozen instance
            object.__setattr__(self, name, value)

        if not self.version:
            raise InvalidRuleInput("a policy needs a version")
        if _non_negative_int(self.dibao_standard_monthly_fen, "the 低保 standard") == 0:
            raise InvalidRuleInput("the 低保 standard must be positive")
        put("edge_ratio", as_ratio(self.edge_ratio, "edge_ratio"))
        put("tekun_basic_ratio", as_ratio(self.tekun_basic_ratio, "tekun_basic_ratio"))
        if self.edge_ratio < 1:
            raise InvalidRuleInput(
                f"edge_ratio {self.edge_ratio} is below 1: the 低保边缘 line would be under the standard"
            )
        if self.tekun_basic_ratio <= 0:
            raise InvalidRuleInput("tekun_basic_ratio must be positive")
        if set(self.tekun_care_monthly_fen) != set(SELF_CARE_LEVELS):
            raise InvalidRuleInput(f"tekun_care_monthly_fen needs exactly {', '.join(SELF_CARE_LEVELS)}")
        put(
            "tekun_care_monthly_fen",
            MappingProxyType(
                {k: _non_negative_int(v, f"care standard {k!r}") for k, v in self.tekun_care_monthly_fen.items()}
            ),
        )
        unknown = set(self.increments) - set(INCREMENT_CATEGORIES)
        if unknown:
            raise InvalidRuleInput(f"unknown increment categories: {', '.join(sorted(unknown))}")
        increments = {k: as_ratio(v, f"increment {k!r}") for k, v in self.increments.items()}
        if any(v < 0 for v in increments.values()):
            raise InvalidRuleInput("increments must not be negative")
        put("increments", MappingProxyType(increments))
        low = as_multiplier(self.temporary_cap_multiplier_min, "temporary_cap_multiplier_min")
        high = as_multiplier(self.temporary_cap_multiplier_max, "temporary_cap_multiplier_max")
        if not 0 < low <= high:
            raise InvalidRuleInput(f"temporary caps must satisfy 0 < min ({low}) ≤ max ({high})")
        put("temporary_cap_multiplier_min", low)
        put("temporary_cap_multiplier_max", high)
        if not self.temporary_grades:
            raise InvalidRuleInput("temporary_grades needs at least one grade")
        grades = {k: as_multiplier(v, f"grade {k!r}") for k, v in self.temporary_grades.items()}
        for grade, times in grades.items():
            if not low <= times <= high:
                raise InvalidRuleInput(f"grade {grade!r} caps at {times}× the standard, outside {low}×–{high}×")
        put("temporary_grades", MappingProxyType(grades))
        _non_negative_int(self.township_direct_threshold_fen, "township_direct_threshold_fen")
        _non_negative_int(self.gradual_exit_months, "gradual_exit_months")
        put(
            "asset_limits",
            MappingProxyType({k: _non_negative_int(v, f"asset limit {k!r}") for k, v in self.asset_limits.items()}),
        )
        if _non_negative_int(self.decision_working_days, "decision_working_days") == 0:
            raise InvalidRuleInput("decision_working_days must be positive")
        _non_negative_int(self.notice_days, "notice_days")
        if self.approval_level not in APPROVAL_LEVELS:
            raise InvalidRuleInput(f"approval_level must be one of {', '.join(APPROVAL_LEVELS)}")
        if not 0 < self.adult_from_age <= self.aged_from_age:
            raise InvalidRuleInput("ages must satisfy 0 < adult_from_age ≤ aged_from_age")
