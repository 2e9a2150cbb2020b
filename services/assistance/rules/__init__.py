"""Social assistance rules (社会救助规则) as pure functions: no I/O, no clock, no database.

Every amount, ratio, threshold and period arrives in an `AssistancePolicy` resolved from the
versioned policy parameters (by region and effective date); every result names the figures it
used and carries `policy.version`, so a decision can be explained and audited.

Money is integer fen (1 yuan = 100 fen), never a float. Ratios are exact `Fraction`s: they arrive as
an integer per mille (1500 = 1.5), or as a `Fraction`, a `Decimal` or a decimal string ("1.5").
Multipliers of the standard (临时救助 grades and caps) arrive as a whole number of times (2 = 2×)
or in the same exact forms. Eligibility compares exact values; an amount is rounded once, at the
end, half up to the fen (`round_half_up_fen`), except the 特困 basic living standard, which is
rounded up (it must be *at least* the ratio times the 低保 standard).

Sources: Shaoxing (seed-000) 分类施保 groups, 特困 ≥ 1.3× 低保, 急难 under 2000 yuan by the township,
two-level approval; Fuyang (seed-001) employment-cost deduction, 单人户, 临时救助 2–10× the monthly
urban 低保 standard, 20 working days; Jiaxing (seed-002) 渐退期 one year; national rules 低保边缘
≤ 1.5× the standard and 公示.

The rules live in one module per concern (numbers, policy, household income, the programmes, what
an approval grants, the application's state machine, after a death, recoveries, indicators, the
economic check's totals); this package gives them under one name, `rules`.
"""

from contracts.assistance import RECOVERY_STATES, REPAYMENT_METHODS, SELF_CARE_LEVELS

from .after_death import (
    BackPayMonth,
    BenefitUndo,
    FoundAfterDeath,
    OtherDeath,
    Overpaid,
    back_pay_after_revocation,
    first_month_after,
    gone_after_revocation,
    in_household_for_month,
    overpaid_after_death,
    overpaid_after_deaths,
)
from .application import (
    ACCEPTED,
    ACTIONS,
    APPROVED,
    CHECKED,
    IN_NOTICE,
    OPEN_STATES,
    REJECTED,
    STATES,
    SUBMITTED,
    TRANSITIONS,
    WITHDRAWN,
    transition,
)
from .check import CheckTotals, SourceAnswer, check_totals
from .grants import (
    MEANS_TESTED,
    AmountAfterDeath,
    Benefit,
    GradualExit,
    PolicyAmount,
    amount_without,
    benefit,
    decision_due,
    disability_benefit,
    gradual_exit,
    is_working_day,
    next_review,
    notice_ends,
    review_check_complete,
    with_assets,
    working_days_after,
)
from .household import (
    DISABILITY_PARAMETERS,
    HouseholdIncome,
    Member,
    household_income,
    member_from,
    split_single_person_households,
)
from .indicators import mean_decision_working_days, working_days_between, yearly_standard_yuan
from .numbers import Ratio, as_multiplier, as_ratio, monthly_from_yearly_fen, round_half_up_fen, yuan
from .policy import APPROVAL_LEVELS, INCREMENT_CATEGORIES, AssistancePolicy
from .programmes import (
    DibaoBenefit,
    DibaoUnit,
    EdgeEligibility,
    TekunBenefit,
    TemporaryAssistance,
    assets_within_limits,
    dibao_benefit,
    dibao_edge_eligible,
    tekun_benefit,
    temporary_assistance,
)
from .recovery import CASH_METHODS, RecoveryLedger, cancel_recovery, record_refund, record_repayment, recount_recovery

__all__ = [
    "ACCEPTED",
    "ACTIONS",
    "APPROVAL_LEVELS",
    "APPROVED",
    "AmountAfterDeath",
    "AssistancePolicy",
    "BackPayMonth",
    "Benefit",
    "BenefitUndo",
    "CASH_METHODS",
    "CHECKED",
    "CheckTotals",
    "DISABILITY_PARAMETERS",
    "DibaoBenefit",
    "DibaoUnit",
    "EdgeEligibility",
    "FoundAfterDeath",
    "GradualExit",
    "HouseholdIncome",
    "INCREMENT_CATEGORIES",
    "IN_NOTICE",
    "MEANS_TESTED",
    "Member",
    "OPEN_STATES",
    "OtherDeath",
    "Overpaid",
    "PolicyAmount",
    "RECOVERY_STATES",
    "REJECTED",
    "REPAYMENT_METHODS",
    "Ratio",
    "RecoveryLedger",
    "SELF_CARE_LEVELS",
    "STATES",
    "SUBMITTED",
    "SourceAnswer",
    "TRANSITIONS",
    "TekunBenefit",
    "TemporaryAssistance",
    "WITHDRAWN",
    "amount_without",
    "as_multiplier",
    "as_ratio",
    "assets_within_limits",
    "back_pay_after_revocation",
    "benefit",
    "cancel_recovery",
    "check_totals",
    "decision_due",
    "dibao_benefit",
    "dibao_edge_eligible",
    "disability_benefit",
    "first_month_after",
    "gone_after_revocation",
    "gradual_exit",
    "household_income",
    "in_household_for_month",
    "is_working_day",
    "mean_decision_working_days",
    "member_from",
    "monthly_from_yearly_fen",
    "next_review",
    "notice_ends",
    "overpaid_after_death",
    "overpaid_after_deaths",
    "record_refund",
    "record_repayment",
    "recount_recovery",
    "review_check_complete",
    "round_half_up_fen",
    "split_single_person_households",
    "tekun_benefit",
    "temporary_assistance",
    "transition",
    "with_assets",
    "working_days_after",
    "working_days_between",
    "yearly_standard_yuan",
    "yuan",
]
