"""The inbox: a consumer handles an event once, however often the broker delivers it."""
from __future__ import annotations

from sqlalchemy import bindparam
from sqlalchemy.orm import Session

from chassis.db import dialect_insert
from chassis.tables import inbox

__all__ = ["claim"]


def claim(session: Session, consumer: str, event_id: str, at) -> bool:
    """Record that `consumer` handles `event_id` in the caller's transaction.

    True the first time; False if it was already handled (the caller then does nothing). Two
    concurrent deliveries both try the insert; the unique key lets exactly one commit.
    """
    statement = _CLAIMS.get(session.bind.dialect.name)
    if statement is None:
        statement = _CLAIMS[session.bind.dialect.name] = dialect_insert(session, inbox).values(
            consumer=bindparam("consumer"), event_id=bindparam("event_id"), handled_at=bindparam("at"),
        ).on_conflict_do_nothing()
    return session.execute(statement, {"consumer": consumer, "event_id": event_id, "at": at}).rowcount == 1


_CLAIMS: dict = {}  # one prepared statement per dialect, built once
