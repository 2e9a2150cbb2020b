"""How charity says no: chassis Problems, rendered by the gateway as RFC 7807."""

from chassis.errors import Conflict, NotFound, OutsideArea, PolicyUnusable, Refused  # noqa: F401  (re-exported)


class UnknownOrganisation(NotFound):
    title = "No such social organisation"


class UnknownCampaign(NotFound):
    title = "No such campaign"


class NotQualified(Refused):
    """公开募捐资格 refused, or a plan filed without it."""

    title = "Public fundraising not allowed"


class DonationRefused(Refused):
    title = "The campaign cannot take this donation"


class SpendingRefused(Refused):
    title = "The campaign cannot pay this"


class RedemptionRefused(Refused):
    title = "Time-bank credits cannot be redeemed"


class KeyReused(Conflict):
    """An idempotency key (request id, redemption key, reference) sent again with other content."""

    title = "This key was used for a different request"
