"""``fpvsync serve``: the HTTP trigger API (:mod:`fpvsync.api`) under uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Iterator
from typing import Annotated

import typer
import uvicorn

from fpvsync.cli.app import ExitCode, app, err_console, error_exit, fail, literal
from fpvsync.cli.sync_commands import PbUrl, Timezone, Trackside
from fpvsync.config import Settings
from fpvsync.engine.poll import PollPolicy
from fpvsync.engine.sync import SyncContext
from fpvsync.errors import AuthError, ConfigError, SinkUnreachable
from fpvsync.live.mirror import LiveOptions
from fpvsync.live.receiver import parse_listen
from fpvsync.live.runner import live_mirror
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient


def _configure_logging() -> None:
    """fpvsync's own log lines (runs, refusals) on stderr next to uvicorn's; no handler for anything else."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)-9s %(name)s: %(message)s"))
    root = logging.getLogger("fpvsync")
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def _doorbell(settings: Settings, address: tuple[str, int] | None) -> Iterator[None]:
    """The doorbell (see `fpvsync poll --listen`) on its own port, for the event FPVTrackside has open."""
    if address is None:
        yield
        return
    with (
        TracksideClient.from_settings(settings) as client,
        PocketBaseSink.from_settings(settings) as sink,
    ):
        ctx = SyncContext(client, sink, zone=settings.zone())
        options = LiveOptions(fast_interval=0.0)
        with live_mirror(ctx, None, PollPolicy(), listen=address, options=options) as live:
            if live.receiver is not None:
                err_console.print(f"doorbell: set FPVTrackside's NotificationURL to {live.receiver.url}")
            else:
                err_console.print(f"[yellow]warning:[/] {live.problem}", highlight=False)
            yield


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port to listen on.")] = 8787,
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    timezone: Timezone = None,
    poll: Annotated[
        bool,
        typer.Option("--poll", help="Also run the live mirror (like `fpvsync poll --watch`) on the current event."),
    ] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between passes with --poll.")] = 2.0,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            metavar="HOST:PORT",
            help="Also take FPVTrackside's notifications (its NotificationURL) here and sync what they name.",
        ),
    ] = None,
) -> None:
    """Serve the HTTP trigger API: POST /ingest/events/{eventId}/snapshot|race/{raceId}|results|full.

    Every /ingest route needs a PocketBase superuser token in the Authorization header; the syncs write with this
    service's own credentials (FPVSYNC_PB_EMAIL/FPVSYNC_PB_PASSWORD or FPVSYNC_PB_TOKEN). GET /healthz needs none.
    The API is described at /openapi.json (and /docs).
    """
    try:
        doorbell = parse_listen(listen) if listen is not None else None
    except ValueError as exc:
        raise fail(f"--listen: {exc}", ExitCode.USAGE) from None
    try:
        settings = Settings.load(trackside_url=trackside, pb_url=pb_url, timezone=timezone)
        from fpvsync.api import create_app  # here, so that other commands do not pay for FastAPI's import

        api = create_app(settings, poll_interval=interval if poll else None)
    except ConfigError as exc:
        raise error_exit(exc) from None

    service = api.state.service
    try:
        with PocketBaseSink.from_settings(settings) as sink:
            sink.authenticate()
    except AuthError as exc:
        service.close()
        raise error_exit(exc) from None
    except SinkUnreachable as exc:
        err_console.print(f"[yellow]warning:[/] {literal(exc)}; syncs answer 503 until it is up", highlight=False)

    if not _is_loopback(host):
        err_console.print(
            f"[yellow]warning:[/] listening on {literal(host)}, beyond this machine: every /ingest route needs a "
            "superuser token, which travels in clear without TLS in front",
            highlight=False,
        )
    _configure_logging()
    if poll:
        err_console.print(f"live mirror: polling FPVTrackside's current event every {interval:g}s", highlight=False)
    server = uvicorn.Server(
        uvicorn.Config(api, host=host, port=port, log_level="info", server_header=False, lifespan="on")
    )
    try:
        with _doorbell(settings, doorbell):
            server.run()
    except OSError as exc:
        raise fail(f"cannot listen on {listen}: {exc.strerror or exc}", ExitCode.USAGE) from None
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        if exc.code not in (0, None):
            raise fail(
                f"could not serve on {host}:{port}", ExitCode.USAGE, hint="is the port in use, or the host wrong?"
            ) from None
    finally:
        service.close()
