"""A paying service's ledger (the payment run's two tables, named after the ledger, with the column
naming what is paid, the *payee*) declared once in its models (`PaymentTables`) and created by its
own alembic revision (`create_payment_run_tables`), as every service creates the chassis tables.
The run itself is chassis.payment_runs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from chassis.types import UtcDateTime

_Id = BigInteger().with_variant(Integer(), "sqlite")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def _identifier(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


class PaymentTables:
    """A service's payment ledger: `<name>_cycle` (one row per scope and month) and `<name>` (the
    payments), declared on the service's own metadata so its models and migrations own them.

    `payee`: the column naming what is paid (one live payment per payee and month); `carried`:
    columns the service's payee SELECT fills and the payment keeps (assistance: the household);
    `holder`: the payment column whose bank account arrears are paid to (default: the payee).
    """

    def __init__(
        self, metadata: MetaData, name: str, payee: Column, carried: Iterable[Column] = (), holder: str | None = None
    ):
        carried = list(carried)
        self.name = _identifier(name)
        self.cycle_name = f"{name}_cycle"
        self.payee = _identifier(payee.name)
        self.carried = tuple(_identifier(c.name) for c in carried)
        self.holder = _identifier(holder or payee.name)
        if self.holder not in (self.payee, *self.carried):
            raise ValueError(f"the holder {self.holder!r} must be the payee or a carried column")
        self.cycle = Table(
            self.cycle_name,
            metadata,
            Column("id", String(20), primary_key=True),  # "2026-05", or with a scope "330602-2026-05"
            Column("month", Date, nullable=False),  # first day of the month paid
            Column("state", String(20), nullable=False),  # frozen | sent | reconciled
            Column("frozen_at", UtcDateTime, nullable=False),
            Column("payments", Integer, nullable=False),
            Column("total_fen", BigInteger, nullable=False),
            Column("scope", String(12), nullable=False, server_default=text("''")),
            UniqueConstraint("scope", "month", name=f"uq_{name}_cycle_month"),
        )
        # No foreign keys: only the freeze inserts payments, from the service's SELECT, after the
        # cycle row, and nothing deletes either; checked row by row they cost half of a 1M-row run
        # (bench/PAYMENT_RUN.md).
        self.payment = Table(
            name,
            metadata,
            Column("id", _Id, primary_key=True, autoincrement=True),
            Column("cycle_id", String(20), nullable=False),
            payee,
            *carried,
            # regular | arrears (a failed payment paid again) | back_pay (a month frozen without the payee)
            # | top_up (the difference owed for a month paid short)
            Column("kind", String(10), nullable=False),
            # a top-up, or the arrears of one: a payment beside the month's ordinary one, not instead
            Column("top_up", Boolean, nullable=False, server_default=text("false")),
            Column("for_month", Date, nullable=False),
            Column("amount_fen", BigInteger, nullable=False),
            Column("bank_account", String(40)),
            Column("policy_version", Text, nullable=False),  # frozen with the payment
            Column("state", String(10), nullable=False),  # pending | paid | failed
            Column("failure_reason", Text),
            # Pays nobody twice: one live (pending or paid) ordinary payment and at most one live
            # top-up per payee and month, whatever the cycle; a failed one may be paid again as
            # arrears in a later cycle.
            Index(
                f"uq_{name}_once",
                self.payee,
                "for_month",
                "top_up",
                unique=True,
                postgresql_where=text("state <> 'failed'"),
                sqlite_where=text("state <> 'failed'"),
            ),
            Index(f"ix_{name}_cycle_state", "cycle_id", "state"),
        )


def create_payment_run_tables(name: str, payee, carried=()) -> None:
    """Version 1 of a payment ledger's tables, from a service's alembic revision: `payee` and
    `carried` are `sa.Column`s as the revision wants them. A later change to PaymentTables adds a
    `create_payment_run_tables_v2` here, so old revisions keep meaning what they meant."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        f"{name}_cycle",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("scope", sa.String(length=12), server_default=sa.text("''"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scope", "month", name=f"uq_{name}_cycle_month"),
    )
    op.create_table(
        name,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("cycle_id", sa.String(length=20), nullable=False),
        payee,
        *carried,
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("for_month", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_account", sa.String(length=40), nullable=True),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(f"ix_{name}_cycle_state", name, ["cycle_id", "state"], unique=False)
    op.create_index(
        f"uq_{name}_once",
        name,
        [payee.name, "for_month"],
        unique=True,
        postgresql_where=sa.text("state <> 'failed'"),
        sqlite_where=sa.text("state <> 'failed'"),
    )


def add_payment_top_ups(name: str, payee: str) -> None:
    """Version 2 of a payment ledger's tables, from a service's alembic revision: the `top_up`
    column, and uq_<ledger>_once over (payee, for_month, top_up) so that a month paid short can
    have its difference paid beside its ordinary payment."""
    import sqlalchemy as sa
    from alembic import op

    op.add_column(name, sa.Column("top_up", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.drop_index(f"uq_{name}_once", table_name=name)
    op.create_index(
        f"uq_{name}_once",
        name,
        [payee, "for_month", "top_up"],
        unique=True,
        postgresql_where=sa.text("state <> 'failed'"),
        sqlite_where=sa.text("state <> 'failed'"),
    )


def drop_payment_top_ups(name: str, payee: str) -> None:
    """Back to version 1: top-ups are deleted first (version 1 has no room for them)."""
    import sqlalchemy as sa
    from alembic import op

    op.execute(f"DELETE FROM {_identifier(name)} WHERE top_up")
    op.drop_index(f"uq_{name}_once", table_name=name)
    op.create_index(
        f"uq_{name}_once",
        name,
        [payee, "for_month"],
        unique=True,
        postgresql_where=sa.text("state <> 'failed'"),
        sqlite_where=sa.text("state <> 'failed'"),
    )
    op.drop_column(name, "top_up")


def drop_payment_run_tables(name: str) -> None:
    from alembic import op

    op.drop_index(f"uq_{name}_once", table_name=name)
    op.drop_index(f"ix_{name}_cycle_state", table_name=name)
    op.drop_table(name)
    op.drop_table(f"{name}_cycle")
