"""Referrals to charity (政府救助与慈善救助衔接) and charity's answers. A mixin of the assistance
service (nameko finds inherited entrypoints); what the parts share is in shared.py."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from chassis import (
    SYSTEM,
    Actor,
    handle_event,
    rpc,
)
from contracts.assistance import (
    ReferralRequestSchema,
    ReferralViewSchema,
)
from services.assistance.exceptions import (
    StepRefused,
)
from services.assistance.models import (
    CharityReferral,
)
from services.assistance.schemas import dump, load


class CharityReferrals:
    """Mixed into the assistance service; uses its db, outbox, audit, clock."""

    # --- referrals to charity (政府救助与慈善救助衔接) ------------------------------------------------

    @rpc
    def refer_to_charity(self, actor, household_id, request):
        """A caseworker refers the household for a need its aid leaves uncovered; charity answers by
        event (`charity.referral_answered`). One referral per need waits for its answer at a time."""
        actor, data = Actor.from_dict(actor), load(ReferralRequestSchema, request)
        household = self._household(actor, household_id, for_update=True)
        if self.db.execute(
            select(CharityReferral.id).where(
                CharityReferral.household_id == household.id,
                CharityReferral.need == data["need"],
                CharityReferral.state == "referred",
            )
        ).first():
            raise StepRefused(
                f"the household's referral for {data['need']} awaits charity's answer",
                errors={"need": ["referred already, not yet answered"]},
            )
        members = [m for m in self._current_members(household.id) if m.resident_id]
        if not members:
            raise StepRefused(
                "the household has no member with a resident ID to refer",
                errors={"household_id": ["no identified member"]},
            )
        referral = CharityReferral(
            id=str(uuid.uuid4()),
            household_id=household.id,
            state="referred",
            referred_at=self.clock.now(),
            referred_by=actor.id,
            **data,
        )
        self.db.add(referral)
        self.outbox.record(
            "assistance.household_referred",
            f"household-{household.id}",
            {
                "referral_id": referral.id,
                "household_id": household.id,
                "region_code": household.region_code,
                "need": referral.need,
                "coverage": referral.coverage,
                "requested_fen": referral.requested_fen,
                "members": [{"resident_id": m.resident_id} for m in members],
            },
        )
        self.audit.record(
            actor,
            "household.refer_to_charity",
            f"household-{household.id}",
            "referred",
            reason=data["reason"],
            need=referral.need,
            requested_fen=referral.requested_fen,
        )
        return self._referral_view(referral)

    @rpc
    def household_referrals(self, actor, household_id):
        """The household's referrals to charity with charity's answers, oldest first."""
        actor = Actor.from_dict(actor)
        household = self._household_by_id(household_id)
        self._require_household_reader(actor, household.id, household.region_code)
        return [
            self._referral_view(r)
            for r in self.db.execute(
                select(CharityReferral)
                .where(CharityReferral.household_id == household.id)
                .order_by(CharityReferral.referred_at, CharityReferral.id)
            ).scalars()
        ]

    @handle_event("charity.referral_answered")
    def on_charity_answer(self, event):
        """Charity's aid (or its refusal) recorded on the household's referral."""
        data = event.data
        referral = self.db.get(CharityReferral, data["referral_id"], with_for_update=True)
        if referral is None or referral.state != "referred":
            return  # not ours, or answered already
        referral.state, referral.answer = data["outcome"], data["reason"]
        referral.aid_fen, referral.campaign_id = data["amount_fen"], data["campaign_id"]
        referral.organisation = data["organisation"]
        self.audit.record(
            SYSTEM,
            "household.charity_answer",
            f"household-{referral.household_id}",
            data["outcome"],
            reason=data["reason"],
            referral_id=referral.id,
            aid_fen=data["amount_fen"],
            cause=f"{event.type} {event.id}",
        )

    def _referral_view(self, referral: CharityReferral) -> dict:
        return dump(
            ReferralViewSchema,
            {
                "referral_id": referral.id,
                "household_id": referral.household_id,
                "need": referral.need,
                "coverage": referral.coverage,
                "requested_fen": referral.requested_fen,
                "state": referral.state,
                "referred_at": referral.referred_at,
                "aid_fen": referral.aid_fen,
                "campaign_id": referral.campaign_id,
                "organisation": referral.organisation,
                "answer": referral.answer,
            },
        )
