"""Loading requests and dumping answers: the shapes come from `contracts.marriage`."""
from __future__ import annotations

from marshmallow import Schema, ValidationError

from chassis.errors import InvalidInput
from contracts.marriage import (AppointmentRequestSchema, AppointmentSchema,  # noqa: F401
                                CertificateVerificationSchema, DivorceDecisionSchema,
                                DivorceRequestSchema, DivorceSchema, MaritalStatusSchema,
                                OneMatterApplicationSchema, RegistrationRequestSchema,
                                RegistrationSchema, ReissueRequestSchema)


def load(schema: type[Schema], payload) -> dict:
    """Validate a request; every field error comes back to the client at once."""
    try:
        return schema().load(payload or {})
    except ValidationError as exc:
        raise InvalidInput("the request has invalid fields", errors=exc.messages) from None


def dump(schema: type[Schema], obj) -> dict:
    return schema().dump(obj)
