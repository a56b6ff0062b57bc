"""What ``poll --watch`` prints between and after passes: changes as they happen, a heartbeat line while idle,
and one summary line when it stops."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from rich.console import Console

from fpvsync.cli.render import named
from fpvsync.summary import SyncSummary

#: Seconds between two heartbeat lines while nothing changes.
HEARTBEAT_SECONDS = 60.0


class WatchTally:
    """Counts passes, prints a line per pass that did something and a heartbeat every ``heartbeat`` seconds of
    quiet; :meth:`closing_line` sums up the whole watch."""

    def __init__(
        self,
        console: Console,
        *,
        heartbeat: float = HEARTBEAT_SECONDS,
        quiet: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.heartbeat = heartbeat
        self.quiet = quiet
        self.clock = clock
        self.started = clock()
        self.passes = self.idle = self.written = self.errors = self.skipped = 0
        self._last_line = self.started
        self._idle_since_line = 0

    def on_pass(self, summary: SyncSummary) -> None:
        self.passes += 1
        self.written += summary.written
        self.errors += len(summary.errors)
        self.skipped += bool(summary.skipped)
        now = self.clock()
        stamp = datetime.now().strftime("%H:%M:%S")
        if summary.skipped or summary.written or summary.errors:
            self._last_line, self._idle_since_line = now, 0
            if summary.errors or not self.quiet:
                self.console.print(f"{stamp} {named(summary, summary)}", highlight=False, soft_wrap=True)
            for error in summary.errors[:5]:
                self.console.print(f"  [red]error:[/] {named(summary, error)}", highlight=False, soft_wrap=True)
            return
        self.idle += 1
        self._idle_since_line += 1
        if now - self._last_line >= self.heartbeat:
            if not self.quiet:
                self.console.print(
                    f"{stamp} idle: {self._idle_since_line} passes, nothing changed in the last "
                    f"{_duration(now - self._last_line)}",
                    highlight=False,
                )
            self._last_line, self._idle_since_line = now, 0

    def closing_line(self) -> str:
        return (
            f"stopped after {self.passes} passes in {_duration(self.clock() - self.started)}: "
            f"{self.written} records written, {self.errors} errors, {self.idle} idle passes, {self.skipped} skipped"
        )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
