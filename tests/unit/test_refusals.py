"""Rule errors become Problems in one place (chassis.errors.refusals_as): the status, title, code,
detail and field errors a client sees, for each way a service asks for it."""

import pytest

from chassis.errors import Conflict, InvalidInput, PolicyUnusable, Problem, Refused, refusals_as
from contracts.refusals import InvalidRuleInput, RuleError, RuleRefused


def problem_of(raised: Exception, **how) -> Problem:
    with pytest.raises(Problem) as caught, refusals_as(how.pop("problem"), **how):
        raise raised
    return caught.value


@pytest.mark.parametrize(
    "raised, how, expected",
    [
        pytest.param(
            InvalidRuleInput("no such band"),
            {"problem": PolicyUnusable},
            (500, "PolicyUnusable", "no such band", {}),
            id="policy-unusable",
        ),
        pytest.param(
            InvalidRuleInput("before the death"),
            {"problem": InvalidInput, "field": "cremated_on"},
            (422, "InvalidInput", "before the death", {"cremated_on": ["before the death"]}),
            id="named-field",
        ),
        pytest.param(
            RuleRefused("already approved"),
            {"problem": Conflict, "code": "illegal_transition"},
            (409, "illegal_transition", "already approved", {}),
            id="code",
        ),
        pytest.param(
            InvalidRuleInput("bands missing"),
            {"problem": PolicyUnusable, "detail": "the policy for 330602 is unusable: {reason}"},
            (500, "PolicyUnusable", "the policy for 330602 is unusable: bands missing", {}),
            id="detail",
        ),
        pytest.param(
            AttributeError("'str' object has no attribute 'items'"),
            {"problem": PolicyUnusable, "also": (AttributeError,)},
            (500, "PolicyUnusable", "'str' object has no attribute 'items'", {}),
            id="also",
        ),
        pytest.param(
            RuleRefused("more than is outstanding", field="amount_fen"),
            {"problem": Refused, "on_conflict": Conflict},
            (422, "Refused", "more than is outstanding", {"amount_fen": ["more than is outstanding"]}),
            id="the-rules-own-field",
        ),
        pytest.param(
            RuleRefused("nothing is outstanding", field="recovery", conflict=True),
            {"problem": Refused, "on_conflict": Conflict},
            (409, "Conflict", "nothing is outstanding", {"recovery": ["nothing is outstanding"]}),
            id="on-conflict",
        ),
    ],
)
def test_a_rule_error_becomes_the_problem_asked_for(raised, how, expected):
    problem = problem_of(raised, **how)
    assert (problem.status, problem.code, problem.detail, problem.errors) == expected


def test_the_refusal_is_audited_before_the_problem_is_raised():
    audited: list[RuleError] = []
    problem = problem_of(RuleRefused("the case is revoked"), problem=Conflict, audit=audited.append)
    assert [r.reason for r in audited] == ["the case is revoked"] and problem.status == 409


def test_kind_lets_other_members_of_the_family_and_other_errors_pass():
    with (
        pytest.raises(Conflict),
        refusals_as(Conflict, kind=RuleRefused),
        refusals_as(InvalidInput, kind=InvalidRuleInput),
    ):
        raise RuleRefused("not in this state")
    with pytest.raises(KeyError), refusals_as(Conflict):
        raise KeyError("not a rule's refusal")
    with refusals_as(Conflict):  # nothing raised: nothing to turn into a problem
        pass
