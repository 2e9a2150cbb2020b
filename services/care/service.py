"""Elderly care (养老): entrypoints only move data between the wire, the rules (`rules.py`) and
the database.

Home-care vouchers (养老服务补贴) come from assistance's approvals (`assistance.approved`), never
from re-entered data, and end with the household's benefit; members who reach the voucher age
after the approval get theirs from the daily job. A service order goes requested → accepted →
delivered (the provider named by the token, only its own orders) → confirmed (the person served);
the confirmation is an event, and the voucher ledger that consumes it draws the budget once per
order however often it arrives. An order paid with the person's time-bank credits (时间银行) is
choreographed with charity, which keeps the ledger: the order and `care.credits_requested` commit
together, charity debits once per order and answers (`charity.credits_answered`), and only a
funded order can be accepted; a refusal cancels the order with the reason, and a cancellation
(`care.order_cancelled`) has charity give the credits back, once.

The old-age allowance (高龄津贴) needs no application: a daily job enrols everyone in the registry
who has reached the qualifying age, from the month the rules say, once per person. The job is one
set-based statement per region and does not depend on when it last ran, so a missed day (or a
month of downtime) is caught up by the next run with the right start months, and running it twice
enrols nobody twice. The allowance is paid monthly by each district through the chassis payment
run (services/care/payments.py says what it pays); an enrolment ends only through `_end_allowance`.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, timedelta

from sqlalchemy import func, select, text, update

from chassis import (
    SYSTEM,
    Actor,
    Audit,
    Clock,
    Database,
    Forbidden,
    InvalidInput,
    Logger,
    NotFound,
    Operable,
    Outbox,
    Policy,
    WorkerMetrics,
    handle_event,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from chassis.db import dialect_insert
from chassis.errors import Conflict, Unavailable
from chassis.lease import Lease, job_timer
from chassis.payment_runs import BankFiles, as_problems
from chassis.regions import is_region_code, region_ancestors, region_prefix, require_region_code
from chassis.tables import policy_parameters
from contracts.partners import BANKS, CARE_DEVICES, CARE_PROVIDERS
from contracts.person import AGE_OF_MAJORITY, InvalidResidentId, ResidentId, age_on
from services.care import payments, rules
from services.care.after_death import AfterDeath
from services.care.exceptions import CallRefused, OrderStepRefused, OutsideArea, PolicyUnusable, UnknownElder
from services.care.indicators import Indicators
from services.care.models import (
    Admission,
    AllowanceEnrolment,
    AllowanceJobRun,
    AllowancePayment,
    Assessment,
    Child,
    ChildAdoption,
    ChildDirector,
    DeviceRegistration,
    Elder,
    EmergencyCall,
    EntitlementEnd,
    FamilyBed,
    Institution,
    Screening,
    ServiceOrder,
    SupportedMember,
    VoucherDrawdown,
    VoucherEligibility,
)
from services.care.schemas import (
    AdmissionRequestSchema,
    AdmissionViewSchema,
    AllowanceCycleRequestSchema,
    AllowanceEndSchema,
    AllowanceJobViewSchema,
    AssessmentRequestSchema,
    AssessmentViewSchema,
    BankBatchViewSchema,
    BankResultsRequestSchema,
    CallClosureSchema,
    ChildDirectorRequestSchema,
    ChildRequestSchema,
    ChildViewSchema,
    DeviceRegistrationSchema,
    DeviceRetirementSchema,
    DeviceViewSchema,
    DischargeRequestSchema,
    DispatchSchema,
    ElderImportSchema,
    ElderViewSchema,
    EmergencyCallSchema,
    EmergencyCallViewSchema,
    FamilyBedRequestSchema,
    FamilyBedViewSchema,
    ImportViewSchema,
    IndicatorsViewSchema,
    InstitutionRequestSchema,
    InstitutionViewSchema,
    OrderCancellationSchema,
    OrderRequestSchema,
    OrderViewSchema,
    PaymentCycleViewSchema,
    PaymentViewSchema,
    ReconcileViewSchema,
    ScreeningRequestSchema,
    VoucherViewSchema,
    dump,
    load,
)

STAFF = ("clerk", "admin")

# One statement per region: everyone of the region born on or before the cutoff (old enough
# today) and not yet enrolled, from the month of their qualifying birthday (or the next), but never
# before the allowance's policy was in force nor before the person joined the city's registry (no
# back pay for years lived elsewhere or before the scheme).
_ENROL = text(f"""
INSERT INTO allowance_enrolment (resident_id, region_code, starts_month, enrolled_on, policy_version)
SELECT e.resident_id, e.region_code,
       GREATEST((date_trunc('month', {rules.birthday_sql("e.birth_date", ":age")})
                 + CASE WHEN :start = 'next_month' THEN interval '1 month' ELSE interval '0' END)::date,
                date_trunc('month', e.registered_on)::date, date_trunc('month', CAST(:policy_from AS date))::date),
       :today, :version
