"""Funeral affairs' (殡葬) published language: death notices from every source, the funeral case
(bookings, the basic-services fee waiver, eco-burial with its reward, niches, the cremation
certificate), revocation, the region's indicators, and the after-death (身后一件事) events."""

from __future__ import annotations

from enum import Enum

from marshmallow import validate

from contracts import fields
from contracts.marriage import Strict
from contracts.person import ResidentIdField

REGION = validate.Regexp(r"^\d{6}(\d{3}(\d{3})?)?$", error="must be a 6, 9 or 12-digit division code")
SOURCES = ("hospital", "police", "funeral_home", "family")
# 死亡医学证明 (hospital, via health), 公安 death report, 殡仪馆, the family's own application
BOOKING_KINDS = ("transport", "cremation")  # 遗体接运, 遗体火化
BURIAL_FORMS = ("tree", "lawn", "flower_bed", "sea", "niche", "traditional")
# 树葬, 草坪葬, 花坛葬, 海葬, 骨灰堂格位 (the five eco-burial forms, 节地生态安葬) and a traditional grave


class DeceasedSchema(Strict):
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=60))


class DeathNoticeSchema(Strict):
    """One notification of a death; whoever sends it, several of one death make one case."""

    deceased = fields.Nested(DeceasedSchema, required=True)
    date_of_death = fields.Date(required=True)
    region_code = fields.String(
        required=True, validate=REGION, metadata={"description": "where the deceased lived: the case is handled there"}
    )
    reference = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=2, max=60),
        metadata={"description": "the death certificate or report number (required from hospitals and police)"},
    )
    place_of_death = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    informant_relationship = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=30),
        metadata={"description": "family applications: who the applicant was to the deceased"},
    )


class NoticeViewSchema(Strict):
    source = fields.String()
    reference = fields.String(allow_none=True)
    date_of_death = fields.Date()
    received_at = fields.AwareDateTime()


class BookingRequestSchema(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(BOOKING_KINDS))
    scheduled_at = fields.AwareDateTime(required=True)
    funeral_home = fields.String(required=True, validate=validate.Length(min=2, max=120))


class BookingViewSchema(Strict):
    booking_id = fields.String()
    kind = fields.String()
    scheduled_at = fields.AwareDateTime()
    funeral_home = fields.String()
    fee_fen = fields.Fen()
    waived_fen = fields.Fen(metadata={"description": "惠民殡葬: the basic-services fee waived by region policy"})
    policy_version = fields.String()


class BurialRequestSchema(Strict):
    form = fields.String(required=True, validate=validate.OneOf(BURIAL_FORMS))


class BurialViewSchema(Strict):
    form = fields.String()
    eco = fields.Boolean(metadata={"description": "节地生态安葬"})
    reward_fen = fields.Fen(metadata={"description": "生态安葬奖励, by region policy, capped per case"})
    niche = fields.String(allow_none=True, metadata={"description": "the niche allocated (form niche)"})
    policy_version = fields.String()


class CremationRequestSchema(Strict):
    cremated_on = fields.Date(required=True)


class DateResolutionSchema(Strict):
    date_of_death = fields.Date(required=True, metadata={"description": "the date the clerk confirmed"})
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class RevocationRequestSchema(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=2, max=500))


class ConfirmationRequestSchema(Strict):
    """A clerk confirms a family's death notice held for verification (policy funeral.family_notice)."""

    reason = fields.String(
        required=True,
        validate=validate.Length(min=2, max=500),
        metadata={"description": "what the clerk checked (e.g. the death certificate seen at the office)"},
    )


class CaseViewSchema(Strict):
    case_id = fields.String()
    matter_id = fields.String()
    resident_id = fields.String()
    name = fields.String()
    region_code = fields.String()
    date_of_death = fields.Date()
    state = fields.String(metadata={"description": "open | cremated | revoked"})
    date_conflict = fields.Boolean(metadata={"description": "notices disagree on the date: a clerk decides"})
    reported_dates = fields.List(fields.Date())
    duplicate = fields.Boolean(metadata={"description": "this notice joined a case opened before"})
    notices = fields.List(fields.Nested(NoticeViewSchema))
    bookings = fields.List(fields.Nested(BookingViewSchema))
    burial = fields.Nested(BurialViewSchema, allow_none=True)
    fees_fen = fields.Fen()
    waived_fen = fields.Fen()
    cremation_certificate = fields.String(allow_none=True)
    cremated_on = fields.Date(allow_none=True)
    revoked_reason = fields.String(allow_none=True)
    verification = fields.String(
        metadata={
            "description": "verified (acted on) | awaiting (a family's notice held for a hospital or police "
            "notice or a clerk's confirmation) | lapsed (not confirmed by verify_by)"
        }
    )
    verify_by = fields.Date(allow_none=True)


class DeathNoticeReceiptSchema(Strict):
    """What a partner or the family is told of its notice: the case and matter it opened or
    joined. The case itself (other sources' notices, bookings, burial) is for staff."""

    case_id = fields.String()
    matter_id = fields.String()
    state = fields.String(metadata={"description": "open | cremated | revoked"})
    date_of_death = fields.Date(metadata={"description": "the date the steps are taken with"})
    date_conflict = fields.Boolean(metadata={"description": "notices disagree on the date: a clerk decides"})
    duplicate = fields.Boolean(metadata={"description": "this notice joined a case opened before"})


