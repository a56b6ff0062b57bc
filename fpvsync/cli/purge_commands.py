"""``fpvsync purge EVENT``: remove one event's mirrored records and bookkeeping from PocketBase."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fpvsync import purge as purging
from fpvsync.cli.app import ExitCode, app, err_console, fail, use_json
from fpvsync.cli.sync_commands import DryRun, JsonOut, PbUrl, emit, load_settings, sync_context
from fpvsync.engine.sources import checked_guid
from fpvsync.errors import ConfigError, FpvsyncError
from fpvsync.pb import bookkeeping


@app.command()
def purge(
    event: Annotated[str, typer.Argument(help="FPVTrackside event id (GUID) whose mirror to remove.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation (for scripts).")] = False,
    pb_url: PbUrl = None,
    json_output: JsonOut = False,
    dry_run: DryRun = False,
) -> None:
    """Remove one event's mirrored records and its sync bookkeeping; a later poll or full mirrors it again.

    Pilots and channels stay while another mirrored event uses them. Sync runs stay (as history).
    """
    use_json(json_output, "purge")
    try:
        event_id = checked_guid(event)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    settings = load_settings(None, pb_url, None)
    started = datetime.now(UTC)
    with sync_context(settings, dry_run=dry_run) as ctx:
        try:
            purge_plan = purging.plan(ctx.sink, event_id)
        except FpvsyncError as exc:
            raise fail(f"could not read what to purge: {exc}", ExitCode.UNREACHABLE) from None
        if not json_output:
            show_plan(purge_plan)
        if not dry_run and not yes and not purge_plan.empty:
            if json_output or not sys.stdin.isatty():
                raise fail("purge deletes records: confirm with --yes", ExitCode.USAGE, hint="or try --dry-run first")
            if not typer.confirm("Delete these records?", default=False, err=True):
                raise fail("nothing deleted", ExitCode.USAGE)
        try:
            summary = purging.purge(ctx.sink, purge_plan)
        except FpvsyncError as exc:
            raise fail(f"purge stopped: {exc}", ExitCode.UNREACHABLE, hint="run it again to finish") from None
        summary.duration_seconds = (datetime.now(UTC) - started).total_seconds()
        try:
            bookkeeping.record_run(ctx.sink, summary, started, summary.exit_code)
        except FpvsyncError as exc:
            summary.warn("pocketbase", f"could not record this run in syncRuns: {exc}")
    emit(summary, json_output)
    raise typer.Exit(summary.exit_code)


def show_plan(purge_plan: purging.PurgePlan) -> None:
    """What will go, on stderr (stdout stays for the summary)."""
    # The name is any text FPVTrackside was given: printed as it is, never read as styling.
    name = escape(f"{purge_plan.name} ({purge_plan.event_id})" if purge_plan.name else purge_plan.event_id)
    if purge_plan.empty:
        err_console.print(f"nothing of event {name} is mirrored", highlight=False)
        return
    table = Table(title=f"purge event {name}", title_justify="left")
    table.add_column("collection")
    table.add_column("delete", justify="right")
    table.add_column("keep (used by other events)", justify="right")
    for collection, count in purge_plan.counts().items():
        kept = purge_plan.kept.get(collection)
        table.add_row(collection, str(count), str(kept) if kept else "")
    for collection, kept in purge_plan.kept.items():
        if kept and collection not in purge_plan.counts():
            table.add_row(collection, "0", str(kept))
    err_console.print(table)
