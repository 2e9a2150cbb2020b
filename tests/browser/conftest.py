"""The browser tier's fixtures: whole systems on the test's own vhost and databases, as the
integration tier's (tests/conftest.py makes those)."""

from tests.system import system

__all__ = ["system"]
