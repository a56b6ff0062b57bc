"""The Typer application object and what every command shares: exit codes and consoles.

Command modules (``*_commands.py``) register themselves on :data:`app`; this is the only layer that turns
:mod:`fpvsync.errors` into messages and exit codes.
"""

from __future__ import annotations

from enum import IntEnum

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="fpvsync",
    help="Mirror FPVTrackside race timing data into PocketBase.",
    no_args_is_help=True,
    add_completion=False,
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


def fail(message: str, code: ExitCode, hint: str | None = None) -> typer.Exit:
    """Print one clear error line (plus an optional hint) and return the exit to raise."""
    # Messages quote what users typed and servers answered: brackets in them are text, not styling.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(hint)}", highlight=False)
    return typer.Exit(int(code))
