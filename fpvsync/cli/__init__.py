"""fpvsync's command-line interface. Importing this package registers every command on :data:`app`."""

from __future__ import annotations

import importlib
import pkgutil

from fpvsync.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name.endswith("_commands"):
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    """Entry point of the ``fpvsync`` console script."""
    app()


__all__ = ["app", "main"]
