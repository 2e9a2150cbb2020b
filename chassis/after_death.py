"""身后一件事: the one participant every service that a death touches mixes in (marriage,
assistance, care), so the protocol is written once and each service says only what a death
stops in its own records.

The protocol (contracts.funeral.after_death_action decides it from the service's own record):
the first notice stops (`death_stop`); a revocation restores what was applied (`death_restore`)
or closes a record that applied nothing; a corrected date undoes what the old date did and stops
again as of the new one in one transaction (`death_restate`); a revocation that overtakes its
notice leaves a `revoked` tombstone, so the late notice changes nothing, and reports the step
not applicable, or it would stay pending and the matter revoking. Copies, stale corrections and
notices after a revocation change nothing. The record then stands on the event's revision of the
date.

A service declares:
- `death_record`: its model with case_id, resident_id, date_of_death, date_revision, state and
  recorded_at (`changes` and `reversed_at` if it keeps them);
- `death_step`: the name of its step of the matter (contracts.matters);
- `no_death_changes`: what `changes` holds when nothing changed (a tombstone's);
- the hooks `death_stop(event, record)` (record None on a first notice; the not_applicable
  record a corrected date finds otherwise), `death_restore(event, record)` and
  `death_restate(event, record)`, each returning the `DeathStep` it took, which the participant
  reports as the service's step of the matter; and, if it must, `death_closed(record)` and
  `death_tombstoned(data)` (both nothing by default, reporting nothing).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

from chassis.events import handle_event
from contracts.funeral import REVOKED_BEFORE_NOTICE, OnDeath, after_death_action, date_revision, step_reason

DEATH_EVENTS = ("death.notified", "death.revoked", "death.date_corrected")


@dataclass(frozen=True)
class DeathStep:
    """What a hook did about a death, as the service's step of the matter is reported: its state
    and what was done, in words, in the order done (the step's reason joins them)."""

    state: str  # done | not_applicable | reversed
    notes: tuple[str, ...]

    @classmethod
    def done(cls, notes: Iterable[str]) -> DeathStep:
        return cls("done", tuple(notes))

    @classmethod
    def not_applicable(cls, why: str) -> DeathStep:
        return cls("not_applicable", (why,))

    @classmethod
    def reversed(cls, notes: Iterable[str]) -> DeathStep:
        return cls("reversed", tuple(notes))

    def reason(self, event_type: str, data: dict) -> str:
        """Led by the correction after death.date_corrected, so the step says which date it is on."""
        return step_reason(event_type, data, "; ".join(self.notes))


class AfterDeathParticipant:
    """Mixed into a service that has `db`, `clock` and `outbox` (nameko finds the inherited handler)."""

    death_record: ClassVar[Any]  # the service's model (a declarative class)
    death_step: ClassVar[str]
    no_death_changes: ClassVar[Any] = None

    # what the services provide (declared here for the type checker only)
    db: Any
    clock: Any
    outbox: Any
    death_stop: Callable[..., DeathStep]  # the hooks (below): annotations only, each service defines them
    death_restore: Callable[..., DeathStep]
    death_restate: Callable[..., DeathStep]

    @handle_event(*DEATH_EVENTS)
    def on_death(self, event):
        data = event.data
        record = self.db.get(self.death_record, data["case_id"], with_for_update=True)
        revision = date_revision(event.type, data)
        action = after_death_action(
            event.type, record.state if record else None, record.date_revision if record else 0, revision
        )
        step = None
        if action is OnDeath.STOP:
            step = self.death_stop(event, record)
        elif action is OnDeath.RESTORE:
            step = self.death_restore(event, record)
        elif action is OnDeath.RESTATE:
            step = self.death_restate(event, record)
        elif action is OnDeath.CLOSE:
            record.state = "reversed"
            self.death_closed(record)
        elif action is OnDeath.TOMBSTONE:
            self.death_tombstoned(data)
            self.db.add(self._tombstone(data))
            step = DeathStep.not_applicable(REVOKED_BEFORE_NOTICE)
        if step is not None:
            # the outbox takes the matter id from the event being handled
            self.outbox.report_step(
                f"death-case-{data['case_id']}",
                "after_death",
                self.death_step,
                step.state,
                step.reason(event.type, data),
            )
        if action in (OnDeath.STOP, OnDeath.RESTATE):  # the record stands on this event's date now
            self.db.get(self.death_record, data["case_id"]).date_revision = revision

    def _tombstone(self, data: dict):
        columns = self.death_record.__table__.columns
        now = self.clock.now()
        extra: dict[str, Any] = {}
        if "changes" in columns:
            extra["changes"] = copy.deepcopy(self.no_death_changes)
        if "reversed_at" in columns:
            extra["reversed_at"] = now
        return self.death_record(
            case_id=data["case_id"],
            resident_id=data["resident_id"],
            date_of_death=date.fromisoformat(str(data["date_of_death"])),
            state="revoked",
            recorded_at=now,
            **extra,
        )

    # --- the service's hooks ------------------------------------------------------------------
    # death_stop(event, record), death_restore(event, record) and death_restate(event, record) are
    # the service's own, each returning its DeathStep: a class without them is refused when it is
    # defined, not when a death comes.

    HOOKS = ("death_stop", "death_restore", "death_restate")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = [hook for hook in cls.HOOKS if not callable(getattr(cls, hook, None))]
        if missing:
            raise TypeError(f"{cls.__name__} takes part in 身后一件事 without {', '.join(missing)}")

    def death_closed(self, record) -> None:
        """A revocation of a death that applied nothing here."""

    def death_tombstoned(self, data: dict) -> None:
        """A revocation that overtook its notice, before its tombstone is written."""
