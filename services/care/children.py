"""Child welfare (儿童福利): children located to village and household, their screenings, follow-ups
and the villages' child directors. A mixin of the care service (nameko finds inherited entrypoints).
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import select

from chassis import (
    SYSTEM,
    Actor,
    InvalidInput,
    NotFound,
    handle_event,
    rpc,
)
from chassis.errors import Conflict, refusals_as
from chassis.regions import is_region_code
from contracts.person import AGE_OF_MAJORITY, ResidentId, age_on
from services.care import rules
from services.care.exceptions import OutsideArea, PolicyUnusable
from services.care.models import (
    Child,
    ChildAdoption,
    ChildDirector,
    Screening,
)
from services.care.schemas import (
    ChildDirectorRequestSchema,
    ChildRequestSchema,
    ChildViewSchema,
    ScreeningRequestSchema,
    dump,
    load,
)


class ChildWelfare:
    """Uses the care service's db, audit, policy, clock."""

    # --- child welfare (儿童福利) --------------------------------------------------------------------

    @rpc
    def register_child(self, actor, request):
        """A child the system follows, located to village, household and child; registering again
        updates the record (a move, a new guardian, a change of placement)."""
        actor, data = Actor.from_dict(actor), load(ChildRequestSchema, request)
        actor.require_staff_in(data["village_code"])
        person = ResidentId.parse(data["resident_id"])
        if person.age_on(self.clock.today()) >= AGE_OF_MAJORITY:
            raise InvalidInput("an adult is not followed by child welfare", errors={"resident_id": ["aged 18 or over"]})
        if data["category"] in rules.ALLOWANCE_CATEGORIES:  # the region's allowance, or a 422 naming village_code
            self.policy.resolve("care.child_allowance_fen", data["village_code"], self.clock.today(), "village_code")
        child = self.db.get(Child, person.number, with_for_update=True)
        if child is None:
            child = Child(resident_id=person.number, birth_date=person.birth_date)
            self.db.add(child)
        elif not actor.covers(child.village_code):
            raise OutsideArea("the child is followed outside your area")
        for field in ("name", "category", "placement", "village_code", "household", "guardian", "guardian_resident_id"):
            setattr(child, field, data[field])
        child.registered_by, child.updated_at = actor.id, self.clock.now()
        self.audit.record(actor, "child.register", f"child-{person}", data["category"])
        return self._child_view(child)

    @rpc
    def get_child(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        child = self._child(actor, resident_id)
        return self._child_view(child)

    @rpc
    def screen_child(self, actor, resident_id, request):
        """困境儿童 screening: its colour sets how soon someone follows up (policy days)."""
        actor, data = Actor.from_dict(actor), load(ScreeningRequestSchema, request)
        child = self._child(actor, resident_id, for_update=True)
        if data["screened_on"] > self.clock.today():
            raise InvalidInput("a screening cannot be in the future", errors={"screened_on": ["in the future"]})
        days = self.policy.resolve("care.follow_up_days", child.village_code, data["screened_on"], "village_code")
        with refusals_as(PolicyUnusable, also=(AttributeError,)):
            due = rules.follow_up_due(data["screened_on"], data["level"], days.value)
        screening = Screening(
            id=str(uuid.uuid4()),
            resident_id=child.resident_id,
            village_code=child.village_code,
            level=data["level"],
            findings=data["findings"],
            screened_on=data["screened_on"],
            follow_up_due=due,
            screened_by=actor.id,
        )
        self.db.add(screening)
        self.audit.record(
            actor, "child.screen", f"screening-{screening.id}", data["level"], policy_version=days.version
        )
        return {**self._child_view(child), "screening_id": screening.id}

    @rpc
    def follow_ups(self, actor):
        """The area's open follow-ups, the most overdue first."""
        actor = Actor.from_dict(actor)
        query = (
            select(Screening, Child.name)
            .join(Child, Child.resident_id == Screening.resident_id)
            .where(Screening.followed_up_on.is_(None), actor.in_area(Screening.village_code, "follow-ups"))
        )
        today = self.clock.today()
        return [
            {
                "screening_id": s.id,
                "resident_id": s.resident_id,
                "name": name,
                "level": s.level,
                "village_code": s.village_code,
                "follow_up_due": s.follow_up_due.isoformat(),
                "overdue": s.follow_up_due < today,
            }
            for s, name in self.db.execute(query.order_by(Screening.follow_up_due, Screening.id))
        ]

    @rpc
    def record_follow_up(self, actor, screening_id):
        actor = Actor.from_dict(actor)
        screening = self.db.get(Screening, screening_id, with_for_update=True)
        if screening is None:
            raise NotFound(f"no screening {screening_id}")
        actor.require_staff_in(screening.village_code)
        if screening.followed_up_on is not None:
            raise Conflict(f"followed up on {screening.followed_up_on} already")
        screening.followed_up_on = self.clock.today()
        self.audit.record(actor, "child.follow_up", f"screening-{screening.id}", "followed_up")
        return {"screening_id": screening.id, "followed_up_on": screening.followed_up_on.isoformat()}

    @rpc
    def appoint_child_director(self, actor, request):
        """儿童主任: one per village; appointing another replaces the previous (audited)."""
        actor, data = Actor.from_dict(actor), load(ChildDirectorRequestSchema, request)
        actor.require_staff_in(data["village_code"])
        director = self.db.get(ChildDirector, data["village_code"], with_for_update=True)
        previous = director.name if director else None
        if director is None:
            director = ChildDirector(village_code=data["village_code"])
            self.db.add(director)
        director.name, director.phone, director.appointed_on = data["name"], data["phone"], self.clock.today()
        self.audit.record(
            actor, "child_director.appoint", f"village-{data['village_code']}", "appointed", replaced=previous
        )
        return {"village_code": director.village_code, "name": director.name, "replaced": previous}

    @rpc
    def village_children(self, actor, village_code):
        """Everyone followed in a village, by household: where each left-behind child lives."""
        actor = Actor.from_dict(actor)
        if not is_region_code(village_code) or len(village_code) != 12:
            raise InvalidInput("not a village code", errors={"village_code": ["12 digits"]})
        actor.require_staff_in(village_code)
        children = self.db.execute(
            select(Child).where(Child.village_code == village_code).order_by(Child.household, Child.name)
        ).scalars()
        return [self._child_view(c) for c in children]

    def _child(self, actor: Actor, resident_id: str, for_update: bool = False) -> Child:
        child = self.db.get(Child, self._resident(resident_id).number, with_for_update=for_update)
        if child is None:
            raise NotFound("no such child followed by child welfare")
        actor.require_staff_in(child.village_code)
        return child

    def _child_view(self, child: Child) -> dict:
        today = self.clock.today()
        age = age_on(child.birth_date, today)
        entitled = child.category in rules.ALLOWANCE_CATEGORIES  # others have none, wherever they live
        amounts = (
            self.policy.resolve("care.child_allowance_fen", child.village_code, today, "village_code").value
            if entitled
            else {}
        )
        with refusals_as(PolicyUnusable, also=(AttributeError,)):
            monthly = rules.child_allowance_fen(child.category, child.placement, age, amounts)
        latest = self.db.execute(
            select(Screening)
            .where(Screening.resident_id == child.resident_id)
            .order_by(Screening.screened_on.desc(), Screening.id.desc())
            .limit(1)
        ).scalar()
        director = self.db.get(ChildDirector, child.village_code)
        return dump(
            ChildViewSchema,
            {
                "resident_id": child.resident_id,
                "name": child.name,
                "age": age,
                "category": child.category,
                "placement": child.placement,
                "village_code": child.village_code,
                "household": child.household,
                "guardian": child.guardian,
                "monthly_allowance_fen": monthly,
                "risk_level": latest.level if latest else None,
                "follow_up_due": latest.follow_up_due if latest and latest.followed_up_on is None else None,
                "child_director": director.name if director else None,
            },
        )

    @handle_event("adoption.registered")
    def on_adoption_registered(self, event):
        """收养登记 of a child a welfare institution raised: child welfare records where the child
        went and from when (an adoption by a family, not from an institution, is not care's)."""
        data = event.data
        if not data.get("institution_code"):
            return
        child = data["adoptee"]
        adopted_on = date.fromisoformat(str(data["registered_on"]))
        self.db.add(
            ChildAdoption(
                adoption_id=data["adoption_id"],
                child_resident_id=child["resident_id"],
                institution_code=data["institution_code"],
                adopted_on=adopted_on,
                recorded_at=self.clock.now(),
            )
        )
        followed = self.db.get(Child, child["resident_id"], with_for_update=True)
        self.audit.record(
            SYSTEM,
            "child.adopted",
            f"adoption-{data['adoption_id']}",
            "recorded",
            institution_code=data["institution_code"],
            adopted_on=adopted_on.isoformat(),
            followed_by_child_welfare=followed is not None,
        )
