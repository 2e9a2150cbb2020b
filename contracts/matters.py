"""One-matter (一件事) type definitions: which steps a matter has, who owns each, and its deadline.

A matter is choreographed, not orchestrated: each owner reports its own step with a
`matter.step_reported` event and the progress view folds those reports. A step belongs to a phase;
a phase starts when the matter opens or when the event named by `starts_on` arrives (a birth
starts the second half of 结婚生育户口一件事).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Step",
    "MatterType",
    "MATTER_TYPES",
    "matter_type",
    "STEP_STATES",
    "TERMINAL_STEP_STATES",
    "REPORTABLE_STEP_STATES",
    "REVERSED",
]

# pending: started, waiting for its owner; the rest are reports an owner can make.
REVERSED = "reversed"  # the owner undid its step after the matter was revoked (身后一件事 made in error)
STEP_STATES = ("not_started", "pending", "done", "rejected", "not_applicable", REVERSED)
TERMINAL_STEP_STATES = frozenset({"done", "rejected", "not_applicable"})
REPORTABLE_STEP_STATES = TERMINAL_STEP_STATES | {REVERSED}


@dataclass(frozen=True)
class Step:
    name: str
    owner: str  # an internal service name or a partner department code (contracts.partners)
    title: str
    deadline_days: int  # calendar days from the moment the step's phase starts
    starts_on: str | None = None  # event type that starts this step's phase; None = when opened


@dataclass(frozen=True)
class MatterType:
    """A kind of matter. Its steps are fixed here, or (`steps_from_event`) come with each
    `matter.opened` event, when they are data of the opening service (the 14 linked items)."""

    name: str
    title: str
    opened_by: str
    steps: tuple[Step, ...]
    steps_from_event: bool = False
    # the event that revokes a matter of this type: afterwards owners report their steps reversed
    revoked_on: str | None = None

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def steps_started_by(self, event_type: str | None) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.starts_on == event_type)


MARRIAGE_BIRTH_HUKOU = MatterType(
    name="marriage_birth_hukou",
    title="结婚生育户口一件事 (marriage, birth and household registration)",
    opened_by="marriage",
    steps=(
        Step("marriage_registration", "marriage", "婚姻登记 marriage registered, e-certificate issued", 30),
        Step("planned_birth_registration", "health", "生育登记 planned-birth registration", 5),
        Step("hukou_update", "police", "户口迁移/变更 household registration updated", 10),
        Step("newborn_hukou", "police", "新生儿落户 newborn household registration", 10, starts_on="birth.notified"),
        Step(
            "newborn_medical_insurance",
            "medical_insurance",
            "新生儿参保 newborn medical insurance",
            10,
            starts_on="birth.notified",
        ),
    ),
)

# 救助一件事: one approval opens it; the assistance service's item catalogue (data) names the
# linked subsidy items and the department that grants each.
ASSISTANCE_LINKED_ITEMS = MatterType(
    name="assistance_linked_items",
    title="救助一件事 (one approval, every linked subsidy item)",
    opened_by="assistance",
    steps=(),
    steps_from_event=True,
)

# 身后一件事: one death notification, from whatever source, is the whole application. The funeral
# service opens it once per deceased; every owner reports its own step (not applicable where the
# deceased had nothing of theirs). A revocation (notification made in error) has each owner undo
# its step and report it reversed.
AFTER_DEATH = MatterType(
    name="after_death",
    title="身后一件事 (after a death: every service and department, one notification)",
    opened_by="funeral",
    steps=(
        Step("cremation_certificate", "funeral", "火化证明 cremation and its certificate", 15),
        Step(
            "benefits_stopped",
            "assistance",
            "停发救助金 benefits stopped as of the date of death, household recomputed, overpayment recorded",
            5,
        ),
        Step(
            "care_stopped",
            "care",
            "停发高龄津贴和养老服务补贴 allowance and vouchers stopped, orders cancelled, bed freed",
            5,
        ),
        Step("marriage_ended", "marriage", "婚姻关系因死亡终止 marriage recorded as ended by death", 5),
        Step("hukou_cancellation", "police", "户口注销 household registration cancelled", 10),
        Step(
            "pension_and_survivors",
            "human_resources",
            "停发养老金、发放遗属待遇 pension stopped, survivors' benefits",
            10,
        ),
        Step("medical_insurance_closure", "medical_insurance", "医保账户注销 medical-insurance account closed", 10),
    ),
    revoked_on="death.revoked",
)

MATTER_TYPES: dict[str, MatterType] = {t.name: t for t in (MARRIAGE_BIRTH_HUKOU, ASSISTANCE_LINKED_ITEMS, AFTER_DEATH)}


def matter_type(name: str) -> MatterType:
    return MATTER_TYPES[name]
