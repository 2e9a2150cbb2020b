"""How the marriage registry says no: each a chassis Problem, so the gateway renders RFC 7807."""
from chassis.errors import Conflict, Forbidden, NotFound, Refused


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


class OutsideArea(Forbidden):
    title = "Outside your area"