FROM elder e
WHERE e.region_code = :region AND e.birth_date <= :cutoff AND e.deceased_on IS NULL
ON CONFLICT (resident_id) DO NOTHING
""")


class CareService(AfterDeath, Indicators, Operable):
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
        elder = self.db.get(Elder, _resident(resident_id).number)
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

    # --- the old-age allowance, without application -----------------------------------------------

    @job_timer(interval=3600)
    def enrol_hourly(self):
        """Hourly, so a process that was down at midnight catches up within the hour."""
        if not self.lease.take("care.allowance_enrolment", timedelta(hours=1)):
            return  # another instance ran it this hour, or is running it
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
            raise Unavailable(
                f"the allowance job is set-based PostgreSQL; this process runs on {self.db.bind.dialect.name}"
            )
        today = self.clock.today()
        enrolled = 0
        for region in self.db.execute(select(Elder.region_code).distinct().order_by(Elder.region_code)).scalars():
            policy = self._allowance_policy(region, today)
            cutoff = rules.latest_birth_date_qualifying(today, policy.qualifying_age)
            enrolled += self.db.execute(
                _ENROL,
                {
                    "region": region,
                    "cutoff": cutoff,
                    "age": policy.qualifying_age,
                    "start": policy.start,
                    "today": today,
                    "version": policy.version,
                    "policy_from": policy.in_force_from,
                },
            ).rowcount
        # an upsert: two processes running the job at once both count, neither fails
        insert = dialect_insert(self.db, AllowanceJobRun.__table__)
        runs, enrolled_today = self.db.execute(
            insert.values(run_on=today, runs=1, enrolled=enrolled, last_run_at=self.clock.now())
            .on_conflict_do_update(
                index_elements=["run_on"],
                set_={
                    "runs": AllowanceJobRun.runs + 1,
                    "enrolled": AllowanceJobRun.enrolled + enrolled,
                    "last_run_at": insert.excluded.last_run_at,
                },
            )
            .returning(AllowanceJobRun.runs, AllowanceJobRun.enrolled)
        ).one()
        if enrolled:
            self.audit.record(
                actor, "allowance.enrol", "old-age-allowance", "enrolled", enrolled=enrolled, run_on=today
            )
            self.log.info("allowance.enrolled", enrolled=enrolled)
        vouchers = self._grant_vouchers_at_age(actor, today)
        return dump(
            AllowanceJobViewSchema,
            {
                "run_on": today,
                "enrolled": enrolled,
                "enrolled_today": enrolled_today,
                "runs_today": runs,
                "vouchers_granted": vouchers,
            },
        )

    def _grant_vouchers_at_age(self, actor: Actor, today: date) -> int:
        """养老服务补贴 for members of supported households who reached the voucher age after their
        household's approval (which grants only those old enough then), if still supported on the
        birthday: from the birthday (or the support's start, if later) to the support's end. Idempotent: a person with a voucher row under the
        programme (granted, or ended since) gets nothing here, and two runs at once insert once."""
        missing = (
            select(SupportedMember)
            .outerjoin(
                VoucherEligibility,
                (VoucherEligibility.resident_id == SupportedMember.resident_id)
                & (VoucherEligibility.programme == SupportedMember.programme),
            )
            .where(VoucherEligibility.resident_id.is_(None))
        )
        granted = 0
        regions = self.db.execute(select(missing.subquery().c.region_code).distinct()).scalars().all()
        for region in sorted(regions):
            min_age = self.policy.resolve("care.voucher_min_age", region, today)
            amounts = self.policy.resolve("care.voucher_monthly_fen", region, today)
            version = f"{min_age.version};{amounts.version}"
            cutoff = rules.latest_birth_date_qualifying(today, min_age.value)
            # still supported on the birthday (the job may run days after it, after downtime)
            supported_then = text(
                f"supported_member.ends_on >= {rules.birthday_sql('supported_member.birth_date', ':age')}"
            ).bindparams(age=min_age.value)
            for member in self.db.execute(
                missing.where(
                    SupportedMember.region_code == region,
                    SupportedMember.birth_date <= cutoff,
                    SupportedMember.ends_on.is_(None) | supported_then,
                )
            ).scalars():
                try:
                    monthly = rules.voucher_monthly_fen(
                        member.programme, age_on(member.birth_date, today), min_age.value, amounts.value
                    )
                except rules.InvalidInput as exc:
                    raise PolicyUnusable(exc.reason) from None
                if monthly == 0:
                    continue
                starts_on = max(member.starts_on, rules.birthday(member.birth_date, min_age.value))
                inserted = self.db.execute(
                    dialect_insert(self.db, VoucherEligibility.__table__)
                    .values(
                        resident_id=member.resident_id,
                        programme=member.programme,
                        household_id=member.household_id,
                        region_code=member.region_code,
                        monthly_fen=monthly,
                        starts_on=starts_on,
                        ends_on=member.ends_on,
                        ended_by=member.ended_by,
                        policy_version=version,
                    )
                    .on_conflict_do_nothing()
                ).rowcount
                if inserted:
                    granted += 1
                    self.audit.record(
                        actor,
                        "voucher.grant",
                        f"household-{member.household_id}",
                        "granted",
                        reason=f"reached {min_age.value}",
                        policy_version=version,
                        member=str(ResidentId.parse(member.resident_id)),
                        monthly_fen=monthly,
                        programme=member.programme,
                        starts_on=starts_on,
                    )
        return granted

    def _scheme_start(self, region_code: str):
        """When the allowance began for the region: the first version of its qualifying age."""
        chain = region_ancestors(region_code)
        return self.db.execute(
            select(func.min(policy_parameters.c.effective_from)).where(
                policy_parameters.c.name == "care.allowance_qualifying_age", policy_parameters.c.region_code.in_(chain)
            )
        ).scalar_one()

    def _allowance_policy(self, region_code: str, on) -> rules.AllowancePolicy:
        names = {
            "qualifying_age": "care.allowance_qualifying_age",
            "start": "care.allowance_start",
            "bands_fen": "care.allowance_bands_fen",
        }
        values = {field: self.policy.resolve(name, region_code, on) for field, name in names.items()}
        try:
            bands = {int(age): fen for age, fen in values["bands_fen"].value.items()}
            return rules.AllowancePolicy(
                version=";".join(v.version for v in values.values()),
                qualifying_age=values["qualifying_age"].value,
                start=values["start"].value,
                bands_fen=bands,
                in_force_from=self._scheme_start(region_code),
            )
        except (rules.InvalidInput, AttributeError, ValueError) as exc:
            raise PolicyUnusable(
                f"the old-age allowance policy for {region_code} on {on} is unusable: {getattr(exc, 'reason', exc)}"
            ) from None

    # --- the allowance's end ------------------------------------------------------------------------

    @rpc
    def end_allowance(self, actor, resident_id, request):
        """End a person's old-age allowance as of a day (staff of the person's area): a move out of
        the city, an enrolment found wrong. The after-death flow calls `_end_allowance` itself."""
        actor, data = Actor.from_dict(actor), load(AllowanceEndSchema, request)
        elder = self.db.get(Elder, _resident(resident_id).number)
        if elder is None:
            raise UnknownElder("no such person in the elderly registry")
        actor.require_staff_in(elder.region_code)
        ended = self._end_allowance(actor, elder.resident_id, data["ended_on"], data["reason"])
        if ended is None:
            raise NotFound("the person has no old-age allowance to end")
        return ended

    def _end_allowance(self, actor: Actor, resident_id: str, ended_on: date, reason: str) -> dict | None:
        """THE way an enrolment ends: `allowance_enrolment.ended_on` = the last day of entitlement
        (a date of death), `end_reason` = why. Payment cycles frozen afterwards pay through the
        month of `ended_on` and no later (rules.allowance_paid_in); cycles frozen before keep their
        snapshot, so what they already hold for later months is returned as `paid_after_end`
        (live payments: to stop at the bank or recover). Ending again moves the end to the new day;
        the same day again changes nothing. None when the person has no enrolment."""
        enrolment = self.db.get(AllowanceEnrolment, resident_id, with_for_update=True)
        if enrolment is None:
            return None
        if (enrolment.ended_on, enrolment.end_reason) != (ended_on, reason):
            previous = enrolment.ended_on
            enrolment.ended_on, enrolment.end_reason = ended_on, reason
            self.audit.record(
                actor,
                "allowance.end",
                f"elder-{ResidentId.parse(resident_id)}",
                "ended",
                reason=reason,
                ended_on=ended_on,
                previously_ended_on=previous,
            )
        # what cycles frozen but not yet sent hold for later months leaves their batches
        withheld = payments.RUN.withhold(
            self.db.connection(), resident_id, rules.first_month_after(ended_on), f"withheld: {reason}"
        )
        if withheld:
            self.audit.record(
                actor,
                "allowance.withhold",
                f"elder-{ResidentId.parse(resident_id)}",
                "withheld",
                reason=reason,
                payments=[{"payment_id": i, "cycle_id": c, "for_month": m, "amount_fen": a} for i, c, m, a in withheld],
            )
        ids = [i for i, *_ in withheld]
        later = (
            self.db.execute(
                select(AllowancePayment)
                .where(AllowancePayment.resident_id == resident_id, AllowancePayment.for_month > ended_on)
                .order_by(AllowancePayment.for_month, AllowancePayment.id)
                .execution_options(populate_existing=True)
            )
            .scalars()
            .all()
        )
        return {
            "resident_id": resident_id,
            "ended_on": ended_on.isoformat(),
            "reason": reason,
            "paid_after_end": [_payment_view(p) for p in later if p.state != "failed"],
            "withheld": [_payment_view(p) for p in later if p.id in ids],
        }

    def _resume_allowance(self, actor: Actor, resident_id: str, reason: str) -> None:
        """An ended enrolment runs on (the end was wrong: a revoked death); the next cycle pays back
        the months after the end that were frozen without the person (payments.py)."""
        enrolment = self.db.get(AllowanceEnrolment, resident_id, with_for_update=True)
        if enrolment is not None and enrolment.ended_on is not None:
            previous = enrolment.ended_on
            enrolment.ended_on, enrolment.end_reason = None, None
            enrolment.back_pay_after = min(previous, enrolment.back_pay_after or previous)
            self.audit.record(
                actor,
                "allowance.resume",
                f"elder-{ResidentId.parse(resident_id)}",
                "resumed",
                reason=reason,
                previously_ended_on=previous,
            )

    # --- the allowance's monthly payment run (社会化发放) -------------------------------------------
    # One cycle per district and month, run by staff of the district (its bureau) or admins; the set-
    # based SQL is chassis.payment_runs, what it pays services/care/payments.py.

    @rpc
    def freeze_allowance_cycle(self, actor, request):
        """Freeze a district's month: every enrolment paid that month, with the amount of the
        person's age band, their bank account and the policy version (the snapshot), plus failed
        payments as arrears and back pay for earlier months frozen before the person was enrolled.
        Idempotent: a frozen month is returned as it is."""
        actor, data = Actor.from_dict(actor), load(AllowanceCycleRequestSchema, request)
        district = self._paying_district(data["region_code"])
        actor.require_staff_in(district)
        first = data["month"].replace(day=1)
        conn = self.db.connection()
        where = {"prefix": region_prefix(district), "scope": district, "first": first, "zone": str(LOCAL_ZONE)}
        if conn.dialect.name != "postgresql":
            raise Unavailable(f"the payment run is set-based PostgreSQL; this process runs on {conn.dialect.name}")
        # the bands in force for each region paid, in this month and in any month paid back
        pairs = conn.execute(text(payments.REGION_MONTHS), where).all()
        bands = payments.bands({(region, month): self._allowance_policy(region, month) for region, month in pairs})
        with as_problems():
            summary = payments.RUN.freeze(conn, first, self.clock.now(), scope=district, params={**where, **bands})
        self.audit.record(
            actor,
            "allowance_cycle.freeze",
            f"allowance-cycle-{summary.cycle_id}",
            "frozen" if summary.created else "already_frozen",
            payments=summary.payments,
            total_fen=summary.total_fen,
        )
        return dump(PaymentCycleViewSchema, asdict(summary))

    @rpc
    def get_allowance_cycle(self, actor, cycle_id):
        conn = self.db.connection()
        self._require_cycle_staff(Actor.from_dict(actor), cycle_id)
        with as_problems():
            return dump(PaymentCycleViewSchema, asdict(payments.RUN.summary(conn, cycle_id)))

    @rpc
    def send_allowance_batch(self, actor, cycle_id):
        """Write the cycle's pending payments for the bank, with control totals; frozen -> sent."""
        actor = Actor.from_dict(actor)
        self._require_cycle_staff(actor, cycle_id)
        conn = self.db.connection()
        with as_problems():
            payments.RUN.claim_for_sending(conn, cycle_id)
            path, (rows, total) = self.bank_files(
                payments.RUN.file_name(cycle_id), lambda out: payments.RUN.write_bank_file(conn, cycle_id, out)
            )
            state = payments.RUN.mark_sent(conn, cycle_id)
        self.audit.record(
            actor,
            "allowance_cycle.send",
            f"allowance-cycle-{cycle_id}",
            state,
            rows=rows,
            total_fen=total,
            file=path.name,
        )
        return dump(
            BankBatchViewSchema,
            {"cycle_id": cycle_id, "file": str(path), "rows": rows, "total_fen": total, "state": state},
        )

    @rpc
    def reconcile_allowance_results(self, actor, cycle_id, request):
        """The bank's answers, from the bank (partner `banks`) or the district's staff. Re-applying
        changes nothing; contradictions are refused and listed; failures are paid again as arrears."""
        actor, data = Actor.from_dict(actor), load(BankResultsRequestSchema, request)
        if not (actor.role == "partner" and actor.id == BANKS):
            self._require_cycle_staff(actor, cycle_id)
        with as_problems():
            summary = payments.RUN.reconcile(
                self.db.connection(), cycle_id, [(r["payment_id"], r["status"], r["reason"]) for r in data["results"]]
            )
        self._recount_allowance_recoveries(cycle_id)  # a payment the bank did not make is no overpayment
        self.audit.record(
            actor,
            "allowance_cycle.reconcile",
            f"allowance-cycle-{cycle_id}",
            summary.state,
            paid=summary.paid,
            failed=summary.failed,
            conflicts=len(summary.conflicts),
        )
        return dump(ReconcileViewSchema, summary.view())

    @rpc
    def allowance_payments(self, actor, resident_id):
        """A person's allowance payments, newest month first: for the person and their caseworkers."""
        actor = Actor.from_dict(actor)
        elder = self.db.get(Elder, _resident(resident_id).number)
        if elder is None:
            raise UnknownElder("no such person in the elderly registry")
        self._require_reader(actor, elder.resident_id, elder.region_code)
        rows = self.db.execute(
            select(AllowancePayment)
            .where(AllowancePayment.resident_id == elder.resident_id)
            .order_by(AllowancePayment.for_month.desc(), AllowancePayment.id.desc())
        ).scalars()
        return [_payment_view(p) for p in rows]

    @staticmethod
    def _paying_district(region_code: str) -> str:
        try:
            return rules.paying_district(region_code)
        except rules.InvalidInput as exc:
            raise InvalidInput(exc.reason, errors={"region_code": [exc.reason]}) from None

    def _require_cycle_staff(self, actor: Actor, cycle_id: str) -> None:
        """A cycle is its district's: staff whose area covers the district (or admins)."""
        with as_problems():
            scope = payments.RUN.scope_of(self.db.connection(), cycle_id)
        actor.require_staff_in(scope)

    # --- ability assessments, institutions and indicators ------------------------------------------

    @rpc
    def record_assessment(self, actor, request):
        """能力评估: recorded by a caseworker of the person's area; valid for the policy's months."""
        actor, data = Actor.from_dict(actor), load(AssessmentRequestSchema, request)
        elder = self.db.get(Elder, ResidentId.parse(data["resident_id"]).number)
        if elder is None:
            raise UnknownElder("assess people of the elderly registry")
        actor.require_staff_in(elder.region_code)
        if data["assessed_on"] > self.clock.today():
            raise InvalidInput("an assessment cannot be in the future", errors={"assessed_on": ["in the future"]})
        months = self.policy.resolve("care.assessment_valid_months", elder.region_code, data["assessed_on"])
        try:
            valid_until = rules.assessment_valid_until(data["assessed_on"], months.value)
        except rules.InvalidInput as exc:
            raise PolicyUnusable(exc.reason) from None
        assessment = Assessment(
            id=str(uuid.uuid4()),
            resident_id=elder.resident_id,
            region_code=elder.region_code,
            level=data["level"],
            assessor=data["assessor"],
            assessed_on=data["assessed_on"],
            valid_until=valid_until,
            recorded_by=actor.id,
            policy_version=months.version,
        )
        self.db.add(assessment)
        self.audit.record(
            actor, "assessment.record", f"assessment-{assessment.id}", data["level"], policy_version=months.version
        )
        return dump(
            AssessmentViewSchema,
            {
                "assessment_id": assessment.id,
                "resident_id": assessment.resident_id,
                "level": assessment.level,
                "assessor": assessment.assessor,
                "assessed_on": assessment.assessed_on,
                "valid_until": assessment.valid_until,
            },
        )

    @rpc
    def register_institution(self, actor, request):
        """An institution and its beds by type; registering the same code again updates it."""
        actor, data = Actor.from_dict(actor), load(InstitutionRequestSchema, request)
        actor.require_staff_in(data["region_code"])
        institution = self.db.get(Institution, data["code"], with_for_update=True)
        if institution is None:
            institution = Institution(code=data["code"])
            self.db.add(institution)
        elif not actor.covers(institution.region_code):
            raise OutsideArea(f"institution {data['code']} is registered outside your area")
        institution.name, institution.ownership, institution.region_code = (
            data["name"],
            data["ownership"],
            data["region_code"],
        )
        beds = data["beds"]
        institution.ordinary_beds, institution.nursing_beds, institution.dementia_beds = (
            beds["ordinary"],
            beds["nursing"],
            beds["dementia"],
        )
        institution.updated_at = self.clock.now()
        self.audit.record(actor, "institution.register", f"institution-{institution.code}", "registered", beds=beds)
        return dump(InstitutionViewSchema, {**data})

    @rpc
    def indicators(self, actor, region_code):
        """The region's indicators today, from the registry, assessments and institutions."""
        actor = Actor.from_dict(actor)
        require_region_code(region_code)
        actor.require_staff_in(region_code)
        today = self.clock.today()
        prefix = region_prefix(region_code)
        born_60 = rules.latest_birth_date_qualifying(today, 60)
        born_70 = rules.latest_birth_date_qualifying(today, 70)
        living = (Elder.region_code.startswith(prefix, autoescape=True), Elder.deceased_on.is_(None))
        elderly, aged_70 = self.db.execute(
            select(
                func.count().filter(Elder.birth_date <= born_60), func.count().filter(Elder.birth_date <= born_70)
            ).where(*living)
        ).one()
        assessed_70 = self.db.execute(
            select(func.count(func.distinct(Assessment.resident_id)))
            .join(Elder, Elder.resident_id == Assessment.resident_id)
            .where(
                *living, Elder.birth_date <= born_70, Assessment.assessed_on <= today, Assessment.valid_until >= today
            )
        ).scalar_one()
        all_beds = Institution.ordinary_beds + Institution.nursing_beds + Institution.dementia_beds
        public = Institution.ownership == "public"
        beds, nursing, public_beds, public_dementia = self.db.execute(
            select(
                func.coalesce(func.sum(all_beds), 0),
                func.coalesce(func.sum(Institution.nursing_beds), 0),
                func.coalesce(func.sum(all_beds).filter(public), 0),
                func.coalesce(func.sum(Institution.dementia_beds).filter(public), 0),
            ).where(Institution.region_code.startswith(prefix, autoescape=True))
        ).one()
        family_beds = self.db.execute(
            select(func.count())
            .select_from(FamilyBed)
            .where(FamilyBed.region_code.startswith(prefix, autoescape=True), FamilyBed.closed_on.is_(None))
        ).scalar_one()
        result = rules.indicators(
            aged_70_plus=aged_70,
            assessed_70_plus=assessed_70,
            elderly=elderly,
            beds=beds,
            nursing_beds=nursing,
            public_beds=public_beds,
            public_dementia_beds=public_dementia,
        )
        return dump(
            IndicatorsViewSchema,
            {
                "region_code": region_code,
                "on": today,
                "elderly": elderly,
                "aged_70_plus": aged_70,
                "assessed_70_plus": assessed_70,
                "assessment_coverage_70_plus": result.assessment_coverage_70_plus,
                "beds": beds,
                "nursing_bed_ratio": result.nursing_bed_ratio,
                "public_dementia_bed_ratio": result.public_dementia_bed_ratio,
                "beds_per_10k_elderly": result.beds_per_10k_elderly,
                "family_beds": family_beds,
            },
        )

    # --- family care beds (家庭养老床位) ---------------------------------------------------------------

    @rpc
    def establish_family_bed(self, actor, request):
        """An institution's care brought home: for a person of the registry whose assessment, still
        valid, finds them at least moderately disabled; one bed per person."""
        actor, data = Actor.from_dict(actor), load(FamilyBedRequestSchema, request)
        elder = self.db.get(Elder, ResidentId.parse(data["resident_id"]).number)
        if elder is None:
            raise UnknownElder("family care beds are for people of the elderly registry")
        actor.require_staff_in(elder.region_code)
        if self.db.get(Institution, data["institution"]) is None:
            raise NotFound(f"no institution {data['institution']}", errors={"institution": ["unknown"]})
        on = data["established_on"]
        assessment = self.db.execute(
            select(Assessment)
            .where(
                Assessment.resident_id == elder.resident_id, Assessment.assessed_on <= on, Assessment.valid_until >= on
            )
            .order_by(Assessment.assessed_on.desc())
            .limit(1)
        ).scalar()
        if assessment is None or assessment.level not in rules.DISABLED_LEVELS:
            raise InvalidInput(
                "a family care bed needs a valid assessment of moderate disability or more",
                errors={"resident_id": ["no qualifying assessment on that day"]},
            )
        bed = self.db.get(FamilyBed, elder.resident_id, with_for_update=True)
        if bed is not None and bed.closed_on is None:
            raise Conflict("the person has a family care bed already")
        if bed is None:
            bed = FamilyBed(resident_id=elder.resident_id)
            self.db.add(bed)
        bed.institution, bed.region_code, bed.established_on = data["institution"], elder.region_code, on
        bed.closed_on, bed.assessed_level = None, assessment.level
        self.audit.record(
            actor, "family_bed.establish", f"institution-{bed.institution}", "established", assessment_id=assessment.id
        )
        return dump(
            FamilyBedViewSchema,
            {
                "resident_id": bed.resident_id,
                "institution": bed.institution,
                "established_on": bed.established_on,
                "closed_on": None,
                "assessed_level": bed.assessed_level,
            },
        )

    # --- admissions to institutions -------------------------------------------------------------

    @rpc
    def admit(self, actor, request):
        """A stay on a free bed of the type; a 集中供养 placement needs the person's 特困 support
        (from assistance's approval). The institution's row is locked, so two admissions cannot
        both take its last bed."""
        actor, data = Actor.from_dict(actor), load(AdmissionRequestSchema, request)
        institution = self.db.get(Institution, data["institution"], with_for_update=True)
        if institution is None:
            raise NotFound(f"no institution {data['institution']}")
        actor.require_staff_in(institution.region_code)
        person = ResidentId.parse(data["resident_id"])
        if self.db.execute(
            select(Admission.id).where(Admission.resident_id == person.number, Admission.discharged_on.is_(None))
        ).first():
            raise Conflict("the person is in an institution already: discharge them first")
        if data["concentrated_support"] and not any(
            g.programme == "tekun" and _active(g, data["admitted_on"].replace(day=1))
            for g in self._grants(person.number)
        ):
            raise InvalidInput(
                "集中供养 is for people with 特困 support",
                errors={"concentrated_support": ["no 特困 support recorded for this person"]},
            )
        free = self._beds_free(institution, data["bed_type"])
        if free < 1:
            raise Conflict(
                f"no {data['bed_type']} bed is free at {institution.code}", errors={"bed_type": ["none free"]}
            )
        admission = Admission(
            id=str(uuid.uuid4()),
            resident_id=person.number,
            institution=institution.code,
            bed_type=data["bed_type"],
            admitted_on=data["admitted_on"],
            concentrated_support=data["concentrated_support"],
        )
        self.db.add(admission)
        self.audit.record(
            actor,
            "institution.admit",
            f"institution-{institution.code}",
            "admitted",
            admission_id=admission.id,
            bed_type=admission.bed_type,
            concentrated_support=admission.concentrated_support,
        )
        return self._admission_view(admission, free - 1)

    @rpc
    def discharge(self, actor, admission_id, request):
        actor, data = Actor.from_dict(actor), load(DischargeRequestSchema, request)
        admission = self.db.get(Admission, admission_id, with_for_update=True)
        if admission is None:
            raise NotFound(f"no admission {admission_id}")
        institution = self.db.get(Institution, admission.institution, with_for_update=True)
        actor.require_staff_in(institution.region_code)
        if admission.discharged_on is not None:
            raise Conflict(f"discharged on {admission.discharged_on} already")
        if data["discharged_on"] < admission.admitted_on:
            raise InvalidInput(
                "a discharge cannot come before the admission",
                errors={"discharged_on": [f"before {admission.admitted_on}"]},
            )
        admission.discharged_on, admission.discharge_reason = data["discharged_on"], data["reason"]
        self.audit.record(
            actor,
            "institution.discharge",
            f"institution-{institution.code}",
            "discharged",
            reason=data["reason"],
            admission_id=admission.id,
        )
        return self._admission_view(admission, self._beds_free(institution, admission.bed_type))

    def _beds_free(self, institution: Institution, bed_type: str) -> int:
        taken = self.db.execute(
            select(func.count())
            .select_from(Admission)
            .where(
                Admission.institution == institution.code,
                Admission.bed_type == bed_type,
                Admission.discharged_on.is_(None),
            )
        ).scalar_one()
        return getattr(institution, f"{bed_type}_beds") - taken

    @staticmethod
    def _admission_view(admission: Admission, beds_free: int) -> dict:
        return dump(
            AdmissionViewSchema,
            {
                "admission_id": admission.id,
                "resident_id": admission.resident_id,
                "institution": admission.institution,
                "bed_type": admission.bed_type,
                "admitted_on": admission.admitted_on,
                "discharged_on": admission.discharged_on,
                "concentrated_support": admission.concentrated_support,
                "beds_free": beds_free,
            },
        )

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

    @staticmethod
    def _device_view(registration: DeviceRegistration) -> dict:
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
        if not (actor.role == "partner" and actor.id == CARE_DEVICES):
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
        if not (actor.role == "partner" and actor.id == CARE_PROVIDERS):  # the responding providers see every call
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
        if not (actor.role == "partner" and actor.id == CARE_PROVIDERS):
            actor.require_staff_in(call.region_code)
        try:
            call.state = rules.call_transition(call.state, action)
        except rules.OrderRefused as exc:
            raise Conflict(exc.reason) from None
        self.audit.record(actor, f"emergency.{action}", f"emergency-call-{call.id}", call.state)
        return call

    @staticmethod
    def _call_view(call: EmergencyCall) -> dict:
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
        try:
            due = rules.follow_up_due(data["screened_on"], data["level"], days.value)
        except (rules.InvalidInput, AttributeError) as exc:
            raise PolicyUnusable(getattr(exc, "reason", str(exc))) from None
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
        child = self.db.get(Child, _resident(resident_id).number, with_for_update=for_update)
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
        try:
            monthly = rules.child_allowance_fen(child.category, child.placement, age, amounts)
        except (rules.InvalidInput, AttributeError) as exc:
            raise PolicyUnusable(getattr(exc, "reason", str(exc))) from None
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

    # --- home-care vouchers, from assistance's decisions ----------------------------------------

    @handle_event("assistance.approved")
    def on_assistance_approved(self, event):
        """Members of a household approved for a programme with vouchers, old enough or severely
        disabled, get the monthly budget (the larger one, when two programmes give one)."""
        data = event.data
        on = date.fromisoformat(str(data["starts_on"]))
        min_age = self.policy.resolve("care.voucher_min_age", data["region_code"], on)
        amounts = self.policy.resolve("care.voucher_monthly_fen", data["region_code"], on)
        version = f"{min_age.version};{amounts.version}"
        for member in data["members"]:
            person = ResidentId.parse(member["resident_id"])
            self._support(person, data, on)
            try:
                monthly = rules.voucher_monthly_fen(
                    data["programme"],
                    person.age_on(on),
                    min_age.value,
                    amounts.value,
                    member.get("severely_disabled", False),
                )
            except rules.InvalidInput as exc:
                raise PolicyUnusable(exc.reason) from None
            if monthly == 0:
                continue
            held = self.db.get(VoucherEligibility, (person.number, data["programme"]), with_for_update=True)
            if held is None:
                held = VoucherEligibility(resident_id=person.number, programme=data["programme"])
                self.db.add(held)
            held.household_id, held.region_code = data["household_id"], data["region_code"]
            held.monthly_fen, held.starts_on, held.ends_on, held.policy_version = monthly, on, None, version
            held.ended_by = None
            self.audit.record(
                SYSTEM,
                "voucher.grant",
                f"household-{data['household_id']}",
                "granted",
                reason=f"{event.type} {event.id}",
                policy_version=version,
                member=str(person),
                monthly_fen=monthly,
                programme=data["programme"],
            )

    def _support(self, person: ResidentId, data: dict, on: date) -> None:
        """Remember the member, old enough or not: the daily job grants the voucher at the age."""
        supported = self.db.get(SupportedMember, (person.number, data["programme"]), with_for_update=True)
        if supported is None:
            supported = SupportedMember(resident_id=person.number, programme=data["programme"])
            self.db.add(supported)
        supported.household_id, supported.region_code, supported.birth_date = (
            data["household_id"],
            data["region_code"],
            person.birth_date,
        )
        supported.starts_on, supported.ends_on, supported.policy_version = on, None, data["policy_version"]
        supported.ended_by = None

    @handle_event("assistance.entitlement_ended")
    def on_entitlement_ended(self, event):
        """The household's benefit ended: its members' support and open vouchers end that day, each
        marked with this end (`ended_by`) so that its resumption reopens them and nothing else."""
        data, ends_on = event.data, date.fromisoformat(str(event.data["ends_on"]))
        ended, resumed = self._count_benefit_end(data, ends_on, "ended")
        if not rules.end_stands(ended, resumed):  # its resumption came first: the benefit runs on
            self.audit.record(
                SYSTEM,
                "voucher.end",
                f"household-{data['household_id']}",
                "already_resumed",
                reason=f"{event.type} {event.id}",
                ends_on=ends_on,
                programme=data["programme"],
            )
            return
        cause = rules.ended_by(event.type, event.id)
        self.db.execute(
            update(SupportedMember)
            .where(
                SupportedMember.household_id == data["household_id"],
                SupportedMember.programme == data["programme"],
                SupportedMember.ends_on.is_(None),
            )
            .values(ends_on=ends_on, ended_by=cause)
        )
        for held in self.db.execute(
            select(VoucherEligibility)
            .where(
                VoucherEligibility.household_id == data["household_id"],
                VoucherEligibility.programme == data["programme"],
                VoucherEligibility.ends_on.is_(None),
            )
            .with_for_update()
        ).scalars():
            held.ends_on, held.ended_by = ends_on, cause
            self.audit.record(
                SYSTEM, "voucher.end", f"household-{held.household_id}", "ended", reason=cause, ends_on=ends_on
            )

    @handle_event("assistance.entitlement_resumed")
    def on_entitlement_resumed(self, event):
        """A benefit a death had ended runs on (the death was revoked): the vouchers and support its
        end closed here open again, exactly those: a voucher closed since for another reason (the
        person's own death step, a member leaving, a new approval) keeps what that reason made of
        it. Paired with its end by household, programme and day (`entitlement_end`): a resumption
        that overtakes its end is counted, and the end then closes nothing."""
        data, day = event.data, date.fromisoformat(str(event.data["resumed_from"]))
        ended, resumed = self._count_benefit_end(data, day, "resumed")
        if not rules.resumption_finds_its_end(ended, resumed):
            self.audit.record(
                SYSTEM,
                "voucher.resume",
                f"household-{data['household_id']}",
                "ahead_of_its_end",
                reason=f"{event.type} {event.id}",
                resumed_from=day,
                programme=data["programme"],
            )
            return
        for table in (SupportedMember, VoucherEligibility):
            for held in self.db.execute(
                select(table)
                .where(
                    table.household_id == data["household_id"],
                    table.programme == data["programme"],
                    table.ends_on == day,
                )
                .with_for_update()
            ).scalars():
                if not rules.closed_by(held.ended_by, "assistance.entitlement_ended"):
                    continue  # closed since for another reason: that reason's to undo, if ever
                held.ends_on, held.ended_by = None, None
                if table is VoucherEligibility:
                    self.audit.record(
                        SYSTEM,
                        "voucher.resume",
                        f"household-{held.household_id}",
                        "resumed",
                        reason=f"{event.type} {event.id}",
                        programme=held.programme,
                        member=str(ResidentId.parse(held.resident_id)),
                        was_ended_on=day,
                        cause=data["reason"],
                    )

    def _count_benefit_end(self, data: dict, day: date, column: str) -> tuple[int, int]:
        """Count an end or a resumption of the household's benefit on the day; the row's lock has an
        end and its resumption take turns. Returns (ends, resumptions) of the day, this one included."""
        insert = dialect_insert(self.db, EntitlementEnd.__table__)
        return tuple(
            self.db.execute(
                insert.values(
                    household_id=data["household_id"],
                    programme=data["programme"],
                    ends_on=day,
                    ended=int(column == "ended"),
                    resumed=int(column == "resumed"),
                    updated_at=self.clock.now(),
                )
                .on_conflict_do_update(
                    index_elements=["household_id", "programme", "ends_on"],
                    set_={column: getattr(EntitlementEnd, column) + 1, "updated_at": insert.excluded.updated_at},
                )
                .returning(EntitlementEnd.ended, EntitlementEnd.resumed)
            ).one()
        )

    @handle_event("assistance.member_left")
    def on_member_left(self, event):
        """The voucher a person had through a household ends when they leave it; not when the
        leaving was a death care has seen revoked (assistance undid the leaving with it)."""
        case_id = event.data.get("case_id")
        left_on, cause = date.fromisoformat(str(event.data["left_on"])), rules.ended_by(event.type, event.id, case_id)
        if case_id and self._leaving_was_a_revoked_death(case_id):
            self.audit.record(
                SYSTEM,
                "voucher.end",
                f"household-{event.data['household_id']}",
                "death_revoked",
                reason=cause,
                ends_on=left_on,
            )
            return
        self.db.execute(
            update(SupportedMember)
            .where(
                SupportedMember.resident_id == event.data["resident_id"],
                SupportedMember.household_id == event.data["household_id"],
                SupportedMember.ends_on.is_(None),
            )
            .values(ends_on=left_on, ended_by=cause)
        )
        for held in self.db.execute(
            select(VoucherEligibility)
            .where(
                VoucherEligibility.resident_id == event.data["resident_id"],
                VoucherEligibility.household_id == event.data["household_id"],
                VoucherEligibility.ends_on.is_(None),
            )
            .with_for_update()
        ).scalars():
            held.ends_on, held.ended_by = left_on, cause
            self.audit.record(
                SYSTEM, "voucher.end", f"household-{held.household_id}", "ended", reason=cause, ends_on=left_on
            )

    @rpc
    def voucher_balance(self, actor, resident_id):
        actor = Actor.from_dict(actor)
        person = _resident(resident_id)
        month = self.clock.today().replace(day=1)
        grants = self._grants(person.number)
        if not grants:
            raise NotFound("no home-care voucher for this person")
        self._require_reader(actor, person.number, grants[0].region_code)
        best = _budget(grants, month)
        used = self._used(person.number, month)
        monthly = best.monthly_fen if best else 0
        return dump(
            VoucherViewSchema,
            {
                "resident_id": person.number,
                "programme": (best or grants[0]).programme,
                "monthly_fen": monthly,
                "month": month,
                "used_fen": used,
                "left_fen": max(monthly - used, 0),
            },
        )

    def _grants(self, resident_id: str, for_update: bool = False) -> list[VoucherEligibility]:
        query = (
            select(VoucherEligibility)
            .where(VoucherEligibility.resident_id == resident_id)
            .order_by(VoucherEligibility.programme)
        )
        return list(self.db.execute(query.with_for_update() if for_update else query).scalars())

    # --- home-care service orders ------------------------------------------------------------------

    @rpc
    def request_order(self, actor, request):
        actor, data = Actor.from_dict(actor), load(OrderRequestSchema, request)
        person = ResidentId.parse(data["resident_id"])
        region = self._region_of(person.number)
        if actor.role == "citizen":
            if actor.id != person.number:
                raise Forbidden("a citizen orders for themselves (a caseworker may order on their behalf)")
        else:
            actor.require_staff_in(region)
        now = self.clock.now()
        order = ServiceOrder(
            id=str(uuid.uuid4()),
            resident_id=person.number,
            region_code=region,
            service=data["service"],
            provider=data["provider"],
            price_fen=data["price_fen"],
            for_month=self.clock.today().replace(day=1),
            state="requested",
            requested_by=actor.id,
            requested_at=now,
            updated_at=now,
            payment=data["payment"],
        )
        version = None
        if order.payment == "time_bank":
            # charity debits the credits from this event, after this transaction commits; the
            # provider accepts only once its answer has funded the order (on_credits_answered)
            minutes = self.policy.resolve("care.time_bank_minutes", region, self.clock.today())
            try:
                order.credit_minutes = rules.order_credit_minutes(order.service, minutes.value)
            except rules.InvalidInput as exc:
                raise PolicyUnusable(exc.reason) from None
            order.credits_state, version = "pending", minutes.version
            self.outbox.record(
                "care.credits_requested",
                f"order-{order.id}",
                {
                    "order_id": order.id,
                    "resident_id": order.resident_id,
                    "service": order.service,
                    "minutes": order.credit_minutes,
                },
            )
        else:
            self._offer(order)
        self.db.add(order)
        self.audit.record(
            actor,
            "order.request",
            f"order-{order.id}",
            "requested",
            policy_version=version,
            payment=order.payment,
            credit_minutes=order.credit_minutes,
        )
        return self._order_view(order)

    def _offer(self, order: ServiceOrder) -> None:
        """Tell the provider of an order it may serve: at once if the voucher pays, once funded
        if credits pay (a provider never hears of an order it could not accept)."""
        self.outbox.record(
            "care.order_requested",
            f"order-{order.id}",
            {
                "order_id": order.id,
                "service": order.service,
                "provider": order.provider,
                "region_code": order.region_code,
                "price_fen": order.price_fen,
            },
        )

    @rpc
    def accept_order(self, actor, order_id):
        return self._order_step(Actor.from_dict(actor), order_id, "accept")

    @rpc
    def deliver_order(self, actor, order_id):
        return self._order_step(Actor.from_dict(actor), order_id, "deliver")

    @rpc
    def confirm_order(self, actor, order_id):
        """The person served (or their caseworker) confirms; the voucher ledger then pays."""
        actor = Actor.from_dict(actor)
        view = self._order_step(actor, order_id, "confirm")
        order = self.db.get(ServiceOrder, order_id)
        self.outbox.record(
            "care.order_confirmed",
            f"order-{order.id}",
            {
                "order_id": order.id,
                "resident_id": order.resident_id,
                "price_fen": order.price_fen,
                "for_month": order.for_month,
            },
        )
        return view

    @rpc
    def cancel_order(self, actor, order_id, request):
        actor, data = Actor.from_dict(actor), load(OrderCancellationSchema, request)
        view = self._order_step(actor, order_id, "cancel")
        order = self.db.get(ServiceOrder, order_id)
        order.cancel_reason = data["reason"]
        self._cancelled(order)
        return {**view, "cancel_reason": order.cancel_reason}

    def _cancelled(self, order: ServiceOrder) -> None:
        """Say so: the time bank gives back credits redeemed for the order (charity.on_order_cancelled)."""
        self.outbox.record(
            "care.order_cancelled",
            f"order-{order.id}",
            {
                "order_id": order.id,
                "resident_id": order.resident_id,
                "payment": order.payment,
                "reason": order.cancel_reason,
            },
        )

    @handle_event("charity.credits_answered")
    def on_credits_answered(self, event):
        """The time bank's answer: redeemed funds the order (the provider is offered it now),
        refused cancels it with the reason, returned closes the credits of a cancelled order."""
        data = event.data
        order = self.db.get(ServiceOrder, data["order_id"], with_for_update=True)
        if order is None or order.payment != "time_bank":
            raise NotFound(f"no order {data['order_id']} paid with time-bank credits")  # retried, then parked
        try:
            move = rules.credits_answered(order.state, order.credits_state, data["outcome"], data["reason"])
        except rules.InvalidInput as exc:
            raise PolicyUnusable(exc.reason) from None
        if (move.credits_state, move.order_state) == (order.credits_state, order.state):
            return
        order.credits_state, order.state = move.credits_state, move.order_state
        order.updated_at = self.clock.now()
        self.audit.record(
            SYSTEM,
            f"order.credits_{data['outcome']}",
            f"order-{order.id}",
            order.state,
            reason=data["reason"],
            minutes=data["minutes"],
            cause=f"{event.type} {event.id}",
        )
        if move.cancel_reason:
            order.cancel_reason = move.cancel_reason
            self._cancelled(order)
        elif move.ask_return:
            self._cancelled(order)
        elif move.credits_state == "redeemed" and order.state == "requested":
            self._offer(order)

    @rpc
    def get_order(self, actor, order_id):
        actor = Actor.from_dict(actor)
        order = self._order(order_id, for_update=False)
        if actor.role == "partner":
            _require_order_provider(actor, order)
            return {**self._order_view(order), "resident_id": None}  # minimal disclosure, as in the event
        self._require_reader(actor, order.resident_id, order.region_code)
        return self._order_view(order)

    @handle_event("care.order_confirmed")
    def on_order_confirmed(self, event):
        """The voucher ledger: the month's budget pays what it still can, the person the rest. The
        person's eligibility row is locked, so two confirmations of one person take turns."""
        data = event.data
        if self.db.get(VoucherDrawdown, data["order_id"]) is not None:
            return  # drawn already (the inbox covers redelivery; this covers a re-confirmed copy)
        order = self.db.get(ServiceOrder, data["order_id"])
        if order is not None and order.payment == "time_bank":
            return  # the time bank paid it: the voucher budget is not drawn
        month = date.fromisoformat(str(data["for_month"]))
        best = _budget(self._grants(data["resident_id"], for_update=True), month)
        left = max(best.monthly_fen - self._used(data["resident_id"], month), 0) if best else 0
        split = rules.split_voucher(data["price_fen"], left)
        self.db.add(
            VoucherDrawdown(
                order_id=data["order_id"],
                resident_id=data["resident_id"],
                month=month,
                voucher_fen=split.voucher_fen,
                copay_fen=split.copay_fen,
                drawn_at=self.clock.now(),
            )
        )

    def _order_step(self, actor: Actor, order_id: str, action: str) -> dict:
        order = self._order(order_id)
        if actor.role == "partner":
            _require_order_provider(actor, order)
            by = "provider"
        elif actor.role == "citizen":
            if actor.id != order.resident_id:
                raise Forbidden("not your order")
            by = "person"
        else:
            actor.require_staff_in(order.region_code)
            by = "person"  # a caseworker acts for the person served
        try:
            order.state = rules.order_transition(order.state, action, by, order.credits_state)
        except rules.OrderRefused as exc:
            self.audit.record_refusal(actor, f"order.{action}", f"order-{order.id}", exc.reason, state=order.state)
            raise OrderStepRefused(exc.reason) from None
        order.updated_at = self.clock.now()
        self.audit.record(actor, f"order.{action}", f"order-{order.id}", order.state)
        view = self._order_view(order)
        return {**view, "resident_id": None} if by == "provider" else view

    def _order(self, order_id: str, for_update: bool = True) -> ServiceOrder:
        order = self.db.get(ServiceOrder, order_id, with_for_update=for_update)
        if order is None:
            raise NotFound(f"no order {order_id}")
        return order

    def _order_view(self, order: ServiceOrder) -> dict:
        drawn = self.db.get(VoucherDrawdown, order.id)
        return dump(
            OrderViewSchema,
            {
                "order_id": order.id,
                "resident_id": order.resident_id,
                "service": order.service,
                "provider": order.provider,
                "price_fen": order.price_fen,
                "state": order.state,
                "for_month": order.for_month,
                "voucher_fen": drawn.voucher_fen if drawn else None,
                "copay_fen": drawn.copay_fen if drawn else None,
                "payment": order.payment,
                "credit_minutes": order.credit_minutes,
                "credits_state": order.credits_state,
                "cancel_reason": order.cancel_reason,
            },
        )

    def _used(self, resident_id: str, month: date) -> int:
        return self.db.execute(
            select(func.coalesce(func.sum(VoucherDrawdown.voucher_fen), 0)).where(
                VoucherDrawdown.resident_id == resident_id, VoucherDrawdown.month == month
            )
        ).scalar_one()

    def _region_of(self, resident_id: str) -> str:
        grants = self._grants(resident_id)
        if grants:
            return grants[0].region_code
        elder = self.db.get(Elder, resident_id)
        if elder is not None:
            return elder.region_code
        raise UnknownElder("the person is neither in the elderly registry nor entitled to home-care vouchers")

    def _require_reader(self, actor: Actor, resident_id: str, region_code: str) -> None:
        if actor.role == "citizen":
            if actor.id != resident_id:
                raise Forbidden("a citizen sees only their own records")
        else:
            actor.require_staff_in(region_code)


