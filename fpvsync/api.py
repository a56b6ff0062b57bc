"""The HTTP trigger API behind ``fpvsync serve``: admins start syncs over HTTP, the engine does the work.

::

    POST /ingest/events/{eventId}/snapshot        run now; 200 ok, 207 partial, 502/503 unreachable, 409 busy
    POST /ingest/events/{eventId}/race/{raceId}   run now (same answers)
    POST /ingest/events/{eventId}/results         run now (same answers)
    POST /ingest/events/{eventId}/full            run in the background; 202 with the run's URL, 409 busy
    GET  /ingest/runs/{runId}                     running | succeeded | partial | failed, and the summary when done
    GET  /healthz                                 FPVTrackside and PocketBase reachability; 200 or 503, no auth

Every ``/ingest`` route needs a PocketBase **superuser** token in ``Authorization`` (the raw token or ``Bearer
<token>``). It is checked against the configured PocketBase with a superuser-only read (``GET /api/collections``):
a forged token and the token of an ordinary auth-collection user are both refused there, and the request is
answered 401 before anything else happens. Accepted tokens are remembered for :data:`TOKEN_CACHE_SECONDS` (by
their SHA-256, never in clear). The syncs themselves write with the service's own credentials (``Settings``),
never with the caller's token.

All runs share one :class:`~fpvsync.trackside.client.TracksideClient`, so the timing laptop still sees at most one
request at a time however many syncs are running. One event is synced by one run at a time (a second request
for a busy event gets 409 at once). Runs are kept in memory, the last :data:`MAX_RUNS` of them; PocketBase's
``syncRuns`` collection holds the durable record.

With ``poll_interval`` (``fpvsync serve --poll``), a :class:`PollLoop` keeps FPVTrackside's current event mirrored
between triggers, claiming the event for each pass as a trigger does.

Usage::

    app = create_app(Settings.load())      # uvicorn.run(app, host="127.0.0.1", port=8787)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from fpvsync import __version__, engine
from fpvsync.config import Settings
from fpvsync.engine.poll import PollPolicy, poll
from fpvsync.engine.sources import checked_guid
from fpvsync.errors import (
    AuthError,
    ConfigError,
    DocumentUnavailable,
    SinkRejected,
    SinkUnreachable,
    SourceUnreachable,
)
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient

__all__ = ["GUID_PATTERN", "MAX_RUNS", "TOKEN_CACHE_SECONDS", "PollLoop", "Service", "TokenVerifier", "create_app"]

logger = logging.getLogger("fpvsync.api")

#: Event and race ids: FPVTrackside GUIDs (either case; the engine lower-cases them).
GUID_PATTERN: Final = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RUN_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
EXAMPLE_GUID: Final = "3f1a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b"
#: Runs kept for ``GET /ingest/runs/{runId}`` (the oldest finished ones are forgotten first).
MAX_RUNS: Final = 200
#: Seconds an accepted superuser token is trusted without asking PocketBase again.
TOKEN_CACHE_SECONDS: Final = 30.0
#: Seconds a health probe or a token check may take.
PROBE_TIMEOUT: Final = 3.0
#: What a PocketBase token can look like (a JWT); anything else is refused without asking PocketBase.
_TOKEN: Final = re.compile(r"^[A-Za-z0-9._~+/=-]{1,4096}$")
_CACHED_TOKENS: Final = 1024
#: The longest wait between two live-mirror passes while FPVTrackside or PocketBase is down.
POLL_MAX_BACKOFF: Final = 60.0
#: What holds an event's claim while a live-mirror pass syncs it.
POLL_HOLDER: Final = "live-mirror"

Command = Literal["snapshot", "race", "results", "full", "poll"]
Status = Literal["running", "succeeded", "partial", "failed"]
Side = Literal["trackside", "pocketbase"]


# -- the documents the API answers ---------------------------------------------------------------------------------


class Counts(BaseModel):
    created: int = Field(ge=0)
    updated: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    deleted: int = Field(ge=0)
    failed: int = Field(ge=0)


class SummaryError(BaseModel):
    scope: str = Field(description='Where it happened: "event", "race <raceId>", "source", "pocketbase", ...')
    collection: str | None
    sourceId: str | None
    message: str


class Summary(BaseModel):
    """The engine's summary, as ``fpvsync <command> --json`` prints it."""

    ok: bool
    command: str
    event: str | None
    collections: dict[str, Counts]
    errors: list[SummaryError]
    durationSeconds: float
    warnings: list[SummaryError] | None = Field(default=None, description="Only present when there are some.")
    dryRun: bool | None = Field(default=None, description="Only present (true) for dry runs.")
    skipped: str | None = Field(default=None, description="Only present when the run did not happen.")


