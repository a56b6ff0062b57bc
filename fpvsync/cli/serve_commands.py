"""``fpvsync serve``: the HTTP trigger API (:mod:`fpvsync.api`) under uvicorn, on loopback unless told otherwise."""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer
import uvicorn

from fpvsync.cli.app import ExitCode, app, err_console, error_exit, fail, literal
from fpvsync.cli.sync_commands import PbUrl, Timezone, Trackside
from fpvsync.config import Settings
from fpvsync.errors import AuthError, ConfigError, SinkUnreachable
from fpvsync.pb.sink import PocketBaseSink


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
) -> None:
    """Serve the HTTP trigger API: POST /ingest/events/{eventId}/snapshot|race/{raceId}|results|full.

    Every /ingest route needs a PocketBase superuser token in the Authorization header; the syncs write with this
    service's own credentials (FPVSYNC_PB_EMAIL/FPVSYNC_PB_PASSWORD or FPVSYNC_PB_TOKEN). GET /healthz needs none.
    The API is described at /openapi.json (and /docs).
    """
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
        server.run()
    except SystemExit as exc:  # uvicorn exits when it cannot bind
        if exc.code not in (0, None):
            raise fail(
                f"could not serve on {host}:{port}", ExitCode.USAGE, hint="is the port in use, or the host wrong?"
            ) from None
    finally:
        service.close()
