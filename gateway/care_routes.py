"""Elderly care (养老) over HTTP: the elderly registry, the old-age allowance granted without an
application and its monthly payment run, home care, institutions and child welfare. Rules and area scoping live in the care service; these routes check the role,
validate the body against the contract and pass the caller along."""

from __future__ import annotations

from chassis import ServiceRpc
from contracts import care as c
from contracts import payments as pay
from contracts.roles import ADMIN, CITIZEN, CLERK, PARTNER
from gateway.api import route

ELDERS = "/api/v1/care/elders"
ORDERS = "/api/v1/care/orders"
CHILDREN = "/api/v1/care/children"
CALLS = "/api/v1/care/emergency-calls"
DEVICES = "/api/v1/care/devices"
CYCLES = "/api/v1/care/allowance-payment-cycles"


class CareRoutes:
    """Mixed into the gateway service (nameko finds inherited entrypoints and dependencies)."""

    care = ServiceRpc("care")

    @route(
        "POST",
        ELDERS + "/import",
        roles=(ADMIN,),
        tag="care",
        summary="Feed the elderly registry from the population registry (age and sex from the ID)",
        body=c.ElderImportSchema,
        response=c.ImportViewSchema,
    )
    def import_elders(self, actor, body):
        return self.care.import_people(actor.as_dict(), body)

    @route(
        "GET",
        ELDERS + "/<resident_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="care",
        summary="A person of the registry, with the old-age allowance (高龄津贴) when enrolled",
        response=c.ElderViewSchema,
    )
    def get_elder(self, actor, body, resident_id):
        return self.care.get_elder(actor.as_dict(), resident_id)

    @route(
        "POST",
        "/api/v1/care/allowance-job",
        roles=(ADMIN,),
        tag="care",
        summary="Run the daily 高龄津贴 enrolment now (idempotent; catches up any missed days)",
        response=c.AllowanceJobViewSchema,
    )
    def run_allowance_job(self, actor, body):
        return self.care.run_allowance_job(actor.as_dict())

    @route(
        "POST",
        ELDERS + "/<resident_id>/allowance/end",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="End a person's old-age allowance as of a day (its month is still paid); lists what cycles "
        "frozen before already hold for later months",
        body=c.AllowanceEndSchema,
        response=c.AllowanceEndedSchema,
    )
    def end_allowance(self, actor, body, resident_id):
        return self.care.end_allowance(actor.as_dict(), resident_id, body)

    @route(
        "GET",
        ELDERS + "/<resident_id>/allowance/payments",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="care",
        summary="A person's old-age allowance payments, newest month first",
        response=c.AllowancePaymentsSchema,
    )
    def allowance_payments(self, actor, body, resident_id):
        return {"payments": self.care.allowance_payments(actor.as_dict(), resident_id)}

    @route(
        "POST",
        CYCLES,
        roles=(CLERK, ADMIN),
        tag="care",
        status=201,
        summary="Freeze a district's month of the old-age allowance (idempotent: a frozen month is returned "
        "as it is); for the district bureau's staff",
        body=c.AllowanceCycleRequestSchema,
        response=pay.PaymentCycleViewSchema,
    )
    def freeze_allowance_cycle(self, actor, body):
        return self.care.freeze_allowance_cycle(actor.as_dict(), body)

    @route(
        "GET",
        CYCLES + "/<cycle_id>",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="An allowance payment cycle's totals as they stand",
        response=pay.PaymentCycleViewSchema,
    )
    def get_allowance_cycle(self, actor, body, cycle_id):
        return self.care.get_allowance_cycle(actor.as_dict(), cycle_id)

    @route(
        "POST",
        CYCLES + "/<cycle_id>/bank-batch",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Hand the cycle's pending allowance payments to the bank (CSV with control totals), once",
        response=pay.BankBatchViewSchema,
    )
    def send_allowance_batch(self, actor, body, cycle_id):
        return self.care.send_allowance_batch(actor.as_dict(), cycle_id)

    @route(
        "POST",
        CYCLES + "/<cycle_id>/bank-results",
        roles=(PARTNER, CLERK, ADMIN),
        tag="care",
        summary="The bank's answers: paid, or failed with the reason (re-sending changes nothing)",
        body=pay.BankResultsRequestSchema,
        response=pay.ReconcileViewSchema,
    )
    def reconcile_allowance_results(self, actor, body, cycle_id):
        return self.care.reconcile_allowance_results(actor.as_dict(), cycle_id, body)

    @route(
        "GET",
        "/api/v1/care/vouchers/<resident_id>",
        roles=(CITIZEN, CLERK, ADMIN),
        tag="care",
        summary="The person's home-care voucher budget (养老服务补贴) this month: granted, used, left",
        response=c.VoucherViewSchema,
    )
    def voucher_balance(self, actor, body, resident_id):
        return self.care.voucher_balance(actor.as_dict(), resident_id)

    @route(
        "POST",
        ORDERS,
        roles=(CITIZEN, CLERK),
        tag="care",
        status=201,
        summary="Order a home-care service (for oneself, or by a caseworker on the person's behalf), paid by "
        "the voucher budget or with the person's time-bank credits (payment: time_bank)",
        body=c.OrderRequestSchema,
        response=c.OrderViewSchema,
    )
    def request_care_order(self, actor, body):
        return self.care.request_order(actor.as_dict(), body)

    @route(
        "GET",
        ORDERS + "/<order_id>",
        roles=(CITIZEN, CLERK, PARTNER, ADMIN),
        tag="care",
        summary="An order, with what the voucher paid and what the person paid, or its time-bank credits' state",
        response=c.OrderViewSchema,
    )
    def get_care_order(self, actor, body, order_id):
        return self.care.get_order(actor.as_dict(), order_id)

    @route(
        "POST",
        ORDERS + "/<order_id>/acceptance",
        roles=(PARTNER,),
        tag="care",
        summary="The provider accepts the order",
        response=c.OrderViewSchema,
    )
    def accept_care_order(self, actor, body, order_id):
        return self.care.accept_order(actor.as_dict(), order_id)

    @route(
        "POST",
        ORDERS + "/<order_id>/delivery",
        roles=(PARTNER,),
        tag="care",
        summary="The provider reports the service delivered",
        response=c.OrderViewSchema,
    )
    def deliver_care_order(self, actor, body, order_id):
        return self.care.deliver_order(actor.as_dict(), order_id)

    @route(
        "POST",
        ORDERS + "/<order_id>/confirmation",
        roles=(CITIZEN, CLERK),
        tag="care",
        summary="The person served confirms; the voucher budget pays (once)",
        response=c.OrderViewSchema,
    )
    def confirm_care_order(self, actor, body, order_id):
        return self.care.confirm_order(actor.as_dict(), order_id)

    @route(
        "POST",
        ORDERS + "/<order_id>/cancellation",
        roles=(CITIZEN, CLERK, PARTNER),
        tag="care",
        summary="Cancel an order not yet delivered",
        body=c.OrderCancellationSchema,
        response=c.OrderViewSchema,
    )
    def cancel_care_order(self, actor, body, order_id):
        return self.care.cancel_order(actor.as_dict(), order_id, body)

    @route(
        "POST",
        "/api/v1/care/assessments",
        roles=(CLERK, ADMIN),
        tag="care",
        status=201,
        summary="Record an ability assessment (能力评估) of a person of the registry",
        body=c.AssessmentRequestSchema,
        response=c.AssessmentViewSchema,
    )
    def record_assessment(self, actor, body):
        return self.care.record_assessment(actor.as_dict(), body)

    @route(
        "POST",
        "/api/v1/care/institutions",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Register an institution (养老机构) and its beds by type, or update them",
        body=c.InstitutionRequestSchema,
        response=c.InstitutionViewSchema,
    )
    def register_institution(self, actor, body):
        return self.care.register_institution(actor.as_dict(), body)

    @route(
        "GET",
        "/api/v1/care/statistics/<region_code>",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="The region's indicators: 70+ assessment coverage, nursing-bed and public dementia-bed "
        "ratios, beds per 10,000 elderly",
        response=c.IndicatorsViewSchema,
    )
    def care_indicators(self, actor, body, region_code):
        return self.care.indicators(actor.as_dict(), region_code)

    @route(
        "POST",
        "/api/v1/care/family-beds",
        roles=(CLERK, ADMIN),
        tag="care",
        status=201,
        summary="Establish a family care bed (家庭养老床位) for an assessed, disabled person",
        body=c.FamilyBedRequestSchema,
        response=c.FamilyBedViewSchema,
    )
    def establish_family_bed(self, actor, body):
        return self.care.establish_family_bed(actor.as_dict(), body)

    @route(
        "POST",
        "/api/v1/care/admissions",
        roles=(CLERK, ADMIN),
        tag="care",
        status=201,
        summary="Admit a person to a free bed of an institution (集中供养 placements need 特困 support)",
        body=c.AdmissionRequestSchema,
        response=c.AdmissionViewSchema,
    )
    def admit_to_institution(self, actor, body):
        return self.care.admit(actor.as_dict(), body)

    @route(
        "POST",
        "/api/v1/care/admissions/<admission_id>/discharge",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Discharge: the bed is free again",
        body=c.DischargeRequestSchema,
        response=c.AdmissionViewSchema,
    )
    def discharge_from_institution(self, actor, body, admission_id):
        return self.care.discharge(actor.as_dict(), admission_id, body)

    @route(
        "POST",
        DEVICES,
        roles=(CLERK, ADMIN),
        tag="care",
        status=201,
        summary="Register a wearable device to a person, with the platform operating it (staff of the "
        "person's area); only that platform's calls for this person are taken",
        body=c.DeviceRegistrationSchema,
        response=c.DeviceViewSchema,
    )
    def register_device(self, actor, body):
        return self.care.register_device(actor.as_dict(), body)

    @route(
        "GET",
        DEVICES + "/<device_id>",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="A device's registration in service (or its last one)",
        response=c.DeviceViewSchema,
    )
    def get_device(self, actor, body, device_id):
        return self.care.get_device(actor.as_dict(), device_id)

    @route(
        "POST",
        DEVICES + "/<device_id>/retirement",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Retire a device: calls raised from that day on are refused",
        body=c.DeviceRetirementSchema,
        response=c.DeviceViewSchema,
    )
    def retire_device(self, actor, body, device_id):
        return self.care.retire_device(actor.as_dict(), device_id, body)

    @route(
        "POST",
        CALLS,
        roles=(PARTNER,),
        tag="care",
        status=201,
        summary="A wearable-device platform reports an emergency call from a device it operates, for the "
        "person it is registered to (otherwise 403; a resent call is the same call)",
        body=c.EmergencyCallSchema,
        response=c.EmergencyCallViewSchema,
    )
    def receive_emergency_call(self, actor, body):
        return self.care.receive_call(actor.as_dict(), body)

    @route(
        "GET",
        CALLS,
        roles=(CLERK, PARTNER, ADMIN),
        tag="care",
        summary="Emergency calls not yet closed, oldest first (the area's, or all for the providers)",
        response=c.EmergencyCallListSchema,
    )
    def open_emergency_calls(self, actor, body):
        return {"calls": self.care.open_calls(actor.as_dict())}

    @route(
        "POST",
        CALLS + "/<call_id>/dispatch",
        roles=(CLERK, PARTNER, ADMIN),
        tag="care",
        summary="Send a responder",
        body=c.DispatchSchema,
        response=c.EmergencyCallViewSchema,
    )
    def dispatch_emergency_call(self, actor, body, call_id):
        return self.care.dispatch_call(actor.as_dict(), call_id, body)

    @route(
        "POST",
        CALLS + "/<call_id>/arrival",
        roles=(CLERK, PARTNER, ADMIN),
        tag="care",
        summary="The responder arrived: the response time is measured",
        response=c.EmergencyCallViewSchema,
    )
    def arrive_emergency_call(self, actor, body, call_id):
        return self.care.arrive_call(actor.as_dict(), call_id)

    @route(
        "POST",
        CALLS + "/<call_id>/closure",
        roles=(CLERK, PARTNER, ADMIN),
        tag="care",
        summary="Close the call with its outcome",
        body=c.CallClosureSchema,
        response=c.EmergencyCallViewSchema,
    )
    def close_emergency_call(self, actor, body, call_id):
        return self.care.close_call(actor.as_dict(), call_id, body)

    # --- child welfare (儿童福利) ---

    @route(
        "POST",
        CHILDREN,
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Follow a child (orphan, de-facto unsupported, distressed, left-behind), located to village "
        "and household",
        body=c.ChildRequestSchema,
        response=c.ChildViewSchema,
    )
    def register_child(self, actor, body):
        return self.care.register_child(actor.as_dict(), body)

    @route(
        "GET",
        CHILDREN + "/<resident_id>",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="A child: basic living allowance this month, latest risk colour, follow-up, child director",
        response=c.ChildViewSchema,
    )
    def get_child(self, actor, body, resident_id):
        return self.care.get_child(actor.as_dict(), resident_id)

    @route(
        "POST",
        CHILDREN + "/<resident_id>/screenings",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Record a screening with its colour (四色管理); the follow-up falls due by policy",
        body=c.ScreeningRequestSchema,
        response=c.ScreeningRecordedSchema,
    )
    def screen_child(self, actor, body, resident_id):
        return self.care.screen_child(actor.as_dict(), resident_id, body)

    @route(
        "GET",
        "/api/v1/care/follow-ups",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="The area's open follow-ups of screened children, the most overdue first",
        response=c.FollowUpListSchema,
    )
    def child_follow_ups(self, actor, body):
        return {"follow_ups": self.care.follow_ups(actor.as_dict())}

    @route(
        "POST",
        "/api/v1/care/follow-ups/<screening_id>",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Record that the follow-up took place",
        response=c.FollowUpRecordedSchema,
    )
    def record_follow_up(self, actor, body, screening_id):
        return self.care.record_follow_up(actor.as_dict(), screening_id)

    @route(
        "POST",
        "/api/v1/care/child-directors",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Appoint a village's child director (儿童主任); one per village",
        body=c.ChildDirectorRequestSchema,
        response=c.ChildDirectorSchema,
    )
    def appoint_child_director(self, actor, body):
        return self.care.appoint_child_director(actor.as_dict(), body)

    @route(
        "GET",
        "/api/v1/care/villages/<village_code>/children",
        roles=(CLERK, ADMIN),
        tag="care",
        summary="Every child followed in a village, by household",
        response=c.VillageChildrenSchema,
    )
    def village_children(self, actor, body, village_code):
        return {"children": self.care.village_children(actor.as_dict(), village_code)}
