"""志愿服务 and 时间银行: volunteers and the time bank. A mixin of the charity
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from chassis import (
    SYSTEM,
    Actor,
    Forbidden,
    InvalidInput,
    handle_event,
    rpc,
)
from chassis.errors import refusals_as
from contracts.partners import CARE_PROVIDERS
from contracts.person import ResidentId
from contracts.roles import CITIZEN, PARTNER, SYSTEM_ROLE
from services.charity import rules
from services.charity.exceptions import (
    Conflict,
    KeyReused,
    PolicyUnusable,
    RedemptionRefused,
)
from services.charity.models import (
    ServiceRecord,
    TimeBankEntry,
    Volunteer,
)
from services.charity.schemas import (
    RedemptionRequestSchema,
    RedemptionViewSchema,
    ServiceRecordRequestSchema,
    VolunteerRequestSchema,
    dump,
    load,
)
from services.charity.shared import (
    _order_key,
)


class TimeBank:
    """Mixed into the charity service; uses its db, outbox, audit, policy, clock."""

    # --- volunteers and the time bank (时间银行) ------------------------------------------------------

    @rpc
    def register_volunteer(self, actor, request):
        actor, data = Actor.from_dict(actor), load(VolunteerRequestSchema, request)
        actor.require_staff_in(data["region_code"])
        person = ResidentId.parse(data["resident_id"])
        if self.db.execute(select(Volunteer.id).where(Volunteer.resident_id == person.number)).first():
            raise Conflict("this person is a registered volunteer already", errors={"resident_id": ["registered"]})
        volunteer = Volunteer(
            id=str(uuid.uuid4()),
            resident_id=person.number,
            name=data["name"],
            region_code=data["region_code"],
            registered_on=self.clock.today(),
        )
        self.db.add(volunteer)
        self.audit.record(actor, "volunteer.register", f"volunteer-{volunteer.id}", "registered")
        return self._volunteer_view(volunteer)

    @rpc
    def get_volunteer(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        volunteer = self._volunteer(resident_id)
        if actor.role == CITIZEN:
            if actor.id != volunteer.resident_id:
                raise Forbidden("a citizen sees only their own volunteer record")
        else:
            actor.require_staff_in(volunteer.region_code)
        return self._volunteer_view(volunteer)

    @rpc
    def record_service(self, actor, resident_id, request):
        """志愿服务记录: once per service-point record; the time bank credits it from the event."""
        actor, data = Actor.from_dict(actor), load(ServiceRecordRequestSchema, request)
        volunteer = self._volunteer(resident_id, for_update=True)
        actor.require_staff_in(volunteer.region_code)
        known = self.db.execute(
            select(ServiceRecord).where(
                ServiceRecord.volunteer_id == volunteer.id, ServiceRecord.request_id == data["request_id"]
            )
        ).scalar()
        if known is not None:
            if (known.minutes, known.served_on) != (data["minutes"], data["served_on"]):
                raise KeyReused(
                    "this request id was used for another record",
                    errors={"request_id": ["used already with other minutes or day"]},
                )
            return self._volunteer_view(volunteer)
        if data["served_on"] > self.clock.today():
            raise InvalidInput("service cannot be recorded ahead", errors={"served_on": ["in the future"]})
        record = ServiceRecord(id=str(uuid.uuid4()), volunteer_id=volunteer.id, recorded_by=actor.id, **data)
        self.db.add(record)
        self.db.flush()
        self.outbox.record(
            "charity.service_recorded",
            f"volunteer-{volunteer.id}",
            {
                "record_id": record.id,
                "volunteer_id": volunteer.id,
                "minutes": record.minutes,
                "served_on": record.served_on,
            },
        )
        self.audit.record(
            actor,
            "volunteer.service",
            f"volunteer-{volunteer.id}",
            "recorded",
            minutes=record.minutes,
            activity=record.activity,
        )
        return self._volunteer_view(volunteer)

    @handle_event("charity.service_recorded")
    def on_service_recorded(self, event):
        """The time-bank credit: one per service record, however often the event comes."""
        data = event.data
        key = f"record-{data['record_id']}"
        if self.db.execute(select(TimeBankEntry.id).where(TimeBankEntry.key == key)).first():
            return
        served_on = date.fromisoformat(str(data["served_on"]))
        volunteer = self.db.get(Volunteer, data["volunteer_id"], with_for_update=True)
        rate = self.policy.resolve("charity.time_bank_credit_percent", volunteer.region_code, served_on)
        with refusals_as(PolicyUnusable):
            credit = rules.time_credit_minutes(data["minutes"], rate.value)
        self._post(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="credit",
                minutes=credit,
                key=key,
                by="time-bank",
                purpose=f"service on {served_on} ({rate.version})",
            )
        )

    @rpc
    def redeem_time_credits(self, actor, request):
        """Credits spent on care: by care itself (actor role "system", id "care"), a care provider
        (partner care_providers) or a caseworker of the volunteer's area. The caller's key sent
        again is the same redemption, answered as the first time."""
        actor, data = Actor.from_dict(actor), load(RedemptionRequestSchema, request)
        volunteer = self._volunteer(data["resident_id"], for_update=True)
        if not (
            (actor.role == SYSTEM_ROLE and actor.id == "care") or (actor.role == PARTNER and actor.id == CARE_PROVIDERS)
        ):
            actor.require_staff_in(volunteer.region_code)
        known = self.db.execute(select(TimeBankEntry).where(TimeBankEntry.key == data["redemption_key"])).scalar()
        if known is not None:
            if (known.kind, known.volunteer_id, -known.minutes) != ("redemption", volunteer.id, data["minutes"]):
                raise KeyReused(
                    "this redemption key was used for another redemption",
                    errors={"redemption_key": ["used already with another person or minutes"]},
                )
            return dump(
                RedemptionViewSchema,
                {
                    "redemption_key": known.key,
                    "minutes": data["minutes"],
                    "credit_minutes": self._balance(volunteer.id),
                },
            )
        balance = self._balance(volunteer.id)
        refusal = rules.redemption_refusal(balance, data["minutes"])
        if refusal:
            self.audit.record_refusal(actor, "time_bank.redeem", f"volunteer-{volunteer.id}", refusal)
            raise RedemptionRefused("the time bank cannot pay this", errors={"minutes": [refusal]})
        self._post(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="redemption",
                minutes=-data["minutes"],
                key=data["redemption_key"],
                purpose=data["purpose"],
                by=actor.id,
            )
        )
        self.audit.record(
            actor,
            "time_bank.redeem",
            f"volunteer-{volunteer.id}",
            "redeemed",
            minutes=data["minutes"],
            purpose=data["purpose"],
        )
        return dump(
            RedemptionViewSchema,
            {
                "redemption_key": data["redemption_key"],
                "minutes": data["minutes"],
                "credit_minutes": balance - data["minutes"],
            },
        )

    @handle_event("care.credits_requested")
    def on_credits_requested(self, event):
        """Care pays an order with the person's own credits: debited once per order (the key
        `care-order-<id>`, whatever event ids the request comes under; the events of one batch share
        this transaction, and the session flushes the first debit before the second looks), refused
        when the person holds too few or the order's cancellation came first; the answer goes back
        to care (again for a request seen before: care ignores an answer it has)."""
        data = event.data
        key, minutes = _order_key(data["order_id"]), data["minutes"]
        volunteer = self._volunteer_of(data["resident_id"])  # locked: a cancellation of the order waits
        redeemed = self._entry(key)
        answer = rules.order_credits_answer(
            volunteer is not None,
            self._balance(volunteer.id) if volunteer else 0,
            minutes,
            redeemed_already=redeemed is not None,
            order_cancelled=self._entry(f"{key}-return") is not None,
        )
        subject = f"volunteer-{volunteer.id}" if volunteer else f"order-{data['order_id']}"
        if answer.debit:
            self._post(
                TimeBankEntry(
                    volunteer_id=volunteer.id,
                    kind="redemption",
                    minutes=-minutes,
                    key=key,
                    purpose=f"home-care order {data['order_id']} ({data['service']})",
                    by="care",
                )
            )
        if answer.debit or answer.outcome == "refused":  # a request seen before is not audited again
            self.audit.record(
                SYSTEM,
                "time_bank.redeem",
                subject,
                answer.outcome,
                reason=answer.reason,
                minutes=minutes,
                order_id=data["order_id"],
                cause=f"{event.type} {event.id}",
            )
        self._answer_order(
            data["order_id"],
            answer.outcome,
            -redeemed.minutes if redeemed else (minutes if answer.debit else 0),
            answer.reason,
        )

    @handle_event("care.order_cancelled")
    def on_order_cancelled(self, event):
        """An order cancelled before delivery: the credits redeemed for it go back, once. Nothing
        redeemed yet still leaves a mark, so a request that arrives after it is refused."""
        data = event.data
        if data["payment"] != "time_bank":
            return
        volunteer = self._volunteer_of(data["resident_id"])
        if volunteer is None:
            return  # no account: nothing was or will be debited
        key = _order_key(data["order_id"])
        redeemed = self._entry(key)
        back = rules.order_credits_to_return(
            -redeemed.minutes if redeemed else None, returned_already=self._entry(f"{key}-return") is not None
        )
        if back is None:
            return
        self._post(
            TimeBankEntry(
                volunteer_id=volunteer.id,
                kind="return",
                minutes=back,
                key=f"{key}-return",
                purpose=f"home-care order {data['order_id']} cancelled: {data['reason']}",
                by="care",
            )
        )
        if back:
            self.audit.record(
                SYSTEM,
                "time_bank.return",
                f"volunteer-{volunteer.id}",
                "returned",
                minutes=back,
                order_id=data["order_id"],
                cause=f"{event.type} {event.id}",
            )
            self._answer_order(
                data["order_id"], "returned", back, f"the order was cancelled: {back} minutes credited back"
            )

    def _post(self, entry: TimeBankEntry) -> None:
        """An entry of the ledger, dated now."""
        entry.at = self.clock.now()
        self.db.add(entry)

    def _answer_order(self, order_id: str, outcome: str, minutes: int, reason: str | None) -> None:
        """Care is told what became of the credits a home-care order asked for (charity.credits_answered)."""
        self.outbox.record(
            "charity.credits_answered",
            f"order-{order_id}",
            {"order_id": order_id, "outcome": outcome, "minutes": minutes, "reason": reason},
        )

    def _volunteer_of(self, resident_id: str) -> Volunteer | None:
        """The person's time-bank account, locked for the ledger's check-then-write."""
        return self.db.execute(select(Volunteer).where(Volunteer.resident_id == resident_id).with_for_update()).scalar()

    def _entry(self, key: str) -> TimeBankEntry | None:
        return self.db.execute(select(TimeBankEntry).where(TimeBankEntry.key == key)).scalar()
