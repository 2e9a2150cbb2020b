"""The undo log a death leaves in assistance's death record (BenefitUndo): versioned, so a record
written before the undo kept the gradual exit, the exit reason and the next review reads as
version 1, and what a version-2 entry writes reads back the same."""

from datetime import date

import pytest

from chassis.after_death import DeathStep
from services.assistance.rules import BenefitUndo

V2 = BenefitUndo(7, True, 85000, None, "p-1", date(2026, 9, 30), "income above the standard", date(2027, 1, 1))


def test_a_written_entry_reads_back_the_same():
    assert BenefitUndo.from_json(V2.to_json()) == V2


def test_the_descriptive_fields_beside_it_do_not_change_what_is_undone():
    assert BenefitUndo.from_json({**V2.to_json(), "programme": "dibao", "after_fen": 0, "overpayment_fen": 1}) == V2


@pytest.mark.parametrize(
    "entry, version, ends_on, gradual",
    [
        pytest.param(
            {"entitlement_id": 3, "ended": True, "before_fen": 100, "ends_on_before": "2026-04-30"},
            1,
            date(2026, 4, 30),
            None,
            id="version-1-end-date-only",
        ),
        pytest.param(
            {
                "entitlement_id": 3,
                "ended": True,
                "before_fen": 100,
                "ends_on_before": None,
                "gradual_exit_until_before": "2026-10-31",
                "exit_reason_before": None,
                "next_review_on_before": None,
                "policy_version_before": "p-2",
            },
            2,
            None,
            date(2026, 10, 31),
            id="version-2-with-the-gradual-exit",
        ),
    ],
)
def test_the_version_is_read_from_what_the_entry_holds(entry, version, ends_on, gradual):
    undo = BenefitUndo.from_json(entry)
    assert (undo.version, undo.ends_on_before, undo.gradual_exit_until_before) == (version, ends_on, gradual)


def test_a_participant_without_its_hooks_is_refused_when_defined():
    from chassis.after_death import AfterDeathParticipant

    with pytest.raises(TypeError, match="death_restate"):

        class HalfDone(AfterDeathParticipant):
            def death_stop(self, event, record): ...

            def death_restore(self, event, record): ...


@pytest.mark.parametrize(
    ("step", "event_type", "reason"),
    [
        (DeathStep.done(["dibao ended on 2026-05-20", "arrears withheld"]), "death.notified",
         "dibao ended on 2026-05-20; arrears withheld"),
        (DeathStep.not_applicable("the deceased was not married"), "death.notified", "the deceased was not married"),
        (DeathStep.reversed(["marriage m-1 restored"]), "death.revoked", "marriage m-1 restored"),
        (DeathStep.done(["marriage m-1 ended by death on 2026-05-21"]), "death.date_corrected",
         "date of death corrected from 2026-05-20 to 2026-05-21: marriage m-1 ended by death on 2026-05-21"),
    ],
)  # fmt: skip
def test_a_death_step_reports_its_notes_in_order_led_by_a_correction(step, event_type, reason):
    data = {"previous_date_of_death": "2026-05-20", "date_of_death": "2026-05-21"}
    assert step.reason(event_type, data) == reason
    assert step.state in ("done", "not_applicable", "reversed")
