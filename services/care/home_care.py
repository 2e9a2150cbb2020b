"""Home-care vouchers (养老服务补贴) and service orders. A mixin of the care service (nameko finds
inherited entrypoints).

Vouchers come from assistance's approvals (`assistance.approved`), never from re-entered data, and
end with the household's benefit; members who reach the voucher age after the approval get theirs
from the daily job. A service order goes requested → accepted → delivered (the provider named by
the token, only its own orders) → confirmed (the person served); the confirmation is an event, and
the voucher ledger that consumes it draws the budget once per order however often it arrives. An
order paid with the person's time-bank credits (时间银行) is choreographed with charity, which keeps
the ledger: the order and `care.credits_requested` commit together, charity debits once per order
and answers (`charity.credits_answered`), and only a funded order can be accepted; a refusal
cancels the order with the reason, and a cancellation (`care.order_cancelled`) has charity give the
credits back, once.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, update

from chassis import (
    SYSTEM,
    Actor,
    Forbidden,
    NotFound,
    handle_event,
    rpc,
)
from chassis.db import dialect_insert
from chassis.errors import refusals_as
from contracts.partners import CARE_PROVIDERS
from contracts.person import ResidentId
from contracts.roles import CITIZEN, PARTNER
from services.care import rules
from services.care.exceptions import OrderStepRefused, PolicyUnusable
from services.care.models import (
    EntitlementEnd,
    ServiceOrder,
    SupportedMember,
    VoucherDrawdown,
    VoucherEligibility,
)
from services.care.schemas import (
    OrderCancellationSchema,
    OrderRequestSchema,
    OrderViewSchema,
    VoucherViewSchema,
    dump,
    load,
)


class HomeCare:
    """Uses the care service's db, outbox, audit, policy, clock."""

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
            with refusals_as(PolicyUnusable):
                monthly = rules.voucher_monthly_fen(
                    data["programme"],
                    person.age_on(on),
                    min_age.value,
                    amounts.value,
                    member.get("severely_disabled", False),
                )
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
        person = self._resident(resident_id)
        month = self.clock.today().replace(day=1)
        grants = self._grants(person.number)
        if not grants:
            raise NotFound("no home-care voucher for this person")
        self._require_reader(actor, person.number, grants[0].region_code)
        best = rules.budget_grant(grants, month)
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
        if actor.role == CITIZEN:
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
            with refusals_as(PolicyUnusable):
                order.credit_minutes = rules.order_credit_minutes(order.service, minutes.value)
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
        with refusals_as(PolicyUnusable):
            move = rules.credits_answered(order.state, order.credits_state, data["outcome"], data["reason"])
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
        if actor.role == PARTNER:
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
        best = rules.budget_grant(self._grants(data["resident_id"], for_update=True), month)
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
        if actor.role == PARTNER:
            _require_order_provider(actor, order)
            by = "provider"
        elif actor.role == CITIZEN:
            if actor.id != order.resident_id:
                raise Forbidden("not your order")
            by = "person"
        else:
            actor.require_staff_in(order.region_code)
            by = "person"  # a caseworker acts for the person served
        with refusals_as(
            OrderStepRefused,
            audit=lambda refusal: self.audit.record_refusal(
                actor, f"order.{action}", f"order-{order.id}", refusal.reason, state=order.state
            ),
        ):
            order.state = rules.order_transition(order.state, action, by, order.credits_state)
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


def _require_order_provider(actor: Actor, order: ServiceOrder) -> None:
    """A provider sees and acts on its own orders only: its token names it (`org`), and another
    provider's order does not exist for it (404, not 403: that it exists is not its business)."""
    if actor.id != CARE_PROVIDERS:
        raise Forbidden("only home-care providers act on orders as a partner")
    if not actor.org:
        raise Forbidden("a home-care provider's token names the provider")
    if actor.org != order.provider:
        raise NotFound(f"no order {order.id}")
