"""What the parts of the funeral service share: its module-level constants and helpers."""

from __future__ import annotations

MATTER_TYPE = "after_death"
STEP = "cremation_certificate"
