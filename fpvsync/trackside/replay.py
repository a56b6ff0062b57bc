"""A stand-in for FPVTrackside's web server, serving a directory in the replay layout with the same quirks.

Layout (what :mod:`fpvsync.trackside.record` writes)::

    DIR/httpfiles/Channels.json
    DIR/events/{eventId}/Event.json | Pilots.json | Rounds.json | Stages.json | Results.json
    DIR/events/{eventId}/{raceId}/Race.json | Result.json

Answers, all HTTP 200 over HTTP/1.1 keep-alive, without ETag or Last-Modified::

    GET /                          HTML index page holding new EventManager("events/<current event>")
    GET /events/.../<file>         the file's bytes exactly; an EMPTY body when the file does not exist
    GET /current                   {"CurrentRace": <id>|null}; the HTML page when ``current_race="absent"``
    GET /httpfiles/..., anything   the file under DIR if it exists, else the HTML index page
    a path with ..                 the HTML index page (nothing outside DIR is ever served)

Files are read from disk on every request, so tests can edit them between two syncs. Usage::

    with ReplayServer(Path("tests/data/event1"), latency=0.05) as server:
        client = TracksideClient(server.url)
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from fpvsync import __version__
from fpvsync.services import JOIN_TIMEOUT, ThreadedHTTPService

__all__ = ["ABSENT", "AUTO", "NOT_SET", "ReplayServer", "index_page"]

logger = logging.getLogger("fpvsync.replay")

#: ``current_race`` values with a special meaning.
AUTO: Final = "auto"
ABSENT: Final = "absent"
#: FPVTrackside's "no date" sentinel.
NOT_SET: Final = "0001/01/01 0:00:00"

_DATE = re.compile(r"^\s*(\d{1,4})[/-](\d{1,2})[/-](\d{1,2})[ T](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?")


def index_page(event_id: str | None) -> bytes:
    """An index page shaped like FPVTrackside's: it names the current event for the page's scripts."""
    manager = f'new EventManager("events/{event_id}")' if event_id else "null"
    return (
        "<!DOCTYPE html>\r\n<html>\r\n<head>\r\n"
        '    <link rel="stylesheet" href="/httpfiles/style.css">\r\n'
        '    <script src="/httpfiles/EventManager.js"></script>\r\n'
        '    <script src="/httpfiles/Formatter.js"></script>\r\n'
        "    <script>\r\n"
        f"        var eventManager = {manager};\r\n"
        '        var formatter = new Formatter(eventManager, document, window, "content");\r\n'
        "    </script>\r\n</head>\r\n"
        '<body id="body">\r\n'
        '    <div class="top"><img src="/img/logo.png"><div id="time" class="time"></div></div>\r\n'
        '    <div class="content" id="content"></div>\r\n'
        "</body>\r\n</html>\r\n"
    ).encode("ascii", errors="replace")


def _date_key(value: object) -> tuple[int, ...] | None:
    """A sortable key for an FPVTrackside date, ``None`` when unset or unreadable."""
    if not isinstance(value, str):
        return None
    match = _DATE.match(value)
    if not match:
        return None
    *parts, fraction = match.groups()
    key = (*(int(p) for p in parts), int((fraction or "0").ljust(7, "0")[:7]))
    return None if key[:3] == (1, 1, 1) else key


def _first_object(path: Path) -> dict[str, Any] | None:
    """The first object of a one-element-array JSON file (Event.json, Race.json), or ``None``."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    service: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client going away mid-answer is normal (timeouts): quiet. Anything else is a bug: logged."""
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            logger.error("replay server: error answering %s", client_address, exc_info=error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"fpvsync-replay/{__version__}"
    sys_version = ""
    #: Idle keep-alive connections are dropped after this many seconds.
    timeout = 30
    # Headers and body leave in one write, without Nagle's delay (a 40 ms stall per answer otherwise).
    wbufsize = -1
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self._registered = self.server.service._register(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.service._unregister(self.connection)

    def handle(self) -> None:
        if not self._registered:  # accepted while the server was stopping
            return
        with contextlib.suppress(OSError):
            super().handle()

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        replay = self.server.service
        replay._begin()
        counted = False
        try:
            if replay.latency > 0 and replay._stopping.wait(replay.latency):
                self.close_connection = True
                return
            if replay.on_request is not None:
                replay.on_request(self.path)
            body, content_type = replay.answer(self.path)
            # Counted before the first byte goes out: once a client has its answer, the stats include it.
            replay._end(answered=True, path=self.path)
            counted = True
            self.send_response(200)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            if send_body:
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
        finally:
            if not counted:
                replay._end(answered=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: no line on stderr per request."""


class ReplayServer(ThreadedHTTPService):
    """Serve ``directory`` like FPVTrackside does. A context manager: starts on enter, stops on exit.

    ``current_event``: ``None`` picks, on every request, the event whose ``Event.json`` has the newest
    ``LastOpened`` (else the lexicographically last event folder). ``current_race``: ``"auto"`` is the race of the
    current event that has started and not ended; ``"absent"`` answers ``/current`` with the HTML page, like
    builds older than ``/current``; ``None`` answers ``null``; any other string is that race id. ``latency``
    delays every answer. All three can be changed while the server runs.

    ``on_request``, when set, is called with the request path before the answer is computed (tests use it to
    rewrite a file between two requests).
    """

    server_class = _HTTPServer
    handler_class = _Handler
    thread_name = "replay"
    poll_interval = 0.02

    def __init__(
        self,
        directory: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        current_event: str | None = None,
        current_race: str | None = AUTO,
        latency: float = 0.0,
    ) -> None:
        super().__init__(host, port)
        self.directory = Path(directory).resolve()
        self.current_event = current_event
        self.current_race = current_race
        self.latency = latency
        self.on_request: Callable[[str], None] | None = None
        #: Requests answered since start.
        self.requests_served = 0
        #: The same, by what was asked: a document's file name (``Race.json``...), or the path (``/current``).
        self.requests_by_document: collections.Counter[str] = collections.Counter()
        #: The most requests ever being handled at the same time (measured by the server).
        self.max_in_flight = 0
        #: TCP connections accepted since start (keep-alive clients reuse one).
        self.connections_accepted = 0
        self._in_flight = 0
        self._stats = threading.Lock()
        self._stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}

    # -- lifecycle -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if not self.running:
            raise RuntimeError("the replay server is not running")
        return f"http://{self.url_host}:{self.port}"

    def start(self) -> None:
        """Bind and serve in a daemon thread. Raises :class:`OSError` when the address cannot be bound."""
        if not self.running:
            self._stopping.clear()
        super().start()

    def stop(self) -> None:
        """Stop accepting, drop open keep-alive connections, and wait (bounded) for handlers to finish."""
        if self.running:
            self._stopping.set()
        super().stop()

    def stopping(self) -> None:
        with self._stats:
            connections = dict(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in connections.values():
            thread.join(JOIN_TIMEOUT)

    def __repr__(self) -> str:
        state = self.url if self.running else "stopped"
        return f"ReplayServer({str(self.directory)!r}, {state})"

    # -- what FPVTrackside would answer ----------------------------------------------------------------------

    def resolve_current_event(self) -> str | None:
        """The event the index page names now (see the class docstring)."""
        if self.current_event is not None:
            return self.current_event
        events = self.directory / "events"
        try:
            folders = sorted(p for p in events.iterdir() if p.is_dir())
        except OSError:
            return None
        if not folders:
            return None
        dated = []
        for folder in folders:
            event = _first_object(folder / "Event.json")
            key = _date_key(event.get("LastOpened")) if event else None
            if key is not None:
                dated.append((key, folder.name))
        return max(dated)[1] if dated else folders[-1].name

    def resolve_current_race(self) -> str | None:
        """The race ``/current`` names now (``current_race`` must not be ``"absent"``)."""
        if self.current_race != AUTO:
            return self.current_race
        event_id = self.resolve_current_event()
        if event_id is None:
            return None
        running = []
        try:
            folders = sorted(p for p in (self.directory / "events" / event_id).iterdir() if p.is_dir())
        except OSError:
            return None
        for folder in folders:
            race = _first_object(folder / "Race.json")
            if race is None:
                continue
            start = _date_key(race.get("Start"))
            if start is not None and _date_key(race.get("End")) is None:
                running.append((start, folder.name))
        return max(running)[1] if running else None

    def answer(self, raw_path: str) -> tuple[bytes, str | None]:
        """The body and content type FPVTrackside would send for ``raw_path`` (always with status 200)."""
        path = unquote(urlsplit(raw_path).path)
        segments = [s for s in path.split("/") if s]
        if not segments or any(s in (".", "..") or "\\" in s or "\x00" in s or ":" in s for s in segments):
            return self._index()
        if segments == ["current"] and self.current_race != ABSENT:
            body = json.dumps({"CurrentRace": self.resolve_current_race()}).encode()
            return body, "application/json"
        target = self.directory.joinpath(*segments)
        try:
            inside = target.resolve().is_relative_to(self.directory)
        except (OSError, RuntimeError):
            inside = False
        if segments[0] == "events" and "." in segments[-1]:
            # FPVTrackside: a file-like path under /events/ is the file, or nothing at all.
            if inside and target.is_file():
                return self._read(target)
            return b"", None
        if inside and target.is_file():
            return self._read(target)
        return self._index()

    def _index(self) -> tuple[bytes, str | None]:
        return index_page(self.resolve_current_event()), "text/html"

    @staticmethod
    def _read(target: Path) -> tuple[bytes, str | None]:
        try:
            body = target.read_bytes()
        except OSError:
            return b"", None
        kind = {".json": "application/json", ".html": "text/html", ".css": "text/css", ".js": "text/javascript"}
        return body, kind.get(target.suffix.lower(), "application/octet-stream")

    # -- bookkeeping for the handler -------------------------------------------------------------------------

    def _register(self, sock: socket.socket) -> bool:
        with self._stats:
            if self._stopping.is_set():
                return False
            self._connections[sock] = threading.current_thread()
            self.connections_accepted += 1
            return True

    def _unregister(self, sock: socket.socket) -> None:
        with self._stats:
            self._connections.pop(sock, None)

    def _begin(self) -> None:
        with self._stats:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _end(self, answered: bool, path: str = "") -> None:
        with self._stats:
            self._in_flight -= 1
            if answered:
                self.requests_served += 1
                document = urlsplit(path).path
                self.requests_by_document[document.rsplit("/", 1)[-1] if "/events/" in document else document] += 1
