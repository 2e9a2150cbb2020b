"""`python -m tests.faults.report`: the README's fault table from var/faults/results.jsonl (the
last row of each case), as markdown."""

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


def table(rows: list[dict]) -> str:
    latest = {row["case"]: row for row in rows}
    lines = [
        "| case | load | faults injected | matters (completed; stuck) | events (handled) | payments | lost | duplicated | balanced |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in latest.values():
        faults = "; ".join(row["faults"]) or "none"
        webhook = row.get("webhook") or {}  # a case with a webhook partner (rows before 2026-12-02 have none)
        lost = (
            row["unsent"]
            + sum(row["lost_to_consumers"].values())
            + row["lost_to_partners"]
            + sum(webhook.get(k, 0) for k in ("pending", "abandoned", "not_acted_on"))
        )
        twice = row["steps_twice"] + row["births_twice"] + row["marriages_twice"] + row["paid_twice"]
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
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(table([json.loads(line) for line in path.read_text().splitlines() if line.strip()]))
