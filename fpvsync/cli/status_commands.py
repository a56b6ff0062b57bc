"""``fpvsync status``: the mirror's health at a glance."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from fpvsync.cli.app import app, literal, out_console, use_json
from fpvsync.cli.sync_commands import EventArg, PbUrl, Trackside, load_settings
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.status import Status, gather
from fpvsync.trackside.client import TracksideClient


@app.command()
def status(
    event: EventArg = None,
    trackside: Trackside = None,
    pb_url: PbUrl = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Show whether FPVTrackside and PocketBase answer, the last runs, record counts and pending changes."""
    use_json(json_output, "status")
    settings = load_settings(trackside, pb_url, None, need_credentials=False)
    with TracksideClient(settings.trackside_url, timeout=settings.trackside_timeout, attempts=1) as client:
        if settings.has_pb_credentials():
            with PocketBaseSink.from_settings(settings) as sink:
                result = gather(client, sink, event)
        else:
            result = gather(client, None, event, pb_url=settings.pb_base)
    if json_output:
        out_console.file.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    else:
        render(result)
    raise typer.Exit(result.exit_code)


def render(result: Status) -> None:
    console = out_console
    for name, reach in (("FPVTrackside", result.trackside), ("PocketBase", result.pocketbase)):
        state = "[green]answers[/]" if reach.ok else f"[bold red]does not answer[/]: {literal(reach.error)}"
        if reach.note:
            state += f" [yellow]({literal(reach.note)})[/]"
        console.print(f"{name:<13} {literal(reach.url)}  {state}", highlight=False)
    console.print(
        f"event         {literal(result.event or '-')}"
        + (f"  (running race {literal(result.current_race)})" if result.current_race else "")
    )
    if result.pending is not None:
        if result.pending:
            console.print(
                f"[yellow]behind[/]        {len(result.pending)} of {result.checked} checked documents "
                "changed since the last sync:"
            )
            for path in result.pending:
                console.print(f"              {literal(path)}", highlight=False)
        else:
            console.print(f"[green]in sync[/]       all {result.checked} checked documents are mirrored")
    console.print(f"last change   {result.last_change or 'never'}")
    if result.counts:
        counts = Table(title="records", title_justify="left")
        for name in result.counts:
            counts.add_column(name, justify="right")
        counts.add_row(*(str(n) for n in result.counts.values()))
        console.print(counts)
    if result.runs:
        runs = Table(title="last runs", title_justify="left")
        for column in ("started", "command", "ok", "written", "errors", "seconds"):
            runs.add_column(column)
        for run in result.runs:
            runs.add_row(
                str(run["startedAt"]),
                literal(run["command"]),
                "[green]yes[/]" if run["ok"] else "[red]no[/]",
                str(run["written"]),
                str(run["errorCount"]),
                f"{float(run['durationSeconds'] or 0):.2f}",
            )
        console.print(runs)
