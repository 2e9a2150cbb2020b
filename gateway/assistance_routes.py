"""Social assistance (社会救助) over HTTP: applications through their process, and the monthly
payment run. Area scoping and every rule live in the assistance service; these routes only check
the role, validate the body against the contract and pass the caller along."""

from __future__ import annotations

from chassis import ServiceRpc
from contracts import assistance as a
from contracts import payments as pay
from contracts.roles import ADMIN, CITIZEN, CLERK, PARTNER, STAFF
from gateway.api import route

APPLICATIONS = "/api/v1/assistance/applications"
CYCLES = "/api/v1/assistance/payment-cycles"
ALERTS = "/api/v1/assistance/alerts"
HOUSEHOLDS = "/api/v1/assistance/households"
ENTITLEMENTS = "/api/v1/assistance/entitlements"
RECOVERIES = "/api/v1/assistance/recoveries"


class AssistanceRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    assistance = ServiceRpc("assistance")

    @route(
        "POST",
        APPLICATIONS,
        roles=(CITIZEN, CLERK),
        tag="assistance",
        status=201,
        summary="Apply for 低保 / 低保边缘 / 特困 / 临时救助 / a disability subsidy (a caseworker may apply on a "
        "household's behalf)",
        body=a.ApplicationRequestSchema,
        response=a.ApplicationViewSchema,
    )
    def apply_for_assistance(self, actor, body):
        return self.assistance.apply(actor.as_dict(), body)

    @route(
        "GET",
        APPLICATIONS,
        roles=STAFF,
        tag="assistance",
        query=a.ApplicationQuerySchema,
        summary="The caseworker's queue: applications of their area, the most urgent first, a page at a time",
        response=a.ApplicationPageSchema,
    )
    def assistance_queue(self, actor, body, query):
        return self.assistance.application_page(actor.as_dict(), query)

    @route(
        "GET",
        APPLICATIONS + "/overdue",
        roles=STAFF,
        tag="assistance",
        summary="Open applications of the area past their 20-working-day decision date",
        response=a.ApplicationListSchema,
    )
    def assistance_overdue(self, actor, body):
        open_states = list(a.OPEN_APPLICATION_STATES)
        return {"applications": self.assistance.list_applications(actor.as_dict(), open_states, overdue_only=True)}

    @route(
        "GET",
        APPLICATIONS + "/<application_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="assistance",
        summary="An application with its journal, economic-check report and explanation",
        response=a.ApplicationViewSchema,
    )
    def get_assistance_application(self, actor, body, application_id):
        return self.assistance.get_application(actor.as_dict(), application_id)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/acceptance",
        roles=STAFF,
        tag="assistance",
        summary="受理: the township accepts; the 20-working-day limit starts",
        response=a.ApplicationViewSchema,
    )
    def accept_assistance_application(self, actor, body, application_id):
        return self.assistance.accept(actor.as_dict(), application_id)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/economic-check",
        roles=STAFF,
        tag="assistance",
        summary="核对: ask every partner data source about every member; a failed source is shown failed",
        response=a.ApplicationViewSchema,
    )
    def run_economic_check(self, actor, body, application_id):
        return self.assistance.run_economic_check(actor.as_dict(), application_id)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/notice",
        roles=STAFF,
        tag="assistance",
        summary="公示: publish the public notice",
        response=a.ApplicationViewSchema,
    )
    def publish_assistance_notice(self, actor, body, application_id):
        return self.assistance.publish_notice(actor.as_dict(), application_id)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/objections",
        roles=STAFF,
        tag="assistance",
        summary="Record an objection raised during the notice; the case goes back for review",
        body=a.ObjectionRequestSchema,
        response=a.ApplicationViewSchema,
    )
    def object_to_assistance(self, actor, body, application_id):
        return self.assistance.object(actor.as_dict(), application_id, body)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/decision",
        roles=STAFF,
        tag="assistance",
        summary="审批: approve or reject at the policy's approval level, with the reason",
        body=a.DecisionRequestSchema,
        response=a.ApplicationViewSchema,
    )
    def decide_assistance(self, actor, body, application_id):
        return self.assistance.decide(actor.as_dict(), application_id, body)

    @route(
        "POST",
        APPLICATIONS + "/<application_id>/withdrawal",
        roles=(CITIZEN, CLERK),
        tag="assistance",
        summary="撤回: the applicant withdraws an undecided application (a caseworker may record it for them)",
        body=a.WithdrawalRequestSchema,
        response=a.ApplicationViewSchema,
    )
    def withdraw_assistance(self, actor, body, application_id):
        return self.assistance.withdraw(actor.as_dict(), application_id, body)

    @route(
        "GET",
        HOUSEHOLDS + "/<household_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="assistance",
        summary="A household: its members (current and former) and its entitlements",
        response=a.HouseholdViewSchema,
    )
    def get_household(self, actor, body, household_id):
        return self.assistance.get_household(actor.as_dict(), household_id)

    @route(
        "POST",
        HOUSEHOLDS + "/<household_id>/members",
        roles=STAFF,
        tag="assistance",
        status=201,
        summary="A member joins (e.g. a newborn once registered); 低保 is recomputed",
        body=a.MemberJoinsSchema,
        response=a.HouseholdViewSchema,
    )
    def add_household_member(self, actor, body, household_id):
        return self.assistance.add_member(actor.as_dict(), household_id, body)

    @route(
        "POST",
        HOUSEHOLDS + "/<household_id>/members/<member_id>/departure",
        roles=STAFF,
        tag="assistance",
        summary="A member leaves the household; 低保 is recomputed",
        body=a.MemberLeavesSchema,
        response=a.HouseholdViewSchema,
    )
    def household_member_leaves(self, actor, body, household_id, member_id):
        return self.assistance.member_leaves(actor.as_dict(), household_id, member_id, body)

    @route(
        "POST",
        HOUSEHOLDS + "/<household_id>/members/<member_id>/identification",
        roles=STAFF,
        tag="assistance",
        summary="Record a newborn member's resident ID once the hukou is registered",
        body=a.MemberIdentificationSchema,
        response=a.HouseholdViewSchema,
    )
    def identify_household_member(self, actor, body, household_id, member_id):
        return self.assistance.identify_member(actor.as_dict(), household_id, member_id, body)

    @route(
        "POST",
        ENTITLEMENTS + "/<entitlement_id>/exit",
        roles=STAFF,
        tag="assistance",
        summary="退出: end an entitlement (with the gradual exit when income rose above the standard)",
        body=a.ExitRequestSchema,
        response=a.HouseholdViewSchema,
    )
    def exit_entitlement(self, actor, body, entitlement_id):
        return self.assistance.exit_entitlement(actor.as_dict(), entitlement_id, body)

    @route(
        "GET",
        "/api/v1/assistance/reviews-due",
        roles=STAFF,
        tag="assistance",
        summary="复核: the area's entitlements whose periodic re-check is due within 30 days",
        response=a.ReviewsDueSchema,
    )
    def reviews_due(self, actor, body):
        return {"entitlements": self.assistance.reviews_due(actor.as_dict())}

    @route(
        "POST",
        ENTITLEMENTS + "/<entitlement_id>/reviews",
        roles=STAFF,
        tag="assistance",
        summary="Record a re-check that keeps the benefit; the next one is scheduled",
        body=a.ReviewRequestSchema,
        response=a.HouseholdViewSchema,
    )
    def record_review(self, actor, body, entitlement_id):
        return self.assistance.record_review(actor.as_dict(), entitlement_id, body)

    @route(
        "POST",
        "/api/v1/assistance/policy-versions",
        roles=(ADMIN,),
        tag="assistance",
        status=201,
        summary="Add a version of a policy parameter for a region from a date (never an edit)",
        body=a.PolicyVersionRequestSchema,
        response=a.PolicyVersionViewSchema,
    )
    def add_policy_version(self, actor, body):
        return self.assistance.add_policy_version(actor.as_dict(), body)

    @route(
        "GET",
        ALERTS,
        roles=STAFF,
        tag="assistance",
        summary="主动发现: the area's open risk alerts and visit tasks, the most urgent visit first",
        response=a.AlertListSchema,
    )
    def assistance_alerts(self, actor, body):
        return {"alerts": self.assistance.list_alerts(actor.as_dict())}

    @route(
        "POST",
        ALERTS + "/<alert_id>/acknowledgement",
        roles=STAFF,
        tag="assistance",
        summary="A caseworker takes the alert",
        response=a.AlertViewSchema,
    )
    def acknowledge_alert(self, actor, body, alert_id):
        return self.assistance.acknowledge_alert(actor.as_dict(), alert_id)

    @route(
        "POST",
        ALERTS + "/<alert_id>/resolution",
        roles=STAFF,
        tag="assistance",
        summary="Close the alert with what was done",
        body=a.AlertResolutionSchema,
        response=a.AlertViewSchema,
    )
    def resolve_alert(self, actor, body, alert_id):
        return self.assistance.resolve_alert(actor.as_dict(), alert_id, body)

    @route(
        "POST",
        HOUSEHOLDS + "/<household_id>/charity-referrals",
        roles=STAFF,
        tag="assistance",
        status=201,
        summary="Refer the household to charity for a need its aid does not cover, or covers in part",
        body=a.ReferralRequestSchema,
        response=a.ReferralViewSchema,
    )
    def refer_household_to_charity(self, actor, body, household_id):
        return self.assistance.refer_to_charity(actor.as_dict(), household_id, body)

    @route(
        "GET",
        HOUSEHOLDS + "/<household_id>/charity-referrals",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="assistance",
        summary="The household's referrals to charity, with charity's aid or reason (一户一条救助链)",
        response=a.ReferralListSchema,
    )
    def household_charity_referrals(self, actor, body, household_id):
        return {"referrals": self.assistance.household_referrals(actor.as_dict(), household_id)}

    @route(
        "GET",
        HOUSEHOLDS + "/<household_id>/payments",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="assistance",
        summary="A household's payments, newest month first",
        response=a.HouseholdPaymentsSchema,
    )
    def household_payments(self, actor, body, household_id):
        return {"payments": self.assistance.household_payments(actor.as_dict(), household_id)}

    @route(
        "POST",
        CYCLES,
        roles=(ADMIN,),
        tag="assistance",
        status=201,
        summary="Freeze a month's payment cycle (idempotent: a frozen month is returned as it is)",
        body=pay.PaymentCycleRequestSchema,
        response=pay.PaymentCycleViewSchema,
    )
    def freeze_payment_cycle(self, actor, body):
        return self.assistance.freeze_payment_cycle(actor.as_dict(), body)

    @route(
        "GET",
        CYCLES + "/<cycle_id>",
        roles=(ADMIN,),
        tag="assistance",
        summary="A payment cycle's totals as they stand",
        response=pay.PaymentCycleViewSchema,
    )
    def get_payment_cycle(self, actor, body, cycle_id):
        return self.assistance.get_payment_cycle(actor.as_dict(), cycle_id)

    @route(
        "POST",
        CYCLES + "/<cycle_id>/bank-batch",
        roles=(ADMIN,),
        tag="assistance",
        summary="Hand the cycle's pending payments to the bank (CSV with control totals)",
        response=pay.BankBatchViewSchema,
    )
    def send_bank_batch(self, actor, body, cycle_id):
        return self.assistance.send_bank_batch(actor.as_dict(), cycle_id)

    @route(
        "POST",
        CYCLES + "/<cycle_id>/bank-results",
        roles=(PARTNER, ADMIN),
        tag="assistance",
        summary="The bank's answers: paid, or failed with the reason (re-sending changes nothing)",
        body=pay.BankResultsRequestSchema,
        response=pay.ReconcileViewSchema,
    )
    def reconcile_bank_results(self, actor, body, cycle_id):
        return self.assistance.reconcile_bank_results(actor.as_dict(), cycle_id, body)

    # --- 追回: what was paid after a death, recovered by the payments office ------------------------

    @route(
        "GET",
        RECOVERIES,
        roles=STAFF,
        tag="assistance",
        query=a.RecoveryListQuerySchema,
        summary="追回: the area's recoveries of overpayments after a death (open by default), with what is "
        "outstanding and what is owed back",
        response=a.RecoveryListViewSchema,
    )
    def list_recoveries(self, actor, body, query):
        return self.assistance.list_recoveries(actor.as_dict(), a.RecoveryListQuerySchema().dump(query))

    @route(
        "GET",
        RECOVERIES + "/<recovery_id>",
        roles=STAFF,
        tag="assistance",
        summary="A recovery with every repayment, write-off and refund recorded on it",
        response=a.RecoveryViewSchema,
    )
    def get_recovery(self, actor, body, recovery_id):
        return self.assistance.get_recovery(actor.as_dict(), recovery_id)

    @route(
        "POST",
        RECOVERIES + "/<recovery_id>/repayments",
        roles=STAFF,
        tag="assistance",
        status=201,
        summary="Record money back on a recovery (bank_return, repayment) or a write-off with its reason; "
        "never more than is outstanding",
        body=a.RepaymentRequestSchema,
        response=a.RecoveryViewSchema,
    )
    def record_recovery_repayment(self, actor, body, recovery_id):
        return self.assistance.record_repayment(actor.as_dict(), recovery_id, body)

    @route(
        "POST",
        RECOVERIES + "/<recovery_id>/refunds",
        roles=STAFF,
        tag="assistance",
        status=201,
        summary="Record money recovered that was owed back (a revoked death, a payment the bank never made) "
        "as given back",
        body=a.RefundRequestSchema,
        response=a.RecoveryViewSchema,
    )
    def record_recovery_refund(self, actor, body, recovery_id):
        return self.assistance.record_refund(actor.as_dict(), recovery_id, body)

    # --- 救助一件事: the linked-item catalogue -----------------------------------------------------

    @route(
        "GET",
        "/api/v1/assistance/linked-items",
        roles=STAFF,
        tag="assistance",
        summary="The catalogue of 救助一件事 linked items, each with its owning department and versions",
        query=a.LinkedItemQuerySchema,
        response=a.LinkedItemListSchema,
    )
    def list_linked_items(self, actor, body, query):
        return self.assistance.list_linked_items(actor.as_dict(), query.get("include_retired") == "true")

    @route(
        "POST",
        "/api/v1/assistance/linked-items",
        roles=(ADMIN,),
        tag="assistance",
        status=201,
        summary="Add a linked item (admins): approvals of its programmes grant it from now on",
        body=a.NewLinkedItemRequestSchema,
        response=a.LinkedItemViewSchema,
        example={
            "code": "heating_subsidy",
            "title": "取暖补贴 heating subsidy",
            "owner": "assistance",
            "deadline_days": 10,
            "programmes": ["dibao", "tekun"],
            "reason": "the district adds a winter heating subsidy",
        },
    )
    def add_linked_item(self, actor, body):
        return self.assistance.add_linked_item(actor.as_dict(), body)

    @route(
        "PUT",
        "/api/v1/assistance/linked-items/<item_code>",
        roles=(ADMIN,),
        tag="assistance",
        summary="Change a linked item (admins): a new version; the earlier ones are kept",
        body=a.LinkedItemRequestSchema,
        response=a.LinkedItemViewSchema,
    )
    def change_linked_item(self, actor, body, item_code):
        return self.assistance.change_linked_item(actor.as_dict(), item_code, body)

    @route(
        "POST",
        "/api/v1/assistance/linked-items/<item_code>/retirement",
        roles=(ADMIN,),
        tag="assistance",
        summary="Retire a linked item (admins): approvals no longer grant it",
        body=a.LinkedItemRetirementSchema,
        response=a.LinkedItemViewSchema,
    )
    def retire_linked_item(self, actor, body, item_code):
        return self.assistance.retire_linked_item(actor.as_dict(), item_code, body)
