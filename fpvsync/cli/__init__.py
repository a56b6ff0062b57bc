"""fpvsync's command-line interface. Importing this package registers every command on :data:`app`."""

from __future__ import annotations

import importlib
import pkgutil

from fpvsync.cli.app import ExitCode, app, error_exit, fail
from fpvsync.errors import FpvsyncError

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_commands"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    """Entry point of the ``fpvsync`` console script: whatever happens, no traceback reaches the user."""
    try:
        app()
    except FpvsyncError as exc:
        raise SystemExit(error_exit(exc).exit_code) from None
    except Exception as exc:  # a bug: one line, and the exit code of a failed run
        message = f"unexpected {type(exc).__name__}: {exc} (please report this, with the command you ran)"
        raise SystemExit(fail(message, ExitCode.PARTIAL).exit_code) from None


__all__ = ["app", "main"]
