"""The inbox: a consumer handles an event once, however often the broker delivers it."""

from __future__ import annotations

from functools import cache

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from chassis.types import UtcDateTime

__all__ = ["claim"]


@cache
def _claim_statement(rows: int):
    # Plain SQL on purpose: `insert(...).on_conflict_do_nothing()` has no cache key in SQLAlchemy
    # and was compiled again for every call (a third of a consumer's CPU, bench/PROFILE.md). One
    # statement per batch size, one round trip per batch. PostgreSQL and SQLite (3.35+) both know
    # ON CONFLICT DO NOTHING … RETURNING.
    values = ", ".join(f"(:consumer, :e{i}, :at)" for i in range(rows))
    return text(
        f"INSERT INTO inbox (consumer, event_id, handled_at) VALUES {values} ON CONFLICT DO NOTHING RETURNING event_id"
    ).bindparams(bindparam("at", type_=UtcDateTime()))


def claim(session: Session, consumer: str, event_ids: list[str], at) -> set[str]:
    """Record that `consumer` handles these events, in the caller's transaction.

    Returns the ids claimed now; an id already handled (or repeated in the list) is claimed once,
    and the caller does nothing for the others. Two concurrent deliveries of one event both try the
    insert; the unique key lets exactly one commit.
    """
    params = {f"e{i}": event_id for i, event_id in enumerate(event_ids)}
    params.update(consumer=consumer, at=at)
    return set(session.execute(_claim_statement(len(event_ids)), params).scalars())
