"""Fetching FPVTrackside's documents: retries, politeness, and the "200 with nothing useful" quirks.

FPVTrackside answers every request with HTTP 200. What a body means::

    body                        fetch(required=True)           fetch(required=False)
    JSON (including ``[]``)     Document                       Document
    empty                       retried, then unavailable      unavailable at once (the file is missing)
    HTML index page             retried, then unavailable      retried, then unavailable
    JSON that does not parse    retried, then unavailable      retried, then unavailable (half-written file)

JSON nested too deeply for Python to read is unavailable at once. What JSON allows but PocketBase cannot store is
read as text: ``NaN``, ``Infinity``, numbers beyond a float64 (``1e400``) become strings, and a lone UTF-16
surrogate escape (``"\\ud800"``) becomes U+FFFD.

"Unavailable" is :class:`~fpvsync.errors.DocumentUnavailable` (with ``empty=True`` when the last body was empty);
it never turns into an empty document. Connection
errors, timeouts and 5xx answers are retried with exponential backoff and end in
:class:`~fpvsync.errors.SourceUnreachable`. Other statuses are unavailable at once.

The timing laptop is busy timing a race, so a client is gentle: one keep-alive connection, never more than one
request in flight (whatever the number of threads sharing the client), a minimum pause between requests, short
timeouts. Usage::

    with TracksideClient("http://timing-laptop:8080") as client:
        event_id = client.current_event()
        event = client.fetch(f"events/{event_id}/Event.json")
        results = client.fetch(f"events/{event_id}/Results.json", required=False)
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from fpvsync import __version__
from fpvsync.config import Settings
from fpvsync.deadline import TOTAL_DEADLINE_FACTOR, deadline_transport
from fpvsync.errors import DocumentUnavailable, SourceUnreachable

__all__ = ["EMPTY_BODY", "ZERO_GUID", "Document", "TracksideClient", "parse_current_event"]

logger = logging.getLogger("fpvsync.trackside")

ZERO_GUID: Final = "00000000-0000-0000-0000-000000000000"
#: Longest pause between two attempts, whatever the number of attempts.
MAX_BACKOFF: Final = 2.0
#: First pause before re-reading a document that came back unusable (empty, half-written): FPVTrackside rewrites
#: its files in place within milliseconds, so waiting as long as for a server that does not answer only delays a
#: live lap (three re-reads span 0.35 s).
REREAD_BACKOFF: Final = 0.05
USER_AGENT: Final = f"fpvsync/{__version__}"
#: Seconds an idle connection is kept: below the servers' idle timeouts, so a request never races their close.
KEEPALIVE_EXPIRY: Final = 15.0
#: :attr:`DocumentUnavailable.reason` for an empty body: with ``required=False``, "this file does not exist".
EMPTY_BODY: Final = "empty body (file missing or being written)"

# A JSON escape of a UTF-16 surrogate (``\\ud83d``): pairs decode to one character, a lone one stays a surrogate.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Integers with more digits than a float64 (PocketBase's numbers) can hold.
_MAX_INT_DIGITS: Final = 300
# Looking for such a run: digits become "0" and everything else " ", then a plain substring search (a regex
# `\d{301}` costs more than parsing the JSON).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_DIGITS = b"0" * (_MAX_INT_DIGITS + 1)
#: What an id from FPVTrackside must look like before it goes into a URL (a GUID, any case).
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CURRENT_EVENT = re.compile(r"""new\s+EventManager\s*\(\s*(["'])events/([^"'/\\\s]+)/?\1\s*\)""")
_T = TypeVar("_T")


def parse_current_event(html: str) -> str | None:
    """The event id in FPVTrackside's index page (``new EventManager("events/<eventId>")``), or ``None``."""
    match = _CURRENT_EVENT.search(html)
    return match.group(2) if match else None


@dataclass(frozen=True)
class Document:
    """One JSON document as FPVTrackside served it."""

    #: Relative path, no leading slash: ``events/<eventId>/<raceId>/Race.json``.
    path: str
    #: The body exactly as received.
    body: bytes = field(repr=False)
    #: Hex SHA-256 of :attr:`body` (FPVTrackside sends no ETag: change detection hashes the body).
    sha256: str
    #: The decoded JSON.
    data: Any = field(repr=False)

    @property
    def is_empty_list(self) -> bool:
        """``[]``: a valid document; on a ``Race.json`` it means the race was deleted."""
        return isinstance(self.data, list) and not self.data

    @classmethod
    def from_body(cls, path: str, body: bytes, data: Any) -> Document:
        return cls(path=path, body=body, sha256=hashlib.sha256(body).hexdigest(), data=data)


class _Unusable(Exception):
    """An answer that holds no usable document (one attempt's outcome, not yet the final error)."""

    def __init__(self, reason: str, *, final: bool = False, empty: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final
        self.empty = empty


class _NoAnswer(Exception):
    """The server did not answer usefully at the HTTP level (connection error, timeout, 5xx)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, _NoAnswer) or (isinstance(exc, _Unusable) and not exc.final)


def _looks_like_html(response: httpx.Response, body: bytes) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"


def _decode(path: str, body: bytes, response: httpx.Response, *, required: bool) -> Document:
    """Turn one 200 answer into a document, or raise :class:`_Unusable`."""
    if not body.strip():
        # A missing file under /events/ is an empty 200; so is a file FPVTrackside is rewriting right now.
        raise _Unusable(EMPTY_BODY, final=not required, empty=True)
    if _looks_like_html(response, body):
        raise _Unusable("HTML page instead of JSON")
    try:
        # Numbers PocketBase cannot take (NaN, Infinity, 1e400, a 400-digit integer) are kept as their text.
        long_ints = _long_int_or_text if _LONG_DIGITS in body.translate(_DIGITS_ONLY) else None
        data = json.loads(
            body.decode("utf-8-sig"), parse_constant=str, parse_float=_finite_or_text, parse_int=long_ints
        )
        if _SURROGATE_ESCAPE.search(body):
            data = _without_lone_surrogates(data)
    except UnicodeDecodeError as exc:
        raise _Unusable(f"body is not UTF-8: {exc} (file half-written?)") from exc
    except json.JSONDecodeError as exc:
        raise _Unusable(f"JSON does not parse: {exc} (file half-written?)") from exc
    except RecursionError as exc:
        raise _Unusable("JSON nested too deeply to read", final=True) from exc
    return Document.from_body(path, body, data)


def _finite_or_text(text: str) -> float | str:
    """A JSON number, or its text when no float holds it (``1e400``): PocketBase only takes finite numbers."""
    value = float(text)
    return value if math.isfinite(value) else text


def _long_int_or_text(text: str) -> int | str:
    return int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else text


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with every lone UTF-16 surrogate (``"\\ud800"`` in the JSON) replaced by U+FFFD: such a string
    cannot be encoded as UTF-8, so neither hashed nor sent to PocketBase."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in value.items()}
    return value


class TracksideClient:
    """A polite HTTP client for one FPVTrackside instance. Thread-safe; use as a context manager.

    ``attempts`` counts tries per document (1 = no retry); ``backoff`` is the first pause between tries after no
    answer, ``reread_backoff`` after an unusable answer (a file being written), each doubling up to
    :data:`MAX_BACKOFF`; ``min_interval`` is the least time between the end of one request and
    the start of the next. ``transport`` replaces httpx's network transport (tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        attempts: int = 4,
        min_interval: float = 0.002,
        backoff: float = 0.2,
        reread_backoff: float = REREAD_BACKOFF,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.base_url = base_url.rstrip("/")
        #: No request lasts longer than this, however slowly the server sends.
        self.total_timeout = timeout * TOTAL_DEADLINE_FACTOR
        #: The URL as shown in messages: without any user or password it may carry.
        self.display_url = str(httpx.URL(self.base_url).copy_with(username=None, password=None))
        self.attempts = attempts
        self.min_interval = min_interval
        self.backoff = backoff
        self.reread_backoff = reread_backoff
        #: Requests put on the wire (every attempt counts), for tests and benchmarks.
        self.requests_sent = 0
        self._lock = threading.Lock()
        self._last_end = float("-inf")
        self._supports_current: bool | None = None
        self._current_warned = False
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=KEEPALIVE_EXPIRY)
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout),
            limits=limits,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/html;q=0.1"},
            follow_redirects=False,
            transport=transport or deadline_transport(limits, total=self.total_timeout),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TracksideClient:
        return cls(
            settings.trackside_base,
            timeout=settings.trackside_timeout,
            attempts=settings.trackside_attempts,
            min_interval=settings.min_request_interval,
        )

    # -- lifecycle -------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> TracksideClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TracksideClient({self.display_url!r})"

    # -- public API ------------------------------------------------------------------------------------------

    def fetch(self, path: str, *, required: bool = True) -> Document:
        """Fetch one JSON document, e.g. ``events/<eventId>/Event.json``.

        Raises :class:`DocumentUnavailable` (empty body, HTML, unparseable JSON, unexpected status) and
        :class:`SourceUnreachable`. ``required=False`` is for documents that are usually missing
        (``Results.json``, ``Stages.json`` on old builds, ``Result.json`` of unfinished races): an empty body
        is then final at once instead of being retried.
        """
        path = path.lstrip("/")

        def attempt() -> Document:
            response = self._send(path)
            return _decode(path, response.content, response, required=required)

        return self._retrying(path, attempt)

    def current_event(self) -> str:
        """The id of the event open in FPVTrackside, scraped from the index page ``/``."""

        def attempt() -> str:
            response = self._send("")
            body = response.content
            if not body.strip():
                raise _Unusable("empty index page", empty=True)
            event_id = parse_current_event(body.decode("utf-8", errors="replace"))
            if event_id is None:
                raise _Unusable(
                    'the index page names no event (no `new EventManager("events/<id>")`; '
                    "is --trackside the address of FPVTrackside's web server, with an event open?)",
                    final=True,
                )
            if not GUID.match(event_id):
                raise _Unusable(f"the index page names an event id that is not a GUID: {event_id[:80]!r}", final=True)
            return event_id

        return self._retrying("/", attempt)

    def current_race(self) -> str | None:
        """The race running now according to ``/current`` (newest builds only).

        ``None`` when no race is running (``null`` or the zero GUID) and when the build has no ``/current``
        (it answers the HTML index page instead); :meth:`supports_current` tells the two apart. An answer that
        is not a race id (other JSON, a non-GUID such as a path, an HTTP error) is ignored like a build without
        ``/current``, with one warning per client: such a value never goes into a URL.
        """

        def attempt() -> tuple[bool, str | None]:
            try:
                response = self._send("current")
            except _NoAnswer as exc:
                if exc.why.startswith("HTTP 5"):
                    raise _Unusable(exc.why, final=True) from exc
                raise
            body = response.content
            if body.strip() and _looks_like_html(response, body):
                return False, None
            document = _decode("current", body, response, required=True)
            if not isinstance(document.data, dict) or "CurrentRace" not in document.data:
                raise _Unusable(f"unexpected answer: {body[:80]!r}", final=True)
            race = document.data["CurrentRace"]
            if race is not None and not isinstance(race, str):
                raise _Unusable(f"CurrentRace is not a string: {race!r}"[:120], final=True)
            race = (race or "").strip()
            if race and not GUID.match(race):
                raise _Unusable(f"CurrentRace is not a race id: {race[:80]!r}", final=True)
            return True, (None if race.lower() in ("", ZERO_GUID) else race.lower())

        try:
            supported, race = self._retrying("current", attempt)
        except DocumentUnavailable as exc:
            if not self._current_warned:
                self._current_warned = True
                logger.warning(
                    "warning: ignoring FPVTrackside's /current (%s); finding the running race from the race files",
                    exc.reason,
                )
            supported, race = False, None
        self._supports_current = supported
        return race

    def supports_current(self) -> bool | None:
        """Whether ``/current`` answered JSON the last time :meth:`current_race` asked; ``None`` before that."""
        return self._supports_current

    # -- internals -------------------------------------------------------------------------------------------

    def _retrying(self, path: str, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt`` with retries and backoff, then translate the last failure into fpvsync's errors."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._pause,
            retry=retry_if_exception(_retryable),
            before_sleep=self._log_retry(path),
            reraise=True,
        )
        try:
            return retrying(attempt)
        except _Unusable as exc:
            raise DocumentUnavailable(path or "/", exc.reason, empty=exc.empty) from exc.__cause__
        except _NoAnswer as exc:
            tries = retrying.statistics.get("attempt_number", self.attempts)
            raise SourceUnreachable(
                f"FPVTrackside at {self.display_url} did not answer: {exc.why} ({_plural(tries, 'attempt')})"
            ) from exc.__cause__

    def _pause(self, retry: RetryCallState) -> float:
        """Seconds before the next attempt: short after an unusable answer, longer after no answer."""
        outcome = retry.outcome
        error = outcome.exception() if outcome is not None else None
        first = self.reread_backoff if isinstance(error, _Unusable) else self.backoff
        return float(min(max(MAX_BACKOFF, first), first * 2 ** (retry.attempt_number - 1)))

    @staticmethod
    def _log_retry(path: str) -> Callable[[RetryCallState], None]:
        def log(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            pause = state.next_action.sleep if state.next_action is not None else 0.0
            logger.debug("retrying %s in %.3gs after attempt %d: %s", path or "/", pause, state.attempt_number, error)

        return log

    def _send(self, path: str) -> httpx.Response:
        """One GET, holding the lock so that only one request is ever in flight. Body fully read on return."""
        with self._lock:
            pause = self._last_end + self.min_interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            self.requests_sent += 1
            try:
                response = self._http.get(path)
            except httpx.TimeoutException as exc:
                raise _NoAnswer(f"timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise _NoAnswer(str(exc) or type(exc).__name__) from exc
            except httpx.DecodingError as exc:
                raise _Unusable(f"body could not be decoded: {exc}") from exc
            finally:
                self._last_end = time.monotonic()
        status = response.status_code
        if status >= 500:
            why = f"HTTP {status} {response.reason_phrase}".rstrip()
            raise _NoAnswer(why) from httpx.HTTPStatusError(why, request=response.request, response=response)
        if status != 200:
            raise _Unusable(
                f"HTTP {status} {response.reason_phrase} (FPVTrackside answers 200: is --trackside the address "
                "of FPVTrackside's web server?)",
                final=True,
            )
        return response
