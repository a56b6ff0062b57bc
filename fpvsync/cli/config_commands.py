"""``fpvsync config``: the effective settings and where each came from, secrets masked."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Annotated

import typer
from rich.table import Table

from fpvsync.cli.app import app, error_exit, literal, out_console, use_json
from fpvsync.cli.sync_commands import PbUrl, Timezone, Trackside
from fpvsync.config import Settings
from fpvsync.config_sources import env_name, masked
from fpvsync.errors import ConfigError
from fpvsync.redact import redact


@app.command("config")
def show_config(
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    timezone: Timezone = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Print the effective settings and where each came from (option, environment, .env, config file, credential
    file or default), with passwords and tokens masked."""
    use_json(json_output, "config")
    try:
        settings = Settings.load(trackside_url=trackside, pb_url=pb_url, timezone=timezone)
    except ConfigError as exc:
        raise error_exit(exc) from None
    rows = []
    for field in fields(settings):
        value = masked(field.name, getattr(settings, field.name))
        if isinstance(value, str):
            value = redact(value)
        rows.append((field.name, value, settings.origin(field.name)))
    if json_output:
        document = {
            "ok": True,
            "settings": {_camel(name): {"value": value, "from": origin} for name, value, origin in rows},
        }
        out_console.file.write(json.dumps(document, ensure_ascii=False) + "\n")
        return
    table = Table(title="fpvsync settings", title_justify="left")
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for name, value, origin in rows:
        table.add_row(env_name(name), literal("-" if value is None else value), literal(origin))
    out_console.print(table)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
