"""The integration tier's fixtures: whole systems, or one service, on the test's own vhost and
databases (tests/conftest.py makes those)."""

from tests.care import care
from tests.charity import charity
from tests.system import system

__all__ = ["care", "charity", "system"]
