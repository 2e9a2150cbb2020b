"""The old-age allowance (高龄津贴) of elderly care: enrolment without application, its end, and its
monthly payment run. A mixin of the care service (nameko finds inherited entrypoints).

The allowance needs no application: a daily job enrols everyone in the registry who has reached
the qualifying age, from the month the rules say, once per person. The job is one set-based
statement per region and does not depend on when it last ran, so a missed day (or a month of
downtime) is caught up by the next run with the right start months, and running it twice enrols
nobody twice. The allowance is paid monthly by each district through the chassis payment run
(services/care/payments.py says what it pays); an enrolment ends only through `_end_allowance`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

from sqlalchemy import func, select, text

from chassis import (
    SYSTEM,
    Actor,
    Forbidden,
    InvalidInput,
    NotFound,
    rpc,
)
from chassis.clock import LOCAL_ZONE
from chassis.db import dialect_insert
from chassis.errors import Unavailable, refusals_as
from chassis.lease import leased_job, tally_run
from chassis.regions import region_ancestors, region_prefix
from chassis.tables import policy_parameters
from contracts.partners import BANKS
from contracts.person import ResidentId, age_on
from contracts.roles import ADMIN, PARTNER
from services.care import payments, rules
from services.care.exceptions import PolicyUnusable, UnknownElder
from services.care.models import (
    AllowanceEnrolment,
    AllowanceJobRun,
    AllowancePayment,
    Elder,
    SupportedMember,
    VoucherEligibility,
)
from services.care.schemas import (
    AllowanceCycleRequestSchema,
    AllowanceEndSchema,
    AllowanceJobViewSchema,
    BankBatchViewSchema,
    BankResultsRequestSchema,
    PaymentCycleViewSchema,
    ReconcileViewSchema,
    dump,
    load,
)

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


class Allowance:
    """Uses the care service's db, audit, policy, clock, lease (the hourly job), log, bank_files."""

    # --- the old-age allowance, without application -----------------------------------------------

    @leased_job("care.allowance_enrolment", every=timedelta(hours=1))
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
        if actor.role != ADMIN:
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
        runs, enrolled_today = tally_run(
            self.db, AllowanceJobRun.__table__, today, self.clock.now(), "enrolled", enrolled
        )
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
                with refusals_as(PolicyUnusable):
                    monthly = rules.voucher_monthly_fen(
                        member.programme, age_on(member.birth_date, today), min_age.value, amounts.value
                    )
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
        with refusals_as(
            PolicyUnusable,
            detail=f"the old-age allowance policy for {region_code} on {on} is unusable: {{reason}}",
            also=(AttributeError, ValueError),
        ):
            bands = {int(age): fen for age, fen in values["bands_fen"].value.items()}
            return rules.AllowancePolicy(
                version=";".join(v.version for v in values.values()),
                qualifying_age=values["qualifying_age"].value,
                start=values["start"].value,
                bands_fen=bands,
                in_force_from=self._scheme_start(region_code),
            )

    # --- the allowance's end ------------------------------------------------------------------------

    @rpc
    def end_allowance(self, actor, resident_id, request):
        """End a person's old-age allowance as of a day (staff of the person's area): a move out of
        the city, an enrolment found wrong. The after-death flow calls `_end_allowance` itself."""
        actor, data = Actor.from_dict(actor), load(AllowanceEndSchema, request)
        elder = self.db.get(Elder, self._resident(resident_id).number)
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
            "paid_after_end": [self.desk.payment_view(p) for p in later if p.state != "failed"],
            "withheld": [self.desk.payment_view(p) for p in later if p.id in ids],
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
        summary = self.desk.freeze(actor, first, self.clock.now(), scope=district, params={**where, **bands})
        return dump(PaymentCycleViewSchema, asdict(summary))

    @rpc
    def get_allowance_cycle(self, actor, cycle_id):
        self._require_cycle_staff(Actor.from_dict(actor), cycle_id)
        return dump(PaymentCycleViewSchema, asdict(self.desk.summary(cycle_id)))

    @rpc
    def send_allowance_batch(self, actor, cycle_id):
        """Write the cycle's pending payments for the bank, with control totals; frozen -> sent."""
        actor = Actor.from_dict(actor)
        self._require_cycle_staff(actor, cycle_id)
        return dump(BankBatchViewSchema, self.desk.send(actor, cycle_id))

    @rpc
    def reconcile_allowance_results(self, actor, cycle_id, request):
        """The bank's answers, from the bank (partner `banks`) or the district's staff. Re-applying
        changes nothing; contradictions are refused and listed; failures are paid again as arrears."""
        actor, data = Actor.from_dict(actor), load(BankResultsRequestSchema, request)
        if not (actor.role == PARTNER and actor.id == BANKS):
            self._require_cycle_staff(actor, cycle_id)
        # a payment the bank did not make is no overpayment
        summary = self.desk.reconcile(
            actor, cycle_id, data["results"], then=lambda _: self._recount_allowance_recoveries(cycle_id)
        )
        return dump(ReconcileViewSchema, summary.view())

    @rpc
    def allowance_payments(self, actor, resident_id):
        """A person's allowance payments, newest month first: for the person and their caseworkers."""
        actor = Actor.from_dict(actor)
        elder = self.db.get(Elder, self._resident(resident_id).number)
        if elder is None:
            raise UnknownElder("no such person in the elderly registry")
        self._require_reader(actor, elder.resident_id, elder.region_code)
        rows = self.db.execute(
            select(AllowancePayment)
            .where(AllowancePayment.resident_id == elder.resident_id)
            .order_by(AllowancePayment.for_month.desc(), AllowancePayment.id.desc())
        ).scalars()
        return [self.desk.payment_view(p) for p in rows]

    @staticmethod
    def _paying_district(region_code: str) -> str:
        with refusals_as(InvalidInput, field="region_code"):
            return rules.paying_district(region_code)

    def _require_cycle_staff(self, actor: Actor, cycle_id: str) -> None:
        """A cycle is its district's: staff whose area covers the district (or admins)."""
        actor.require_staff_in(self.desk.scope_of(cycle_id))
