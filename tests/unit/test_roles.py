"""The roles are named once (contracts.roles): every route admits only roles a token can carry, and the
development issuer mints exactly those."""

import pytest

import gateway.service  # noqa: F401  (the routes register themselves on import)
from contracts.roles import ADMIN, AREA_ROLES, EMPLOYEES, ROLES, STAFF, SYSTEM_ROLE
from gateway.api import ROUTES
from gateway.auth import issue_token


def test_every_route_admits_only_roles_a_token_can_carry():
    admitted = {role for route in ROUTES if route.roles for role in route.roles}
    assert admitted and admitted <= set(ROLES), admitted - set(ROLES)
    assert SYSTEM_ROLE not in ROLES  # a service acting on its own never holds a token


def test_the_groups_are_made_of_the_roles():
    assert set(STAFF) | set(AREA_ROLES) <= set(EMPLOYEES) <= set(ROLES)
    assert ADMIN in STAFF and ADMIN not in AREA_ROLES


def test_the_issuer_refuses_a_role_not_in_the_list():
    with pytest.raises(ValueError, match="role must be one of"):
        issue_token(object(), "someone", "auditor")
