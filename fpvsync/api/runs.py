"""The runs the API started, and which event each one holds.

One event is synced by one run at a time: a second request for a busy event is refused at once (409, naming the
run that holds it) rather than queued. Runs are kept in memory, the last :data:`MAX_RUNS` of them, for
``GET /ingest/runs/{runId}``; PocketBase's ``syncRuns`` collection holds the durable record.
"""

from __future__ import annotations

import threading
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
