"""What the parts of the marriage service share: its module-level constants and helpers."""

from __future__ import annotations

LAW_PARAMETERS = (
    "marriage.minimum_age.male",
    "marriage.minimum_age.female",
    "divorce.cooling_off_days",
    "divorce.certificate_window_days",
)
ADOPTION_LAW = (  # in the order of rules.AdoptionLaw
    "adoption.adopter_min_age",
    "adoption.adult_age",
    "adoption.consent_age",
    "adoption.single_opposite_sex_age_gap",
    "adoption.max_existing_children",
    "adoption.max_adoptees_childless",
    "adoption.max_adoptees_with_child",
)
