"""Funeral rules (services.funeral.rules), in memory, by tables of cases."""

from datetime import date

import pytest

from contracts.funeral import OnDeath, after_death_action, date_revision, step_reason
from contracts.refusals import InvalidRuleInput, RuleRefused
from services.funeral import rules

REWARDS = {"tree": 500000, "lawn": 500000, "flower_bed": 500000, "sea": 1200000, "niche": 200000}
FEES = {"transport": 30000, "cremation": 40000}


@pytest.mark.parametrize(
    "role, subject, source",
    [
        ("partner", "health", "hospital"),
        ("partner", "police", "police"),
        ("clerk", "funeral-home-01", "funeral_home"),
        ("funeral_home", "funeral-home-01", "funeral_home"),
        ("admin", "bureau", "funeral_home"),
        ("citizen", "330602194103010011", "family"),
    ],
)
def test_source_of_the_notice(role, subject, source):
    assert rules.source_of(role, subject) == source


@pytest.mark.parametrize("role, subject", [("partner", "banks"), ("partner", "medical_insurance"), ("system", "x")])
def test_others_do_not_notify_deaths(role, subject):
    with pytest.raises(RuleRefused):
        rules.source_of(role, subject)


@pytest.mark.parametrize(
    "died, born, today, fine",
    [
        (date(2026, 5, 20), date(1941, 3, 1), date(2026, 6, 10), True),
        (date(2026, 6, 10), date(1941, 3, 1), date(2026, 6, 10), True),  # today
        (date(2026, 6, 11), date(1941, 3, 1), date(2026, 6, 10), False),  # in the future
        (date(1941, 3, 1), date(1941, 3, 1), date(2026, 6, 10), True),  # the day of birth
        (date(1941, 2, 28), date(1941, 3, 1), date(2026, 6, 10), False),  # before birth
    ],
)
def test_date_of_death_is_plausible(died, born, today, fine):
    if fine:
        rules.check_date_of_death(died, born, today)
    else:
        with pytest.raises(InvalidRuleInput):
            rules.check_date_of_death(died, born, today)


@pytest.mark.parametrize(
    "case, reported, agree",
    [
        (date(2026, 5, 20), date(2026, 5, 20), True),
        (date(2026, 5, 20), date(2026, 5, 21), False),  # a day apart is a conflict: a clerk decides
    ],
)
def test_dates_agree(case, reported, agree):
    assert rules.dates_agree(case, reported) is agree


@pytest.mark.parametrize(
    "kind, waived_kinds, fee, waived, payable",
    [
        ("cremation", ["transport", "cremation"], 40000, 40000, 0),
        ("transport", ["cremation"], 30000, 0, 30000),
        ("transport", [], 30000, 0, 30000),
    ],
)
def test_fee_waiver_by_policy(kind, waived_kinds, fee, waived, payable):
    result = rules.fee_waiver(kind, FEES, waived_kinds)
    assert (result.fee_fen, result.waived_fen, result.payable_fen) == (fee, waived, payable)


@pytest.mark.parametrize("fees", [{"transport": 30000}, {"cremation": -1}, {"cremation": 1.5}, {"cremation": True}])
def test_fee_waiver_refuses_unusable_policy(fees):
    with pytest.raises(InvalidRuleInput):
        rules.fee_waiver("cremation", fees, ["cremation"])


@pytest.mark.parametrize(
    "form, cap, reward",
    [
        ("tree", 1000000, 500000),
        ("sea", 1000000, 1000000),  # the policy's amount is above the cap: capped (最高每例1万元)
        ("niche", 1000000, 200000),
        ("flower_bed", 300000, 300000),
        ("traditional", 1000000, 0),  # not an eco-burial
        ("lawn", 0, 0),
    ],
)
def test_eco_burial_reward_is_capped_per_case(form, cap, reward):
    assert rules.eco_burial_reward(form, REWARDS, cap) == reward


def test_eco_forms_are_the_five_of_the_brief():
    assert {"tree", "lawn", "flower_bed", "sea", "niche"} == rules.ECO_FORMS


@pytest.mark.parametrize("rewards, cap", [({"tree": -5}, 100), ({"tree": 5}, -1), ({"tree": 5}, True)])
def test_eco_burial_reward_refuses_unusable_policy(rewards, cap):
    with pytest.raises(InvalidRuleInput):
        rules.eco_burial_reward("tree", rewards, cap)


