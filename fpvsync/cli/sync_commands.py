"""``snapshot``, ``race``, ``results`` and ``full``: parse options, call the engine, render, exit with its code."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated

import typer

from fpvsync import engine
from fpvsync.cli.app import ExitCode, app, err_console, error_exit, fail, out_console, use_json, verbosity
from fpvsync.cli.interrupt import CountingProgress, interrupted_message, record_interrupted
from fpvsync.cli.lookup import ensure_known
from fpvsync.cli.render import RichProgress, named, print_summary
from fpvsync.config import Settings
from fpvsync.engine.progress import NULL_PROGRESS, Progress
from fpvsync.errors import ConfigError, FpvsyncError, SinkUnreachable
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient

EventArg = Annotated[
    str | None, typer.Argument(help="FPVTrackside event id (GUID). Default: FPVTrackside's current event.")
]
Trackside = Annotated[
    str | None,
    typer.Option("--trackside", help="FPVTrackside URL (default http://localhost:8080). Env: FPVSYNC_TRACKSIDE_URL."),
]
PbUrl = Annotated[
    str | None, typer.Option("--pb-url", help="PocketBase URL (default http://127.0.0.1:8090). Env: FPVSYNC_PB_URL.")
]
Timezone = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        help="IANA zone of the timing laptop's clock. Env: FPVSYNC_TIMEZONE. Default: Event.TimeZone, else local.",
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print exactly one JSON summary on stdout.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Compute and print the summary without writing.")]

Operation = Callable[[engine.SyncContext], SyncSummary]


def load_settings(
    trackside: str | None, pb_url: str | None, timezone: str | None, *, need_credentials: bool = True
) -> Settings:
    """Settings from flags and environment, or a one-line usage error (exit 2)."""
    try:
        settings = Settings.load(trackside_url=trackside, pb_url=pb_url, timezone=timezone)
        settings.zone()
        if need_credentials and not settings.has_pb_credentials():
            raise ConfigError(
                "no PocketBase superuser credentials: set FPVSYNC_PB_EMAIL and FPVSYNC_PB_PASSWORD, or FPVSYNC_PB_TOKEN"
            )
    except ConfigError as exc:
        raise error_exit(exc) from None
    return settings


@contextmanager
def sync_context(
    settings: Settings, *, dry_run: bool, progress: Progress = NULL_PROGRESS, tolerate_pb_down: bool = False
) -> Iterator[engine.SyncContext]:
    """Connections to FPVTrackside and PocketBase, authenticated; errors become one line and an exit code.

    ``tolerate_pb_down``: start even if PocketBase does not answer yet (a watch loop retries with backoff).
    """
    try:
        with (
            TracksideClient.from_settings(settings) as client,
            PocketBaseSink.from_settings(settings, dry_run=dry_run) as sink,
        ):
            try:
                sink.authenticate()
            except SinkUnreachable:
                if not tolerate_pb_down:
                    raise
            yield engine.SyncContext(client, sink, zone=settings.zone(), progress=progress)
    except FpvsyncError as exc:
        raise error_exit(exc) from None


def emit(summary: SyncSummary, json_output: bool) -> None:
    if json_output:
        out_console.file.write(json.dumps(summary.to_dict(), ensure_ascii=False) + "\n")
        out_console.file.flush()
    elif verbosity() < 0:
        for error in summary.errors:
            err_console.print(f"[bold red]error:[/] {named(summary, error)}", highlight=False, soft_wrap=True)
    else:
        print_summary(out_console, summary)


def run_operation(
    operation: Operation,
    *,
    command: str,
    event: str | None = None,
    race: str | None = None,
    trackside: str | None,
    pb_url: str | None,
    timezone: str | None,
    json_output: bool,
    dry_run: bool,
    show_progress: bool = False,
) -> None:
    """The shared frame of every one-shot sync command: settings, connections, the engine call, output, exit code."""
    use_json(json_output, command)
    settings = load_settings(trackside, pb_url, timezone)
    shown: Progress = NULL_PROGRESS
    if show_progress and not json_output and verbosity() >= 0 and err_console.is_terminal:
        shown = RichProgress(err_console)
    progress = CountingProgress(shown)
    started_at = datetime.now(UTC)
    try:  # a mistyped id is told at once, before PocketBase is even asked (one attempt: the run retries)
        with TracksideClient.from_settings(replace(settings, trackside_attempts=1)) as client:
            ensure_known(client, event, race)
    except FpvsyncError as exc:
        raise error_exit(exc) from None
    with sync_context(settings, dry_run=dry_run, progress=progress) as ctx:
        try:
            summary = operation(ctx)
        except KeyboardInterrupt:
            progress.stop()
            message = interrupted_message(progress)
            record_interrupted(ctx.sink, command, event, started_at, message)
            raise fail(message, ExitCode.INTERRUPTED) from None
    emit(summary, json_output)
    raise typer.Exit(summary.exit_code)


EventOperation = Callable[[engine.SyncContext, str | None], SyncSummary]


def event_command(name: str, operation: EventOperation, help_text: str, *, show_progress: bool = False) -> None:
    """Register a command that syncs one event (``EVENT`` optional) with the shared options."""

    def command(
        event: EventArg = None,
        trackside: Trackside = None,
        pb_url: PbUrl = None,
        timezone: Timezone = None,
        json_output: JsonOut = False,
        dry_run: DryRun = False,
    ) -> None:
        run_operation(
            lambda ctx: operation(ctx, event),
            command=name,
            event=event,
            trackside=trackside,
            pb_url=pb_url,
            timezone=timezone,
            json_output=json_output,
            dry_run=dry_run,
            show_progress=show_progress,
        )

    app.command(name, help=help_text)(command)


event_command(
    "snapshot",
    engine.snapshot,
    "Sync the event, stages, rounds, pilots, channels, roster and every race record (no laps).",
)


@app.command()
def race(
    event: Annotated[str, typer.Argument(help="FPVTrackside event id (GUID).")],
    race_id: Annotated[str, typer.Argument(metavar="RACE", help="FPVTrackside race id (GUID).")],
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    timezone: Timezone = None,
    json_output: JsonOut = False,
    dry_run: DryRun = False,
) -> None:
    """Sync one race with its laps, detections, game points, pilot channels and Result.json."""
    run_operation(
        lambda ctx: engine.race(ctx, event, race_id),
        command="race",
        event=event,
        race=race_id,
        trackside=trackside,
        pb_url=pb_url,
        timezone=timezone,
        json_output=json_output,
        dry_run=dry_run,
    )


event_command("results", engine.results, "Sync Results.json (round roll-overs) plus every race's Result.json.")
event_command("full", engine.full, "Sync everything of the event, with a progress bar.", show_progress=True)