class RunSummary(Summary):
    """The engine's summary plus the id of the run (see ``GET /ingest/runs/{runId}``)."""

    runId: str


class ErrorBody(BaseModel):
    """Why the request was refused or the run failed; ``summary`` when the engine got to run."""

    error: str
    runId: str | None = Field(default=None, description="The run this is about (409: the run that is busy).")
    summary: Summary | None = None


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    error: str
    detail: list[ValidationProblem]


class RunAccepted(BaseModel):
    runId: str
    status: Literal["running"]
    url: str


class RunStatus(BaseModel):
    runId: str
    command: str
    event: str
    status: Status
    startedAt: datetime
    finishedAt: datetime | None = None
    error: str | None = None
    summary: Summary | None = None


class Reachability(BaseModel):
    ok: bool
    url: str
    error: str | None = None


class Health(BaseModel):
    trackside: Reachability
    pocketbase: Reachability


# -- errors answered as {"error": ...} -----------------------------------------------------------------------------


class ApiError(Exception):
    """An answer other than 2xx, as ``{"error": message, ...}``."""

    def __init__(self, status: int, message: str, *, run_id: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.run_id = run_id
        self.headers = headers


def _error_response(
    status: int,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    run_id: str | None = None,
    summary: SyncSummary | None = None,
) -> JSONResponse:
    """An :class:`ErrorBody`; optional keys are left out rather than null."""
    body: dict[str, Any] = {"error": message}
    if run_id is not None:
        body["runId"] = run_id
    if summary is not None:
        body["summary"] = summary.to_dict()
    return JSONResponse(body, status_code=status, headers=headers)


# -- the token check -----------------------------------------------------------------------------------------------


class NotSuperuser(Exception):
    """The caller did not present a PocketBase superuser token."""


class TokenVerifier:
    """Checks that a token is a superuser's, against the configured PocketBase, remembering successes briefly.

    ``GET /api/collections`` is superuser-only in PocketBase 0.23+: 200 for a superuser, 403 for any other auth
    record, 401 for a token PocketBase did not sign. Only successes are cached, by the token's SHA-256.
    """

    def __init__(
        self,
        pb_url: str,
        *,
        ttl: float = TOKEN_CACHE_SECONDS,
        timeout: float = PROBE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = pb_url.rstrip("/")
        self.ttl = ttl
        self._clock = clock
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)
        #: Round trips made to PocketBase (tests check the cache with it).
        self.checks_sent = 0

    def verify(self, header: str | None) -> None:
        """Return if ``header`` carries a superuser token; raise NotSuperuser, or SinkUnreachable."""
        token = _token_from_header(header)
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            expiry = self._cache.get(key)
            if expiry is not None and expiry > now:
                return
        self.checks_sent += 1
        try:
            answer = self._http.get(
                "/api/collections",
                params={"perPage": 1, "skipTotal": 1, "fields": "id"},
                headers={"Authorization": token},
            )
        except httpx.HTTPError as exc:
            raise SinkUnreachable(
                f"PocketBase at {_public_url(self.url)} did not answer the token check: {_reason(exc)}"
            ) from exc
        if answer.status_code in (400, 401, 403):
            raise NotSuperuser("PocketBase did not accept this token as a superuser's")
        if answer.status_code != 200:
            raise SinkUnreachable(
                f"PocketBase at {_public_url(self.url)} answered HTTP {answer.status_code} to the token check"
            )
        with self._lock:
            self._cache[key] = now + self.ttl
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_TOKENS:
                self._cache.popitem(last=False)

    def close(self) -> None:
        self._http.close()


def _token_from_header(header: str | None) -> str:
    if header is None or not header.strip():
        raise NotSuperuser("missing Authorization header: send a PocketBase superuser token (or Bearer <token>)")
    token = header.strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    if not _TOKEN.match(token):
        raise NotSuperuser("the Authorization header does not hold a PocketBase token")
    return token


# -- runs ----------------------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One sync started through the API."""

    command: Command
    event: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    status: Status = "running"
    finished_at: datetime | None = None
    summary: SyncSummary | None = None
    #: Why the run failed, when it did.
    error: str | None = None
    #: The HTTP status a failed run is answered with: 502 FPVTrackside, 503 PocketBase, 500 anything else.
    failure_status: int | None = None

    def finish(self, summary: SyncSummary) -> None:
        self.summary = summary
        self.finished_at = datetime.now(UTC)
        if summary.unreachable:
            self.error = summary.unreachable
            self.failure_status = 502 if _unreachable_side(summary) == "trackside" else 503
            self.status = "failed"
        else:
            self.status = "succeeded" if summary.ok else "partial"  # last: readers see a finished run whole

    def fail(self, message: str, failure_status: int = 500) -> None:
        self.error = message
        self.failure_status = failure_status
        self.finished_at = datetime.now(UTC)
        self.status = "failed"

    @property
    def url(self) -> str:
        return f"/ingest/runs/{self.id}"

    def to_dict(self) -> dict[str, Any]:
        """A :class:`RunStatus` document; optional keys are left out rather than null."""
        document: dict[str, Any] = {
            "runId": self.id,
            "command": self.command,
            "event": self.event,
            "status": self.status,
            "startedAt": _timestamp(self.started_at),
        }
        if self.finished_at is not None:
            document["finishedAt"] = _timestamp(self.finished_at)
        if self.error is not None:
            document["error"] = self.error
        if self.summary is not None:
            document["summary"] = self.summary.to_dict()
        return document


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unreachable_side(summary: SyncSummary) -> Side:
    """The engine reports FPVTrackside going away under the scope ``source``, PocketBase under ``pocketbase``."""
    for error in summary.errors:
        if error.message == summary.unreachable:
            return "trackside" if error.scope == "source" else "pocketbase"
    return "pocketbase"


class RunRegistry:
    """The last ``limit`` runs, by id; the oldest finished ones are forgotten first."""

    def __init__(self, limit: int = MAX_RUNS) -> None:
        self.limit = limit
        self._runs: OrderedDict[str, Run] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, run: Run) -> None:
        with self._lock:
            self._runs[run.id] = run
            while len(self._runs) > self.limit:
                oldest = next((i for i, r in self._runs.items() if r.status != "running"), None)
                self._runs.pop(oldest if oldest is not None else next(iter(self._runs)))

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(run_id)

    def running(self) -> list[Run]:
        with self._lock:
            return [r for r in self._runs.values() if r.status == "running"]


