"""The fault suite's own TCP proxy: one listening port in front of several upstreams (the three
broker nodes, or the gateway's instances), so a client never needs to know which are alive.

Each new connection goes to the next upstream that accepts it (round robin, skipping the dead ones,
as the compose file's load balancer does). The suite injects network faults through it:
`slow(seconds)` delays every chunk each way; `cut()` drops every open connection and refuses new
ones until `heal()`. Green threads (the suite's process is monkey-patched by tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import itertools
import socket

import eventlet


class TcpProxy:
    def __init__(self, upstreams: list[tuple[str, int]], host: str = "127.0.0.1"):
        self.upstreams = list(upstreams)
        self._next = itertools.count()
        self.delay = 0.0
        self.refusing = False
        self.connections: set[socket.socket] = set()
        self.accepted = 0
        self._closed = False
        self.server = eventlet.listen((host, 0), backlog=512)
        self.port = self.server.getsockname()[1]
        self._thread = eventlet.spawn(self._serve)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def slow(self, seconds: float) -> None:
        self.delay = seconds

    def cut(self) -> None:
        self.refusing = True
        for sock in list(self.connections):  # shut down, not closed: each is closed by its own reader
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def heal(self) -> None:
        self.refusing, self.delay = False, 0.0

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._thread.kill()
        self.server.close()

    def _serve(self):
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                if self._closed:
                    return
                eventlet.sleep(0.05)
                continue
            if self.refusing:
                client.close()
                continue
            self.accepted += 1
            eventlet.spawn_n(self._connect, client)

    def _connect(self, client):
        for _ in range(len(self.upstreams)):
            target = self.upstreams[next(self._next) % len(self.upstreams)]
            try:
                upstream = eventlet.connect(target)
                break
            except OSError:
                continue
        else:
            client.close()
            return
        self.connections.update((client, upstream))
        eventlet.spawn_n(self._pump, client, upstream)
        eventlet.spawn_n(self._pump, upstream, client)

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if self.delay:
                    eventlet.sleep(self.delay)
                sink.sendall(data)
        except Exception:
            pass
        finally:
            # the other direction's reader sees its end and closes that socket: a socket closed
            # under another green thread's read leaves the hub a stale listener on a reused fd
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)
            self.connections.discard(source)
            with contextlib.suppress(OSError):
                source.close()
