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
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from fpvsync import __version__
from fpvsync.live.notifications import MAX_BODY
from fpvsync.services import ThreadedHTTPService

__all__ = ["NotificationReceiver", "parse_listen"]

logger = logging.getLogger("fpvsync.live")


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: NotificationReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("doorbell: connection from %s ended abruptly", client_address)


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
            self.server.service._deliver(body)

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


class NotificationReceiver(ThreadedHTTPService):
    """An HTTP server that answers every PUT/POST with an empty 200 and then calls ``on_body(body)``.

    ``on_body`` runs on the request's thread after the answer was sent; it must be quick (put in a queue).
    Other methods get 405; bodies over the size FPVTrackside ever sends are answered 200 and dropped.
    """

    server_class = _Server
    handler_class = _Handler
    thread_name = "doorbell"

    def __init__(self, host: str, port: int, on_body: Callable[[bytes], None]) -> None:
        super().__init__(host, port)
        self.on_body = on_body
        #: Notifications answered since start.
        self.received = 0
        self._count = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.url_host}:{self.port}/"

    def _deliver(self, body: bytes) -> None:
        with self._count:
            self.received += 1
        try:
            self.on_body(body)
        except Exception:  # the receiver must outlive any bug downstream
            logger.exception("doorbell: could not queue a notification")
