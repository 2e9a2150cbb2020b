"""Loading requests and dumping answers: the shapes come from `contracts.care` (and the payment
run's from `contracts.payments`)."""
from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.payments import (BankBatchViewSchema, BankResultsRequestSchema, PaymentCycleViewSchema,  # noqa: F401
                                PaymentViewSchema, ReconcileViewSchema)
from contracts.care import (AdmissionRequestSchema, AdmissionViewSchema, AllowanceCycleRequestSchema,  # noqa: F401
                            AllowanceEndSchema, AllowanceJobViewSchema,
                            AssessmentRequestSchema, AssessmentViewSchema, CallClosureSchema,
                            ChildDirectorRequestSchema, ChildRequestSchema, ChildViewSchema, DeviceRegistrationSchema,
                            DeviceRetirementSchema, DeviceViewSchema, DischargeRequestSchema,
                            DispatchSchema, ElderImportSchema, EmergencyCallSchema, EmergencyCallViewSchema,
                            FamilyBedRequestSchema, FamilyBedViewSchema,
                            ElderViewSchema, ImportViewSchema, IndicatorsViewSchema, InstitutionRequestSchema,
                            InstitutionViewSchema, OrderCancellationSchema, OrderRequestSchema, OrderViewSchema,
                            ScreeningRequestSchema, VoucherViewSchema)