class EventLocks:
    """One run per event at a time: a non-blocking claim that names the run holding it."""

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, event_id: str, run_id: str) -> str | None:
        """Claim ``event_id`` for ``run_id``; ``None`` when claimed, else the id of the run holding it."""
        with self._lock:
            holder = self._holders.get(event_id)
            if holder is not None:
                return holder
            self._holders[event_id] = run_id
            return None

    def release(self, event_id: str, run_id: str) -> None:
        with self._lock:
            if self._holders.get(event_id) == run_id:
                del self._holders[event_id]


# -- the service ---------------------------------------------------------------------------------------------------

Operation = Callable[[engine.SyncContext], SyncSummary]


class Service:
    """What the routes share: settings, the token check, the FPVTrackside client, the runs and the event locks."""

    def __init__(
        self,
        settings: Settings,
        *,
        max_runs: int = MAX_RUNS,
        token_ttl: float = TOKEN_CACHE_SECONDS,
        poll_interval: float | None = None,
    ):
        if not settings.has_pb_credentials():
            raise ConfigError(
                "no PocketBase superuser credentials: set FPVSYNC_PB_EMAIL and FPVSYNC_PB_PASSWORD, or FPVSYNC_PB_TOKEN"
            )
        self.settings = settings
        self.zone = settings.zone()
        self.token_ttl = token_ttl
        self.runs = RunRegistry(max_runs)
        self.events = EventLocks()
        self.verifier: TokenVerifier
        #: Shared by every run: one request at a time to the timing laptop, whatever runs concurrently.
        self.trackside: TracksideClient
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()
        self._state_lock = threading.Lock()
        #: The live mirror, when asked for; it runs from :meth:`open` (the app's startup) to :meth:`close`.
        self.poll_loop = PollLoop(self, poll_interval) if poll_interval is not None else None
        self._connect()
        self._open = True

    # -- running syncs ---------------------------------------------------------------------------------------------

    def execute(self, run: Run, operation: Operation) -> None:
        """Run ``operation`` with a fresh sink logged in with the service's credentials; record the outcome."""
        try:
            with PocketBaseSink.from_settings(self.settings) as sink:
                sink.authenticate()
                summary = operation(engine.SyncContext(self.trackside, sink, zone=self.zone))
            run.finish(self.redact_summary(summary))
        except (AuthError, SinkUnreachable, SinkRejected) as exc:
            self._failed_before_engine(run, "pocketbase", str(exc))
        except SourceUnreachable as exc:
            self._failed_before_engine(run, "trackside", str(exc))
        except ConfigError as exc:
            run.fail(self.redact(str(exc)), 422)
        except Exception:
            logger.exception("run %s (%s %s) failed unexpectedly", run.id, run.command, run.event)
            run.fail("internal error: see the service's log")
        logger.info("run %s: %s %s %s%s", run.id, run.command, run.event, run.status, _why(run))

    def _failed_before_engine(self, run: Run, side: Side, message: str) -> None:
        """A failure before the engine could start (say, PocketBase refusing the service's credentials)."""
        message = self.redact(message)
        summary = SyncSummary(command=run.command, event=run.event)
        summary.unreachable = message
        summary.error("source" if side == "trackside" else "pocketbase", message)
        run.finish(summary)

    def start_background(self, run: Run, operation: Operation) -> None:
        """Run ``operation`` in a thread of its own, releasing the run's event claim when done."""

        def work() -> None:
            try:
                self.execute(run, operation)
            finally:
                self.events.release(run.event, run.id)

        thread = threading.Thread(target=work, name=f"fpvsync-run-{run.id[:8]}", daemon=True)
        with self._threads_lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for background runs to end; whether they all did."""
        deadline = time.monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    def _connect(self) -> None:
        self.verifier = TokenVerifier(self.settings.pb_base, ttl=self.token_ttl)
        self.trackside = TracksideClient.from_settings(self.settings)

    def open(self) -> None:
        """Start the live mirror, if asked for; reopen the connections after :meth:`close` (an ASGI server may run
        the app's lifespan more than once)."""
        with self._state_lock:
            if not self._open:
                self._connect()
                self._open = True
        if self.poll_loop is not None:
            self.poll_loop.start()

    def close(self, timeout: float = 60.0) -> None:
        """Let background runs finish (up to ``timeout`` seconds), then close the connections."""
        with self._state_lock:
            if not self._open:
                return
            self._open = False
        deadline = time.monotonic() + timeout
        mirror_stopped = self.poll_loop.stop(timeout) if self.poll_loop is not None else True
        timeout = max(0.0, deadline - time.monotonic())
        running = self.runs.running()
        if running:
            logger.info("waiting up to %.0fs for %d running sync(s) to finish", timeout, len(running))
        if self.wait_idle(timeout) and mirror_stopped:
            self.trackside.close()
        else:
            logger.warning("stopping with syncs still running; the next run of their events converges them")
        self.verifier.close()

    # -- health ----------------------------------------------------------------------------------------------------

    def health(self) -> Health:
        trackside = self._probe(self.settings.trackside_base + "/", lambda status: status < 500)
        pocketbase = self._probe(self.settings.pb_base + "/api/health", lambda status: status == 200)
        return Health(trackside=trackside, pocketbase=pocketbase)

    def _probe(self, url: str, healthy: Callable[[int], bool]) -> Reachability:
        shown = _public_url(url)
        try:
            with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=False) as client:
                status = client.get(url).status_code
        except httpx.HTTPError as exc:
            return Reachability(ok=False, url=shown, error=self.redact(f"did not answer: {_reason(exc)}"))
        if not healthy(status):
            return Reachability(ok=False, url=shown, error=f"answered HTTP {status}")
        return Reachability(ok=True, url=shown)

    def redact_summary(self, summary: SyncSummary) -> SyncSummary:
        """``summary`` with :meth:`redact` applied to its messages (a URL with a password in it, say)."""
        if summary.unreachable:
            summary.unreachable = self.redact(summary.unreachable)
        summary.errors = [replace(e, message=self.redact(e.message)) for e in summary.errors]
        summary.warnings = [replace(e, message=self.redact(e.message)) for e in summary.warnings]
        return summary

    def redact(self, text: str) -> str:
        """``text`` without the service's secrets (password, token, credentials inside URLs)."""
        secrets = [self.settings.pb_password, self.settings.pb_token]
        for url in (self.settings.trackside_url, self.settings.pb_url):
            userinfo = urlsplit(url).netloc.rpartition("@")[0]
            secrets.append(userinfo)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


