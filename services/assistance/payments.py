"""What assistance's monthly payment run (社会化发放) pays; the run itself is chassis.payment_runs.

One city-wide cycle a month (the empty scope), run by the bureau's payments office. The payees
are entitlements, paid to their household's bank account:
- Active in a month: starts_on <= last day of the month, and ends_on is NULL, or ends_on >= the
  first day, or gradual_exit_until >= the first day (渐退期: paid until the gradual exit ends).
  A month that is active for any part is paid in full; entitlements of 0 fen produce no payment.
- The amount is the entitlement's monthly amount and its policy version, as they are at the freeze.
- A failed payment is paid again as arrears only for a month the entitlement still covers: one
  ended since, back to a date before that month (the recipient died), owes nothing for it.
"""
from __future__ import annotations

from chassis.payment_runs import PaymentRun
from services.assistance.models import PAYMENT_TABLES

__all__ = ["RUN", "freeze_cycle", "cycle_summary", "bank_batch", "write_bank_file", "claim_for_sending",
           "mark_sent", "reconcile"]

RUN = PaymentRun(PAYMENT_TABLES, payees="""
    SELECT e.id AS entitlement_id, e.household_id, e.monthly_amount_fen AS amount_fen, h.bank_account,
           e.policy_version
    FROM entitlement e
    JOIN household h ON h.id = e.household_id
    WHERE e.starts_on <= :last
      AND (e.ends_on IS NULL OR e.ends_on >= :first OR e.gradual_exit_until >= :first)
      AND e.monthly_amount_fen > 0""",
    accounts="SELECT id AS household_id, bank_account FROM household",
    arrears_due="""EXISTS (SELECT 1 FROM entitlement e WHERE e.id = f.entitlement_id
        AND (e.ends_on IS NULL OR e.ends_on >= f.for_month OR e.gradual_exit_until >= f.for_month))""")

freeze_cycle = RUN.freeze
cycle_summary = RUN.summary
bank_batch = RUN.bank_batch
write_bank_file = RUN.write_bank_file
claim_for_sending = RUN.claim_for_sending
mark_sent = RUN.mark_sent
reconcile = RUN.reconcile