@pytest.mark.parametrize(
    "region, year, serial, number",
    [
        ("330602001", 2026, 1, "H330602-2026-000001"),
        ("330602", 2027, 123456, "H330602-2027-123456"),
    ],
)
def test_certificate_number(region, year, serial, number):
    assert rules.certificate_number(region, year, serial) == number


@pytest.mark.parametrize("serial", [0, 1_000_000])
def test_certificate_serial_out_of_range(serial):
    with pytest.raises(InvalidRuleInput):
        rules.certificate_number("330602", 2026, serial)


DIED = date(2026, 5, 20)


@pytest.mark.parametrize(
    "state, booked, conflict, on, error",
    [
        ("open", True, False, date(2026, 5, 23), None),
        ("open", True, False, DIED, None),
        ("open", False, False, date(2026, 5, 23), RuleRefused),  # no cremation booked
        ("open", True, True, date(2026, 5, 23), RuleRefused),  # the date is in dispute
        ("cremated", True, False, date(2026, 5, 23), RuleRefused),
        ("revoked", True, False, date(2026, 5, 23), RuleRefused),
        ("open", True, False, date(2026, 5, 19), InvalidRuleInput),  # before the death
    ],
)
def test_may_cremate(state, booked, conflict, on, error):
    if error is None:
        rules.may_cremate(state, booked, conflict, on, DIED)
    else:
        with pytest.raises(error):
            rules.may_cremate(state, booked, conflict, on, DIED)


@pytest.mark.parametrize("state, allowed", [("open", True), ("cremated", False), ("revoked", False)])
def test_may_revoke(state, allowed):
    if allowed:
        rules.may_revoke(state)
    else:
        with pytest.raises(RuleRefused):
            rules.may_revoke(state)


@pytest.mark.parametrize(
    "deaths, cremated, burials, eco, cremation_rate, eco_rate",
    [
        (0, 0, 0, 0, None, None),
        (10, 8, 5, 4, 0.8, 0.8),
        (3, 1, 3, 2, 0.3333, 0.6667),
        (4, 4, 0, 0, 1.0, None),
    ],
)
def test_indicators(deaths, cremated, burials, eco, cremation_rate, eco_rate):
    result = rules.indicators(deaths, cremated, burials, eco)
    assert (result.cremation_rate, result.eco_burial_rate) == (cremation_rate, eco_rate)


@pytest.mark.parametrize(
    "event_type, recorded, action",
    [
        ("death.notified", None, OnDeath.STOP),
        ("death.notified", "applied", OnDeath.IGNORE),  # the same death notified twice
        ("death.notified", "not_applicable", OnDeath.IGNORE),
        ("death.notified", "revoked", OnDeath.IGNORE),  # the revocation overtook this notice
        ("death.notified", "reversed", OnDeath.IGNORE),  # notice redelivered after its revocation
        ("death.revoked", None, OnDeath.TOMBSTONE),
        ("death.revoked", "applied", OnDeath.RESTORE),
        ("death.revoked", "not_applicable", OnDeath.CLOSE),
        ("death.revoked", "reversed", OnDeath.IGNORE),  # the revocation twice
        ("death.revoked", "revoked", OnDeath.IGNORE),
        ("death.date_corrected", "applied", OnDeath.RESTATE),  # undo the old date, stop as of the new
        ("death.date_corrected", "not_applicable", OnDeath.STOP),  # the new date may find what the old did not
        ("death.date_corrected", None, OnDeath.STOP),  # it overtook its notice: the late notice is ignored
        ("death.date_corrected", "reversed", OnDeath.IGNORE),  # the death was revoked: nothing stands to correct
        ("death.date_corrected", "revoked", OnDeath.IGNORE),
    ],
)
def test_after_death_protocol(event_type, recorded, action):
    # a correction here is newer than the one the record stands on (the notice's date, 0)
    assert after_death_action(event_type, recorded, 0, 1 if event_type == "death.date_corrected" else 0) is action