class PollLoop:
    """``fpvsync serve --poll``: a live-mirror pass (:func:`fpvsync.engine.poll.poll`) over FPVTrackside's current
    event every ``interval`` seconds, in a thread, between :meth:`start` and :meth:`stop`.

    Each pass claims its event in :attr:`Service.events`, like a trigger: while a trigger syncs the event the pass
    is skipped, and a trigger arriving during a pass gets 409. The loop keeps one PocketBase sink (it logs in
    again by itself) and shares the service's FPVTrackside client. While FPVTrackside or PocketBase is down (or no
    event is open) the wait doubles up to :data:`POLL_MAX_BACKOFF`, with one log line when that starts and one when
    it ends. Passes that wrote something or failed are logged; ``syncRuns`` records them too.
    """

    def __init__(self, service: Service, interval: float) -> None:
        if interval <= 0:
            raise ConfigError("the poll interval must be positive")
        self.service = service
        self.interval = interval
        self.policy = PollPolicy(interval=interval)
        #: Passes run (``last`` is the latest one's summary) and passes skipped because a trigger held the event.
        self.passes = 0
        self.skipped_busy = 0
        self.last: SyncSummary | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="fpvsync-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop after the pass in progress (waiting up to ``timeout`` seconds); whether the loop has ended."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        failures = 0
        with PocketBaseSink.from_settings(self.service.settings) as sink:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    problem = self.run_pass(sink)
                except Exception:
                    logger.exception("live mirror: the pass failed unexpectedly")
                    problem = "internal error"
                if problem is None:
                    if failures:
                        logger.info("live mirror: running again")
                    failures = 0
                    wait = max(0.0, self.interval - (time.monotonic() - started))
                else:
                    if not failures:
                        logger.warning("live mirror: %s; retrying with backoff", problem)
                    failures += 1
                    wait = min(POLL_MAX_BACKOFF, self.interval * 2 ** min(failures, 16))
                self._stop.wait(wait)

    def run_pass(self, sink: PocketBaseSink) -> str | None:
        """One pass over the current event; why it could not run (or reach a server), else ``None``."""
        service = self.service
        try:
            event_id = checked_guid(service.trackside.current_event())
        except SourceUnreachable as exc:
            return service.redact(str(exc))
        except DocumentUnavailable as exc:
            return f"FPVTrackside has no current event ({exc.reason})"
        except ConfigError as exc:
            return str(exc)
        if service.events.claim(event_id, POLL_HOLDER) is not None:
            self.skipped_busy += 1
            return None
        try:
            summary = poll(engine.SyncContext(service.trackside, sink, zone=service.zone), event_id, self.policy)
        finally:
            service.events.release(event_id, POLL_HOLDER)
        self.passes += 1
        self.last = summary
        if summary.unreachable:
            return service.redact(summary.unreachable)
        if summary.skipped or summary.written or summary.errors:
            logger.info("live mirror: %s", service.redact(str(summary)))
        return None


