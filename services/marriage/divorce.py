"""协议离婚: divorce by agreement, with its 30-day cooling-off period. A mixin of the marriage
service (nameko finds inherited entrypoints)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from chassis import (
    Actor,
    InvalidInput,
    rpc,
)
from chassis.audit import SYSTEM
from chassis.errors import refusals_as
from chassis.lease import leased_job
from services.marriage import rules
from services.marriage.exceptions import (
    DivorceStepRefused,
    UnknownRecord,
)
from services.marriage.models import (
    Certificate,
    Divorce,
    Marriage,
    Spouse,
)
from services.marriage.schemas import (
    DivorceDecisionSchema,
    DivorceRequestSchema,
    DivorceSchema,
    dump,
    load,
)


class Divorces:
    """Mixed into the marriage service; uses its db, outbox, audit, clock."""

    # --- divorce by agreement (协议离婚) -------------------------------------------------------

    @rpc
    def apply_divorce(self, actor, request):
        actor, data = Actor.from_dict(actor), load(DivorceRequestSchema, request)
        actor.require_staff_in(data["office_code"])
        self._office(data["office_code"])
        marriage = self._marriage_by_certificate(data["certificate_number"])
        # serialise applications for one marriage: two clerks double-submitting open one divorce
        self.db.execute(select(Marriage.id).where(Marriage.id == marriage.id).with_for_update())
        if marriage.state != "registered":
            raise DivorceStepRefused(f"the marriage is {marriage.state}")
        open_divorce = self.db.execute(
            select(Divorce.id).where(Divorce.marriage_id == marriage.id, Divorce.state == "cooling_off")
        ).first()
        if open_divorce:
            raise DivorceStepRefused(f"divorce application {open_divorce.id} is already open")
        law = self._law(data["office_code"], self.clock.today())
        state = rules.receive_divorce(self.clock.today(), law)
        divorce = Divorce(
            id=str(uuid.uuid4()),
            marriage_id=marriage.id,
            office_code=data["office_code"],
            received_on=state.received_on,
            cooling_off_ends=state.cooling_off_ends,
            certificate_window_ends=state.certificate_window_ends,
            state=state.state,
            policy_version=law.version,
        )
        self.db.add(divorce)
        self.audit.record(
            actor,
            "divorce.apply",
            f"divorce-{divorce.id}",
            state.state,
            policy_version=law.version,
            cooling_off_ends=state.cooling_off_ends.isoformat(),
        )
        return self._divorce_view(divorce, None)

    @rpc
    def withdraw_divorce(self, actor, divorce_id, request):
        actor, data = Actor.from_dict(actor), load(DivorceDecisionSchema, request)
        divorce, marriage = self._divorce_for_update(actor, divorce_id)
        if data["withdrawn_by"] not in (marriage.party_a_id, marriage.party_b_id):
            raise InvalidInput("only a party can withdraw", errors={"withdrawn_by": ["not a party to this marriage"]})
        moved = self._move(actor, divorce, lambda d, on: rules.withdraw(d, on), "divorce.withdraw")
        divorce.withdrawn_by = data["withdrawn_by"]
        return self._divorce_view(divorce, None, moved)

    @rpc
    def register_divorce(self, actor, divorce_id, request):
        actor, data = Actor.from_dict(actor), load(DivorceDecisionSchema, request)
        divorce, marriage = self._divorce_for_update(actor, divorce_id)
        moved = self._move(
            actor, divorce, lambda d, on: rules.register(d, on, data["both_present"]), "divorce.register"
        )
        marriage.state, marriage.ended_on = "divorced", moved.closed_on
        for spouse in self.db.execute(select(Spouse).where(Spouse.marriage_id == marriage.id)).scalars():
            self.db.delete(spouse)
        number = self._issue_certificate("divorce", marriage, moved.closed_on, divorce_id=divorce.id)
        for certificate in self.db.execute(
            select(Certificate).where(
                Certificate.marriage_id == marriage.id, Certificate.kind != "divorce", Certificate.state == "valid"
            )
        ).scalars():
            certificate.state, certificate.void_reason = "void", f"marriage dissolved by divorce {number}"
        self.outbox.record(
            "marriage.divorce_registered",
            f"divorce-{divorce.id}",
            {
                "divorce_id": divorce.id,
                "registration_id": marriage.id,
                "certificate_number": number,
                "registered_on": moved.closed_on,
                "party_a": {"resident_id": marriage.party_a_id},
                "party_b": {"resident_id": marriage.party_b_id},
            },
        )
        return self._divorce_view(divorce, number, moved)

    @rpc
    def get_divorce(self, actor, divorce_id):
        actor = Actor.from_dict(actor)
        divorce = self.db.get(Divorce, divorce_id)
        if divorce is None:
            raise UnknownRecord(f"no divorce application {divorce_id}")
        actor.require_staff_in(divorce.office_code)
        number = self.db.execute(select(Certificate.number).where(Certificate.divorce_id == divorce.id)).scalar()
        return self._divorce_view(divorce, number)

    @leased_job("marriage.divorce_lapse", every=timedelta(hours=1))
    def lapse_divorces(self):
        """视为撤回: applications nobody completed within the certificate window lapse."""
        today = self.clock.today()
        for divorce in self.db.execute(
            select(Divorce).where(Divorce.state == "cooling_off", Divorce.certificate_window_ends < today)
        ).scalars():
            lapsed = rules.lapse(self._rule_state(divorce), today)
            divorce.state, divorce.closed_on = lapsed.state, lapsed.closed_on
            self.audit.record(
                SYSTEM, "divorce.lapse", f"divorce-{divorce.id}", lapsed.state, policy_version=divorce.policy_version
            )

    def _divorce_for_update(self, actor, divorce_id):
        divorce = self.db.execute(
            select(Divorce).where(Divorce.id == divorce_id).with_for_update()
        ).scalar_one_or_none()
        if divorce is None:
            raise UnknownRecord(f"no divorce application {divorce_id}")
        actor.require_staff_in(divorce.office_code)
        marriage = self.db.execute(
            select(Marriage).where(Marriage.id == divorce.marriage_id).with_for_update()
        ).scalar_one()
        if marriage.state != "registered" and divorce.state == "cooling_off":
            raise DivorceStepRefused(f"the marriage is already {marriage.state}")
        return divorce, marriage

    def _move(self, actor, divorce: Divorce, transition, action: str) -> rules.Divorce:
        today = self.clock.today()
        with refusals_as(
            DivorceStepRefused,
            audit=lambda refusal: self.audit.record_refusal(
                actor, action, f"divorce-{divorce.id}", refusal.reason, policy_version=divorce.policy_version
            ),
        ):
            moved = transition(self._rule_state(divorce), today)
        divorce.state, divorce.closed_on = moved.state, moved.closed_on
        self.audit.record(actor, action, f"divorce-{divorce.id}", moved.state, policy_version=divorce.policy_version)
        return moved

    @staticmethod
    def _rule_state(divorce: Divorce) -> rules.Divorce:
        return rules.Divorce(
            received_on=divorce.received_on,
            state=divorce.state,
            cooling_off_ends=divorce.cooling_off_ends,
            certificate_window_ends=divorce.certificate_window_ends,
            closed_on=divorce.closed_on,
        )

    def _divorce_view(self, divorce: Divorce, number, moved: rules.Divorce | None = None) -> dict:
        state = rules.effective_state(moved or self._rule_state(divorce), self.clock.today())
        marriage_number = self.db.execute(
            select(Certificate.number)
            .where(Certificate.marriage_id == divorce.marriage_id, Certificate.kind != "divorce")
            .order_by(Certificate.issued_on.desc())
        ).scalar()
        return dump(
            DivorceSchema,
            {
                "divorce_id": divorce.id,
                "marriage_certificate_number": marriage_number,
                "state": state,
                "received_on": divorce.received_on,
                "cooling_off_ends": divorce.cooling_off_ends,
                "certificate_window_ends": divorce.certificate_window_ends,
                "certificate_number": number,
            },
        )
