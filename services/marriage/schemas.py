"""Loading requests and dumping answers: the shapes come from `contracts.marriage`."""

from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.marriage import (  # noqa: F401
    AdoptionDissolutionRequestSchema,
    AdoptionRequestSchema,
    AdoptionSchema,
    AppointmentRequestSchema,
    AppointmentSchema,
    BackEnteredDivorceRequestSchema,
    BackEntryRequestSchema,
    CertificateVerificationSchema,
    DivorceDecisionSchema,
    DivorceRequestSchema,
    DivorceSchema,
    MaritalStatusSchema,
    OfficeListSchema,
    OfficeRequestSchema,
    OfficeSchema,
    OneMatterApplicationSchema,
    RegistrationRequestSchema,
    RegistrationSchema,
    ReissueRequestSchema,
)
