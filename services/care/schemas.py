"""Loading requests and dumping answers: the shapes come from `contracts.care`."""
from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.care import (AdmissionRequestSchema, AdmissionViewSchema, AllowanceJobViewSchema,  # noqa: F401
                            AssessmentRequestSchema, AssessmentViewSchema, CallClosureSchema,
                            ChildDirectorRequestSchema, ChildRequestSchema, ChildViewSchema, DischargeRequestSchema,
                            DispatchSchema, ElderImportSchema, EmergencyCallSchema, EmergencyCallViewSchema,
                            FamilyBedRequestSchema, FamilyBedViewSchema,
                            ElderViewSchema, ImportViewSchema, IndicatorsViewSchema, InstitutionRequestSchema,
                            InstitutionViewSchema, OrderCancellationSchema, OrderRequestSchema, OrderViewSchema,
                            ScreeningRequestSchema, VoucherViewSchema)
