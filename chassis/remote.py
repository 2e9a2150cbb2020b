"""`marriage = ServiceRpc("marriage")`: an RPC proxy that gives up after a timeout.

nameko's service-to-service RpcProxy waits forever; an HTTP client should get a 503 instead.

A caller that may repeat a command after giving up on it (the gateway, under a request's
Idempotency-Key) names its commands with `commands_named(worker_ctx, name)`: each call the worker
makes then carries a command id derived from that name and the call's place in the worker's
sequence, the same on every repetition. The service's command log keeps its reply under that id
(chassis.entrypoints.Rpc), so a repeated command is answered with the first reply instead of running
again, and one that is still running is answered "in progress" (`COMMAND_IN_PROGRESS`).
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager

import eventlet
from nameko.rpc import RpcProxy

from chassis.errors import Unavailable

__all__ = ["ServiceRpc", "commands_named", "command_base", "COMMAND_ID", "COMMAND_IN_PROGRESS"]

# The worker-context key of a named command: nameko sends context keys as `nameko.<key>` headers.
COMMAND_ID = "command_id"
# The Problem code a service answers a named command with while another delivery of it runs.
COMMAND_IN_PROGRESS = "CommandInProgress"
_NAME = "tongban_command_name"  # attributes of the worker context, not its data (data travels)
_CALLS = "tongban_command_calls"


def command_base(*parts: str) -> str:
    """A name for a worker's commands from what identifies the request (never the parts themselves:
    a key may be anything its client chose). 56 hex digits, so `name.n` fits the command log's key."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:56]


@contextmanager
def commands_named(worker_ctx, name: str):
    setattr(worker_ctx, _NAME, name)
    setattr(worker_ctx, _CALLS, 0)
    try:
        yield
    finally:
        setattr(worker_ctx, _NAME, None)


class _TimedProxy:
    def __init__(self, proxy, service: str, timeout: float, worker_ctx):
        self._proxy, self._service, self._timeout, self._worker_ctx = proxy, service, timeout, worker_ctx

    def __getattr__(self, method: str):
        remote = getattr(self._proxy, method)

        def call(*args, **kwargs):
            name = getattr(self._worker_ctx, _NAME, None)
            if name is not None:
                calls = getattr(self._worker_ctx, _CALLS) + 1
                setattr(self._worker_ctx, _CALLS, calls)
                self._worker_ctx.data[COMMAND_ID] = f"{name}.{calls}"
            try:
                with eventlet.Timeout(self._timeout):
                    return remote(*args, **kwargs)
            except eventlet.Timeout:
                raise Unavailable(f"the {self._service} service did not answer within {self._timeout:g} s") from None
            finally:
                self._worker_ctx.data.pop(COMMAND_ID, None)

        return call


class ServiceRpc(RpcProxy):
    """`RPC_TIMEOUT_SECONDS` in the config overrides the timeout (tests shorten it)."""

    def __init__(self, target_service: str, timeout: float = 10.0, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def setup(self):
        super().setup()
        self.timeout = float(self.container.config.get("RPC_TIMEOUT_SECONDS", self.timeout))

    def get_dependency(self, worker_ctx):
        return _TimedProxy(super().get_dependency(worker_ctx), self.target_service, self.timeout, worker_ctx)
