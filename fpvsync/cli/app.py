"""The Typer application object and what every command shares: exit codes, consoles, and error messages.

Command modules (``*_commands.py``) register themselves on :data:`app`. This is the only layer that turns
:mod:`fpvsync.errors` into messages and exit codes (:func:`error_exit`, :func:`fail`); every message goes through
:func:`fpvsync.redact.redact` and is printed literally (no Rich markup from data or arguments). A command that
offers ``--json`` calls :func:`use_json` first: a failure then also prints exactly one JSON document on stdout.
"""

from __future__ import annotations

import json
import logging
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from fpvsync import __version__, config
from fpvsync.errors import (
    AuthError,
    ConfigError,
    DocumentUnavailable,
    FpvsyncError,
    SinkRejected,
    SinkUnreachable,
    SourceUnreachable,
)
from fpvsync.redact import redact

app = typer.Typer(
    name="fpvsync",
    help="Mirror FPVTrackside race timing data into PocketBase.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
pb_app = typer.Typer(help="Run and manage a local PocketBase with fpvsync's schema.", no_args_is_help=True)
app.add_typer(pb_app, name="pb")

#: Human-facing output (tables, progress, messages) goes to stderr so that stdout stays machine-readable.
err_console = Console(stderr=True)
out_console = Console()


class ExitCode(IntEnum):
    """The documented exit codes (architecture.md, CLI contract)."""

    OK = 0
    PARTIAL = 1
    USAGE = 2
    UNREACHABLE = 3
    #: Stopped by Ctrl-C (SIGINT) before the end, as shells report it.
    INTERRUPTED = 130


class _Output:
    """How the running command reports: set once per command line (options before the command, :func:`use_json`)."""

    json = False
    command = ""
    #: -1 with ``-q`` (errors only), 0 by default, 1 with ``-v`` (details and ids), 2 with ``-vv`` (debug log).
    verbosity = 0


def verbosity() -> int:
    return _Output.verbosity


def _show_version(value: bool) -> None:
    if value:
        out_console.print(f"fpvsync {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More detail (ids, retries); twice for a debug log.")
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only (and --json documents).")] = False,
    config_file: Annotated[
        Path | None,
        typer.Option("--config", help="Config file (TOML). Default: ./fpvsync.toml, else the user's config dir."),
    ] = None,
) -> None:
    """Mirror FPVTrackside race timing data into PocketBase."""
    _Output.verbosity = -1 if quiet else verbose
    _Output.json = False
    config.CONFIG_PATH = str(config_file) if config_file is not None else None
    if verbose:
        logger = logging.getLogger("fpvsync")
        if not any(getattr(h, "fpvsync_cli", False) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            handler.fpvsync_cli = True  # type: ignore[attr-defined]
            logger.addHandler(handler)
        logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO)


def use_json(enabled: bool, command: str) -> None:
    """Declare whether the running command prints JSON (``--json``), so that failures do too."""
    _Output.json = enabled
    _Output.command = command


def literal(text: object) -> str:
    """``text`` redacted and escaped, to embed in a Rich markup string: printed exactly as written."""
    return escape(redact(str(text)))


def fail(message: str, code: ExitCode, hint: str | None = None) -> typer.Exit:
    """Print one clear error line (plus an optional hint) and return the exit to raise.

    ``message`` and ``hint`` are plain text (never markup). With ``--json``, stdout gets one document of the summary's
    shape with nothing synced: ``{"ok": false, "command", "event": null, "collections": {}, "errors": [{"scope":
    "cli", "message", ...}], "durationSeconds": 0, "exitCode"}``.
    """
    message = redact(message)
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {literal(hint)}", highlight=False, soft_wrap=True)
    if _Output.json:  # the documented summary shape, with nothing synced
        document: dict[str, object] = {
            "ok": False,
            "command": _Output.command,
            "event": None,
            "collections": {},
            "errors": [{"scope": "cli", "collection": None, "sourceId": None, "message": message}],
            "durationSeconds": 0.0,
            "exitCode": int(code),
        }
        if hint:
            document["hint"] = redact(hint)
        out_console.file.write(json.dumps(document, ensure_ascii=False) + "\n")
        out_console.file.flush()
    return typer.Exit(int(code))


PB_CREDENTIALS_HINT = "set FPVSYNC_PB_EMAIL and FPVSYNC_PB_PASSWORD, or FPVSYNC_PB_TOKEN, to a PocketBase superuser"
TRACKSIDE_HINT = (
    "is FPVTrackside running with its web server on, at --trackside (or FPVSYNC_TRACKSIDE_URL)? "
    "`fpvsync status` checks both servers"
)
PB_HINT = "is PocketBase running at --pb-url (or FPVSYNC_PB_URL)? `fpvsync pb serve` runs one"


def error_exit(exc: FpvsyncError) -> typer.Exit:
    """The message, hint and exit code of every fpvsync error: the one table the CLI answers from."""
    if isinstance(exc, ConfigError):
        return fail(str(exc), ExitCode.USAGE)
    if isinstance(exc, AuthError):
        return fail(str(exc), ExitCode.UNREACHABLE, hint=PB_CREDENTIALS_HINT)
    if isinstance(exc, SourceUnreachable):
        return fail(str(exc), ExitCode.UNREACHABLE, hint=TRACKSIDE_HINT)
    if isinstance(exc, SinkUnreachable):
        return fail(str(exc), ExitCode.UNREACHABLE, hint=PB_HINT)
    if isinstance(exc, DocumentUnavailable):
        return fail(f"FPVTrackside: {exc}", ExitCode.PARTIAL)
    if isinstance(exc, SinkRejected):
        return fail(f"PocketBase refused: {exc}", ExitCode.PARTIAL)
    return fail(str(exc), ExitCode.PARTIAL)
