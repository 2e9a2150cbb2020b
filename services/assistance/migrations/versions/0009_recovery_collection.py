"""追回: the payments a death found for months after it (so that the bank's answers recount the
overpayment, and arrears pay such a month only what it is still due), each entry on a recovery
(repayments, write-offs, refunds), and the recovery's written-off and refunded totals

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from chassis.types import UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Deaths recorded before this revision: every payment of a benefit the death changed, for a month
# after the month of death, from a cycle frozen before the death was recorded (what the death
# found then), with the amount the benefit was recomputed to (0 when it ended). PostgreSQL only:
# the payment run, and so any payment, exists only there.
_BACKFILL = """
INSERT INTO after_death_payment (case_id, entitlement_id, payment_id, cycle_id, for_month, amount_fen, due_fen)
SELECT d.case_id, p.entitlement_id, p.id, p.cycle_id, p.for_month, p.amount_fen,
       CAST(b ->> 'after_fen' AS bigint)
FROM death_record d
CROSS JOIN LATERAL json_array_elements(d.changes) AS h
CROSS JOIN LATERAL json_array_elements(h -> 'benefits') AS b
JOIN payment p ON p.entitlement_id = CAST(b ->> 'entitlement_id' AS bigint) AND p.for_month > d.date_of_death
JOIN payment_cycle c ON c.id = p.cycle_id AND c.frozen_at < d.recorded_at
WHERE d.state = 'applied'
ON CONFLICT DO NOTHING
"""


def upgrade():
    op.create_table(
        "after_death_payment",
        sa.Column("id", _Id, autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("entitlement_id", _Id, nullable=False),
        sa.Column("payment_id", _Id, nullable=False),
        sa.Column("cycle_id", sa.String(length=20), nullable=False),
        sa.Column("for_month", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("due_fen", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "payment_id", name="uq_after_death_payment"),
    )
    op.create_index("ix_after_death_payment_payment_id", "after_death_payment", ["payment_id"])
    op.create_index("ix_after_death_payment_cycle_id", "after_death_payment", ["cycle_id"])
    op.add_column(
        "recovery", sa.Column("written_off_fen", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("recovery", sa.Column("refunded_fen", sa.BigInteger(), server_default=sa.text("0"), nullable=False))
    op.create_table(
        "repayment",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recovery_id", sa.String(length=36), nullable=False),
        sa.Column("method", sa.String(length=12), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["recovery_id"], ["recovery.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_repayment_recovery_id", "repayment", ["recovery_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_BACKFILL)


def downgrade():
    op.drop_index("ix_repayment_recovery_id", table_name="repayment")
    op.drop_table("repayment")
    with op.batch_alter_table("recovery") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("refunded_fen")
        batch.drop_column("written_off_fen")
    op.drop_index("ix_after_death_payment_cycle_id", table_name="after_death_payment")
    op.drop_index("ix_after_death_payment_payment_id", table_name="after_death_payment")
    op.drop_table("after_death_payment")
