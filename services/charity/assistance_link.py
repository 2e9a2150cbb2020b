"""政府救助与慈善救助衔接: assistance referrals answered by charity. A mixin of the charity
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from chassis import (
    SYSTEM,
    handle_event,
)
from chassis.regions import region_covers
from services.charity import rules
from services.charity.models import (
    AidRecipient,
    Campaign,
    Organisation,
    Referral,
    Spending,
)


class AssistanceLink:
    """Mixed into the charity service; uses its db, outbox, audit, policy, clock."""

    # --- the assistance–charity link (政府救助与慈善救助衔接) ------------------------------------------

    @handle_event("assistance.household_referred")
    def on_household_referred(self, event):
        """Match the need to an open campaign or fund of the area, pay the aid from it, answer.
        A need any member was aided for within the policy's window is declined: helped once."""
        data = event.data
        if self.db.get(Referral, data["referral_id"]) is not None:
            return  # answered already (a copy of the event under another id)
        today = self.clock.today()
        # every open campaign is locked first, so two referrals neither spend the same money nor
        # both find the person not yet aided: what is read below is read after the other's commit
        open_campaigns = list(
            self.db.execute(
                select(Campaign, Organisation.name)
                .join(Organisation, Organisation.id == Campaign.organisation_id)
                .where(
                    Campaign.state == "filed",
                    Organisation.state == "active",
                    Campaign.starts_on <= today,
                    (Campaign.ends_on.is_(None)) | (Campaign.ends_on >= today),
                )
                .order_by(Campaign.id)
                .with_for_update(of=Campaign)
            ).all()
        )
        window = self.policy.resolve("charity.same_need_window_days", data["region_code"], today)
        since = today - timedelta(days=int(window.value))
        members = [m["resident_id"] for m in data["members"]]
        before = self.db.execute(
            select(AidRecipient.aided_on, AidRecipient.referral_id)
            .where(
                AidRecipient.resident_id.in_(members), AidRecipient.need == data["need"], AidRecipient.aided_on >= since
            )
            .order_by(AidRecipient.aided_on.desc())
            .limit(1)
        ).first()
        aided_before = f"on {before.aided_on} (referral {before.referral_id})" if before else None
        candidates = []
        for campaign, org_name in open_campaigns:
            if not region_covers(campaign.region_code, data["region_code"]):
                continue
            raised, spent = self._totals(campaign.id)
            candidates.append(
                rules.Candidate(
                    campaign.id, org_name, campaign.kind, tuple(campaign.needs), campaign.region_code, raised - spent
                )
            )
        match = rules.match_referral(data["need"], data["region_code"], data["requested_fen"], candidates, aided_before)
        campaign_id = match.campaign.campaign_id if match.campaign else None
        self.db.add(
            Referral(
                id=data["referral_id"],
                household_id=data["household_id"],
                region_code=data["region_code"],
                need=data["need"],
                requested_fen=data["requested_fen"],
                outcome=match.outcome,
                campaign_id=campaign_id,
                amount_fen=match.amount_fen,
                reason=match.reason,
                answered_on=today,
            )
        )
        if match.outcome == "aided":
            self.db.add(
                Spending(
                    id=str(uuid.uuid4()),
                    campaign_id=campaign_id,
                    request_id=f"referral-{data['referral_id']}",
                    kind="aid",
                    amount_fen=match.amount_fen,
                    purpose=f"{data['need']} aid on referral",
                    beneficiaries=len(members),
                    spent_on=today,
                    recorded_by="assistance-referral",
                )
            )
            self.db.add_all(
                [
                    AidRecipient(referral_id=data["referral_id"], resident_id=m, need=data["need"], aided_on=today)
                    for m in members
                ]
            )
        self.outbox.record(
            "charity.referral_answered",
            f"referral-{data['referral_id']}",
            {
                "referral_id": data["referral_id"],
                "household_id": data["household_id"],
                "need": data["need"],
                "outcome": match.outcome,
                "amount_fen": match.amount_fen,
                "campaign_id": campaign_id,
                "organisation": match.campaign.organisation if match.campaign else None,
                "reason": match.reason,
            },
        )
        self.audit.record(
            SYSTEM,
            "referral.answer",
            f"referral-{data['referral_id']}",
            match.outcome,
            reason=match.reason,
            policy_version=window.version,
            amount_fen=match.amount_fen,
            campaign_id=campaign_id,
            cause=f"{event.type} {event.id}",
        )
