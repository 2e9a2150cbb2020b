"""Funeral affairs (殡葬), the owner of 身后一件事: entrypoints only move data between the wire, the
rules (`rules.py`) and the database.

A death may be notified by the hospital (its death certificate, through the health department),
the police, a funeral home, or the family; whichever comes first opens the case and the matter and
publishes `death.notified` once. Later notices of the same person join the case; one that gives
another date of death flags the case for a clerk (never a guess). The other services and the
partner departments each react to `death.notified` and report their own step; a revocation by an
authorised clerk publishes `death.revoked`, and each of them reverses what it did; a date of death
a clerk confirms in place of the notified one publishes `death.date_corrected`, and each of them
takes its step again with that date.
"""

from __future__ import annotations

from sqlalchemy import func, select

from chassis import (
    Actor,
    Audit,
    Clock,
    Database,
    Logger,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    rpc,
)
from chassis.regions import region_prefix, require_region_code
from contracts.roles import EMPLOYEES, FUNERAL_HOME
from services.funeral import rules
from services.funeral.cases import FuneralCases
from services.funeral.exceptions import UnknownCase
from services.funeral.indicators import Indicators
from services.funeral.intake import DeathIntake
from services.funeral.models import Booking, Burial, DeathCase, DeathNotice, Niche
from services.funeral.schemas import (
    CaseViewSchema,
    DeathNoticeReceiptSchema,
    FuneralIndicatorsSchema,
    NicheBatchSchema,
    NicheInventorySchema,
    dump,
    load,
)