class NicheBatchSchema(Strict):
    facility = fields.String(
        required=True,
        validate=validate.Regexp(r"^[A-Za-z0-9-]{2,40}$"),
        metadata={"description": "the columbarium (骨灰堂)"},
    )
    region_code = fields.String(required=True, validate=REGION)
    count = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000))


class NicheInventorySchema(Strict):
    region_code = fields.String()
    facilities = fields.List(fields.Dict(), metadata={"description": "facility, total, allocated, free"})
    free = fields.Integer()


class FuneralIndicatorsSchema(Strict):
    region_code = fields.String()
    deaths = fields.Integer(metadata={"description": "cases not revoked"})
    cremated = fields.Integer()
    cremation_rate = fields.Float(allow_none=True)
    burials = fields.Integer(metadata={"description": "cases whose burial form is chosen"})
    eco_burials = fields.Integer()
    eco_burial_rate = fields.Float(allow_none=True, metadata={"description": "节地生态安葬率: eco / chosen"})
    rewards_fen = fields.Fen()


# --- events ----------------------------------------------------------------------------------------


class DeathNotifiedSchema(Strict):
    """A death registered as a funeral case: once per deceased, however many notices came."""

    case_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    name = fields.String(required=True)
    date_of_death = fields.Date(required=True)
    region_code = fields.String(required=True, validate=REGION)
    source = fields.String(required=True, validate=validate.OneOf(SOURCES))


class DeathRevokedSchema(Strict):
    """A death notification made in error, revoked by an authorised clerk: reverse every step."""

    case_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    date_of_death = fields.Date(required=True, metadata={"description": "the date the steps were taken with"})
    reason = fields.String(required=True)


class DeathDateCorrectedSchema(Strict):
    """The notices of a case disagreed on the date of death and a clerk confirmed another date than
    the one `death.notified` carried: every step taken with the old date is taken again with this
    one. Published only when the confirmed date differs from the date the steps stand on."""

    case_id = fields.String(required=True)
    resident_id = ResidentIdField(required=True)
    date_of_death = fields.Date(required=True, metadata={"description": "the date the clerk confirmed"})
    previous_date_of_death = fields.Date(
        required=True, metadata={"description": "the date the steps were taken with until now"}
    )
    reason = fields.String(required=True, metadata={"description": "the clerk's reason (not for partners)"})
    revision = fields.Integer(
        required=True,
        validate=validate.Range(min=1),
        metadata={
            "description": "the case's corrections in order (1, 2, …): a correction "
            "older than the one a participant stands on is stale"
        },
    )


# --- how every participant takes the three events ----------------------------------------------


class OnDeath(Enum):
    """What a participant of 身后一件事 does with `death.notified`, `death.revoked` or
    `death.date_corrected`, given what it recorded of the case. Each keeps its own record (state
    applied | not_applicable | reversed | revoked); the protocol is the same for all, so it is
    decided here, once."""

    STOP = "stop"  # the first notice, or a corrected date where nothing was stopped yet: stop what
    #                            the death stops as of the event's date, record applied or not_applicable
    RESTORE = "restore"  # a revocation of what was applied: restore it, record reversed
    CLOSE = "close"  # a revocation where nothing was applied: record reversed, nothing to report
    TOMBSTONE = "tombstone"  # a revocation that overtook its notice: record revoked, report not_applicable
    RESTATE = "restate"  # a corrected date of what was applied: undo what the old date did and stop again
    #                            as of the new one, in one transaction; the record takes the new date
    IGNORE = "ignore"  # a notice again, a notice after its revocation, a revocation again, a
    #                            correction of a revoked death


REVOKED_BEFORE_NOTICE = "revoked before the notice was handled"


def after_death_action(
    event_type: str, recorded_state: str | None, recorded_revision: int = 0, event_revision: int = 0
) -> OnDeath:
    """`recorded_revision`: the correction of the date the participant's record stands on (0: the
    notice's date); `event_revision`: the correction the event carries. A correction no newer than
    the recorded one is a copy, or one that waited in retry while a later one was handled: stale,
    it changes nothing."""
    if event_type == "death.notified":
        return OnDeath.STOP if recorded_state is None else OnDeath.IGNORE
    if event_type == "death.date_corrected":
        if recorded_state is not None and event_revision <= (recorded_revision or 0):
            return OnDeath.IGNORE
        # nothing recorded: the correction overtook its notice, so stop with the confirmed date (the
        # late notice then finds the record and is ignored); not_applicable: the new date may find
        # something the old one did not (the record is rewritten with the new date)
        return {None: OnDeath.STOP, "not_applicable": OnDeath.STOP, "applied": OnDeath.RESTATE}.get(
            recorded_state, OnDeath.IGNORE
        )
    if event_type != "death.revoked":
        raise ValueError(f"not an after-death event: {event_type}")
    return {None: OnDeath.TOMBSTONE, "applied": OnDeath.RESTORE, "not_applicable": OnDeath.CLOSE}.get(
        recorded_state, OnDeath.IGNORE
    )


def date_revision(event_type: str, data: dict) -> int:
    """The correction of the date an event's step stands on: 0 for the notice's date."""
    return int(data.get("revision") or 0) if event_type == "death.date_corrected" else 0


def step_reason(event_type: str, data: dict, said: str) -> str:
    """The reason a participant reports its step with: after `death.date_corrected` it is led by
    the correction, so the step says which date it now stands on."""
    if event_type != "death.date_corrected":
        return said
    return f"date of death corrected from {data['previous_date_of_death']} to {data['date_of_death']}: {said}"


class CaseListSchema(Strict):
    cases = fields.List(fields.Nested(CaseViewSchema))
