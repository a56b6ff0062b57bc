"""The printed summary of a sync: what it quotes from FPVTrackside's files appears as written, never as styling."""

from __future__ import annotations

import json
from pathlib import Path

from fpvsync.trackside.generator import EventSpec, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import run_cli


def test_a_warning_quoting_bracketed_text_from_a_file_is_printed_as_it_is(
    pb: RunningPocketBase, tmp_path: Path
) -> None:
    event = generate_event(tmp_path / "trackside", EventSpec(seed=4, pilots=4, rounds=1))
    rounds_file = event.event_dir() / "Rounds.json"
    rounds = json.loads(rounds_file.read_text(encoding="utf-8"))
    rounds[0]["Name"] = ["[/b]"]  # not text: kept in extra, and the warning quotes it
    rounds_file.write_text(json.dumps(rounds), encoding="utf-8")

    with ReplayServer(event.root, current_event=event.event_id) as server:
        result = run_cli(["snapshot", event.event_id], pb, server.url)
    assert result.exit_code == 0, result.stderr
    assert "warning:" in result.stdout
    assert "'[/b]'" in result.stdout


def test_an_error_quoting_what_the_user_typed_is_printed_as_it_is() -> None:
    result = run_cli(["purge", "[/b]", "--yes"], None)
    assert result.exit_code == 2
    assert "event id '[/b]' is not a GUID" in result.stderr
