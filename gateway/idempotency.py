"""Idempotency-Key on POSTs: a retried request gets the first answer instead of a second effect.

The key is claimed in a transaction of its own (so a concurrent duplicate sees it at once); the
answer is stored in the worker's transaction, so it commits together with whatever the request
wrote; a failed request releases the key so the client can try again.

A request whose service did not answer in time (503) may still be committed by the service a
moment later, so its claim is kept, given up: the client's retry takes it over at once and runs
the request again, and its RPCs carry the same command ids as the first's
(chassis.remote.commands_named, from the principal and the key), so the service answers each from
its command log with the first reply instead of acting again, or, while the first is still
running, "in progress", which the client gets as 409 "retry shortly" (the claim given up again).
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from nameko.extensions import DependencyProvider
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from chassis.clock import clock_for
from chassis.db import Database
from chassis.errors import NotYet, Problem, Refused
from chassis.remote import COMMAND_IN_PROGRESS, command_base, commands_named
from gateway.models import IdempotencyRecord

# A claim older than this whose request never finished (the gateway died) may be taken over; a
# claim whose request gave up waiting for its service is dated this far back at once.
ABANDONED_AFTER = timedelta(seconds=60)


def request_hash(method: str, path: str, body) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


STILL_BEING_HANDLED = "a request with this Idempotency-Key is still being handled; retry shortly"


class IdempotencyKeys:
    def __init__(self, engine, session_getter, clock, worker_ctx):
        self._engine, self._session, self._clock, self._worker_ctx = engine, session_getter, clock, worker_ctx

    def run(self, principal: str, key: str, fingerprint: str, action):
        """Run `action() -> (status, body)` once per (principal, key); replay its answer after."""
        if not 1 <= len(key) <= 120:
            raise Refused("Idempotency-Key must be 1-120 characters", errors={"Idempotency-Key": ["bad length"]})
        replay = self._claim(principal, key, fingerprint)
        if replay is not None:
            return replay[0], replay[1], True
        try:
            with commands_named(self._worker_ctx, command_base(principal, key)):
                status, body = action()
        except Problem as problem:
            if problem.code == COMMAND_IN_PROGRESS:
                self._give_up(principal, key)
                raise NotYet(STILL_BEING_HANDLED) from None
            if problem.code == NotYet.__name__ or problem.status == 404:
                # "not yet" or "not found" (the view behind its events: a partner's report of a
                # matter it has heard of before the view has): a retry is checked afresh, not told
                # this again. Either changed nothing, so nothing is answered twice by it.
                self._release(principal, key)
            elif problem.status < 500:
                self._release(principal, key)
                self._store_separately(principal, key, fingerprint, problem.status, problem.as_json())
            elif problem.status == 503:
                # the service did not answer in time and may still act: the retry asks it again
                self._give_up(principal, key)
            else:
                self._release(principal, key)
            raise
        except Exception:
            self._release(principal, key)
            raise
        record = self._session().get(IdempotencyRecord, (principal, key))  # committed by _claim
        record.status, record.response = status, body
        return status, body, False

    def _claim(self, principal, key, fingerprint):
        now = self._clock.now()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    IdempotencyRecord.__table__.insert().values(
                        principal=principal, key=key, request_hash=fingerprint, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        with self._engine.begin() as conn:
            row = conn.execute(
                select(IdempotencyRecord.__table__)
                .where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
                .with_for_update()
            ).one()
            if row.request_hash != fingerprint:
                raise Refused(
                    "this Idempotency-Key was used for a different request",
                    errors={"Idempotency-Key": ["reused with another method, path or body"]},
                )
            if row.status is not None:
                return row.status, row.response
            if now - row.created_at < ABANDONED_AFTER:
                raise NotYet(STILL_BEING_HANDLED)
            conn.execute(
                IdempotencyRecord.__table__.update()
                .where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
                .values(created_at=now)
            )
            return None

    def _give_up(self, principal, key):
        """Keep the claim (its request's outcome is not known yet) but let the next retry take it
        over at once, as it would a claim abandoned by a gateway that died."""
        with self._engine.begin() as conn:
            conn.execute(
                IdempotencyRecord.__table__.update()
                .where(
                    IdempotencyRecord.principal == principal,
                    IdempotencyRecord.key == key,
                    IdempotencyRecord.status.is_(None),
                )
                .values(created_at=self._clock.now() - ABANDONED_AFTER)
            )

    def _release(self, principal, key):
        with self._engine.begin() as conn:
            conn.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.principal == principal, IdempotencyRecord.key == key)
            )

    def _store_separately(self, principal, key, fingerprint, status, body):
        """A refused request changed nothing; its answer is still the answer to a retry."""
        with self._engine.begin() as conn:
            conn.execute(
                IdempotencyRecord.__table__.insert().values(
                    principal=principal,
                    key=key,
                    request_hash=fingerprint,
                    status=status,
                    response=body,
                    created_at=self._clock.now(),
                )
            )


class Idempotency(DependencyProvider):
    def setup(self):
        self.database = next(d for d in self.container.dependencies if isinstance(d, Database))
        self.clock = clock_for(self.container.config)

    def get_dependency(self, worker_ctx):
        return IdempotencyKeys(
            self.database.engine, lambda: self.database.session_for(worker_ctx), self.clock, worker_ctx
        )
