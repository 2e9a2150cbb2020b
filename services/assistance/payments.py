"""What assistance's monthly payment run (社会化发放) pays; the run itself is chassis.payment_runs.

One city-wide cycle a month (the empty scope), run by the bureau's payments office. The payees
are entitlements, paid to their household's bank account:
- Active in a month: starts_on <= last day of the month, and ends_on is NULL, or ends_on >= the
  first day, or gradual_exit_until >= the first day (渐退期: paid until the gradual exit ends).
  A month that is active for any part is paid in full; entitlements of 0 fen produce no payment.
- The amount is the entitlement's monthly amount and its policy version, as they are at the freeze.
- A failed payment is paid again as arrears only for a month the entitlement still covers: one
  ended since, back to a date before that month (the recipient died), owes nothing for it.
- A failed payment a death found for a month after it (models.AfterDeathPayment, while the death
  stands) is paid again only for what the month is still due after the death: the survivors'
  recomputed amount, less whatever else is live for the month; nothing when the benefit ended
  with the death. The deceased's share of a month after the death is never paid again. A revoked
  death lifts this: the month is owed in full again (and its back pay counted it so).
- 补发: a death revoked as made in error, or its date corrected to a later day, leaves back pay
  (models.BackPay, state "due"), month by month what was owed less what was paid. The next cycle
  pays each such month's difference as a top-up beside the month's own payment, to the
  household's bank account now, with the
  entitlement's policy version (restored with its amount); once per entitlement and month
  (chassis.payment_runs), however many cycles are frozen or back-pay records name the month.
  `MARK_BACK_PAY_PAID` closes a record once every month of it has a paid top-up.
"""

from __future__ import annotations

from sqlalchemy import text

from chassis.payment_runs import PaymentRun
from services.assistance.models import PAYMENT_TABLES

__all__ = [
    "RUN",
    "MARK_BACK_PAY_PAID",
    "freeze_cycle",
    "cycle_summary",
    "bank_batch",
    "write_bank_file",
    "claim_for_sending",
    "mark_sent",
    "reconcile",
]

RUN = PaymentRun(
    PAYMENT_TABLES,
    payees="""
    SELECT e.id AS entitlement_id, e.household_id, e.monthly_amount_fen AS amount_fen, h.bank_account,
           e.policy_version
    FROM entitlement e
    JOIN household h ON h.id = e.household_id
    WHERE e.starts_on <= :last
      AND (e.ends_on IS NULL OR e.ends_on >= :first OR e.gradual_exit_until >= :first)
      AND e.monthly_amount_fen > 0""",
    top_up="""
    SELECT b.entitlement_id, b.household_id, CAST(m ->> 'month' AS date) AS for_month,
           CAST(m ->> 'owed_fen' AS bigint) - CAST(m ->> 'paid_fen' AS bigint) AS amount_fen,
           h.bank_account, e.policy_version
    FROM back_pay b
    CROSS JOIN LATERAL json_array_elements(b.months) AS m
    JOIN household h ON h.id = b.household_id
    JOIN entitlement e ON e.id = b.entitlement_id
    WHERE b.state = 'due'""",
    accounts="SELECT id AS household_id, bank_account FROM household",
    arrears_due="""EXISTS (SELECT 1 FROM entitlement e WHERE e.id = f.entitlement_id
        AND (e.ends_on IS NULL OR e.ends_on >= f.for_month OR e.gradual_exit_until >= f.for_month))""",
    arrears_amount="""COALESCE((
        SELECT GREATEST(0, l.due_fen - (SELECT coalesce(sum(o.amount_fen), 0) FROM payment o
                                        WHERE o.entitlement_id = f.entitlement_id AND o.for_month = f.for_month
                                          AND o.state <> 'failed'))
        FROM after_death_payment l JOIN death_record d ON d.case_id = l.case_id AND d.state = 'applied'
        WHERE l.payment_id = f.id ORDER BY l.due_fen LIMIT 1), f.amount_fen)""",
)

# Back pay whose every month owing something has a paid top-up is paid (after a reconciliation).
MARK_BACK_PAY_PAID = text("""
UPDATE back_pay b SET state = 'paid'
WHERE b.state = 'due' AND NOT EXISTS (
    SELECT 1 FROM json_array_elements(b.months) AS m
    WHERE CAST(m ->> 'owed_fen' AS bigint) > CAST(m ->> 'paid_fen' AS bigint)
      AND NOT EXISTS (SELECT 1 FROM payment p WHERE p.entitlement_id = b.entitlement_id AND p.top_up
                        AND p.for_month = CAST(m ->> 'month' AS date) AND p.state = 'paid'))
""")

freeze_cycle = RUN.freeze
cycle_summary = RUN.summary
bank_batch = RUN.bank_batch
write_bank_file = RUN.write_bank_file
claim_for_sending = RUN.claim_for_sending
mark_sent = RUN.mark_sent
reconcile = RUN.reconcile
