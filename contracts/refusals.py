"""The one family of errors the pure rules raise (rules may import contracts, never the chassis).

A rule that cannot go on raises one of these with a sentence saying why (`reason`) and, where the
refusal concerns one input, its name (`field`). The services never translate them by hand: they say
which Problem a refusal becomes with `chassis.errors.refusals_as(...)`, the one place where rule
errors turn into RFC 7807 problems.

    RuleError
    ├── InvalidRuleInput   a policy, record or argument the rules cannot work with
    └── RuleRefused        well-formed, but not allowed (in this state, on this day)
"""

from __future__ import annotations

__all__ = ["RuleError", "InvalidRuleInput", "RuleRefused"]


class RuleError(ValueError):
    """`reason`: why, in a sentence; `field`: the input it concerns, when one does; `conflict`: True
    when the state of a record (not the request) is the obstacle."""

    def __init__(self, reason: str, field: str | None = None, conflict: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.field, self.conflict = reason, field, conflict


class InvalidRuleInput(RuleError):
    """A policy, record or argument the rules cannot work with."""


class RuleRefused(RuleError):
    """Well-formed, but the rules do not allow it (in this state, on this day)."""
