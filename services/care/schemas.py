"""Loading requests and dumping answers: the shapes come from `contracts.care` (and the payment
run's from `contracts.payments`)."""

from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.care import (  # noqa: F401
    AdmissionRequestSchema,
    AdmissionViewSchema,
    AllowanceCycleRequestSchema,
    AllowanceEndSchema,
    AllowanceJobViewSchema,
    AssessmentRequestSchema,
    AssessmentViewSchema,
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
    ScreeningRequestSchema,
    VoucherViewSchema,
)
from contracts.payments import (  # noqa: F401
    BankBatchViewSchema,
    BankResultsRequestSchema,
    PaymentCycleViewSchema,
    PaymentViewSchema,
    ReconcileViewSchema,
)
