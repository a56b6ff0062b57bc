"""A total time limit per HTTP request, which httpx does not have.

httpx's timeouts apply to each network operation: a server that sends one byte a second never trips a 5-second
read timeout, and a request can last forever. The transport :func:`deadline_transport` returns gives every request
a deadline (``total`` seconds from its start, headers and body included): no network read or write waits past it,
and one that would raises httpx's ``ReadTimeout`` (``WriteTimeout``, ``ConnectTimeout``)::

    client = httpx.Client(timeout=5.0, transport=deadline_transport(httpx.Limits(), total=15.0))
    client.get(url)  # httpx.ReadTimeout after 15 s at most, however the server trickles
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, Final

import httpcore
import httpx

#: A request's total time limit, as a multiple of the per-operation timeout of the client that sends it.
TOTAL_DEADLINE_FACTOR: Final = 3.0

# The deadline of the request this thread is sending; set by the transport, read by the network streams.
_local = threading.local()


def _bounded(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the deadline; ``error`` once nothing is left."""
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the total time allowed for the request ran out")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_tcp(host, port, timeout, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        timeout = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Body(httpx.SyncByteStream):
    """A response body that ends its request's deadline once read or closed."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        _local.deadline = self._deadline  # the body may be read after another request on this thread
        yield from self._inner

    def close(self) -> None:
        _local.deadline = None
        self._inner.close()


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, limits: httpx.Limits, total: float) -> None:
        super().__init__(limits=limits)
        self.total = total
        self._pool = httpcore.ConnectionPool(  # the one way to give httpx a network backend
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.total
        _local.deadline = deadline
        try:
            response = super().handle_request(request)
        except BaseException:
            _local.deadline = None
            raise
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _Body(response.stream, deadline)
        return response


def deadline_transport(limits: httpx.Limits, *, total: float) -> httpx.HTTPTransport:
    """An httpx transport (connection ``limits`` as given) on which no request lasts more than ``total`` seconds."""
    return _DeadlineTransport(limits, total)
