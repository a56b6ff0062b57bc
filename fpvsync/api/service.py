"""The state the routes share, and the live mirror that runs beside them.

A :class:`Service` owns one :class:`~fpvsync.trackside.client.TracksideClient` for every run, so the timing laptop
still sees at most one request at a time however many syncs are running. Syncs write with the service's own
credentials (``Settings``), never with the caller's token, and what runs and health probes report is redacted of
those credentials.

With ``poll_interval`` (``fpvsync serve --poll``), a :class:`PollLoop` keeps FPVTrackside's current event mirrored
between triggers, claiming the event for each pass as a trigger does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final
from urllib.parse import urlsplit

import httpx

from fpvsync import engine
from fpvsync.api.auth import PROBE_TIMEOUT, TOKEN_CACHE_SECONDS, TokenVerifier
from fpvsync.api.errors import http_reason, public_url
from fpvsync.api.runs import LIVE_MIRROR, MAX_RUNS, EventLocks, Run, RunRegistry, Side
from fpvsync.api.schemas import Health, Reachability
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
from fpvsync.redact import redact as redact_urls
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient

#: The whole API logs as ``fpvsync.api`` (``fpvsync serve`` prints the logger's name on each line).
logger = logging.getLogger("fpvsync.api")

#: The longest wait between two live-mirror passes while FPVTrackside or PocketBase is down.
POLL_MAX_BACKOFF: Final = 60.0
#: What holds an event's claim while a live-mirror pass syncs it.
POLL_HOLDER: Final = LIVE_MIRROR

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
        shown = public_url(url)
        try:
            with httpx.Client(timeout=PROBE_TIMEOUT, follow_redirects=False) as client:
                status = client.get(url).status_code
        except httpx.HTTPError as exc:
            return Reachability(ok=False, url=shown, error=self.redact(f"did not answer: {http_reason(exc)}"))
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
        return redact_urls(text)


class PollLoop:
    """``fpvsync serve --poll``: a live-mirror pass (:func:`fpvsync.engine.poll.poll`) over FPVTrackside's current
    event every ``interval`` seconds, in a thread, between :meth:`start` and :meth:`stop`.

    Each pass claims its event in :attr:`Service.events`, like a trigger: while a trigger syncs the event (or waits
    for it) the pass is skipped, and a trigger arriving during a pass waits for it to end. The loop keeps one
    PocketBase sink (it logs in again by itself) and shares the service's FPVTrackside client. While FPVTrackside
    or PocketBase is down (or no event is open) the wait doubles up to :data:`POLL_MAX_BACKOFF`, with one log line
    when that starts and one when it ends. Passes that wrote something or failed are logged; ``syncRuns`` records
    them too.
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


def _why(run: Run) -> str:
    if run.error:
        return f" ({run.error})"
    if run.summary is not None and run.summary.errors:
        return f" ({len(run.summary.errors)} error(s))"
    return ""
