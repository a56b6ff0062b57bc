"""The doorbell's HTTP side: accept FPVTrackside's notification PUTs (and POSTs) on any path, answer ``200`` with an
empty body at once, and hand the body over; nothing is parsed or checked before the answer has left.

FPVTrackside sends one request at a time and waits for each answer (at most 1.5 s in ExtensionMode), so a slow
answer would delay every later notification. Bodies go into a bounded inbox; when it is full (a flood), new bodies
are dropped with a log line: notifications are hints, and the mirror's passes still converge. Usage::

    with NotificationReceiver("127.0.0.1", 8765, on_body=inbox_put) as receiver:
        print(receiver.url)
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

from fpvsync import __version__
from fpvsync.live.notifications import MAX_BODY

__all__ = ["NotificationReceiver", "parse_listen"]

logger = logging.getLogger("fpvsync.live")
_JOIN_TIMEOUT: Final = 2.0


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8765`` for IPv6, ``:8765`` for loopback) as a pair; ValueError when malformed."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"{value!r} is not HOST:PORT (e.g. 127.0.0.1:8765)")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range")
    host = host.strip("[]") or "127.0.0.1"
    return host, port


class NotificationReceiver:
    """An HTTP server that answers every PUT/POST with an empty 200 and then calls ``on_body(body)``.

    ``on_body`` runs on the request's thread after the answer was sent; it must be quick (put in a queue).
    Other methods get 405; bodies over the size FPVTrackside ever sends are answered 200 and dropped.
    """

    def __init__(self, host: str, port: int, on_body: Callable[[bytes], None]) -> None:
        self.host = host
        self.port = port
        self.on_body = on_body
        #: Notifications answered since start.
        self.received = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._count = threading.Lock()

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self) -> None:
        """Bind and serve in a daemon thread. Raises :class:`OSError` when the address cannot be bound."""
        if self._server is not None:
            return
        server_class = _Server6 if ":" in self.host else _Server
        server = server_class((self.host, self.port), _Handler)
        server.receiver = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"doorbell:{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(_JOIN_TIMEOUT)
            self._thread = None

    def __enter__(self) -> NotificationReceiver:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _deliver(self, body: bytes) -> None:
        with self._count:
            self.received += 1
        try:
            self.on_body(body)
        except Exception:  # the receiver must outlive any bug downstream
            logger.exception("doorbell: could not queue a notification")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: NotificationReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("doorbell: connection from %s ended abruptly", client_address)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"fpvsync-doorbell/{__version__}"
    sys_version = ""
    timeout = 60
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _Server

    def do_PUT(self) -> None:
        self._accept()

    def do_POST(self) -> None:
        self._accept()

    def do_GET(self) -> None:
        self._answer(405)

    def _accept(self) -> None:
        body = self._read_body()
        self._answer(200)
        if body is not None:
            self.server.receiver._deliver(body)

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            return None
        if length < 0 or length > MAX_BODY:
            logger.warning("doorbell: dropped a notification of %s bytes", length)
            self.close_connection = True
            return None
        with contextlib.suppress(OSError):
            return self.rfile.read(length)
        self.close_connection = True
        return None

    def _answer(self, status: int) -> None:
        with contextlib.suppress(OSError):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: one line per notification would drown the log."""
