"""The inbox: a consumer handles an event once, however often the broker delivers it."""
from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from chassis.types import UtcDateTime

__all__ = ["claim"]

# Plain SQL on purpose: `insert(...).on_conflict_do_nothing()` has no cache key in SQLAlchemy and
# was compiled again for every event (a third of a consumer's CPU, bench/PROFILE.md). PostgreSQL
# and SQLite (3.24+) both understand ON CONFLICT DO NOTHING.
_CLAIM = text("INSERT INTO inbox (consumer, event_id, handled_at) VALUES (:consumer, :event_id, :at) "
              "ON CONFLICT DO NOTHING").bindparams(bindparam("at", type_=UtcDateTime()))


def claim(session: Session, consumer: str, event_id: str, at) -> bool:
    """Record that `consumer` handles `event_id` in the caller's transaction.

    True the first time; False if it was already handled (the caller then does nothing). Two
    concurrent deliveries both try the insert; the unique key lets exactly one commit.
    """
    return session.execute(_CLAIM, {"consumer": consumer, "event_id": event_id, "at": at}).rowcount == 1
