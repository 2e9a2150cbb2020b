"""Loading requests and dumping answers: the shapes come from `contracts.assistance`."""

from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.assistance import (  # noqa: F401
    ApplicationRequestSchema,
    ApplicationViewSchema,
    DecisionRequestSchema,
    ObjectionRequestSchema,
    WithdrawalRequestSchema,
)

# A list shows the application without its journal, check report and explanation.
SUMMARY_FIELDS = tuple(
    name for name in ApplicationViewSchema().fields if name not in ("journal", "economic_check", "explanation")
)
