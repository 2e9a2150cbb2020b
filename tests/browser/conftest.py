"""The browser tier's fixtures: whole systems on the test's own vhost and databases, as the
integration tier's (tests/conftest.py makes those), and Playwright's greenlets made safe under
eventlet.

Why the browser tests hung after signing in: Playwright's sync API runs its event loop in a
greenlet of its own (the dispatcher) and every event listener in a new greenlet, each expecting to
return, when it ends, to the greenlet that started it. Under eventlet (tests/conftest.py
monkey-patches the process, for the services it runs), any greenlet that waits on anything green
switches to eventlet's hub, and the hub makes itself that greenlet's parent (eventlet's
`BaseHub.switch`: `cur.parent = self.greenlet`). A listener greenlet that had waited once then
ended into the hub instead of the dispatcher: the dispatcher stayed suspended in its `switch()`,
the test in its sync call, and the run made no progress while the gateway kept answering. The
same re-parenting made `Playwright.stop()` end in the hub and never return. Here the parent of
Playwright's own greenlets cannot be reassigned, so each ends where Playwright expects.
"""

from __future__ import annotations

import faulthandler
import sys

import eventlet
import greenlet
import pytest
from playwright._impl import _greenlets
from playwright.sync_api import sync_playwright

from tests.system import system

__all__ = ["system"]

# a test that makes no progress for this long is stopped with every thread's stack printed
# (a watchdog thread of faulthandler's own, outside eventlet and Playwright)
WATCHDOG_SECONDS = 420
CHROMIUM = "/usr/bin/chromium"

_PARENT = greenlet.greenlet.parent  # the C type's own attribute, read as usual


def pin_parents() -> list[type]:
    """Make eventlet's hub unable to re-parent Playwright's greenlets (their classes only)."""
    pinned = []
    for value in vars(_greenlets).values():
        if isinstance(value, type) and issubclass(value, greenlet.greenlet) and value is not greenlet.greenlet:
            value.parent = property(_PARENT.__get__, lambda self, new: None)  # type: ignore[attr-defined]
            pinned.append(value)
    return pinned


PINNED = pin_parents()


@pytest.fixture(autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session")
def browser():
    """One chromium for the whole run (every module's tests); each test opens its own contexts."""
    playwright = sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield chromium
    with eventlet.Timeout(30, False):  # (above: why this returns under eventlet)
        chromium.close()
        playwright.stop()
