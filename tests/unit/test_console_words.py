"""The console's words and form parsing (gateway/console/words.py, the month arithmetic of the
payments office's queue): pure, no browser, no service."""

from datetime import date

import pytest

from gateway.console import _add_months, csrf_for, words


@pytest.mark.parametrize(
    ("text", "results", "bad"),
    [
        ("12,paid", [{"payment_id": 12, "status": "paid", "reason": None}], 0),
        (
            "12,paid\n\n13,failed,账户已冻结, 请核实\n",
            [
                {"payment_id": 12, "status": "paid", "reason": None},
                {"payment_id": 13, "status": "failed", "reason": "账户已冻结, 请核实"},  # the reason keeps its commas
            ],
            0,
        ),
        ("14\tfailed\t户名不符", [{"payment_id": 14, "status": "failed", "reason": "户名不符"}], 0),  # tabs, as pasted
        ("12,paid\nx,paid", [], 2),  # the first malformed line is named
        ("12,maybe", [], 1),
        ("12", [], 1),
        ("", [], 0),
    ],
)
def test_bank_results_are_parsed_line_by_line(text, results, bad):
    assert words.bank_results(text) == (results, bad)


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (None, "ratio", "—"),
        (0.5, "ratio", "50.0%"),
        (1.0, "ratio", "100.0%"),
        (123456, "fen", "1234.56 元"),
        (2, "households", "2 户"),
        (20.0, "working_days", "20 个工作日"),
        (5.25, "per_10k", "5.25 每万人"),
    ],
)
def test_figures_read_as_a_page_shows_them(value, unit, shown):
    assert words.figure(value, unit) == shown


def test_the_chart_draws_the_ratios_in_percent_and_only_them():
    figures = [
        {"title": "联办率", "unit": "ratio", "value": 0.5, "target": 1.0},
        {"title": "护理型床位占比", "unit": "ratio", "value": None, "target": 0.58},
        {"title": "低保户数", "unit": "households", "value": 2, "target": None},
    ]
    assert words.chart_of(figures) == {
        "titles": ["联办率", "护理型床位占比"],
        "now": [50.0, None],
        "target": [100.0, 58.0],
    }


@pytest.mark.parametrize(
    ("first", "n", "month"),
    [
        (date(2026, 6, 1), 1, date(2026, 7, 1)),
        (date(2026, 12, 1), 1, date(2027, 1, 1)),
        (date(2026, 1, 1), -1, date(2025, 12, 1)),
        (date(2026, 2, 1), -2, date(2025, 12, 1)),
        (date(2026, 6, 1), 0, date(2026, 6, 1)),
    ],
)
def test_the_payments_queue_months(first, n, month):
    assert _add_months(first, n) == month


def test_money_and_ids_as_pages_show_them():
    assert words.yuan(200500) == "2005.00 元" and words.yuan(-5) == "-0.05 元" and words.yuan(None) == "—"
    assert words.mask("330602197003011011") == "330602********1011"


def test_the_csrf_token_is_the_sessions_own():
    assert csrf_for("token-a") == csrf_for("token-a") != csrf_for("token-b")
    assert len(csrf_for("token-a")) == 40


def test_a_refusal_says_the_apis_detail_and_the_fields_it_named():
    answer = {"detail": "already claimed by caseworker-01", "errors": {"record_id": ["claimed by caseworker-01"]}}
    assert words.refusal(answer) == (
        "操作未完成：already claimed by caseworker-01（record_id: ['claimed by caseworker-01']）"
    )
    assert words.refusal(None) == "操作未完成。"
