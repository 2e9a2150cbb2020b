"""`marriage = ServiceRpc("marriage")`: an RPC proxy that gives up after a timeout.

nameko's service-to-service RpcProxy waits forever; an HTTP client should get a 503 instead.
"""

from __future__ import annotations

import eventlet
from nameko.rpc import RpcProxy

from chassis.errors import Unavailable

__all__ = ["ServiceRpc"]


class _TimedProxy:
    def __init__(self, proxy, service: str, timeout: float):
        self._proxy, self._service, self._timeout = proxy, service, timeout

    def __getattr__(self, method: str):
        remote = getattr(self._proxy, method)

        def call(*args, **kwargs):
            try:
                with eventlet.Timeout(self._timeout):
                    return remote(*args, **kwargs)
            except eventlet.Timeout:
                raise Unavailable(f"the {self._service} service did not answer within {self._timeout:g} s") from None

        return call


class ServiceRpc(RpcProxy):
    def __init__(self, target_service: str, timeout: float = 10.0, **options):
        super().__init__(target_service, **options)
        self.timeout = timeout

    def get_dependency(self, worker_ctx):
        return _TimedProxy(super().get_dependency(worker_ctx), self.target_service, self.timeout)