def _require_order_provider(actor: Actor, order: ServiceOrder) -> None:
    """A provider sees and acts on its own orders only: its token names it (`org`), and another
    provider's order does not exist for it (404, not 403: that it exists is not its business)."""
    if actor.id != CARE_PROVIDERS:
        raise Forbidden("only home-care providers act on orders as a partner")
    if not actor.org:
        raise Forbidden("a home-care provider's token names the provider")
    if actor.org != order.provider:
        raise NotFound(f"no order {order.id}")


def _registration(row: DeviceRegistration) -> rules.Registration:
    return rules.Registration(row.platform, row.resident_id, row.registered_on, row.retired_on)


def _payment_view(payment: AllowancePayment) -> dict:
    return dump(
        PaymentViewSchema,
        {
            "payment_id": payment.id,
            "cycle_id": payment.cycle_id,
            "for_month": payment.for_month,
            "kind": payment.kind,
            "amount_fen": payment.amount_fen,
            "state": payment.state,
            "failure_reason": payment.failure_reason,
        },
    )


def _active(held: VoucherEligibility, month: date) -> bool:
    return held.starts_on.replace(day=1) <= month and (held.ends_on is None or held.ends_on >= month)


def _budget(grants: list[VoucherEligibility], month: date) -> VoucherEligibility | None:
    """The grant that sets the month's budget: the largest of those in force."""
    active = [g for g in grants if _active(g, month)]
    return max(active, key=lambda g: g.monthly_fen) if active else None


def _resident(resident_id: str) -> ResidentId:
    try:
        return ResidentId.parse(resident_id)
    except InvalidResidentId as exc:
        raise InvalidInput("not a resident ID number", errors={"resident_id": [exc.reason]}) from None
