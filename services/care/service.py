"""Elderly care (养老): entrypoints only move data between the wire, the rules (`rules.py`) and
the database.

The old-age allowance (高龄津贴) needs no application: a daily job enrols everyone in the registry
who has reached the qualifying age, from the month the rules say, once per person. The job is one
set-based statement per region and does not depend on when it last ran, so a missed day (or a
month of downtime) is caught up by the next run with the right start months, and running it twice
enrols nobody twice.
"""
from __future__ import annotations

from nameko.timer import timer
from sqlalchemy import select, text

from chassis import (SYSTEM, Actor, Audit, Clock, Database, Forbidden, InvalidInput, Logger, Operable, Policy,
                     WorkerMetrics, rpc)
from chassis.db import dialect_insert
from chassis.errors import Unavailable
from contracts.person import InvalidResidentId, ResidentId, age_on
from services.care import rules
from services.care.exceptions import OutsideArea, PolicyUnusable, UnknownElder
from services.care.models import AllowanceEnrolment, AllowanceJobRun, Elder
from services.care.schemas import (AllowanceJobViewSchema, ElderImportSchema, ElderViewSchema, ImportViewSchema,
                                   dump, load)

STAFF = ("clerk", "admin")

# One statement per region: everyone of the region born on or before the cutoff (old enough
# today) and not yet enrolled, from the month of their qualifying birthday (or the next).
_ENROL = text(f"""
INSERT INTO allowance_enrolment (resident_id, region_code, starts_month, enrolled_on, policy_version)
SELECT e.resident_id, e.region_code,
       (date_trunc('month', {rules.birthday_sql('e.birth_date', ':age')})
        + CASE WHEN :start = 'next_month' THEN interval '1 month' ELSE interval '0' END)::date,
       :today, :version
FROM elder e
WHERE e.region_code = :region AND e.birth_date <= :cutoff AND e.deceased_on IS NULL
ON CONFLICT (resident_id) DO NOTHING
""")


