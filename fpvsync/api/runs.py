"""The runs the API started, and which event each one holds.

One event is synced by one run at a time: a second request for an event a trigger is syncing is refused at once
(409, naming the run that holds it) rather than queued. A trigger arriving during a live-mirror pass
(``serve --poll``) waits for that pass to end, and the live mirror lets waiting triggers go first, so that a short
poll interval never starves them. Runs are kept in memory, the last :data:`MAX_RUNS` of them, for
``GET /ingest/runs/{runId}``; PocketBase's ``syncRuns`` collection holds the durable record.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from fpvsync.api.schemas import Status
from fpvsync.summary import SyncSummary

#: Runs kept for ``GET /ingest/runs/{runId}`` (the oldest finished ones are forgotten first).
MAX_RUNS: Final = 200

Command = Literal["snapshot", "race", "results", "full", "poll"]
Side = Literal["trackside", "pocketbase"]


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


#: The holder name of a live-mirror pass (``serve --poll``) in :class:`EventLocks`.
LIVE_MIRROR: Final = "live-mirror"
#: What :meth:`EventLocks.claim` answers the live mirror while a trigger waits for the event.
TRIGGER_WAITING: Final = "trigger-waiting"
#: The longest a trigger waits for a live-mirror pass of its event to end before answering 409.
LIVE_MIRROR_WAIT: Final = 60.0


class EventLocks:
    """One run per event at a time: a claim that names the run holding it.

    Triggers wait (up to a limit) behind the live mirror; the live mirror never claims an event a trigger waits for.
    """

    def __init__(self) -> None:
        self._holders: dict[str, str] = {}
        self._waiting: dict[str, int] = {}
        self._changed = threading.Condition()

    def claim(self, event_id: str, run_id: str, *, wait_for_live_mirror: float = 0.0) -> str | None:
        """Claim ``event_id`` for ``run_id``; ``None`` when claimed, else the id of the run holding it.

        With ``wait_for_live_mirror``, a claim that finds a live-mirror pass holding the event waits that many
        seconds at most for it to end. The live mirror itself (``run_id`` :data:`LIVE_MIRROR`) is answered
        :data:`TRIGGER_WAITING` while a trigger waits.
        """
        with self._changed:
            if run_id == LIVE_MIRROR and self._waiting.get(event_id):
                return TRIGGER_WAITING
            holder = self._holders.get(event_id)
            if holder == LIVE_MIRROR and wait_for_live_mirror > 0:
                deadline = time.monotonic() + wait_for_live_mirror
                self._waiting[event_id] = self._waiting.get(event_id, 0) + 1
                try:
                    while holder == LIVE_MIRROR and (left := deadline - time.monotonic()) > 0:
                        self._changed.wait(left)
                        holder = self._holders.get(event_id)
                finally:
                    self._waiting[event_id] -= 1
                    if not self._waiting[event_id]:
                        del self._waiting[event_id]
            if holder is not None:
                return holder
            self._holders[event_id] = run_id
            return None

    def release(self, event_id: str, run_id: str) -> None:
        with self._changed:
            if self._holders.get(event_id) == run_id:
                del self._holders[event_id]
                self._changed.notify_all()
