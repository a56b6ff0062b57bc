"""What fpvsync starts and stops: :class:`Service` (a context manager around ``start()``/``stop()``, e.g. the local
PocketBase), and its own small HTTP servers (the replay server, the doorbell) as :class:`ThreadedHTTPService`,
served from a daemon thread: bound on ``start()`` (port 0 picks a free one), stopped with a bounded wait, IPv6
hosts written ``[::1]`` in URLs. Usage::

    class Doorbell(ThreadedHTTPService):
        server_class, handler_class, thread_name = _Server, _Handler, "doorbell"

    with Doorbell("127.0.0.1", 0) as service:
        print(service.url)
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import ClassVar, Final, Self

__all__ = ["JOIN_TIMEOUT", "Service", "ThreadedHTTPService"]

#: Seconds ``stop()`` waits for a thread (the serving loop, a handler) before leaving it behind (daemon threads).
JOIN_TIMEOUT: Final = 2.0


_IPV6_TWINS: dict[type[ThreadingHTTPServer], type[ThreadingHTTPServer]] = {}


def _for_ipv6(server_class: type[ThreadingHTTPServer]) -> type[ThreadingHTTPServer]:
    """``server_class`` listening on IPv6 (one subclass per class, made once)."""
    if server_class not in _IPV6_TWINS:
        twin = type(f"{server_class.__name__}6", (server_class,), {"address_family": socket.AF_INET6})
        _IPV6_TWINS[server_class] = twin
    return _IPV6_TWINS[server_class]


class Service:
    """Something started and stopped: ``with service:`` starts it and always stops it."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class ThreadedHTTPService(Service):
    """A ``server_class`` serving ``handler_class`` on ``host:port`` from a daemon thread. The server reaches its
    service as ``server.service``. Subclasses may add to :meth:`stopping` (after the loop ended, before the socket
    closes)."""

    server_class: ClassVar[type[ThreadingHTTPServer]]
    handler_class: ClassVar[type[BaseHTTPRequestHandler]]
    thread_name: ClassVar[str]
    #: Seconds the serving loop takes to notice ``stop()``.
    poll_interval: ClassVar[float] = 0.05

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def start(self) -> None:
        """Bind and serve in a daemon thread. Raises :class:`OSError` when the address cannot be bound."""
        if self._server is not None:
            return
        server_class = _for_ipv6(self.server_class) if ":" in self.host else self.server_class
        server = server_class((self.host, self.port), self.handler_class)
        server.service = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"{self.thread_name}:{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and serving; wait (bounded) for the serving thread."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        self.stopping()
        server.server_close()
        if self._thread is not None:
            self._thread.join(JOIN_TIMEOUT)
            self._thread = None

    def stopping(self) -> None:
        """Called by :meth:`stop` once no new request is taken, before the listening socket closes."""
