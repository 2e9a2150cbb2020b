"""一件事 over HTTP: opening a matter, where it stands (the progress view's own tables), the
partner departments' step reports and birth notices. The matters are the gateway's own records
(gateway/progress.py folds the events into them); what opens one is the service's."""

from __future__ import annotations

import uuid

from sqlalchemy import and_, bindparam, exists, select

from chassis import (
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceRpc,
)
from chassis.errors import Conflict, NotYet, refusals_as
from chassis.regions import region_prefix
from chassis.schemas import dump
from contracts import marriage as m
from contracts.events import BirthFactsSchema
from contracts.matters import MATTER_TYPES, matter_type
from contracts.progress import (
    BirthAcceptedSchema,
    BirthNotificationRequestSchema,
    JointHandlingSchema,
    MatterListSchema,
    MatterViewSchema,
    StepReportAcceptedSchema,
    StepReportRequestSchema,
)
from contracts.roles import ADMIN, CITIZEN, CLERK, PARTNER
from gateway import progress_rules as rules
from gateway.api import route
from gateway.models import BirthNotice, Matter, MatterStep, MatterSubject, StepReport
from gateway.progress import step_state

# "Where is my matter", as one set-based statement built once (SQLAlchemy compiles it once): the
# matter, its steps and their applied or ignored reports; a citizen's form also requires them to be
# one of the matter's subjects.
MATTER_VIEW = (
    select(
        Matter.matter_type,
        Matter.region_code,
        Matter.opened_at,
        Matter.completed_at,
        Matter.revoked_at,
        MatterStep.step,
        MatterStep.position,
        MatterStep.owner,
        MatterStep.title,
        MatterStep.state,
        MatterStep.started_at,
        MatterStep.deadline,
        MatterStep.reported_at,
        MatterStep.reason,
        StepReport.id.label("report_id"),
        StepReport.state.label("report_state"),
        StepReport.reported_at.label("report_at"),
        StepReport.reason.label("report_reason"),
        StepReport.applied,
    )
    .select_from(Matter)
    .outerjoin(MatterStep, MatterStep.matter_id == Matter.id)
    .outerjoin(
        StepReport,
        and_(
            StepReport.matter_id == MatterStep.matter_id,
            StepReport.step == MatterStep.step,
            StepReport.applied != "refused",
        ),
    )
    .where(Matter.id == bindparam("matter_id"))
)
MATTER_VIEW_OF_SUBJECT = MATTER_VIEW.where(
    exists().where(MatterSubject.matter_id == Matter.id, MatterSubject.resident_id == bindparam("resident_id"))
)


class MatterRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    marriage = ServiceRpc("marriage")  # the marriage one-matter opens there

    # --- 一件事: matters ------------------------------------------------------------------------

    @route(
        "POST",
        "/api/v1/matters/marriage-birth-hukou",
        roles=(CITIZEN, CLERK),
        tag="matters",
        summary="Apply once for 结婚生育户口一件事 (books the registration, opens the matter)",
        body=m.OneMatterApplicationSchema,
        response=m.OneMatterOpenedSchema,
        status=201,
        example={
            "office_code": "330602",
            "slot_start": "2027-03-01T09:30:00+08:00",
            "party_a": {"resident_id": "330602199504010011", "name": "王刚"},
            "party_b": {"resident_id": "33060219970808002X", "name": "周敏"},
        },
    )
    def apply_marriage_birth_hukou(self, actor, body):
        return self.marriage.open_marriage_matter(actor.as_dict(), body)

    @route(
        "GET",
        "/api/v1/matters",
        roles=(CITIZEN,),
        tag="matters",
        summary="The calling citizen's matters, each with every step",
        response=MatterListSchema,
    )
    def my_matters(self, actor, body):
        ids = self.db.execute(select(MatterSubject.matter_id).where(MatterSubject.resident_id == actor.id)).scalars()
        return {"matters": [view for _, view in filter(None, (self._matter_view(i) for i in ids))]}

    @route(
        "GET",
        "/api/v1/matters/<matter_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="matters",
        summary="Where is my matter: every step, its owner, state, deadline, overdue flag and earlier reports",
        response=MatterViewSchema,
    )
    def get_matter(self, actor, body, matter_id):
        # a citizen's read names them as a subject in the statement itself: one round trip, and a
        # matter that is not theirs looks like one that does not exist (404, not 403)
        found = self._matter_view(matter_id, subject=actor.id if actor.role == CITIZEN else None)
        if found is None:
            raise NotFound(f"no matter {matter_id}")
        region_code, view = found
        if actor.role != CITIZEN and not actor.covers(region_code):
            raise Forbidden(f"matter {matter_id} is outside your area")
        return view

    def _matter(self, matter_id) -> Matter:
        matter = self.db.get(Matter, matter_id)
        if matter is None:
            raise NotFound(f"no matter {matter_id}")
        return matter

    def _matter_view(self, matter_id: str, owner: str | None = None, subject: str | None = None):
        """(region code, the view) of the matter, or None if there is none (or `subject` is not one
        of its citizens). One statement, one snapshot, outside the worker's transaction: the matter
        row, its steps and their reports cannot disagree, and the read is a single round trip."""
        if subject is None:
            joined = self.db.read(MATTER_VIEW, {"matter_id": matter_id})
        else:
            joined = self.db.read(MATTER_VIEW_OF_SUBJECT, {"matter_id": matter_id, "resident_id": subject})
        if not joined:
            return None
        head = joined[0]
        steps: dict[str, tuple] = {}  # step -> (its row, its reports)
        for row in joined:
            if row.step is not None:
                steps.setdefault(row.step, (row, []))[1].extend([row] if row.report_id is not None else [])
        ordered = sorted(steps.values(), key=lambda entry: entry[0].position)
        states = [
            rules.StepState(r.step, r.owner, r.state, r.started_at, r.deadline, r.reported_at, r.reason)
            for r, _ in ordered
        ]
        kind = matter_type(head.matter_type)
        now = self.clock.now()
        view = {
            "matter_id": matter_id,
            "matter_type": kind.name,
            "title": kind.title,
            "state": rules.matter_state(states, head.revoked_at is not None),
            "opened_at": head.opened_at,
            "completed_at": head.completed_at,
            "revoked_at": head.revoked_at,
            "steps": [
                {
                    "step": st.step,
                    "title": row.title,
                    "owner": st.owner,
                    "state": st.state,
                    "started_at": st.started_at,
                    "deadline": st.deadline,
                    "reported_at": st.reported_at,
                    "reason": st.reason,
                    "overdue": rules.is_overdue(st, now),
                    "history": self._step_history(
                        [rules.Report(r.report_state, r.report_at, r.report_reason, r.report_id) for r in reports],
                        [r.applied == "yes" for r in reports],
                    ),
                }
                for st, (row, reports) in zip(states, ordered)
                if owner is None or st.owner == owner
            ],
        }
        return head.region_code, dump(MatterViewSchema, view)

    @staticmethod
    def _step_history(reports: list[rules.Report], applied_flags: list[bool]) -> list[dict]:
        """The owner's reports of a step but the one it reads as now, oldest first."""
        earlier, applied = rules.history(reports, applied_flags)
        return [
            {"state": r.state, "reason": r.reason, "reported_at": r.at, "applied": took_effect}
            for r, took_effect in zip(earlier, applied)
        ]

    @route(
        "GET",
        "/api/v1/statistics/joint-handling/<matter_type_name>",
        roles=(CLERK, ADMIN),
        tag="matters",
        summary="联办率: share of the area's decided matters of this type granted without a second application",
        response=JointHandlingSchema,
    )
    def joint_handling_rate(self, actor, body, matter_type_name):
        if matter_type_name not in MATTER_TYPES:
            raise NotFound(f"no matter type {matter_type_name}")
        kind = matter_type(matter_type_name)
        query = (
            select(MatterStep.matter_id, MatterStep.state)
            .join(Matter, Matter.id == MatterStep.matter_id)
            .where(Matter.matter_type == kind.name)
        )
        if actor.role == CLERK:
            if not actor.area:
                raise Forbidden("a caseworker without an area sees no statistics")
            query = query.where(Matter.region_code.startswith(region_prefix(actor.area), autoescape=True))
        by_matter: dict[str, list[str]] = {}
        for matter_id, state in self.db.execute(query):
            by_matter.setdefault(matter_id, []).append(state)
        result = rules.joint_handling(list(by_matter.values()))
        return {
            "matter_type": kind.name,
            "region_code": actor.area,
            "matters": result.matters,
            "decided": result.decided,
            "all_granted": result.all_granted,
            "in_progress": result.in_progress,
            "rate": result.rate,
        }

    # --- partner departments ----------------------------------------------------------------

    @route(
        "GET",
        "/api/v1/partner/matters/<matter_id>",
        roles=(PARTNER,),
        tag="partners",
        summary="A matter as a partner sees it: only the partner's own steps",
        response=MatterViewSchema,
    )
    def partner_matter(self, actor, body, matter_id):
        found = self._matter_view(matter_id, owner=actor.id)
        if found is None:
            raise NotFound(f"no matter {matter_id}")
        view = found[1]
        if not view["steps"]:
            raise NotFound(f"no step of yours in matter {matter_id}")
        return view

    @route(
        "POST",
        "/api/v1/partner/matters/<matter_id>/steps/<step>",
        roles=(PARTNER,),
        tag="partners",
        summary="Report the outcome of your step (done, rejected with a reason, not applicable), or report it again",
        body=StepReportRequestSchema,
        forward=False,
        response=StepReportAcceptedSchema,
        status=202,
    )
    def report_step(self, actor, body, matter_id, step):
        matter = self._matter(matter_id)
        row = self.db.get(MatterStep, (matter_id, step))
        if row is None:
            raise NotFound(f"matter {matter_id} has no step {step}")
        with (
            refusals_as(Forbidden if row.owner != actor.id else Conflict),
            refusals_as(NotYet, kind=rules.NotRevokedYet),
        ):
            fresh = rules.check_report(
                step_state(row), actor.id, body["state"], matter.revoked_at is not None, body["reason"]
            )
        event_id = None
        if fresh:
            event_id = self.outbox.record(
                "matter.step_reported",
                f"matter-{matter_id}",
                {
                    "matter_type": matter.matter_type,
                    "step": step,
                    "state": body["state"],
                    "reason": body["reason"],
                    "reported_by": actor.id,
                },
                matter_id=matter_id,
            ).id
        return {"matter_id": matter_id, "step": step, "state": body["state"], "event_id": event_id}

    @route(
        "POST",
        "/api/v1/partner/births",
        roles=(PARTNER,),
        tag="partners",
        summary="A hospital birth certificate (health department): starts the newborn steps",
        body=BirthNotificationRequestSchema,
        forward=False,
        response=BirthAcceptedSchema,
        status=202,
        example={
            "child": {
                "name": "王小满",
                "birth_date": "2026-09-01",
                "sex": "female",
                "birth_certificate_number": "O330602777",
            },
            "mother_resident_id": "33060219970808002X",
            "father_resident_id": "330602199504010011",
            "hospital": "绍兴市妇幼保健院",
        },
    )
    def notify_birth(self, actor, body):
        if actor.id != "health":
            raise Forbidden("births are notified by the health department")
        certificate = body["child"]["birth_certificate_number"]
        if body["child"]["birth_date"] > self.clock.today():
            raise InvalidInput("a birth is notified after it happened", errors={"child.birth_date": ["after today"]})
        facts = BirthFactsSchema().dump(body)
        seen = self.db.execute(
            select(BirthNotice).where(BirthNotice.birth_certificate_number == certificate).with_for_update()
        ).scalar_one_or_none()
        if seen is not None:  # the same certificate again (another source, a retry): one birth, if it is
            differing = rules.differing_facts(seen.facts, facts, seen.hospital)
            if differing:
                raise Conflict(
                    "this birth certificate number was notified for another birth",
                    errors={field: ["differs from the certificate's first notice"] for field in differing},
                )
            return {"birth_id": seen.birth_id, "matter_id": seen.matter_id, "event_id": seen.event_id}
        mother = body["mother_resident_id"]
        matter_id = body.pop("matter_id")
        if matter_id is None:
            matter_id = self._parents_matter(mother)
        elif matter_id not in self.marriage.birth_matters(mother):
            raise InvalidInput(
                "the matter is not this mother's 结婚生育户口一件事",
                errors={"matter_id": ["no marriage-birth-hukou matter of this mother has this id"]},
            )
        birth_id = str(uuid.uuid4())
        event = self.outbox.record(
            "birth.notified", f"birth-{birth_id}", {**body, "birth_id": birth_id}, matter_id=matter_id
        )
        self.db.add(
            BirthNotice(
                hospital=body["hospital"],
                birth_certificate_number=certificate,
                facts=facts,
                birth_id=birth_id,
                matter_id=matter_id,
                event_id=event.id,
            )
        )
        return {"birth_id": birth_id, "matter_id": matter_id, "event_id": event.id}

    def _parents_matter(self, mother_id: str) -> str | None:
        """The mother's 结婚生育户口一件事 still waiting for its birth half, if she has one. The
        marriage registry, which opened it, names her matters (whether or not the progress view has
        seen them yet); one a birth was linked to already is not waiting any more."""
        for matter_id in self.marriage.birth_matters(mother_id):
            if self.db.execute(select(BirthNotice.birth_id).where(BirthNotice.matter_id == matter_id)).first() is None:
                return matter_id
        return None
