"""Emergency calls from wearable devices (紧急呼叫) and the devices' registrations. A mixin of the
care service (nameko finds inherited entrypoints).
"""

from __future__ import annotations

import uuid

from sqlalchemy import select

from chassis import (
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from chassis.errors import Conflict, refusals_as
from contracts.partners import CARE_DEVICES, CARE_PROVIDERS
from contracts.person import ResidentId
from contracts.roles import PARTNER
from services.care import rules
from services.care.exceptions import CallRefused
from services.care.models import (
    DeviceRegistration,
    EmergencyCall,
)
from services.care.schemas import (
    CallClosureSchema,
    DeviceRegistrationSchema,
    DeviceRetirementSchema,
    DeviceViewSchema,
    DispatchSchema,
    EmergencyCallSchema,
    EmergencyCallViewSchema,
    dump,
    load,
)


class EmergencyCalls:
    """Uses the care service's db, audit, clock, log."""

    # --- emergency calls from wearable devices (紧急呼叫) -------------------------------------------

    @rpc
    def register_device(self, actor, request):
        """A wearable device handed to a person, by staff of the person's area: from now on calls
        from it are taken from the platform operating it, for this person. Sent again as it is, the
        same registration; a device in service, or retired after the day, is refused (409)."""
        actor, data = Actor.from_dict(actor), load(DeviceRegistrationSchema, request)
        person = ResidentId.parse(data["resident_id"])
        region = self._region_of(person.number)
        actor.require_staff_in(region)
        today = self.clock.today()
        registered_on = data["registered_on"] or today
        if registered_on > today:
            raise InvalidInput("a device is registered once handed over", errors={"registered_on": ["in the future"]})
        known = self._device_registrations(data["device_id"], for_update=True)
        wanted = rules.Registration(data["platform"], person.number, registered_on)
        conflict = rules.registration_conflict(
            [_registration(r) for r in known], wanted, dated=data["registered_on"] is not None
        )
        if conflict == "same":
            return self._device_view(next(r for r in known if r.retired_on is None))
        if conflict:
            raise Conflict(conflict, errors={"device_id": [conflict]})
        registration = DeviceRegistration(
            id=str(uuid.uuid4()),
            device_id=data["device_id"],
            resident_id=person.number,
            region_code=region,
            platform=data["platform"],
            registered_on=registered_on,
            registered_by=actor.id,
            recorded_at=self.clock.now(),
        )
        # two registrations of one device racing: the partial unique index lets one commit (409)
        self.db.add(registration)
        self.audit.record(
            actor,
            "device.register",
            f"device-{registration.device_id}",
            "registered",
            member=str(person),
            platform=registration.platform,
            registered_on=registered_on,
        )
        return self._device_view(registration)

    @rpc
    def retire_device(self, actor, device_id, request):
        """The device leaves service (returned, lost, broken, the person moved into a home): calls
        raised from that day on are refused. Staff of the area it was registered in."""
        actor, data = Actor.from_dict(actor), load(DeviceRetirementSchema, request)
        registration = self._latest_registration(device_id, for_update=True)
        actor.require_staff_in(registration.region_code)
        refusal = rules.retirement_refusal(
            registration.registered_on, registration.retired_on, data["retired_on"], self.clock.today()
        )
        if refusal == "same":
            return self._device_view(registration)
        if refusal:
            problem = Conflict if registration.retired_on is not None else InvalidInput
            raise problem(
                f"the device cannot be retired on {data['retired_on']}: {refusal}", errors={"retired_on": [refusal]}
            )
        registration.retired_on, registration.retire_reason = data["retired_on"], data["reason"]
        self.audit.record(
            actor,
            "device.retire",
            f"device-{registration.device_id}",
            "retired",
            reason=data["reason"],
            retired_on=data["retired_on"],
        )
        return self._device_view(registration)

    @rpc
    def get_device(self, actor, device_id):
        """The device's registration in service (or its last one): staff of its area."""
        actor = Actor.from_dict(actor)
        registration = self._latest_registration(device_id)
        actor.require_staff_in(registration.region_code)
        return self._device_view(registration)

    def _device_registrations(self, device_id: str, for_update: bool = False) -> list[DeviceRegistration]:
        query = (
            select(DeviceRegistration)
            .where(DeviceRegistration.device_id == device_id)
            .order_by(DeviceRegistration.registered_on.desc(), DeviceRegistration.recorded_at.desc())
        )
        return list(self.db.execute(query.with_for_update() if for_update else query).scalars())

    def _latest_registration(self, device_id: str, for_update: bool = False) -> DeviceRegistration:
        known = self._device_registrations(device_id, for_update)
        if not known:
            raise NotFound(f"no device {device_id} is registered")
        return next((r for r in known if r.retired_on is None), known[0])

    def _device_view(self, registration: DeviceRegistration) -> dict:
        return dump(
            DeviceViewSchema,
            {
                "registration_id": registration.id,
                "device_id": registration.device_id,
                "resident_id": registration.resident_id,
                "platform": registration.platform,
                "region_code": registration.region_code,
                "registered_on": registration.registered_on,
                "retired_on": registration.retired_on,
                "retire_reason": registration.retire_reason,
            },
        )

    @rpc
    def receive_call(self, actor, request):
        """A device platform reports a call; the same call sent again is the same call. Taken only
        from the platform operating the device (its token's `org`), for the person the device is
        registered to on the day the call was raised: otherwise 403, nothing recorded but the
        refusal in the audit trail."""
        actor, data = Actor.from_dict(actor), load(EmergencyCallSchema, request)
        if not (actor.role == PARTNER and actor.id == CARE_DEVICES):
            raise Forbidden("calls come from the wearable-device platforms")
        person = ResidentId.parse(data["resident_id"])
        known = self.db.execute(
            select(EmergencyCall).where(
                EmergencyCall.device_id == data["device_id"], EmergencyCall.device_call_id == data["call_id"]
            )
        ).scalar()
        if known is not None and known.platform == actor.org and known.resident_id == person.number:
            # taken already (and perhaps answered): the same call, even if the device was retired since
            return self._call_view(known)
        raised_on = data["raised_at"].astimezone(LOCAL_ZONE).date()
        refusal = rules.call_refusal(
            [_registration(r) for r in self._device_registrations(data["device_id"])],
            actor.org,
            person.number,
            raised_on,
        )
        if refusal is not None:
            self.audit.record_refusal(
                actor,
                "emergency.call",
                f"device-{data['device_id']}",
                refusal.reason,
                member=str(person),
                call_id=data["call_id"],
                raised_on=raised_on,
            )
            self.log.warning("emergency.call_refused", device_id=data["device_id"], reason=refusal.reason)
            raise CallRefused(refusal.detail, errors={refusal.field: [refusal.reason]})
        if known is not None:  # the device's platform, for its person, before this platform took it over
            return self._call_view(known)
        call = EmergencyCall(
            id=str(uuid.uuid4()),
            device_id=data["device_id"],
            device_call_id=data["call_id"],
            platform=actor.org,
            resident_id=person.number,
            region_code=self._region_of(person.number),
            kind=data["kind"],
            state="received",
            raised_at=data["raised_at"],
        )
        # two copies of one call racing: the unique key lets one commit; the other worker fails and
        # the platform's retry then finds the first
        self.db.add(call)
        self.log.warning("emergency.call_received", call_id=call.id, kind=call.kind)
        return self._call_view(call)

    @rpc
    def open_calls(self, actor):
        """The area's calls not yet closed, oldest first."""
        actor = Actor.from_dict(actor)
        query = select(EmergencyCall).where(EmergencyCall.state != "closed")
        if not (actor.role == PARTNER and actor.id == CARE_PROVIDERS):  # the responding providers see every call
            query = query.where(actor.in_area(EmergencyCall.region_code, "emergency calls"))
        return [self._call_view(c) for c in self.db.execute(query.order_by(EmergencyCall.raised_at)).scalars()]

    @rpc
    def dispatch_call(self, actor, call_id, request):
        actor, data = Actor.from_dict(actor), load(DispatchSchema, request)
        call = self._call_step(actor, call_id, "dispatch")
        call.dispatched_at, call.responder = self.clock.now(), data["responder"]
        return self._call_view(call)

    @rpc
    def arrive_call(self, actor, call_id):
        call = self._call_step(Actor.from_dict(actor), call_id, "arrive")
        call.arrived_at = self.clock.now()
        return self._call_view(call)

    @rpc
    def close_call(self, actor, call_id, request):
        actor, data = Actor.from_dict(actor), load(CallClosureSchema, request)
        call = self._call_step(actor, call_id, "close")
        call.closed_at, call.outcome = self.clock.now(), data["outcome"]
        return self._call_view(call)

    def _call_step(self, actor: Actor, call_id: str, action: str) -> EmergencyCall:
        call = self.db.get(EmergencyCall, call_id, with_for_update=True)
        if call is None:
            raise NotFound(f"no emergency call {call_id}")
        if not (actor.role == PARTNER and actor.id == CARE_PROVIDERS):
            actor.require_staff_in(call.region_code)
        with refusals_as(Conflict):
            call.state = rules.call_transition(call.state, action)
        self.audit.record(actor, f"emergency.{action}", f"emergency-call-{call.id}", call.state)
        return call

    def _call_view(self, call: EmergencyCall) -> dict:
        return dump(
            EmergencyCallViewSchema,
            {
                "emergency_call_id": call.id,
                "kind": call.kind,
                "region_code": call.region_code,
                "state": call.state,
                "raised_at": call.raised_at,
                "dispatched_at": call.dispatched_at,
                "arrived_at": call.arrived_at,
                "responder": call.responder,
                "response_seconds": rules.response_seconds(call.raised_at, call.arrived_at),
                "outcome": call.outcome,
            },
        )


def _registration(row: DeviceRegistration) -> rules.Registration:
    return rules.Registration(row.platform, row.resident_id, row.registered_on, row.retired_on)
