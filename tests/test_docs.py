"""The README is the user's manual: every command and every setting must be in it."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
import typer.main

from fpvsync.cli import app
from fpvsync.config import ENV_PREFIX, Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    names: list[str] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names.extend(f"{name} {child}" for child in sub) if sub else names.append(name)
    return names


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented(command: str) -> None:
    assert f"fpvsync {command}" in README


@pytest.mark.parametrize("setting", [f.name for f in fields(Settings)])
def test_every_setting_is_documented(setting: str) -> None:
    assert f"{ENV_PREFIX}{setting.upper()}" in README


def test_readme_starts_with_the_two_setup_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make demo" in first_block
    assert "make test" in first_block
