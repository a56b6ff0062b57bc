"""Rendering a SyncSummary for people (a rich table) and a rich progress bar for long runs."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from fpvsync.cli.app import literal, verbosity
from fpvsync.names import humanize
from fpvsync.summary import SyncSummary

COLUMNS = ("created", "updated", "unchanged", "deleted", "failed")


def named(summary: SyncSummary, text: object) -> str:
    """``text`` for people, as markup: GUIDs replaced by names (names and GUIDs with ``-v``), printed literally."""
    return literal(humanize(str(text), summary.names, with_ids=verbosity() > 0))


def summary_table(summary: SyncSummary) -> Table:
    title = f"fpvsync {summary.command}" + (f" · event {named(summary, summary.event)}" if summary.event else "")
    if summary.dry_run:
        title += " · dry run (nothing written)"
    table = Table(title=title, title_justify="left")
    table.add_column("collection")
    for column in COLUMNS:
        table.add_column(column, justify="right")
    for name, counts in summary.to_dict()["collections"].items():
        cells = [str(counts[c]) if counts[c] else "[dim]0[/]" for c in COLUMNS]
        if counts["failed"]:
            cells[-1] = f"[bold red]{counts['failed']}[/]"
        table.add_row(literal(name), *cells)
    return table


def print_summary(console: Console, summary: SyncSummary, *, max_lines: int = 20) -> None:
    if summary.skipped:
        console.print(f"[yellow]skipped:[/] {named(summary, summary.skipped)}", highlight=False)
        return
    console.print(summary_table(summary))
    for label, items, style in (("warning", summary.warnings, "yellow"), ("error", summary.errors, "bold red")):
        for item in items[:max_lines]:
            console.print(f"[{style}]{label}:[/] {named(summary, item)}", highlight=False, markup=True)
        if len(items) > max_lines:
            console.print(f"[{style}]… and {len(items) - max_lines} more {label}s[/] (use --json to see all)")
    state = "[green]ok[/]" if summary.ok else "[bold red]failed[/]" if summary.unreachable else "[yellow]partial[/]"
    console.print(f"{state} in {summary.duration_seconds:.2f}s")


class RichProgress:
    """A progress bar on stderr (only shown when stderr is a terminal)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task: TaskID | None = None
        self._unit = ""

    def start(self, description: str, total: int) -> None:
        if self._task is None:
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(description, total=total, rate="")
        self._unit = description

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, n)
            speed = next(t.speed for t in self._progress.tasks if t.id == self._task)
            if speed:
                self._progress.update(self._task, rate=f"{speed:.1f} {self._unit}/s")

    def stop(self) -> None:
        if self._task is not None:
            self._progress.stop()
            self._task = None
