"""Loading requests and dumping answers: the shapes come from `contracts.charity`."""

from __future__ import annotations

from chassis.schemas import dump, load  # noqa: F401  (the one way, re-exported for the service)
from contracts.charity import (  # noqa: F401
    AnnualReportSchema,
    CampaignRequestSchema,
    CampaignViewSchema,
    CancellationSchema,
    DetectionJobViewSchema,
    DisclosureViewSchema,
    DonationRequestSchema,
    DonationViewSchema,
    GradeRequestSchema,
    LotteryAllocationSchema,
    LotteryReportSchema,
    OrganisationChangeSchema,
    OrganisationRequestSchema,
    OrganisationViewSchema,
    PopulationSchema,
    RedemptionRequestSchema,
    RedemptionViewSchema,
    ServiceRecordRequestSchema,
    SpendingRequestSchema,
    StatisticsViewSchema,
    VolunteerRequestSchema,
    VolunteerViewSchema,
)