class CareService(Operable):
    name = "care"

    db = Database()
    audit = Audit()
    policy = Policy()
    clock = Clock()
    log = Logger()
    metrics = WorkerMetrics()

    # --- the elderly registry -------------------------------------------------------------------

    @rpc
    def import_people(self, actor, request):
        """A batch from the population registry: new people are added, known ones updated (name,
        residence); birth date and sex always come from the ID number."""
        actor, data = Actor.from_dict(actor), load(ElderImportSchema, request)
        if actor.role != "admin":
            raise Forbidden("the registry is fed by the bureau's data office (admin)")
        now = self.clock.now()
        rows = {}
        for person in data["people"]:  # a batch may name a person twice: the last record wins
            parsed = ResidentId.parse(person["resident_id"])
            rows[parsed.number] = {"resident_id": parsed.number, "name": person["name"],
                                   "region_code": person["region_code"], "birth_date": parsed.birth_date,
                                   "sex": parsed.sex, "recorded_at": now}
        known = set(self.db.execute(select(Elder.resident_id).where(Elder.resident_id.in_(rows))).scalars())
        statement = dialect_insert(self.db, Elder.__table__)
        self.db.execute(statement.on_conflict_do_update(
            index_elements=["resident_id"],
            set_={"name": statement.excluded.name, "region_code": statement.excluded.region_code,
                  "recorded_at": statement.excluded.recorded_at}), list(rows.values()))
        self.audit.record(actor, "registry.import", "elder-registry", "imported", received=len(data["people"]),
                          added=len(rows) - len(known), updated=len(known))
        return dump(ImportViewSchema, {"received": len(data["people"]), "added": len(rows) - len(known),
                                       "updated": len(known)})

    @rpc
    def get_elder(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        try:
            number = ResidentId.parse(resident_id).number
        except InvalidResidentId as exc:
            raise InvalidInput("not a resident ID number", errors={"resident_id": [exc.reason]}) from None
        elder = self.db.get(Elder, number)
        if elder is None:
            raise UnknownElder("no such person in the elderly registry")
        if actor.role == "citizen":
            if actor.id != elder.resident_id:
                raise Forbidden("a citizen sees only their own record")
        elif actor.role not in STAFF:
            raise Forbidden("the registry is shown to the person and to caseworkers of the area")
        elif not actor.covers(elder.region_code):
            raise OutsideArea(f"{elder.region_code} is outside your area {actor.area}")
        today = self.clock.today()
        enrolment = self.db.get(AllowanceEnrolment, elder.resident_id)
        allowance = None
        if enrolment is not None:
            policy = self._allowance_policy(elder.region_code, today)
            allowance = {"starts_month": enrolment.starts_month, "enrolled_on": enrolment.enrolled_on,
                         "policy_version": enrolment.policy_version,
                         "monthly_fen": rules.monthly_allowance_fen(elder.birth_date, today, policy)}
        return dump(ElderViewSchema, {
            "resident_id": elder.resident_id, "name": elder.name, "region_code": elder.region_code,
            "birth_date": elder.birth_date, "sex": elder.sex, "age": age_on(elder.birth_date, today),
            "allowance": allowance})

    # --- the old-age allowance, without application -----------------------------------------------

    @timer(interval=3600)
    def enrol_hourly(self):
        """Hourly, so a process that was down at midnight catches up within the hour."""
        try:
            self._enrol(SYSTEM)
        except Unavailable as exc:  # the embedded SQLite default: say so, do not fail every hour
            self.log.warning("allowance.job_skipped", reason=exc.detail)

    @rpc
    def run_allowance_job(self, actor):
        """The same job on demand (operations after an outage, tests)."""
        actor = Actor.from_dict(actor)
        if actor.role != "admin":
            raise Forbidden("only operations (admin) start the job by hand")
        return self._enrol(actor)

    def _enrol(self, actor: Actor) -> dict:
        if self.db.bind.dialect.name != "postgresql":
            raise Unavailable("the allowance job is set-based PostgreSQL; this process runs on "
                              f"{self.db.bind.dialect.name}")
        today = self.clock.today()
        enrolled = 0
        for region in self.db.execute(select(Elder.region_code).distinct().order_by(Elder.region_code)).scalars():
            policy = self._allowance_policy(region, today)
            cutoff = rules.latest_birth_date_qualifying(today, policy.qualifying_age)
            enrolled += self.db.execute(_ENROL, {
                "region": region, "cutoff": cutoff, "age": policy.qualifying_age, "start": policy.start,
                "today": today, "version": policy.version}).rowcount
        run = self.db.get(AllowanceJobRun, today, with_for_update=True)
        if run is None:
            run = AllowanceJobRun(run_on=today, runs=0, enrolled=0, last_run_at=self.clock.now())
            self.db.add(run)
        run.runs, run.enrolled, run.last_run_at = run.runs + 1, run.enrolled + enrolled, self.clock.now()
        if enrolled:
            self.audit.record(actor, "allowance.enrol", "old-age-allowance", "enrolled", enrolled=enrolled,
                              run_on=today)
            self.log.info("allowance.enrolled", enrolled=enrolled)
        return dump(AllowanceJobViewSchema, {"run_on": today, "enrolled": enrolled,
                                             "enrolled_today": run.enrolled, "runs_today": run.runs})

    def _allowance_policy(self, region_code: str, on) -> rules.AllowancePolicy:
        names = {"qualifying_age": "care.allowance_qualifying_age", "start": "care.allowance_start",
                 "bands_fen": "care.allowance_bands_fen"}
        values = {field: self.policy.resolve(name, region_code, on) for field, name in names.items()}
        try:
            bands = {int(age): fen for age, fen in values["bands_fen"].value.items()}
            return rules.AllowancePolicy(version=";".join(v.version for v in values.values()),
                                         qualifying_age=values["qualifying_age"].value,
                                         start=values["start"].value, bands_fen=bands)
        except (rules.InvalidInput, AttributeError, ValueError) as exc:
            raise PolicyUnusable(f"the old-age allowance policy for {region_code} on {on} is unusable: "
                                 f"{getattr(exc, 'reason', exc)}") from None

