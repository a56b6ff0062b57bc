"""Ctrl-C during a sync: one line saying how far the run got, and a ``syncRuns`` record of the interrupted run.

Nothing an interrupted run wrote needs undoing: records are written in batches that PocketBase applies whole, and a
document's hash is stored only after its records are written, so the next run of the event re-reads and heals
whatever the interruption cut short.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from fpvsync.engine.progress import NULL_PROGRESS, Progress
from fpvsync.errors import FpvsyncError
from fpvsync.pb import bookkeeping
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary

#: The exit code of a run stopped by Ctrl-C (SIGINT), as shells report it.
INTERRUPTED_EXIT = 130


class CountingProgress:
    """Forwards to ``inner`` and remembers how many races of how many the run has done."""

    def __init__(self, inner: Progress = NULL_PROGRESS) -> None:
        self.inner = inner
        self.total = 0
        self.done = 0

    def start(self, description: str, total: int) -> None:
        self.total, self.done = total, 0
        self.inner.start(description, total)

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.inner.advance(n)

    def stop(self) -> None:
        self.inner.stop()


def interrupted_message(progress: CountingProgress) -> str:
    if progress.total:
        return f"interrupted after {progress.done} of {progress.total} races; rerun to finish"
    return "interrupted before the races; rerun to finish"


def record_interrupted(
    sink: PocketBaseSink, command: str, event: str | None, started_at: datetime, message: str
) -> None:
    """Note the interrupted run in ``syncRuns`` (exit code 130); says nothing when PocketBase cannot take it."""
    summary = SyncSummary(command=command, event=event.lower() if event else None)
    summary.error("interrupted", message)
    summary.duration_seconds = (datetime.now(UTC) - started_at).total_seconds()
    with contextlib.suppress(FpvsyncError):
        bookkeeping.record_run(sink, summary, started_at, INTERRUPTED_EXIT)
