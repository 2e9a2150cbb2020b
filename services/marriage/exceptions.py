"""How the marriage registry says no: each a chassis Problem, so the gateway renders RFC 7807."""

from chassis.errors import Conflict, NotFound, OutsideArea, Refused  # noqa: F401  (re-exported)


class RegistrationRefused(Refused):
    title = "Marriage registration refused"


class AlreadyMarried(Conflict):
    title = "A party is already married"


class SlotUnavailable(Conflict):
    title = "Appointment slot unavailable"


class DivorceStepRefused(Conflict):
    title = "Not allowed at this point of the divorce"


class UnknownRecord(NotFound):
    title = "No such record"


class AdoptionRefused(Refused):
    title = "Adoption registration refused"