@pytest.mark.parametrize(
    "recorded, recorded_revision, event_revision, action",
    [
        ("applied", 1, 1, OnDeath.IGNORE),  # a copy of the correction handled (under another id)
        ("not_applicable", 1, 1, OnDeath.IGNORE),
        ("applied", 2, 1, OnDeath.IGNORE),  # the first correction waited in retry while the second was handled
        ("applied", 1, 2, OnDeath.RESTATE),  # the second correction after the first
        ("applied", 0, 2, OnDeath.RESTATE),  # the first was lost to nothing: the second still applies
        ("not_applicable", 2, 1, OnDeath.IGNORE),
        ("not_applicable", 0, 1, OnDeath.STOP),
        (None, 0, 1, OnDeath.STOP),  # it overtook its notice
        ("reversed", 0, 2, OnDeath.IGNORE),
    ],
)
def test_a_correction_no_newer_than_the_recorded_one_is_stale(recorded, recorded_revision, event_revision, action):
    assert after_death_action("death.date_corrected", recorded, recorded_revision, event_revision) is action


@pytest.mark.parametrize(
    "event_type, data, revision",
    [
        ("death.notified", {"date_of_death": "2026-05-21"}, 0),
        ("death.revoked", {"date_of_death": "2026-05-21"}, 0),
        ("death.date_corrected", {"date_of_death": "2026-05-21", "revision": 3}, 3),
    ],
)
def test_the_date_an_event_stands_on_is_numbered(event_type, data, revision):
    assert date_revision(event_type, data) == revision


@pytest.mark.parametrize(
    "event_type, said, reason",
    [
        ("death.notified", "allowance ended", "allowance ended"),
        ("death.revoked", "restored", "restored"),
        (
            "death.date_corrected",
            "allowance ended on 2026-05-21",
            "date of death corrected from 2026-05-20 to 2026-05-21: allowance ended on 2026-05-21",
        ),
    ],
)
def test_a_step_reported_after_a_correction_names_it(event_type, said, reason):
    data = {"date_of_death": "2026-05-21", "previous_date_of_death": "2026-05-20"}
    assert step_reason(event_type, data, said) == reason


def test_after_death_protocol_takes_only_its_events():
    with pytest.raises(ValueError):
        after_death_action("death.cremated", None)


HOLD = {"mode": "hold", "confirm_within_days": 3}


@pytest.mark.parametrize(
    "source, policy, expected",
    [
        ("family", HOLD, date(2026, 6, 13)),
        ("family", {"mode": "hold", "confirm_within_days": 1}, date(2026, 6, 11)),
        ("family", {"mode": "at_once", "confirm_within_days": 0}, None),
        ("hospital", HOLD, None),
        ("police", HOLD, None),
        ("funeral_home", HOLD, None),
    ],
)
def test_a_family_notice_is_held_by_policy(source, policy, expected):
    assert rules.family_notice_hold(source, policy, date(2026, 6, 10)) == expected


@pytest.mark.parametrize(
    "policy",
    [{"mode": "later"}, {"mode": "hold", "confirm_within_days": 0}, {"mode": "hold", "confirm_within_days": True}],
)
def test_an_unusable_family_notice_policy_is_refused(policy):
    with pytest.raises(InvalidRuleInput):
        rules.family_notice_hold("family", policy, date(2026, 6, 10))


BY = date(2026, 6, 13)


@pytest.mark.parametrize(
    "verification, by, today, expected",
    [
        ("awaiting", "clerk", BY, "verified"),  # on the last day
        ("awaiting", "clerk", date(2026, 6, 14), None),  # a day late
        ("lapsed", "clerk", date(2026, 6, 12), None),
        ("awaiting", "hospital", date(2026, 7, 1), "verified"),
        ("lapsed", "police", date(2026, 7, 1), "verified"),
        ("verified", "hospital", BY, None),
        ("awaiting", "funeral_home", BY, None),
    ],
)
def test_what_verifies_a_held_family_notice(verification, by, today, expected):
    if expected is None:
        with pytest.raises(RuleRefused):
            rules.verification_after(verification, BY, by, today)
    else:
        assert rules.verification_after(verification, BY, by, today) == expected


@pytest.mark.parametrize(
    "verification, today, expected",
    [("awaiting", BY, False), ("awaiting", date(2026, 6, 14), True), ("lapsed", date(2026, 6, 14), False)],
)
def test_a_held_notice_lapses_after_its_day(verification, today, expected):
    assert rules.lapses(verification, BY, today) is expected