def _public_url(url: str) -> str:
    """``url`` without user and password."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _reason(exc: httpx.HTTPError) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _why(run: Run) -> str:
    if run.error:
        return f" ({run.error})"
    if run.summary is not None and run.summary.errors:
        return f" ({len(run.summary.errors)} error(s))"
    return ""


# -- the application -----------------------------------------------------------------------------------------------

_superuser_header = APIKeyHeader(
    name="Authorization",
    scheme_name="PocketBaseSuperuser",
    description="A PocketBase superuser token: the raw token or `Bearer <token>`.",
    auto_error=False,
)

EventId = Annotated[
    str,
    Path(
        alias="eventId",
        pattern=GUID_PATTERN,
        description="FPVTrackside event id (a GUID).",
        examples=[EXAMPLE_GUID],
    ),
]
RaceId = Annotated[
    str,
    Path(alias="raceId", pattern=GUID_PATTERN, description="FPVTrackside race id (a GUID).", examples=[EXAMPLE_GUID]),
]
RunId = Annotated[str, Path(alias="runId", pattern=RUN_ID_PATTERN, description="A run id, as answered by a trigger.")]

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No superuser token, or PocketBase did not accept it."},
    422: {"model": ValidationErrorBody, "description": "A malformed id."},
    503: {
        "model": ErrorBody,
        "description": "PocketBase is unreachable or refuses the service's own credentials (`summary` when a run "
        "got that far).",
    },
}
_TRIGGER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_AUTH_RESPONSES,
    409: {"model": ErrorBody, "description": "A sync of this event is already running; `runId` names it."},
}
_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": RunSummary, "description": "Synced: the engine's summary."},
    207: {"model": RunSummary, "description": "Partly synced: the summary lists the scopes that failed."},
    **_TRIGGER_RESPONSES,
    502: {"model": ErrorBody, "description": "FPVTrackside is unreachable; `summary` says what was done before."},
}


def create_app(
    settings: Settings,
    *,
    max_runs: int = MAX_RUNS,
    token_ttl: float = TOKEN_CACHE_SECONDS,
    poll_interval: float | None = None,
) -> FastAPI:
    """The FastAPI application for ``settings``; ``app.state.service`` is its :class:`Service`.

    ``poll_interval``: also run the live mirror (:class:`PollLoop`) every that many seconds while the app runs.
    Raises ConfigError when ``settings`` has no PocketBase superuser credentials.
    """
    service = Service(settings, max_runs=max_runs, token_ttl=token_ttl, poll_interval=poll_interval)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.open()
        yield
        service.close()

    app = FastAPI(
        title="fpvsync",
        version=__version__,
        summary="Trigger FPVTrackside → PocketBase syncs over HTTP (PocketBase superusers only).",
        lifespan=lifespan,
    )
    app.state.service = service
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(_ingest_router(service))

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Not healthy."}})
    def healthz() -> JSONResponse:
        """Whether FPVTrackside and PocketBase answer (no token needed; no secrets shown)."""
        health = service.health()
        ok = health.trackside.ok and health.pocketbase.ok
        return JSONResponse(health.model_dump(mode="json"), status_code=200 if ok else 503)

    return app


def _ingest_router(service: Service) -> APIRouter:
    def require_superuser(request: Request, authorization: Annotated[str | None, Security(_superuser_header)]) -> None:
        try:
            service.verifier.verify(authorization)
        except NotSuperuser as exc:
            logger.info("refused %s %s: %s", request.method, request.url.path, exc)
            raise ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        except SinkUnreachable as exc:
            raise ApiError(503, service.redact(str(exc))) from None

    router = APIRouter(prefix="/ingest", dependencies=[Depends(require_superuser)], tags=["ingest"])

    def run_now(command: Command, event_id: str, operation: Operation) -> JSONResponse:
        run = Run(command, event_id.lower())
        holder = service.events.claim(run.event, run.id)
        if holder is not None:
            raise _busy(run.event, holder)
        try:
            service.runs.add(run)
            service.execute(run, operation)
        finally:
            service.events.release(run.event, run.id)
        return _answer(run)

    @router.post(
        "/events/{eventId}/snapshot",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync the event, its stages, rounds, pilots, channels, roster and race records (no laps)",
    )
    def snapshot(event_id: EventId) -> JSONResponse:
        return run_now("snapshot", event_id, lambda ctx: engine.snapshot(ctx, event_id))

    @router.post(
        "/events/{eventId}/race/{raceId}",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync one race with its laps, detections, game points, pilot channels and results",
    )
    def race(event_id: EventId, race_id: RaceId) -> JSONResponse:
        return run_now("race", event_id, lambda ctx: engine.race(ctx, event_id, race_id))

    @router.post(
        "/events/{eventId}/results",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync Results.json and every race's Result.json",
    )
    def results(event_id: EventId) -> JSONResponse:
        return run_now("results", event_id, lambda ctx: engine.results(ctx, event_id))

    @router.post(
        "/events/{eventId}/full",
        status_code=202,
        response_model=RunAccepted,
        responses={**_TRIGGER_RESPONSES, 202: {"description": "Started; poll `url` for the outcome."}},
        summary="Backfill everything of the event, in the background",
    )
    def full(event_id: EventId) -> JSONResponse:
        run = Run("full", event_id.lower())
        holder = service.events.claim(run.event, run.id)
        if holder is not None:
            raise _busy(run.event, holder)
        service.runs.add(run)
        try:
            service.start_background(run, lambda ctx: engine.full(ctx, run.event))
        except BaseException:
            service.events.release(run.event, run.id)
            run.fail("could not start the run")
            raise
        body = RunAccepted(runId=run.id, status="running", url=run.url)
        return JSONResponse(body.model_dump(mode="json"), status_code=202, headers={"Location": run.url})

    @router.get(
        "/runs/{runId}",
        response_model=RunStatus,
        responses={**_AUTH_RESPONSES, 404: {"model": ErrorBody, "description": "No such run (or forgotten)."}},
        summary="A run's status, and its summary once it is done",
    )
    def get_run(run_id: RunId) -> JSONResponse:
        run = service.runs.get(run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id} (this service keeps the last {service.runs.limit} runs)")
        return JSONResponse(run.to_dict())

    return router


def _busy(event_id: str, holder: str | None) -> ApiError:
    if holder == POLL_HOLDER:
        return ApiError(409, f"a sync of event {event_id} is already running in this service (a live-mirror pass)")
    return ApiError(409, f"a sync of event {event_id} is already running in this service", run_id=holder)


def _answer(run: Run) -> JSONResponse:
    """200 or 207 with the summary; 502/503 when FPVTrackside or PocketBase stopped the run."""
    summary = run.summary
    if run.status == "failed":
        return _error_response(run.failure_status or 500, run.error or "the run failed", run_id=run.id, summary=summary)
    assert summary is not None
    return JSONResponse({**summary.to_dict(), "runId": run.id}, status_code=200 if run.status == "succeeded" else 207)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error_response(exc.status, exc.message, headers=exc.headers, run_id=exc.run_id)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return _error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 that says which id is malformed, without echoing anything but path values."""
    assert isinstance(exc, RequestValidationError)
    problems: list[ValidationProblem] = []
    messages: list[str] = []
    for error in exc.errors():
        loc = [part for part in error.get("loc", ()) if isinstance(part, str | int)]
        name = str(loc[-1]) if loc else "request"
        if error.get("type") == "string_pattern_mismatch":
            shown = str(error.get("input", ""))
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            what = "run id (32 hex digits)" if name == "runId" else f"GUID like {EXAMPLE_GUID}"
            messages.append(f"{name} {shown!r} is not a {what}")
        else:
            messages.append(f"{name}: {error.get('msg', 'invalid')}")
        problems.append(ValidationProblem(loc=loc, msg=str(error.get("msg", "")), type=str(error.get("type", ""))))
    body = ValidationErrorBody(error="; ".join(messages) or "invalid request", detail=problems)
    return JSONResponse(body.model_dump(mode="json"), status_code=422)
