"""Elderly care (养老): entrypoints only move data between the wire, the rules (`rules.py`) and
the database. The service is one nameko service made of one mixin per sub-domain, each in its own
module: `allowance.py` (高龄津贴: enrolment, end, payment run), `institutions.py` (assessments,
institutions, indicators, family beds, admissions), `emergency.py` (紧急呼叫), `children.py` (儿童福利),
`home_care.py` (vouchers and service orders) and `after_death.py` (身后一件事). This module keeps the
elderly registry and what every part shares.
"""

from __future__ import annotations

from sqlalchemy import func, select

from chassis import (
    Actor,
    Audit,
    Clock,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    rpc,
)
from chassis.db import dialect_insert
from chassis.lease import Lease
from chassis.payment_desk import PaymentDesk
from chassis.payment_runs import BankFiles
from contracts.person import InvalidResidentId, ResidentId, age_on
from contracts.roles import ADMIN, CITIZEN
from services.care import payments, rules
from services.care.after_death import AfterDeath
from services.care.allowance import Allowance
from services.care.children import ChildWelfare
from services.care.emergency import EmergencyCalls
from services.care.exceptions import UnknownElder
from services.care.home_care import HomeCare
from services.care.indicators import Indicators
from services.care.institutions import Institutions
from services.care.models import (
    AllowanceEnrolment,
    Elder,
)
from services.care.schemas import (
    ElderImportSchema,
    ElderViewSchema,
    ImportViewSchema,
    dump,
    load,
)


class CareService(Allowance, Institutions, EmergencyCalls, ChildWelfare, HomeCare, AfterDeath, Indicators, Operable):
    name = "care"

    db = Database()
    outbox = Outbox()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    lease = Lease()  # the hourly job: once an hour across instances
    log = Logger()
    metrics = WorkerMetrics()
    bank_files = BankFiles()
    desk = PaymentDesk(payments.RUN, "allowance_cycle")  # the payments office's four steps, audited

    # --- the elderly registry -------------------------------------------------------------------

    @rpc
    def import_people(self, actor, request):
        """A batch from the population registry: new people are added, known ones updated (name,
        residence); birth date and sex always come from the ID number."""
        actor, data = Actor.from_dict(actor), load(ElderImportSchema, request)
        if actor.role != ADMIN:
            raise Forbidden("the registry is fed by the bureau's data office (admin)")
        now = self.clock.now()
        rows = {}
        for person in data["people"]:  # a batch may name a person twice: the last record wins
            parsed = ResidentId.parse(person["resident_id"])
            rows[parsed.number] = {
                "resident_id": parsed.number,
                "name": person["name"],
                "region_code": person["region_code"],
                "birth_date": parsed.birth_date,
                "sex": parsed.sex,
                "registered_on": self.clock.today(),
                "recorded_at": now,
                "bank_account": person.get("bank_account"),
            }
        known = set(self.db.execute(select(Elder.resident_id).where(Elder.resident_id.in_(rows))).scalars())
        statement = dialect_insert(self.db, Elder.__table__)
        self.db.execute(
            statement.on_conflict_do_update(
                index_elements=["resident_id"],
                set_={
                    "name": statement.excluded.name,
                    "region_code": statement.excluded.region_code,
                    "recorded_at": statement.excluded.recorded_at,
                    "bank_account": func.coalesce(statement.excluded.bank_account, Elder.bank_account),
                },
            ),
            list(rows.values()),
        )
        self.audit.record(
            actor,
            "registry.import",
            "elder-registry",
            "imported",
            received=len(data["people"]),
            added=len(rows) - len(known),
            updated=len(known),
        )
        return dump(
            ImportViewSchema, {"received": len(data["people"]), "added": len(rows) - len(known), "updated": len(known)}
        )

    @rpc
    def get_elder(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        elder = self.db.get(Elder, self._resident(resident_id).number)
        if elder is None:
            raise UnknownElder("no such person in the elderly registry")
        self._require_reader(actor, elder.resident_id, elder.region_code)
        today = self.clock.today()
        enrolment = self.db.get(AllowanceEnrolment, elder.resident_id)
        allowance = None
        if enrolment is not None:
            policy = self._allowance_policy(elder.region_code, today)
            paid = rules.allowance_paid_in(enrolment.starts_month, enrolment.ended_on, today)
            allowance = {
                "starts_month": enrolment.starts_month,
                "enrolled_on": enrolment.enrolled_on,
                "policy_version": enrolment.policy_version,
                "ended_on": enrolment.ended_on,
                "end_reason": enrolment.end_reason,
                "monthly_fen": rules.monthly_allowance_fen(elder.birth_date, today, policy) if paid else 0,
            }
        return dump(
            ElderViewSchema,
            {
                "resident_id": elder.resident_id,
                "name": elder.name,
                "region_code": elder.region_code,
                "birth_date": elder.birth_date,
                "sex": elder.sex,
                "age": age_on(elder.birth_date, today),
                "allowance": allowance,
            },
        )

    def _region_of(self, resident_id: str) -> str:
        grants = self._grants(resident_id)
        if grants:
            return grants[0].region_code
        elder = self.db.get(Elder, resident_id)
        if elder is not None:
            return elder.region_code
        raise UnknownElder("the person is neither in the elderly registry nor entitled to home-care vouchers")

    def _require_reader(self, actor: Actor, resident_id: str, region_code: str) -> None:
        if actor.role == CITIZEN:
            if actor.id != resident_id:
                raise Forbidden("a citizen sees only their own records")
        else:
            actor.require_staff_in(region_code)

    @staticmethod
    def _resident(resident_id: str) -> ResidentId:
        try:
            return ResidentId.parse(resident_id)
        except InvalidResidentId as exc:
            raise InvalidInput("not a resident ID number", errors={"resident_id": [exc.reason]}) from None
