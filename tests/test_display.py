"""Display names for the dashboard, as FPVTrackside shows them: unit cases, then read back from a real mirror."""

from __future__ import annotations

from typing import Any

import pytest

from fpvsync.display import channel_name, detection_name, round_name
from fpvsync.ids import record_id
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.models import Channel, Detection, Round
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read, run_cli


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Name": "Finale", "EventType": "Race", "RoundNumber": 4}, "Finale"),
        ({"Name": "", "EventType": "Race", "RoundNumber": 3}, "Race Round 3"),
        ({"Name": None, "EventType": "TimeTrial", "RoundNumber": 1}, "TimeTrial Round 1"),
        ({"EventType": "Practise", "RoundNumber": 2}, "Practice Round 2"),
        ({}, "Race Round ?"),
    ],
)
def test_round_name_is_its_name_else_event_type_and_number(fields: dict[str, Any], expected: str) -> None:
    assert round_name(Round.model_validate(fields)) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"Band": "Raceband", "Number": 1, "ChannelPrefix": "\x00"}, "R1"),
        ({"Band": "Fatshark", "Number": 4}, "F4"),
        ({"Band": "HDZero", "Number": 3, "ChannelPrefix": "R"}, "ZR3"),
        ({"Band": "HDZero", "Number": 2, "ChannelPrefix": "L"}, "L2"),
        ({"Band": "None", "Number": 0}, "--"),
        ({"Number": 5}, "--"),
    ],
)
def test_channel_name_is_fpvtracksides_band_channel_text(fields: dict[str, Any], expected: str) -> None:
    assert channel_name(Channel.model_validate(fields)) == expected


def test_detection_name_shows_the_lap_and_its_length_when_it_ends_one() -> None:
    detection = Detection.model_validate({"LapNumber": 3})
    assert detection_name(detection, 12.3449) == "lap 3 · 12.345 s"
    assert detection_name(detection, None) == "lap 3"


@pytest.fixture(scope="module")
def mirrored(shared_pb: RunningPocketBase, tmp_path_factory: pytest.TempPathFactory) -> GeneratedEvent:
    event = generate_event(tmp_path_factory.mktemp("display"), EventSpec(seed=21, pilots=4, rounds=2))
    with ReplayServer(event.root, current_event=event.event_id) as server:
        assert run_cli(["full", "--json"], shared_pb, server.url).exit_code == 0
    return event


def test_mirrored_rounds_channels_and_detections_carry_display_names(
    shared_pb: RunningPocketBase, mirrored: GeneratedEvent
) -> None:
    eid = record_id(mirrored.event_id)
    rounds = {r["sourceId"]: r for r in shared_pb.records("rounds", f'event = "{eid}"')}
    for source in read(mirrored.event_dir() / "Rounds.json"):
        kind = {"Practise": "Practice"}.get(source["EventType"], source["EventType"])
        expected = source["Name"] or f"{kind} Round {source['RoundNumber']}"
        assert rounds[source["ID"]]["displayName"] == expected

    channels = {c["sourceId"]: c for c in shared_pb.records("channels")}
    for source in read(mirrored.root / "httpfiles" / "Channels.json"):
        prefix = source["ChannelPrefix"].strip("\x00")
        expected = f"{source['ShortBand']}{prefix}{source['Number']}"
        assert channels[source["ID"]]["shortName"] == expected, source

    detections = {d["sourceId"]: d for d in shared_pb.records("detections", f'event = "{eid}"')}
    checked = 0
    for race_id in mirrored.race_ids:
        if not mirrored.race_file(race_id).exists():
            continue
        for race in read(mirrored.race_file(race_id)):
            lengths = {lap["Detection"]: lap["LengthSeconds"] for lap in race["Laps"]}
            for source in race["Detections"]:
                length = lengths.get(source["ID"])
                tail = f" · {length:.3f} s" if length is not None else ""
                assert detections[source["ID"]]["displayName"] == f"lap {source['LapNumber']}{tail}"
                checked += 1
    assert checked and any("·" in d["displayName"] for d in detections.values())