class FuneralService(DeathIntake, FuneralCases, Indicators, Operable):
    name = "funeral"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()

    # --- niches and indicators -------------------------------------------------------------------

    @rpc
    def add_niches(self, actor, request):
        """骨灰安放格位 added to a columbarium's inventory."""
        actor, data = Actor.from_dict(actor), load(NicheBatchSchema, request)
        actor.require_staff_in(data["region_code"], also=(FUNERAL_HOME,))
        last = self.db.execute(
            select(func.coalesce(func.max(Niche.position), 0)).where(Niche.facility == data["facility"])
        ).scalar_one()
        self.db.add_all(
            [
                Niche(facility=data["facility"], region_code=data["region_code"], position=last + i + 1)
                for i in range(data["count"])
            ]
        )
        self.audit.record(actor, "niche.add", f"facility-{data['facility']}", "added", count=data["count"])
        return self._inventory(data["region_code"])

    @rpc
    def niche_inventory(self, actor, region_code):
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code, also=(FUNERAL_HOME,))
        return self._inventory(region_code)

    def _inventory(self, region_code: str) -> dict:
        self.db.flush()
        rows = self.db.execute(
            select(Niche.facility, func.count(), func.count(Niche.case_id))
            .where(Niche.region_code.startswith(region_prefix(region_code), autoescape=True))
            .group_by(Niche.facility)
            .order_by(Niche.facility)
        ).all()
        facilities = [
            {"facility": f, "total": total, "allocated": taken, "free": total - taken} for f, total, taken in rows
        ]
        return dump(
            NicheInventorySchema,
            {"region_code": region_code, "facilities": facilities, "free": sum(f["free"] for f in facilities)},
        )

    @rpc
    def indicators(self, actor, region_code):
        """火化率 and 节地生态安葬率 of the region's cases (revoked ones do not count)."""
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code)
        within = DeathCase.region_code.startswith(region_prefix(region_code), autoescape=True)
        deaths, cremated = self.db.execute(
            select(func.count(), func.count().filter(DeathCase.state == "cremated")).where(
                within, DeathCase.state != "revoked"
            )
        ).one()
        burials, eco, rewards = self.db.execute(
            select(
                func.count(), func.count().filter(Burial.eco.is_(True)), func.coalesce(func.sum(Burial.reward_fen), 0)
            )
            .join(DeathCase, DeathCase.id == Burial.case_id)
            .where(within, DeathCase.state != "revoked")
        ).one()
        rates = rules.indicators(deaths, cremated, burials, eco)
        return dump(
            FuneralIndicatorsSchema,
            {
                "region_code": region_code,
                "deaths": deaths,
                "cremated": cremated,
                "cremation_rate": rates.cremation_rate,
                "burials": burials,
                "eco_burials": eco,
                "eco_burial_rate": rates.eco_burial_rate,
                "rewards_fen": int(rewards),
            },
        )

    # --- shared ----------------------------------------------------------------------------------

    def _case_by_id(self, case_id: str, for_update: bool = False) -> DeathCase:
        query = select(DeathCase).where(DeathCase.id == str(case_id))
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        case = self.db.execute(query).scalar_one_or_none()
        if case is None:
            raise UnknownCase(f"no funeral case {case_id}")
        return case

    def _case(self, actor: Actor, case_id: str, for_update: bool = False, funeral_home: bool = False) -> DeathCase:
        """The case, for staff of its area; `funeral_home`: funeral-home staff too (what a funeral
        home does: bookings, burial, cremation; never a revocation or the date of death)."""
        case = self._case_by_id(case_id, for_update)
        actor.require_staff_in(case.region_code, also=(FUNERAL_HOME,) if funeral_home else ())
        return case

    def _reported_dates(self, case: DeathCase) -> list:
        return sorted(
            set(self.db.execute(select(DeathNotice.date_of_death).where(DeathNotice.case_id == case.id)).scalars())
        )

    def _notice_answer(self, actor: Actor, case: DeathCase, duplicate: bool) -> dict:
        """Staff see the case; a partner or the family only the receipt of its notice, since the
        case holds other sources' notices and the family's arrangements (minimal disclosure)."""
        if actor.role in EMPLOYEES:
            return self._case_view(case, duplicate=duplicate)
        self.db.flush()
        return dump(
            DeathNoticeReceiptSchema,
            {
                "case_id": case.id,
                "matter_id": case.matter_id,
                "state": case.state,
                "date_of_death": case.date_of_death,
                "date_conflict": case.date_conflict,
                "duplicate": duplicate,
            },
        )

    def _case_view(self, case: DeathCase, duplicate: bool = False) -> dict:
        self.db.flush()
        notices = (
            self.db.execute(
                select(DeathNotice)
                .where(DeathNotice.case_id == case.id)
                .order_by(DeathNotice.received_at, DeathNotice.id)
            )
            .scalars()
            .all()
        )
        bookings = (
            self.db.execute(select(Booking).where(Booking.case_id == case.id).order_by(Booking.kind)).scalars().all()
        )
        burial = self.db.get(Burial, case.id)
        niche = self.db.get(Niche, burial.niche_id) if burial is not None and burial.niche_id else None
        return dump(
            CaseViewSchema,
            {
                "case_id": case.id,
                "matter_id": case.matter_id,
                "resident_id": case.resident_id,
                "name": case.name,
                "region_code": case.region_code,
                "date_of_death": case.date_of_death,
                "state": case.state,
                "date_conflict": case.date_conflict,
                "reported_dates": sorted({n.date_of_death for n in notices}),
                "duplicate": duplicate,
                "notices": [
                    {
                        "source": n.source,
                        "reference": n.reference,
                        "date_of_death": n.date_of_death,
                        "received_at": n.received_at,
                    }
                    for n in notices
                ],
                "bookings": [
                    {
                        "booking_id": b.id,
                        "kind": b.kind,
                        "scheduled_at": b.scheduled_at,
                        "funeral_home": b.funeral_home,
                        "fee_fen": b.fee_fen,
                        "waived_fen": b.waived_fen,
                        "policy_version": b.policy_version,
                    }
                    for b in bookings
                ],
                "burial": None
                if burial is None
                else {
                    "form": burial.form,
                    "eco": burial.eco,
                    "reward_fen": burial.reward_fen,
                    "niche": f"{niche.facility}#{niche.position}" if niche else None,
                    "policy_version": burial.policy_version,
                },
                "fees_fen": sum(b.fee_fen for b in bookings),
                "waived_fen": sum(b.waived_fen for b in bookings),
                "cremation_certificate": case.cremation_certificate,
                "cremated_on": case.cremated_on,
                "revoked_reason": case.revoked_reason,
                "verification": case.verification or "verified",
                "verify_by": case.verify_by,
            },
        )
