"""The payment run's set-based statements (chassis.payment_runs executes them): one or a few SQL
statements a step, no Python loop per payee. `{payment}`, `{payee}` and the other fields are the
ledger's names (chassis.payment_tables), checked identifiers; the rest are bound parameters."""

from __future__ import annotations

from sqlalchemy import text

# One statement, two (or three) inserts: the regular payments of the month, the arrears of earlier
# failed payments (and the service's back pay); the frozen values are copied here.
# - Regular payments need no ON CONFLICT: no payment for this month can exist before its cycle (a
#   failed payment is only ever paid again for its own, earlier, month), and this statement only
#   runs in the transaction that created the cycle row, which a concurrent run of the same month
#   waits for (primary key) and then leaves alone. Should a live payment for the month exist all
#   the same, uq_<ledger>_once refuses the row and the whole freeze rolls back: nobody is paid twice.
#   (ON CONFLICT's speculative insertion costs about 4-10 s more per million rows; bench/PAYMENT_RUN.md.)
# - Arrears can race: two cycles frozen at once may both find the same failed payment. ON CONFLICT
#   on the partial unique index skips the one that comes second. Their amount is the service's
#   `arrears_amount` of the failed payment (by default its own amount); 0 fen pays nothing.
# - The service's SELECTs are inlined as subqueries; PostgreSQL flattens them into the same plan as
#   the joins written out (measured: bench/payment_run.py is unchanged).
FREEZE = """
WITH arrears AS (
    INSERT INTO {payment} (cycle_id, {payee}{carried}, kind, top_up, for_month, amount_fen,
                           bank_account, policy_version, state, failure_reason)
    SELECT DISTINCT ON (f.{payee}, f.for_month, f.top_up)
           :cycle_id, f.{payee}{f_carried}, 'arrears', f.top_up, f.for_month, owed.amount_fen,
           h.bank_account, f.policy_version, 'pending', NULL
    FROM {cycle} c
    JOIN {payment} f ON f.cycle_id = c.id AND f.state = 'failed'
    JOIN ({accounts}) AS h ON h.{holder} = f.{holder} AND h.bank_account IS NOT NULL
    CROSS JOIN LATERAL (SELECT CAST(({arrears_amount}) AS bigint) AS amount_fen) AS owed
    WHERE c.month < :first AND c.scope = :scope AND ({arrears_due}) AND owed.amount_fen > 0
      AND NOT EXISTS (SELECT 1 FROM {payment} live
                      WHERE live.{payee} = f.{payee} AND live.for_month = f.for_month
                        AND live.top_up = f.top_up AND live.state <> 'failed')
    ORDER BY f.{payee}, f.for_month, f.top_up, f.id DESC
    ON CONFLICT ({payee}, for_month, top_up) WHERE state <> 'failed' DO NOTHING
    RETURNING kind, state, amount_fen
), regular AS (
    INSERT INTO {payment} (cycle_id, {payee}{carried}, kind, for_month, amount_fen,
                           bank_account, policy_version, state, failure_reason)
    SELECT :cycle_id, s.{payee}{s_carried}, 'regular', CAST(:first AS date), s.amount_fen,
           s.bank_account, s.policy_version,
           CASE WHEN s.bank_account IS NULL THEN 'failed' ELSE 'pending' END,
           CASE WHEN s.bank_account IS NULL THEN CAST(:no_account AS text) END
    FROM ({payees}) AS s
    WHERE s.amount_fen > 0
    RETURNING kind, state, amount_fen
){back_pay}{top_up}
SELECT kind, state, count(*) AS n, coalesce(sum(amount_fen), 0)::bigint AS fen
FROM (SELECT * FROM arrears UNION ALL SELECT * FROM regular{back_pay_union}{top_up_union}) AS inserted
GROUP BY kind, state
"""

# Back pay: months before this one whose cycle (same scope) was frozen without the payee, who
# became entitled for them later (care: enrolled after that month's freeze). Only months that have
# a cycle: a month not frozen yet pays the payee in its own regular run. Nothing for a month that
# has any payment of the payee already, live or failed (a failed one is arrears' business); two
# cycles frozen at once meet at uq_<ledger>_once (ON CONFLICT), as arrears do.
BACK_PAY = """, back_pay AS (
    INSERT INTO {payment} (cycle_id, {payee}{carried}, kind, for_month, amount_fen,
                           bank_account, policy_version, state, failure_reason)
    SELECT :cycle_id, s.{payee}{s_carried}, 'back_pay', s.for_month, s.amount_fen,
           s.bank_account, s.policy_version,
           CASE WHEN s.bank_account IS NULL THEN 'failed' ELSE 'pending' END,
           CASE WHEN s.bank_account IS NULL THEN CAST(:no_account AS text) END
    FROM ({back_pay}) AS s
    WHERE s.amount_fen > 0 AND s.for_month < :first
      AND EXISTS (SELECT 1 FROM {cycle} c WHERE c.scope = :scope AND c.month = s.for_month)
      AND NOT EXISTS (SELECT 1 FROM {payment} p WHERE p.{payee} = s.{payee} AND p.for_month = s.for_month)
    ON CONFLICT ({payee}, for_month, top_up) WHERE state <> 'failed' DO NOTHING
    RETURNING kind, state, amount_fen
)"""

