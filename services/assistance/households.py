"""Households, exits and re-checks (复核), and the reactions to other services' events with proactive discovery (主动发现). A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy import select

from chassis import (
    SYSTEM,
    Actor,
    InvalidInput,
    NotFound,
    handle_event,
    rpc,
)
from chassis.errors import refusals_as
from contracts.assistance import (
    AlertResolutionSchema,
    AlertViewSchema,
    EntitlementViewSchema,
    ExitRequestSchema,
    HouseholdViewSchema,
    MemberIdentificationSchema,
    MemberJoinsSchema,
    MemberLeavesSchema,
    ReviewRequestSchema,
)
from contracts.person import ResidentId
from services.assistance import alerts, rules
from services.assistance.exceptions import (
    AlreadyMember,
    PolicyUnusable,
    StepRefused,
)
from services.assistance.models import (
    Alert,
    EconomicCheck,
    Entitlement,
    Household,
    Member,
    paid_after,
)
from services.assistance.schemas import (
    dump,
    load,
)
from services.assistance.shared import (
    _entitlement_fields,
    _within_days,
)


class Households:
    """Mixed into the assistance service; uses its db, outbox, audit, policy, clock."""

    # --- households, exits and re-checks (复核) --------------------------------------------------

    @rpc
    def get_household(self, actor, household_id):
        actor = Actor.from_dict(actor)
        household = self._household_by_id(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        return self._household_view(household)

    @rpc
    def add_member(self, actor, household_id, request):
        """A member joins (a newborn once the hukou gives them an ID, a relative moving in); the
        household's 低保 is recomputed at today's policy."""
        actor, data = Actor.from_dict(actor), load(MemberJoinsSchema, request)
        household = self._household(actor, household_id, for_update=True)
        members = self._current_members(household.id)
        if any(m.resident_id == data["resident_id"] for m in members):
            raise AlreadyMember(
                "this person is already a member of the household", errors={"resident_id": ["already a member"]}
            )
        born = ResidentId.parse(data["resident_id"]).birth_date
        newborn = next((m for m in members if m.resident_id is None and m.birth_date == born), None)
        if newborn is not None:
            raise AlreadyMember(
                f"{newborn.name}, born {born}, is already a member without an ID: record the ID "
                f"on member {newborn.id} instead",
                errors={"resident_id": ["record it on the newborn"]},
            )
        joining = Member(
            id=str(uuid.uuid4()),
            household_id=household.id,
            **{k: v for k, v in data.items() if k != "joined_on"},
            joined_on=data["joined_on"],
        )
        self.db.add(joining)
        change = self._recompute(household, [*members, joining], f"member joined ({actor.id})")
        self.audit.record(
            actor, "household.member_joins", f"household-{household.id}", "joined", member_id=joining.id, change=change
        )
        return self._household_view(household, [f"member {joining.name} joined", change])

    @rpc
    def member_leaves(self, actor, household_id, member_id, request):
        actor, data = Actor.from_dict(actor), load(MemberLeavesSchema, request)
        household = self._household(actor, household_id, for_update=True)
        members = self._current_members(household.id)
        leaving = next((m for m in members if m.id == member_id), None)
        if leaving is None:
            raise NotFound(f"no current member {member_id} in household {household_id}")
        leaving.left_on, leaving.left_reason = data["left_on"], data["reason"]
        self._member_left(household, leaving)
        change = self._recompute(household, [m for m in members if m is not leaving], f"member left ({actor.id})")
        self.audit.record(
            actor,
            "household.member_leaves",
            f"household-{household.id}",
            "left",
            reason=data["reason"],
            member_id=leaving.id,
            change=change,
        )
        return self._household_view(household, [f"member {leaving.name} left", change])

    @rpc
    def exit_entitlement(self, actor, entitlement_id, request):
        """退出: the entitlement ends; when the household leaves because its income rose above the
        standard, the previous benefit continues through the gradual-exit period (渐退期)."""
        actor, data = Actor.from_dict(actor), load(ExitRequestSchema, request)
        entitlement = self._entitlement(entitlement_id)
        # the household's lock, as every change of its members or benefit takes first
        household = self._household(actor, entitlement.household_id, for_update=True)
        if entitlement.ends_on is not None:
            raise StepRefused(f"the entitlement already ended on {entitlement.ends_on}")
        if data["ends_on"] < entitlement.starts_on:
            raise InvalidInput(
                "an entitlement cannot end before it starts",
                errors={"ends_on": [f"before the start {entitlement.starts_on}"]},
            )
        policy = self._assistance_policy(household.region_code, data["ends_on"])
        gradual = rules.gradual_exit(
            entitlement.monthly_amount_fen,
            data["income_rose_above_standard"],
            data["ends_on"] + timedelta(days=1),
            policy,
        )
        entitlement.ends_on, entitlement.exit_reason = data["ends_on"], data["reason"]
        entitlement.gradual_exit_until, entitlement.next_review_on = gradual.ends, None
        self.outbox.record(
            "assistance.entitlement_ended",
            f"household-{household.id}",
            {
                "household_id": household.id,
                "programme": entitlement.programme,
                "ends_on": data["ends_on"],
                "reason": data["reason"],
            },
        )
        self.audit.record(
            actor,
            "entitlement.exit",
            f"household-{household.id}",
            "ended",
            reason=data["reason"],
            policy_version=gradual.version,
            entitlement_id=entitlement.id,
            gradual_exit_until=gradual.ends,
            explanation=list(gradual.reasons),
        )
        return self._household_view(household, list(gradual.reasons))

    @rpc
    def reviews_due(self, actor, within_days=30):
        """复核 work queue: the area's open entitlements whose re-check falls due within the days."""
        actor = Actor.from_dict(actor)
        until = self.clock.today() + timedelta(days=_within_days(within_days))
        query = (
            select(Entitlement, Household.region_code)
            .join(Household, Household.id == Entitlement.household_id)
            .where(
                Entitlement.ends_on.is_(None),
                Entitlement.next_review_on <= until,
                actor.in_area(Household.region_code, "re-checks"),
            )
        )
        rows = self.db.execute(query.order_by(Entitlement.next_review_on, Entitlement.id)).all()
        checks = {}  # the latest check the re-check job made for each entitlement's current review
        if rows:
            for check in self.db.execute(
                select(EconomicCheck)
                .where(EconomicCheck.entitlement_id.in_([e.id for e, _ in rows]))
                .order_by(EconomicCheck.started_at)
            ).scalars():
                checks[(check.entitlement_id, check.for_review_on)] = check
        return [
            {
                **dump(EntitlementViewSchema, _entitlement_fields(e)),
                "household_id": e.household_id,
                "region_code": region,
                "review_check": self._review_check_view(checks.get((e.id, e.next_review_on))),
            }
            for e, region in rows
        ]

    @rpc
    def record_review(self, actor, entitlement_id, request):
        """A re-check that keeps the benefit: recorded, and the next one scheduled."""
        actor, data = Actor.from_dict(actor), load(ReviewRequestSchema, request)
        entitlement = self._entitlement(entitlement_id)
        household = self._household(actor, entitlement.household_id)
        if entitlement.ends_on is not None:
            raise StepRefused(f"the entitlement ended on {entitlement.ends_on}: nothing to re-check")
        today = self.clock.today()
        entitlement.next_review_on = self._next_review(household.region_code, today, entitlement.programme)
        self.audit.record(
            actor,
            "entitlement.review",
            f"household-{household.id}",
            "continued",
            reason=data["reason"],
            entitlement_id=entitlement.id,
            next_review_on=entitlement.next_review_on,
        )
        return self._household_view(household, [f"re-checked on {today}; next re-check {entitlement.next_review_on}"])

    def _next_review(self, region_code: str, on: date, programme: str) -> date | None:
        with refusals_as(PolicyUnusable):
            return rules.next_review(
                on, self.policy.resolve("assistance.review_months", region_code, on).value, programme
            )

    def _household(self, actor: Actor, household_id: str, for_update: bool = False) -> Household:
        """The household, for staff of its area (the one load-and-authorise signature)."""
        household = self._household_by_id(household_id, for_update)
        actor.require_staff_in(household.region_code)
        return household

    def _household_by_id(self, household_id: str, for_update: bool = False) -> Household:
        household = self.db.get(Household, household_id, with_for_update=for_update)
        if household is None:
            raise NotFound(f"no household {household_id}")
        return household

    def _entitlement(self, entitlement_id) -> Entitlement:
        if not str(entitlement_id).isdigit() or len(str(entitlement_id)) > 18:
            raise NotFound(f"no entitlement {entitlement_id}")
        entitlement = self.db.get(Entitlement, int(entitlement_id), with_for_update=True)
        if entitlement is None:
            raise NotFound(f"no entitlement {entitlement_id}")
        return entitlement

    def _household_view(self, household: Household, changes=()) -> dict:
        members = self.db.execute(
            select(Member).where(Member.household_id == household.id).order_by(Member.joined_on, Member.id)
        ).scalars()
        entitlements = self.db.execute(
            select(Entitlement).where(Entitlement.household_id == household.id).order_by(Entitlement.id)
        ).scalars()
        return dump(
            HouseholdViewSchema,
            {
                "household_id": household.id,
                "region_code": household.region_code,
                "address": household.address,
                "members": [
                    {
                        "member_id": m.id,
                        "resident_id": m.resident_id,
                        "birth_certificate_number": m.birth_certificate_number,
                        "name": m.name,
                        "relationship": m.relationship,
                        "monthly_income_fen": m.monthly_income_fen,
                        "joined_on": m.joined_on,
                        "left_on": m.left_on,
                        "left_reason": m.left_reason,
                    }
                    for m in members
                ],
                "entitlements": [_entitlement_fields(e) for e in entitlements],
                "changes": [c for c in changes if c],
            },
        )

    # --- reactions and proactive discovery (主动发现) ----------------------------------------------

    @handle_event("marriage.divorce_registered")
    def on_divorce(self, event):
        """A recipient household holding both former spouses: the one who is not the head leaves,
        and the household's 低保 is recomputed (the next payment run pays the new amount). Every
        recipient household of either party gets a visit task."""
        parties = {event.data["party_a"]["resident_id"], event.data["party_b"]["resident_id"]}
        left_on = date.fromisoformat(str(event.data["registered_on"]))
        for household in self._recipient_households(parties):
            members = self._current_members(household.id)
            in_household = [m for m in members if m.resident_id in parties]
            outcome = ""
            if len(in_household) == 2:
                leaving = next((m for m in in_household if m.relationship != "head"), in_household[1])
                leaving.left_on, leaving.left_reason = left_on, f"divorce ({event.data['certificate_number']})"
                self._member_left(household, leaving)
                outcome = " " + self._recompute(
                    household, [m for m in members if m is not leaving], f"{event.type} {event.id}"
                )
            self._raise_alert(household, event, outcome)

    @handle_event("birth.notified")
    def on_birth(self, event):
        """A child born to a member of a recipient household joins it from the birth date, known by
        the birth certificate until the hukou gives a resident ID; the household's 低保 is recomputed
        and a caseworker gets a visit task (to record the ID once registered)."""
        child = event.data["child"]
        parents = {event.data["mother_resident_id"], event.data.get("father_resident_id")} - {None}
        born = date.fromisoformat(str(child["birth_date"]))
        for household in self._recipient_households(parents):
            members = self._current_members(household.id)
            if any(m.birth_certificate_number == child["birth_certificate_number"] for m in members):
                continue  # the same birth reported again
            newborn = Member(
                id=str(uuid.uuid4()),
                household_id=household.id,
                resident_id=None,
                birth_certificate_number=child["birth_certificate_number"],
                birth_date=born,
                name=child["name"],
                relationship="child",
                monthly_income_fen=0,
                employment_cost_fen=0,
                seriously_ill=False,
                severely_disabled=False,
                pregnant=False,
                single_person_listing=False,
                joined_on=born,
            )
            self.db.add(newborn)
            change = self._recompute(household, [*members, newborn], f"{event.type} {event.id}")
            self._raise_alert(household, event, f" The child joined the household on {born}. {change}".rstrip())

    @rpc
    def identify_member(self, actor, household_id, member_id, request):
        """The newborn's resident ID, once the hukou registration gave one."""
        actor, data = Actor.from_dict(actor), load(MemberIdentificationSchema, request)
        household = self._household(actor, household_id, for_update=True)
        member = self.db.get(Member, member_id)
        if member is None or member.household_id != household.id:
            raise NotFound(f"no member {member_id} in household {household_id}")
        if member.resident_id is not None:
            raise StepRefused("the member already has a resident ID")
        person = ResidentId.parse(data["resident_id"])
        if any(m.resident_id == person.number for m in self._current_members(household.id)):
            raise AlreadyMember("another member already has this ID", errors={"resident_id": ["already a member"]})
        if member.birth_date is not None and person.birth_date != member.birth_date:
            raise InvalidInput(
                "the ID's birth date is not the member's",
                errors={"resident_id": [f"born {person.birth_date}, not {member.birth_date}"]},
            )
        member.resident_id = person.number
        self.audit.record(
            actor, "household.member_identified", f"household-{household.id}", "identified", member_id=member.id
        )
        return self._household_view(household, [f"{member.name}'s resident ID recorded"])

    def _member_left(self, household: Household, member: Member, case_id: str | None = None) -> None:
        """`case_id`: the funeral case, when the member left by death."""
        if member.resident_id:  # a newborn without an ID was never known to anyone else
            self.outbox.record(
                "assistance.member_left",
                f"household-{household.id}",
                {
                    "household_id": household.id,
                    "resident_id": member.resident_id,
                    "left_on": member.left_on,
                    "reason": member.left_reason,
                    "case_id": case_id,
                },
            )

    def _recipient_households(self, resident_ids: set[str], paying_after: date | None = None) -> list[Household]:
        """Households with a current member among `resident_ids` and an entitlement not yet ended
        (`paying_after`: one still paid for a day after it, 渐退 included, however it stands today)."""
        covers = (
            paid_after(paying_after)
            if paying_after is not None
            else (Entitlement.ends_on.is_(None)) | (Entitlement.ends_on >= self.clock.today())
        )
        return list(
            self.db.execute(
                select(Household)
                .where(
                    Household.id.in_(
                        select(Member.household_id).where(
                            Member.resident_id.in_(resident_ids), Member.left_on.is_(None)
                        )
                    ),
                    Household.id.in_(select(Entitlement.household_id).where(covers)),
                )
                .order_by(Household.id)
                .with_for_update()
            ).scalars()
        )

    def _recompute(self, household: Household, members: list[Member], cause: str) -> str:
        """The household's open 低保 entitlement at today's policy; returns what happened, in words."""
        today = self.clock.today()
        notes = []
        for entitlement in self.db.execute(
            select(Entitlement)
            .where(
                Entitlement.household_id == household.id,
                Entitlement.programme == "dibao",
                Entitlement.ends_on.is_(None),
            )
            .with_for_update()
        ).scalars():
            policy = self._assistance_policy(household.region_code, today)
            result = rules.dibao_benefit([rules.member_from(m) for m in members], today, policy)
            if not result.eligible:
                notes.append("the household no longer qualifies for 低保 on its own figures: review it for exit")
                continue
            before, entitlement.monthly_amount_fen = entitlement.monthly_amount_fen, result.monthly_fen
            entitlement.policy_version = policy.version
            self.audit.record(
                SYSTEM,
                "entitlement.recompute",
                f"household-{household.id}",
                "recomputed",
                reason=cause,
                policy_version=policy.version,
                before_fen=before,
                after_fen=result.monthly_fen,
            )
            notes.append(f"低保 recomputed from {rules.yuan(before)} to {rules.yuan(result.monthly_fen)} a month")
        return "; ".join(notes)

    def _raise_alert(self, household: Household, event, outcome: str) -> None:
        signal = alerts.SIGNALS[event.type]
        today = self.clock.today()
        visit_days = int(self.policy.resolve("assistance.alert_visit_days", household.region_code, today).value)
        alert = Alert(
            id=str(uuid.uuid4()),
            kind=signal.kind,
            household_id=household.id,
            region_code=household.region_code,
            reason=f"{signal.what}.{outcome}".rstrip("."),
            state="open",
            source_event_id=event.id,
            raised_at=self.clock.now(),
            visit_due=alerts.visit_due(today, visit_days),
        )
        self.db.add(alert)
        self.audit.record(
            SYSTEM,
            "alert.raise",
            f"alert-{alert.id}",
            "open",
            reason=f"{event.type} {event.id}",
            household_id=household.id,
            kind=signal.kind,
        )

    @rpc
    def list_alerts(self, actor, include_resolved=False):
        """The area's alerts, oldest visit first."""
        actor = Actor.from_dict(actor)
        query = select(Alert).where(actor.in_area(Alert.region_code, "alerts"))
        if not include_resolved:
            query = query.where(Alert.state != "resolved")
        return [
            self._alert_view(a) for a in self.db.execute(query.order_by(Alert.visit_due, Alert.raised_at)).scalars()
        ]

    @rpc
    def acknowledge_alert(self, actor, alert_id):
        actor = Actor.from_dict(actor)
        alert = self._alert(actor, alert_id)
        alert.state = self._alert_move(actor, alert, "acknowledge")
        alert.acknowledged_by, alert.acknowledged_at = actor.id, self.clock.now()
        self.audit.record(actor, "alert.acknowledge", f"alert-{alert.id}", alert.state)
        return self._alert_view(alert)

    @rpc
    def resolve_alert(self, actor, alert_id, request):
        actor, data = Actor.from_dict(actor), load(AlertResolutionSchema, request)
        alert = self._alert(actor, alert_id)
        alert.state = self._alert_move(actor, alert, "resolve")
        alert.resolved_by, alert.resolved_at, alert.resolution = actor.id, self.clock.now(), data["resolution"]
        self.audit.record(actor, "alert.resolve", f"alert-{alert.id}", alert.state, reason=data["resolution"])
        return self._alert_view(alert)

    def _alert(self, actor: Actor, alert_id: str) -> Alert:
        alert = self.db.get(Alert, alert_id, with_for_update=True)
        if alert is None:
            raise NotFound(f"no alert {alert_id}")
        actor.require_staff_in(alert.region_code)
        return alert

    def _alert_move(self, actor: Actor, alert: Alert, action: str) -> str:
        with refusals_as(
            StepRefused,
            code="illegal_transition",
            audit=lambda refusal: self.audit.record_refusal(
                actor, f"alert.{action}", f"alert-{alert.id}", refusal.reason
            ),
        ):
            return alerts.alert_transition(alert.state, action)

    def _alert_view(self, alert: Alert) -> dict:
        return dump(
            AlertViewSchema,
            {
                "alert_id": alert.id,
                "kind": alert.kind,
                "household_id": alert.household_id,
                "region_code": alert.region_code,
                "reason": alert.reason,
                "state": alert.state,
                "raised_at": alert.raised_at,
                "visit_due": alert.visit_due,
                "overdue": alert.state != "resolved" and alert.visit_due < self.clock.today(),
                "acknowledged_by": alert.acknowledged_by,
                "resolved_by": alert.resolved_by,
                "resolution": alert.resolution,
            },
        )
