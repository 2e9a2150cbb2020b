"""`python -m tests.faults.report [--compact] [results.jsonl]`: the fault table from
var/faults/results.jsonl (the last row of each case), as markdown: in full for docs/bench/faults.md,
`--compact` for the README."""

from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "var" / "faults" / "results.jsonl"


def verdict(row: dict, lost: int, twice: int) -> str:
    """yes, or what kept the run from balancing (tests/faults/load.py assert_balanced)."""
    why = [*row.get("failures", [])]
    if row["stuck"]:
        why.append(f"{row['stuck']} matters stuck")
    if lost:
        why.append(f"{lost} lost")
    if twice:
        why.append(f"{twice} twice")
    if (row["payments"], row["paid_twice"], row["unpaid"]) != (row["payments_expected"], 0, 0):
        why.append("payments do not balance")
    if row["dead_letters"]:
        why.append(f"dead letters {row['dead_letters']}")
    return "yes" if not why else "no: " + "; ".join(why)


# what each case does, in a few words (its nemesis in test_faults.py says it in full)
CASE_SUMMARY = {
    "baseline": "none",
    "kill9_processes": "kill -9 of an instance of every kind of process",
    "broker_node": "a broker node killed; a queue leader moved",
    "pg_terminate": "every PostgreSQL connection dropped",
    "pg_restart": "PostgreSQL crashed and restarted",
    "broker_network": "the broker's network slowed, then cut",
    "partner_down_an_hour": "人社's webhook endpoint down for an hour of moved clock",
}


def counts(row: dict) -> tuple[int, int, dict]:
    """(lost, duplicated, the webhook part) of a row, as tests/faults/load.py assert_balanced counts them."""
    webhook = row.get("webhook") or {}  # a case with a webhook partner (rows before 2026-12-02 have none)
    lost = (
        row["unsent"]
        + sum(row["lost_to_consumers"].values())
        + row["lost_to_partners"]
        + sum(webhook.get(k, 0) for k in ("pending", "abandoned", "not_acted_on"))
    )
    twice = row["steps_twice"] + row["births_twice"] + row["marriages_twice"] + row["paid_twice"]
    return lost, twice, webhook


def latest(rows: list[dict]) -> list[dict]:
    """The last row of each case, in the order the cases are listed (CASE_SUMMARY), others after."""
    last = {row["case"]: row for row in rows}
    order = list(CASE_SUMMARY)
    return sorted(last.values(), key=lambda r: order.index(r["case"]) if r["case"] in order else len(order))


def compact_table(rows: list[dict]) -> str:
    lines = [
        "| case | faults injected | matters completed | events | payments | lost | duplicated | balanced |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in latest(rows):
        lost, twice, _ = counts(row)
        lines.append(
            f"| {row['case']} | {CASE_SUMMARY.get(row['case'], row['case'])} | "
            f"{row['completed']} of {row['matters']} | {row['events']} | {row['payments']} of {row['payments_expected']} | "
            f"{lost} | {twice} | {verdict(row, lost, twice).split(':')[0]} |"
        )
    return "\n".join(lines)


def table(rows: list[dict]) -> str:
    lines = [
        "| case | load | faults injected | matters (completed; stuck) | events (handled) | payments | lost | duplicated | balanced |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in latest(rows):
        faults = "; ".join(row["faults"]) or "none"
        lost, twice, webhook = counts(row)
        copies = f"{row['partner_copies']} partner copies by AMQP"
        if webhook:
            copies += (
                f", {webhook['messages']} by webhook ({webhook['refused_while_down']} deliveries refused while down)"
            )
        absorbed = row["redelivered_to_partners"] + webhook.get("redelivered", 0)
        lines.append(
            f"| {row['case']} | {row['load']}, {row['instances']} instances of each process | {faults} | "
            f"{row['matters']} ({row['completed']}; {row['stuck']}) | {row['events']} ({row['handled']} consumer deliveries, "
            f"{copies}) | {row['payments']} of {row['payments_expected']} | {lost} | "
            f"{twice} (redelivered and absorbed: {absorbed}) | {verdict(row, lost, twice)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--compact"]
    path = Path(args[0]) if args else RESULTS
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print((compact_table if "--compact" in sys.argv else table)(rows))
