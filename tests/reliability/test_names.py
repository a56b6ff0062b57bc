"""Messages name races, rounds, pilots and the event as people know them; the GUIDs only with ``-v``."""

from __future__ import annotations

import json

from fpvsync.names import humanize
from fpvsync.trackside.generator import GeneratedEvent
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.reliability.invariants import cli


def _race_label(event: GeneratedEvent, race_id: str) -> str:
    race = json.loads(event.race_file(race_id).read_text())[0]
    rounds = json.loads((event.event_dir() / "Rounds.json").read_text())
    round_ = next(r for r in rounds if r["ID"] == race["Round"])
    label = round_.get("Name") or f"Round {round_['RoundNumber']}"
    return f"Race {round_['RoundNumber']}-{race['RaceNumber']} ({label})"


def test_messages_name_the_race_and_show_its_guid_only_with_v(
    pb: RunningPocketBase, replay: ReplayServer, event: GeneratedEvent
) -> None:
    race_id = event.finished_race_ids[0]
    (event.race_file(race_id).parent / "Result.json").write_text('[{"half')
    label = _race_label(event, race_id)

    plain = cli(["full", event.event_id], pb, replay.url, FPVSYNC_TRACKSIDE_ATTEMPTS="1")
    assert plain.exit_code == 1
    text = plain.stdout.replace("\n", " ")
    assert label in text and race_id not in text, text

    verbose = cli(["-v", "full", event.event_id], pb, replay.url, FPVSYNC_TRACKSIDE_ATTEMPTS="1")
    assert f"{label} ({race_id})" in verbose.stdout.replace("\n", "")

    machine = cli(["full", event.event_id, "--json"], pb, replay.url, FPVSYNC_TRACKSIDE_ATTEMPTS="1")
    assert any(e["sourceId"] == race_id or race_id in e["scope"] for e in machine.json["errors"])
    assert label not in machine.stdout


def test_humanize_keeps_unknown_guids_and_shortens_long_names() -> None:
    known, unknown = "3f1a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b", "00000000-0000-0000-0000-00000000000a"
    names = {known: "x" * 500}
    shown = humanize(f"pilot {known.upper()} and {unknown}", names)
    assert unknown in shown and known not in shown.lower() and len(shown) < 120
