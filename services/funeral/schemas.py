"""Loading requests and dumping answers: the shapes come from `contracts.funeral`."""

from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.funeral import (  # noqa: F401
    BookingRequestSchema,
    BurialRequestSchema,
    CaseViewSchema,
    ConfirmationRequestSchema,
    CremationRequestSchema,
    DateResolutionSchema,
    DeathNoticeReceiptSchema,
    DeathNoticeSchema,
    FuneralIndicatorsSchema,
    NicheBatchSchema,
    NicheInventorySchema,
    RevocationRequestSchema,
)
