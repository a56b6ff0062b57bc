"""``fpvsync replay`` and ``fpvsync record``: serve a captured FPVTrackside directory, or capture one."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from fpvsync.cli.app import ExitCode, app, err_console, fail
from fpvsync.config import Settings
from fpvsync.errors import ConfigError, DocumentUnavailable, SourceUnreachable
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.record import record_event
from fpvsync.trackside.replay import AUTO, ReplayServer
from fpvsync.trackside.simulator import RaceSimulator, SimulatorOptions


@app.command()
def replay(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Directory laid out like FPVTrackside's data.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 = any free port).")] = 8080,
    event: Annotated[
        str | None, typer.Option("--event", help="Event the index page names (default: newest LastOpened).")
    ] = None,
    current_race: Annotated[
        str,
        typer.Option(
            "--current-race",
            metavar="auto|absent|none|ID",
            help="What /current answers: the running race (auto), the HTML page like old builds (absent), "
            "null (none), or a fixed race id.",
        ),
    ] = "auto",
    latency: Annotated[float, typer.Option(min=0.0, help="Seconds to wait before every answer.")] = 0.0,
    live: Annotated[
        bool, typer.Option("--live", help="Play the event's recorded races in real time, as if they were running.")
    ] = False,
    speed: Annotated[float, typer.Option("--speed", min=0.01, help="With --live: play this many times faster.")] = 1.0,
    notify: Annotated[
        str | None,
        typer.Option("--notify", metavar="URL", help="With --live: send FPVTrackside's notifications to URL."),
    ] = None,
    notify_format: Annotated[
        str, typer.Option("--notify-format", metavar="legacy|extension", help="Notification format with --notify.")
    ] = "legacy",
) -> None:
    """Serve DIR like FPVTrackside's web server (every answer 200, quirks included) until Ctrl-C.

    With --live, the current event's recorded races are played again in real time: laps appear in Race.json as
    they were recorded, /current names the running race, and --notify rings a doorbell (fpvsync poll --listen).
    """
    if notify_format not in ("legacy", "extension"):
        raise fail("--notify-format must be legacy or extension", ExitCode.USAGE)
    if notify is not None and not live:
        raise fail("--notify needs --live", ExitCode.USAGE)
    if not (directory / "events").is_dir():
        raise fail(
            f"{directory} has no events/ folder",
            ExitCode.USAGE,
            hint="DIR must hold events/<eventId>/Event.json ...; `fpvsync record DIR` captures one",
        )
    race: str | None = None if current_race.lower() in ("none", "null") else current_race
    server = ReplayServer(directory, host, port, current_event=event, current_race=race, latency=latency)
    try:
        server.start()
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", ExitCode.USAGE) from None

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        err_console.print(f"Replaying {escape(str(directory))} at [bold]{server.url}[/]", soft_wrap=True)
        current = server.resolve_current_event()
        err_console.print(f"  current event: {current or '(none: no event folder)'}", soft_wrap=True)
        err_console.print("Press Ctrl-C to stop.")
        # /current follows the race played, as FPVTrackside's names the race loaded, unless it was set by hand.
        cue = (lambda race_id: setattr(server, "current_race", race_id)) if race == AUTO else None
        player = _start_live(directory, current, speed, notify, notify_format, stop, cue) if live and current else None
        while not stop.wait(0.5):
            pass
        if player is not None:
            player.join(10.0)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    err_console.print(f"Stopped after {server.requests_served} requests.")


def _start_live(
    directory: Path,
    event_id: str,
    speed: float,
    notify: str | None,
    notify_format: str,
    stop: threading.Event,
    on_cue: Callable[[str | None], None] | None,
) -> threading.Thread:
    options = SimulatorOptions(
        speed=speed,
        notify=notify,
        notify_format="extension" if notify_format == "extension" else "legacy",
        on_cue=on_cue,
    )
    simulator = RaceSimulator(directory, event_id, options)
    races = simulator.recorded_races()
    err_console.print(
        f"  live: playing {len(races)} recorded races at {speed:g}x" + (f", ringing {notify}" if notify else "")
    )

    def play() -> None:
        try:
            simulator.play(stop, races)
        finally:
            simulator.close()
        if not stop.is_set():
            err_console.print("  live: every race played; still serving")

    thread = threading.Thread(target=play, name="live-races", daemon=True)
    thread.start()
    return thread


@app.command()
def record(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="Directory to write (created if needed).")],
    event: Annotated[
        str | None, typer.Argument(metavar="[EVENT]", help="Event id (default: FPVTrackside's current event).")
    ] = None,
    trackside: Annotated[
        str | None,
        typer.Option(
            "--trackside", help="FPVTrackside URL (default: FPVSYNC_TRACKSIDE_URL, else http://localhost:8080)."
        ),
    ] = None,
) -> None:
    """Capture a live FPVTrackside's documents for EVENT into DIR, in the layout `fpvsync replay` serves."""
    try:
        settings = Settings.load(trackside_url=trackside)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None

    def progress(path: str) -> None:
        status.update(f"fetching {escape(path)}")

    try:
        with (
            TracksideClient.from_settings(settings) as client,
            err_console.status("contacting FPVTrackside") as status,
        ):
            report = record_event(client, directory, event, progress=progress)
    except SourceUnreachable as exc:
        raise fail(
            escape(str(exc)), ExitCode.UNREACHABLE, hint="is FPVTrackside running, with its web server on?"
        ) from None
    except DocumentUnavailable as exc:
        raise fail(escape(str(exc)), ExitCode.PARTIAL) from None
    except ConfigError as exc:
        raise fail(escape(str(exc)), ExitCode.USAGE) from None
    except OSError as exc:
        raise fail(f"cannot write to {escape(str(directory))}: {exc.strerror or exc}", ExitCode.USAGE) from None

    err_console.print(
        f"Recorded event [bold]{report.event_id}[/] from {escape(settings.trackside_base)} "
        f"into {escape(str(directory))}",
        soft_wrap=True,
    )
    err_console.print(escape(report.asstr()), highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(int(ExitCode.PARTIAL))
