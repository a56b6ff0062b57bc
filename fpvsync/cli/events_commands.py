"""``fpvsync events``: the event FPVTrackside has open and every event mirrored in PocketBase."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from fpvsync.cli.app import ExitCode, app, err_console, fail, out_console, use_json
from fpvsync.cli.sync_commands import PbUrl, Trackside
from fpvsync.config import Settings
from fpvsync.errors import ConfigError
from fpvsync.event_list import EventList, gather
from fpvsync.trackside.client import TracksideClient


@app.command()
def events(
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List the event FPVTrackside has open and every event mirrored in PocketBase (no credentials needed).

    FPVTrackside's web server names only its open event; its other events show up here once mirrored.
    """
    use_json(json_output, "events")
    try:
        settings = Settings.load(trackside_url=trackside, pb_url=pb_url)
    except ConfigError as exc:
        raise fail(str(exc), ExitCode.USAGE) from None
    with TracksideClient(settings.trackside_base, timeout=settings.trackside_timeout, attempts=1) as client:
        listing = gather(client, settings.pb_base, timeout=settings.pb_timeout)
    if json_output:
        out_console.file.write(json.dumps(listing.to_dict(), ensure_ascii=False) + "\n")
    else:
        render(listing)
    raise typer.Exit(listing.exit_code)


def render(listing: EventList) -> None:
    for answer in (listing.trackside, listing.pocketbase):
        if not answer.ok:
            err_console.print(f"[bold red]error:[/] {escape(answer.error or '')}", highlight=False)
    if not listing.events:
        if listing.exit_code == 0:
            out_console.print("no events: FPVTrackside has none open and PocketBase mirrors none")
        return
    table = Table(title="events", title_justify="left")
    for column in ("", "event id", "name", "start (UTC)", "races", "mirrored"):
        table.add_column(column)
    for event in listing.events:
        table.add_row(
            "[bold green]open[/]" if event.open else "",
            event.event_id,
            escape(event.name),  # any text FPVTrackside was given, never styling
            event.start[:16],
            str(event.races),
            "yes" if event.mirrored else "[yellow]not yet[/]",
        )
    out_console.print(table)