# Top-ups: months before this one, with a cycle of this scope, that the service paid short and
# owes the difference for. Once per payee and month: nothing for a month that has a top-up
# already, live or failed (a failed one is arrears' business); duplicates in the service's SELECT,
# and two cycles frozen at once, meet at uq_<ledger>_once (ON CONFLICT) on the top-up side of it.
# The month's ordinary payment is left alone: the top-up is paid beside it.
TOP_UP = """, top_up AS (
    INSERT INTO {payment} (cycle_id, {payee}{carried}, kind, top_up, for_month, amount_fen,
                           bank_account, policy_version, state, failure_reason)
    SELECT :cycle_id, s.{payee}{s_carried}, 'top_up', true, s.for_month, s.amount_fen,
           s.bank_account, s.policy_version,
           CASE WHEN s.bank_account IS NULL THEN 'failed' ELSE 'pending' END,
           CASE WHEN s.bank_account IS NULL THEN CAST(:no_account AS text) END
    FROM ({top_up}) AS s
    WHERE s.amount_fen > 0 AND s.for_month < :first
      AND EXISTS (SELECT 1 FROM {cycle} c WHERE c.scope = :scope AND c.month = s.for_month)
      AND NOT EXISTS (SELECT 1 FROM {payment} p WHERE p.{payee} = s.{payee} AND p.for_month = s.for_month
                                                  AND p.top_up)
    ON CONFLICT ({payee}, for_month, top_up) WHERE state <> 'failed' DO NOTHING
    RETURNING kind, state, amount_fen
)"""

TALLY = """
SELECT kind, state, failure_reason = :no_account AS no_account, count(*) AS n,
       coalesce(sum(amount_fen), 0)::bigint AS fen
FROM {payment} WHERE cycle_id = :cycle_id GROUP BY 1, 2, 3
"""

BATCH = "SELECT id AS payment_id, bank_account, amount_fen FROM {payment} WHERE cycle_id = {cycle_id} AND state = 'pending' ORDER BY id"

# Each payment's one answer (two different answers for one payment in one call contradict each
# other), next to what is recorded now; in payment id order, so that the UPDATE below walks the
# payment table and its indexes in order instead of jumping around (measured on 1M answers: the
# same UPDATE in hash order took twice as long).
CLASSIFY = """
CREATE TEMPORARY TABLE bank_answer ON COMMIT DROP AS
SELECT a.payment_id, a.status, a.contradicts, a.reason, p.id IS NOT NULL AS known, p.state,
       p.{payee} AS payee, p.for_month, p.top_up, false AS repaid
FROM (SELECT payment_id, min(status) AS status, min(status) <> max(status) AS contradicts,
             max(reason) AS reason
      FROM bank_result GROUP BY payment_id) AS a
LEFT JOIN {payment} p ON p.id = a.payment_id AND p.cycle_id = :cycle_id
ORDER BY a.payment_id
"""

# A failed payment the bank now says it paid, whose month was already paid again (arrears): a
# double payment, for a person to sort out. Few rows, each probing uq_<ledger>_once.
REPAID = """
UPDATE bank_answer a SET repaid = true
WHERE a.status = 'paid' AND a.state = 'failed' AND NOT a.contradicts
  AND EXISTS (SELECT 1 FROM {payment} live WHERE live.{payee} = a.payee
                AND live.for_month = a.for_month AND live.top_up = a.top_up AND live.state <> 'failed')
"""

# What may change: pending -> paid | failed; failed -> paid while the month has no other live
# payment (the bank paid after all; if its arrears are live, that is a double payment: a conflict).
APPLY = """
WITH changed AS (
    UPDATE {payment} p SET state = a.status,
                           failure_reason = CASE WHEN a.status = 'failed' THEN a.reason END
    FROM bank_answer a
    WHERE p.id = a.payment_id AND p.cycle_id = :cycle_id
      AND a.known AND NOT a.contradicts AND NOT a.repaid
      AND (p.state = 'pending' OR (p.state = 'failed' AND a.status = 'paid'))
    RETURNING p.state
)
SELECT state, count(*) FROM changed GROUP BY state
"""

OUTCOMES = text("""
SELECT 'unchanged' AS what, NULL AS recorded, NULL AS reported, NULL::bigint AS payment_id, count(*) AS n
FROM bank_answer WHERE known AND NOT contradicts AND state = status
UNION ALL
SELECT 'conflict', state, CASE WHEN contradicts THEN 'paid and failed' ELSE status END, payment_id, 1
FROM bank_answer WHERE known AND (contradicts OR (state = 'paid' AND status = 'failed') OR repaid)
UNION ALL
SELECT 'unknown', NULL, NULL, payment_id, 1 FROM bank_answer WHERE NOT known
""")
