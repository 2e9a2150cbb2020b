"""Loading requests and dumping answers: the shapes come from `contracts.care`."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

from chassis.errors import InvalidInput
from contracts.care import (AdmissionRequestSchema, AdmissionViewSchema, AllowanceJobViewSchema,  # noqa: F401
                            AssessmentRequestSchema, AssessmentViewSchema, CallClosureSchema,
                            ChildDirectorRequestSchema, ChildRequestSchema, ChildViewSchema, DischargeRequestSchema,
                            DispatchSchema, ElderImportSchema, EmergencyCallSchema, EmergencyCallViewSchema,
                            ElderViewSchema, ImportViewSchema, IndicatorsViewSchema, InstitutionRequestSchema,
                            InstitutionViewSchema, OrderCancellationSchema, OrderRequestSchema, OrderViewSchema,
                            ScreeningRequestSchema, VoucherViewSchema)


def load(schema: type[Schema], payload) -> dict:
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", errors=exc.messages) from None


def dump(schema: type[Schema], obj) -> dict:
    return schema().dump(obj)
