"""What the old-age allowance's monthly payment run (高龄津贴 社会化发放) pays; the run itself, with
its frozen snapshot, idempotent freeze, bank batch and reconciliation, is chassis.payment_runs.

One cycle per paying district and month (scope = the district's code, cycle "330602-2026-06").
The payees are enrolments, paid to the person's own bank account (elder.bank_account):
- Paid in a month (rules.allowance_paid_in): starts_month <= the month's first day, and ended_on
  is NULL or ended_on >= the first day (the month of the end is paid in full). A person the
  registry knows as deceased before the month is not paid either, whatever the enrolment says.
- Where: the person's residence now (elder.region_code) inside the district.
- How much: the band of the age reached by the month's last day (rules.monthly_allowance_fen,
  with the same birthday as rules.birthday_sql), in the bands of the policy in force for the
  person's region on the month's first day. The service resolves the policy per region and month
  and passes the bands in as arrays (`bands`); the SQL only picks each person's band.
- Back pay: an enrolment made after a month's cycle of the district was frozen (the job enrols
  from the birthday's month, and catches up after downtime) is paid for that month by the next
  cycle, as `back_pay`, with that month's band and policy; so is an enrolment whose end was
  undone (a revoked death), for the months after the end it missed (`back_pay_after`). A month
  that has any payment of the person is never paid back (chassis.payment_runs).
"""

from __future__ import annotations

from datetime import date

from chassis.payment_runs import PaymentRun
from services.care import rules
from services.care.models import ALLOWANCE_PAYMENTS

__all__ = ["RUN", "REGION_MONTHS", "bands"]

_BANDS = """band AS (
        SELECT * FROM unnest(CAST(:band_regions AS text[]), CAST(:band_months AS date[]),
                             CAST(:band_lows AS int[]), CAST(:band_fen AS bigint[]), CAST(:band_versions AS text[]))
                      AS b(region_code, month, low, amount_fen, policy_version)
    )"""

# paid in month `m` (a date column or parameter): rules.allowance_paid_in, and alive then
_PAID_IN = """e.region_code LIKE :prefix || '%' AND a.starts_month <= {m}
      AND (a.ended_on IS NULL OR a.ended_on >= {m}) AND (e.deceased_on IS NULL OR e.deceased_on >= {m})"""

# the district's earlier cycles that were frozen before the person's enrolment was made, or
# after an end that was undone (the month of the end itself was paid)
_MISSED = """JOIN allowance_payment_cycle c ON c.scope = :scope AND c.month < :first
         AND (a.enrolled_on >= CAST(c.frozen_at AT TIME ZONE :zone AS date) OR c.month > a.back_pay_after)"""

_BIRTHDAY = rules.birthday_sql("e.birth_date", "b.low")

RUN = PaymentRun(
    ALLOWANCE_PAYMENTS,
    payees=f"""
    WITH {_BANDS}
    SELECT DISTINCT ON (a.resident_id) a.resident_id, b.amount_fen, e.bank_account, b.policy_version
    FROM allowance_enrolment a
    JOIN elder e ON e.resident_id = a.resident_id
    JOIN band b ON b.region_code = e.region_code AND b.month = :first AND {_BIRTHDAY} <= :last
    WHERE {_PAID_IN.format(m=":first")}
    ORDER BY a.resident_id, b.low DESC""",
    back_pay=f"""
    WITH {_BANDS}
    SELECT DISTINCT ON (a.resident_id, c.month) a.resident_id, c.month AS for_month, b.amount_fen,
           e.bank_account, b.policy_version
    FROM allowance_enrolment a
    JOIN elder e ON e.resident_id = a.resident_id
    {_MISSED}
    JOIN band b ON b.region_code = e.region_code AND b.month = c.month
         AND {_BIRTHDAY} <= CAST(c.month + interval '1 month' - interval '1 day' AS date)
    WHERE {_PAID_IN.format(m="c.month")}
    ORDER BY a.resident_id, c.month, b.low DESC""",
    accounts="SELECT resident_id, bank_account FROM elder",
    file_prefix="care-allowance-",
    # a failed month is paid again only while the enrolment still covered it (not after a death)
    arrears_due="""EXISTS (SELECT 1 FROM allowance_enrolment a WHERE a.resident_id = f.resident_id
        AND (a.ended_on IS NULL OR a.ended_on >= f.for_month))""",
)

# The (region, month) pairs whose bands the freeze needs: this month's payees', and back pay's.
REGION_MONTHS = f"""
SELECT DISTINCT e.region_code, CAST(:first AS date) AS month
FROM allowance_enrolment a JOIN elder e ON e.resident_id = a.resident_id
WHERE {_PAID_IN.format(m=":first")}
UNION
SELECT DISTINCT e.region_code, c.month
FROM allowance_enrolment a JOIN elder e ON e.resident_id = a.resident_id
{_MISSED}
WHERE {_PAID_IN.format(m="c.month")}
ORDER BY 1, 2
"""


def bands(policies: dict[tuple[str, date], rules.AllowancePolicy]) -> dict[str, list]:
    """The SELECTs' parameters: the bands of every (region, month), as five parallel arrays."""
    rows = [
        (region, month, low, fen, policy.version)
        for (region, month), policy in sorted(policies.items())
        for low, fen in sorted(policy.bands_fen.items())
    ]
    columns = [list(column) for column in zip(*rows)] if rows else [[], [], [], [], []]
    return dict(zip(("band_regions", "band_months", "band_lows", "band_fen", "band_versions"), columns))
