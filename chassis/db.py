"""`db = Database()`: one SQLAlchemy session per worker, committed before the worker answers.

nameko hands a worker's result to its entrypoint (which acks the message or sends the reply)
*before* dependencies see it, so committing in `worker_result` would ack an event whose effects
are not yet durable. The chassis entrypoints therefore call `Database.settle` first
(chassis.entrypoints.CommitFirst); `worker_result` only settles workers nobody settled (timers).
"""

from __future__ import annotations

import sys

from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

__all__ = ["Database", "WorkerSession", "make_engine", "session_of", "dialect_insert"]


def make_engine(url: str, pool_size: int = 10, autocommit: bool = False) -> Engine:
    """`autocommit`: every connection of the pool stays in autocommit (WorkerSession.read), so none
    is switched and reset at each checkout, which costs psycopg2 a round trip on every checkin."""
    more = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if url.startswith("postgresql"):
        # psycopg2 is a C driver: without this every query would block the whole eventlet hub.
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
        # No pre-ping: it costs a round trip on every checkout. A connection the server dropped
        # fails its worker once (events are retried, HTTP answers 503) and is then replaced.
        # Overflow of twice the pool: a worker running a named command holds its lock on a second
        # connection (chassis.entrypoints.Rpc), beside the relay's and the timers' own.
        return create_engine(url, pool_size=pool_size, max_overflow=2 * pool_size, pool_recycle=1800, **more)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **more)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def dialect_insert(session: Session, table):
    """An INSERT that knows ON CONFLICT, for the two databases we run on."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


class WorkerSession(Session):
    """A worker's session, which knows whether the worker changed anything (`wrote`): a command
    that did has its reply kept in the command log (chassis.entrypoints), a query has not."""

    @property
    def wrote(self) -> bool:
        return self.info.get("wrote", False)

    def read(self, statement, params: dict | None = None) -> list:
        """The rows of one read-only statement, outside the worker's transaction, on a pooled
        connection in autocommit: no BEGIN and no COMMIT, so the read is one round trip, and the
        statement is its own snapshot. For reads that need nothing else of the transaction (the
        HTTP edge's hot reads); anything that writes, or reads twice and must agree, uses the session."""
        bind = self.info.get("reads") or self.get_bind()
        if isinstance(bind, Connection):  # a session bound to a connection: that one
            return list(bind.execute(statement, params or {}).all())
        with bind.connect() as conn:
            return list(conn.execute(statement, params or {}).all())


@event.listens_for(WorkerSession, "after_flush")
def _flushed(session, _flush_context):
    session.info["wrote"] = True


@event.listens_for(WorkerSession, "do_orm_execute")
def _executed(state):
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info["wrote"] = True


def session_of(service) -> Session:
    """The worker's session, found on the service instance (used by chassis decorators)."""
    for value in vars(service).values():
        if isinstance(value, Session):
            return value
    raise LookupError(f"{type(service).__name__} declares no Database()")


class Database(DependencyProvider):
    def __init__(self, url_key: str = "DATABASE_URL"):
        self.url_key = url_key
        self.engine: Engine  # made in setup()
        self._sessions: dict = {}

    def setup(self):
        config = self.container.config
        self.engine = make_engine(config[self.url_key], pool_size=int(config.get("max_workers", 10)))
        # a pool of its own for WorkerSession.read (opened on first use: a service that never reads
        # this way holds no connection for it)
        self.reads = make_engine(config[self.url_key], pool_size=int(config.get("max_workers", 10)), autocommit=True)

    def stop(self):
        self.engine.dispose()
        self.reads.dispose()

    def get_dependency(self, worker_ctx):
        return self.session_for(worker_ctx)

    def session_for(self, worker_ctx) -> Session:
        session = self._sessions.get(worker_ctx)
        if session is None:
            session = self._sessions[worker_ctx] = WorkerSession(self.engine, expire_on_commit=False)
            session.info["reads"] = self.reads
        return session

    def open_session(self, worker_ctx) -> WorkerSession | None:
        """The worker's session if it has one (nothing is opened for asking)."""
        return self._sessions.get(worker_ctx)

    def settle(self, worker_ctx, exc_info):
        """Commit the worker's session, or roll it back if the worker failed.

        Returns the exc_info the entrypoint should act on: a failed commit is a failed worker.
        """
        session = self._sessions.pop(worker_ctx, None)
        if session is None:
            return exc_info
        try:
            if exc_info is None:
                session.commit()
            else:
                session.rollback()
        except Exception:
            session.rollback()
            exc_info = sys.exc_info()
        finally:
            session.close()
        return exc_info

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        self.settle(worker_ctx, exc_info)

    def worker_teardown(self, worker_ctx):
        session = self._sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()

    def check_ready(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
