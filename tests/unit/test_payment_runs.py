"""The chassis payment run's declarations, in memory: each service's ledger gets its own tables and
index names, a cycle's id says its scope and month, care's bands become the SELECT's arrays, and a
cycle's summary counts top-ups (补发) apart.
(The run itself is proved on PostgreSQL: test_assistance_payments.py, test_care_allowance_payments.py.)"""

from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String

from chassis.payment_cycles import cycle_id_of, cycle_summary
from chassis.payment_tables import PaymentTables
from services.assistance import payments as assistance_payments
from services.care import payments as care_payments
from services.care.rules import AllowancePolicy


def test_a_ledger_is_two_tables_named_after_it():
    tables = PaymentTables(MetaData(), "allowance_payment", payee=Column("resident_id", String(18), nullable=False))
    assert (tables.cycle.name, tables.payment.name) == ("allowance_payment_cycle", "allowance_payment")
    assert {i.name for i in tables.payment.indexes} == {"uq_allowance_payment_once", "ix_allowance_payment_cycle_state"}
    once = next(i for i in tables.payment.indexes if i.unique)
    # one live ordinary payment and at most one live top-up per payee and month
    assert [c.name for c in once.columns] == ["resident_id", "for_month", "top_up"]
    assert str(once.dialect_options["postgresql"]["where"]) == "state <> 'failed'"
    assert (tables.payee, tables.holder, tables.carried) == ("resident_id", "resident_id", ())


def test_the_holder_is_the_payee_or_a_carried_column_and_names_are_plain():
    payee = Column("entitlement_id", BigInteger, nullable=False)
    with pytest.raises(ValueError, match="holder"):
        PaymentTables(MetaData(), "payment", payee=payee, holder="household_id")
    with pytest.raises(ValueError, match="identifier"):
        PaymentTables(MetaData(), "payment; drop table x", payee=Column("e", BigInteger))


@pytest.mark.parametrize(
    "month, scope, cycle_id",
    [
        (date(2026, 5, 1), "", "2026-05"),
        (date(2026, 5, 31), "", "2026-05"),
        (date(2026, 12, 3), "330602", "330602-2026-12"),
    ],
)
def test_cycle_ids(month, scope, cycle_id):
    assert cycle_id_of(month, scope) == cycle_id


def test_care_bands_become_parallel_arrays_in_order():
    june, july = date(2026, 6, 1), date(2026, 7, 1)
    policy = AllowancePolicy("v1", 80, "birthday_month", {90: 10000, 80: 5000})
    arrays = care_payments.bands({("330602001001", july): policy, ("330602001001", june): policy})
    assert arrays == {
        "band_regions": ["330602001001"] * 4,
        "band_months": [june, june, july, july],
        "band_lows": [80, 90, 80, 90],
        "band_fen": [5000, 10000, 5000, 10000],
        "band_versions": ["v1"] * 4,
    }
    assert care_payments.bands({}) == {
        "band_regions": [],
        "band_months": [],
        "band_lows": [],
        "band_fen": [],
        "band_versions": [],
    }


def test_a_cycle_summary_counts_top_ups_apart_and_a_top_up_without_account_as_such():
    cycle = SimpleNamespace(id="2026-08", month=date(2026, 8, 1), state="frozen", scope="")
    summary = cycle_summary(
        cycle,
        True,
        [
            ("regular", "pending", False, 10, 100_000),
            ("top_up", "pending", False, 2, 900),
            ("top_up", "failed", True, 1, 300),
            ("arrears", "pending", False, 1, 5_000),
        ],
    )
    assert (summary.top_up, summary.top_up_fen) == (3, 1_200)
    assert (summary.regular, summary.arrears, summary.payments, summary.total_fen) == (10, 1, 14, 106_200)
    assert (summary.without_account, summary.without_account_fen) == (1, 300)
    assert (summary.to_bank, summary.to_bank_fen) == (13, 105_900)


def test_only_a_run_that_owes_top_ups_freezes_them():
    assert "top_up AS (" in str(assistance_payments.RUN._freeze)  # a revoked death's back pay
    assert "top_up AS (" not in str(care_payments.RUN._freeze)  # care pays back whole months (back_pay)
    assert "back_pay AS (" in str(care_payments.RUN._freeze)


def test_arrears_pay_what_the_service_says_is_still_owed():
    # assistance: a month after a death is owed only what the survivors are due
    assert "FROM after_death_payment l" in str(assistance_payments.RUN._freeze)
    # by default what the failed payment was for; and 0 fen pays nothing either way
    care = str(care_payments.RUN._freeze)
    assert "SELECT CAST((f.amount_fen) AS bigint) AS amount_fen) AS owed" in care
    assert "owed.amount_fen > 0" in care
