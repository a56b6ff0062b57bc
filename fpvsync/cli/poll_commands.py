"""``fpvsync poll``: the live mirror, one cron-friendly pass or a ``--watch`` loop."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from fpvsync.cli.app import ExitCode, app, err_console, error_exit, fail, literal, use_json, verbosity
from fpvsync.cli.sync_commands import (
    DryRun,
    EventArg,
    JsonOut,
    PbUrl,
    Timezone,
    Trackside,
    emit,
    load_settings,
    run_operation,
    sync_context,
)
from fpvsync.cli.watch_report import HEARTBEAT_SECONDS, WatchTally
from fpvsync.engine.poll import PollPolicy, WatchReport
from fpvsync.engine.poll import poll as poll_once
from fpvsync.engine.poll import watch as watch_loop
from fpvsync.errors import FpvsyncError
from fpvsync.live.mirror import (
    PASS_INTERVAL_PLAIN,
    PASS_INTERVAL_WITH_DOORBELL,
    PASS_INTERVAL_WITH_FAST_TIER,
    LiveOptions,
)
from fpvsync.live.receiver import parse_listen
from fpvsync.live.runner import live_mirror
from fpvsync.summary import SyncSummary


@app.command()
def poll(
    event: EventArg = None,
    watch: Annotated[bool, typer.Option("--watch", help="Keep polling until Ctrl-C/SIGTERM (or --for).")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            min=0.1,
            help="Seconds between whole passes with --watch (default 30 with the fast tier, 60 with --listen, else 2).",
        ),
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--for", min=0.0, help="With --watch: stop after this many seconds.")
    ] = None,
    settled_per_pass: Annotated[
        int, typer.Option("--settled-per-pass", min=0, help="Finished, unchanged races re-read per pass (in rotation).")
    ] = 5,
    recent: Annotated[
        float, typer.Option("--recent", min=0.0, help="Races changed within this many seconds are re-read every pass.")
    ] = 300.0,
    heartbeat: Annotated[
        float,
        typer.Option("--heartbeat", min=0.1, help="With --watch: seconds of quiet between two 'idle' lines."),
    ] = HEARTBEAT_SECONDS,
    lock_wait: Annotated[
        float,
        typer.Option("--lock-wait", min=0.0, help="Seconds to wait for another pass of the event before skipping."),
    ] = 3.0,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="With --watch: take FPVTrackside's notifications (its NotificationURL) here and sync what they name.",
        ),
    ] = None,
    fast_interval: Annotated[
        float | None,
        typer.Option(
            "--fast-interval",
            min=0.0,
            help="With --watch: seconds between re-reads of the running race (0: off; default 0.2, off with --listen).",
        ),
    ] = None,
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    timezone: Timezone = None,
    json_output: JsonOut = False,
    dry_run: DryRun = False,
) -> None:
    """Sync only what changed: one pass for cron, or a loop with --watch.

    Unchanged documents cause no PocketBase writes. Without EVENT, follows the event FPVTrackside has open.
    With --watch and --json, prints one JSON summary per pass (JSON Lines).
    """
    if listen is not None and not watch:
        raise fail("--listen needs --watch", ExitCode.USAGE)
    try:
        address = parse_listen(listen) if listen is not None else None
    except ValueError as exc:
        raise fail(f"--listen: {exc}", ExitCode.USAGE) from None
    if fast_interval is None:
        fast_interval = 0.0 if listen is not None else 0.2
    if interval is None:  # the fast tier or a doorbell follows the running race: passes only catch the rest
        if listen is not None:
            interval = PASS_INTERVAL_WITH_DOORBELL
        else:
            interval = PASS_INTERVAL_WITH_FAST_TIER if fast_interval > 0 else PASS_INTERVAL_PLAIN
    policy = PollPolicy(
        recent_seconds=recent,
        settled_per_pass=settled_per_pass,
        interval=interval if watch else 60.0,
        lock_wait=lock_wait,
    )
    if not watch:
        run_operation(
            lambda ctx: poll_once(ctx, event, policy),
            command="poll",
            event=event,
            trackside=trackside,
            pb_url=pb_url,
            timezone=timezone,
            json_output=json_output,
            dry_run=dry_run,
        )
        return

    use_json(json_output, "poll")
    settings = load_settings(trackside, pb_url, timezone)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

    tally = WatchTally(err_console, heartbeat=heartbeat, quiet=verbosity() < 0)

    def on_pass(summary: SyncSummary) -> None:
        if json_output:
            emit(summary, json_output=True)
        else:
            tally.on_pass(summary)

    def on_outage(message: str) -> None:
        err_console.print(f"[bold red]unreachable:[/] {literal(message)} — retrying with backoff", highlight=False)

    def on_recovery(message: str) -> None:
        err_console.print(f"[green]recovered:[/] {literal(message)}", highlight=False)

    try:
        with sync_context(settings, dry_run=dry_run, tolerate_pb_down=True) as ctx:
            if not json_output and verbosity() >= 0:
                target = f"event {literal(event)}" if event else "FPVTrackside's current event"
                err_console.print(f"polling {target} every {interval:g}s; Ctrl-C stops after the current pass")
            report = WatchReport(on_pass, on_outage, on_recovery)
            if address is None and fast_interval == 0:
                watch_loop(ctx, event, policy, report, stop, duration)
            else:
                options = LiveOptions(fast_interval=fast_interval)
                with live_mirror(ctx, event, policy, listen=address, options=options, on_sync=on_pass) as live:
                    if live.problem is not None:
                        err_console.print(f"[yellow]warning:[/] {live.problem}; passes still run", highlight=False)
                    if live.receiver is not None and not json_output:
                        err_console.print(f"doorbell: set FPVTrackside's NotificationURL to {live.receiver.url}")
                    watch_loop(ctx, event, policy, report, stop, duration)
    except OSError as exc:
        raise fail(f"cannot listen on {listen}: {exc.strerror or exc}", ExitCode.USAGE) from None
    except FpvsyncError as exc:
        raise error_exit(exc) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not json_output and verbosity() >= 0:
        err_console.print(tally.closing_line(), highlight=False, soft_wrap=True)
    raise typer.Exit(0)
