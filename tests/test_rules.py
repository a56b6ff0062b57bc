"""FPVTrackside's own rules, checked against its C# (FPVTracksideCore, cited per test), real captures of both schema
generations (``../shared/real-data``: skipped when absent) and generated variants (other event types, brackets,
round-less races, a round missing from Rounds.json, ``Event.Laps`` other than ``TargetLaps``).

Expectations are written by hand from the captures, or computed by ``tests/test_derived.py``'s ``Source`` straight
from the files with ``json``; PocketBase answers after a real ``fpvsync full`` through the replay server.
"""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from fpvsync import mapping, rules
from fpvsync.ids import record_id
from fpvsync.trackside.generator import ZERO_GUID, EventSpec, GeneratedEvent, generate_event, write_json
from fpvsync.trackside.models import Event, Race, Round
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read, run_cli
from tests.test_derived import Source, assert_bests, assert_schedule

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "real-data"
OLD_CAPTURE = REAL_DATA / "drone-dashboard-test-1.json"
NEW_CAPTURE = REAL_DATA / "fpvtracksidecore-macside"


def _needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real FPVTrackside capture {path} is not on this machine")


def _full(pb: RunningPocketBase, root: Path, event_id: str) -> None:
    with ReplayServer(root, current_event=event_id) as replay:
        result = run_cli(["full", event_id, "--json"], pb, replay.url)
    assert result.exit_code == 0, result.stdout + result.stderr


def _races(pb: RunningPocketBase, event_id: str) -> dict[str, dict[str, Any]]:
    return {str(r["sourceId"]): r for r in pb.records("races", f'event = "{record_id(event_id)}"')}


# -- pure rules ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "round_number", "race_number", "bracket", "game", "name"),
    [
        ("Race", 2, 1, "None", None, "Race 2-1"),
        ("TimeTrial", 1, 3, None, None, "Time Trial 1-3"),
        ("Race", 5, 2, "A", None, "Race 5-2 (A)"),
        ("Race", 1, 4, "Winners", None, "Race 1-4 (Winners)"),
        ("CasualPractice", 1, 1, None, None, "Casual Practice 1-1"),
        ("Endurance", 3, 2, None, None, "Endurance 3-2"),
        ("Game", 2, 2, None, "Capture the Flag", "Capture the Flag 2-2"),
        ("Game", 2, 2, None, None, "Game 2-2"),
        ("Unknown", 12, 1, None, None, "Unknown 12-1"),
        ("SomethingNew", 1, 1, None, None, "Unknown 1-1"),
    ],
)
def test_race_name_is_race_racename(
    event_type: str, round_number: int, race_number: int, bracket: str | None, game: str | None, name: str
) -> None:
    """``RaceLib/Race.cs`` ``Race.RaceName``: ``RaceStringFormatter.GetEventTypeText(Type)`` + " " +
    ``RoundRaceNumber``, plus " (Bracket)" unless ``Brackets.None``; the texts ``UI/EventLayer.cs`` sets, the game
    type's name for ``Game``, "Unknown" for anything else (``RaceStringFormatter.GetEventTypeText``)."""
    assert rules.race_name(event_type, round_number, race_number, bracket, game) == name


def _round(guid: str, number: int, event_type: str = "Race") -> Round:
    return Round.model_validate({"ID": guid, "RoundNumber": number, "EventType": event_type, "Order": number * 100})


def _race(round_guid: str, *, valid: bool = True) -> Race:
    return Race.model_validate({"ID": "race-1", "RaceNumber": 2, "Round": round_guid, "Valid": valid})


ROUND_A, ROUND_B, MISSING = (
    "aaaaaaaa-0000-4000-8000-000000000001",
    "aaaaaaaa-0000-4000-8000-000000000002",
    ("bbbbbbbb-0000-4000-8000-000000000009"),
)
ROUNDS = {ROUND_A: _round(ROUND_A, 1, "TimeTrial"), ROUND_B: _round(ROUND_B, 4)}


def test_race_round_follows_race_roundnumber_and_get_race_lib_object() -> None:
    """``RaceLib/Race.cs`` ``Race.RoundNumber`` (1 without a round) and ``Race.Type`` (the event's without a round);
    ``DB/JSON/Race.cs`` ``GetRaceLibObject``: a valid race whose round is missing gets an ``Unknown`` round numbered
    one past the highest; an invalid one stays without a round."""
    assert rules.race_round(_race(ROUND_A), ROUNDS, "Race") == rules.RaceRound(1, "TimeTrial", ROUND_A)
    assert rules.race_round(_race(ROUND_B), ROUNDS, "Race") == rules.RaceRound(4, "Race", ROUND_B)
    assert rules.race_round(_race(ZERO_GUID), ROUNDS, "Race") == rules.RaceRound(1, "Race", None)
    assert rules.race_round(_race(MISSING), ROUNDS, "Race") == rules.RaceRound(5, "Unknown", None, unknown=True)
    assert rules.race_round(_race(MISSING, valid=False), ROUNDS, "Practice") == rules.RaceRound(1, "Practice", None)
    assert rules.race_round(_race(MISSING), {}, "Race").number == 1
    assert rules.race_round(_race(MISSING), None, "Race").number is None  # Rounds.json unreadable: unknown


def test_a_race_record_carries_fpvtrackside_name_number_type_and_bracket() -> None:
    """The race record: ``name`` (``Race.RaceName``), ``roundNumber``, ``eventType`` (``Race.Type``), ``bracket``
    (``Brackets.None`` stored empty); a made-up round leaves the ``round`` relation empty, its GUID kept."""
    known = mapping.Known(rounds=frozenset(record_id(g) for g in ROUNDS))
    lettered = Race.model_validate({"ID": "r", "RaceNumber": 3, "Round": ROUND_B, "Valid": True, "Bracket": "B"})
    record = mapping.race(lettered, "event", None, known, rounds=ROUNDS)
    assert record is not None
    assert {k: record.body[k] for k in ("name", "roundNumber", "eventType", "bracket", "round")} == {
        "name": "Race 4-3 (B)",
        "roundNumber": 4,
        "eventType": "Race",
        "bracket": "B",
        "round": record_id(ROUND_B),
    }
    made_up = mapping.race(_race(MISSING), "event", None, known, rounds=ROUNDS)
    assert made_up is not None
    assert (made_up.body["name"], made_up.body["round"], made_up.body["bracket"]) == ("Unknown 5-2", "", "")
    assert made_up.body["extra"]["unresolved"] == {"Round": MISSING}


def test_rules_locked_maps_to_locked_and_flags_are_utc_dates() -> None:
    """``RaceLib/Event.cs``: newer builds write ``RulesLocked`` (older ``Locked``); ``Flags`` is a ``DateTime[]``
    written in the laptop's local time, so it is converted with the event's zone like every other date."""
    newer = Event.model_validate(
        {"ID": "e", "RulesLocked": True, "TimeZone": "Europe/Zurich", "Flags": ["2025/08/01 17:56:29.196"]}
    )
    record = mapping.event(newer, mapping.event_zone(newer, None), mapping.Known())
    assert record is not None
    assert record.body["locked"] is True
    assert record.body["flags"] == ["2025-08-01 15:56:29.196Z"]
    assert "RulesLocked" not in (record.body["extra"] or {})
    older = Event.model_validate({"ID": "e", "Locked": False, "Flags": []})
    record = mapping.event(older, UTC, mapping.Known())
    assert record is not None
    assert (record.body["locked"], record.body["flags"]) == (False, [])


# -- the older generation: drone-dashboard's capture --------------------------------------------------------------


def _lay_out_old_capture(root: Path) -> str:
    """Write the captured answers as the replay directory FPVTrackside's web server serves them from."""
    capture = json.loads(OLD_CAPTURE.read_text(encoding="utf-8"))
    event_id = capture["__scenarioContext"]["eventId"]
    folder = root / "events" / event_id
    folder.mkdir(parents=True)
    (root / "httpfiles").mkdir()
    write_json(root / "httpfiles" / "Channels.json", capture["/api/httpfiles/Channels.json"]["data"])
    for name in ("Event", "Pilots", "Rounds"):
        write_json(folder / f"{name}.json", capture[f"/api/events/:eventId/{name}.json"]["data"])
    for race_id, answer in capture["/api/events/:eventId/:raceId/Race.json"].items():
        (folder / race_id).mkdir()
        write_json(folder / race_id / "Race.json", answer["data"])
    return str(event_id)


@pytest.fixture
def old_capture(tmp_path: Path) -> tuple[Path, str]:
    _needs(OLD_CAPTURE)
    return tmp_path, _lay_out_old_capture(tmp_path)


def test_old_capture_races_are_named_numbered_and_scheduled_as_fpvtrackside_shows(
    pb: RunningPocketBase, old_capture: tuple[Path, str]
) -> None:
    """drone-dashboard's capture (an older build: ``Locked``, ``Bracket`` null): ``Race.RaceName`` per race, written
    out by hand from Rounds.json; the pilots' next race is "Race 5-1" (round Order 500), the first valid race
    not started, fifth in the race order (``Round.Order``, ``RaceNumber``; invalid races last)."""
    root, event_id = old_capture
    _full(pb, root, event_id)
    races = _races(pb, event_id)
    by_prefix = {guid[:8]: race for guid, race in races.items()}
    names = {
        prefix: by_prefix[prefix]["name"] for prefix in ("04724197", "4a185106", "d3ade44c", "57787080", "483e3b99")
    }
    assert names == {
        "04724197": "Race 2-1",
        "4a185106": "Race 2-2",  # invalid, its round still in Rounds.json
        "d3ade44c": "Race 4-1",
        "57787080": "Race 3-1",  # in a deleted (Valid: false) round numbered 3
        "483e3b99": "Race 11-1",
    }
    assert {r["bracket"] for r in races.values()} == {""}
    assert {r["eventType"] for r in races.values()} == {"Race"}
    event = pb.records("events", f'id = "{record_id(event_id)}"')[0]
    assert event["locked"] is False

    schedule = pb.records("pilotSchedule", f'event = "{record_id(event_id)}"')
    assert len(schedule) == 2  # Bob and Joe
    next_race = by_prefix["b9e533e8"]
    assert next_race["name"] == "Race 5-1"
    assert {(str(r["nextRace"]), r["racesUntil"], r["position"]) for r in schedule} == {(str(next_race["id"]), 0, 5)}
    channels = {str(r["pilot"]): str(r["channel"]) for r in pb.records("pilotChannels", f'race = "{next_race["id"]}"')}
    assert {str(r["pilot"]): str(r["channel"]) for r in schedule} == channels
    state = pb.records("eventState", f'id = "{record_id(event_id)}"')[0]
    assert str(state["currentRace"]) == str(next_race["id"])


def test_old_capture_race_times_use_event_laps_and_total_time(
    pb: RunningPocketBase, old_capture: tuple[Path, str]
) -> None:
    """``RaceLib/LapRecordManager.cs`` ``PilotLapRecord.UpdateRaceTime`` / ``GetBestRaceTime`` with ``Event.Laps``
    (4 here), timed by ``RaceLib/Ext.cs`` ``TotalTime``; compared with ``Source``'s independent computation."""
    root, event_id = old_capture
    _full(pb, root, event_id)
    event = source_event(root, event_id)
    source = Source(event)
    bests = source.pilot_bests()
    assert any(row["bestRaceTime"] for row in bests.values())
    assert_bests(pb, event, source)


# -- the newer generation: FPVTracksideCore's FPVMacSideCore capture -----------------------------------------------

NEW_EVENT = "6d351129-4b38-4bd5-aebb-fc0293421a9f"
NEW_ROUND = "cf373028-bfdb-4c66-ac70-af6082265395"
NEW_RACE = "bc28c3b0-525d-47f7-adad-d01e7c7aafa4"
NEW_PILOT = "38d03fe3-0d07-48d3-b9af-d2024f1e1ec2"
NEW_CHANNEL = "00000009-0000-0000-0000-000000000000"


def _lay_out_new_capture(root: Path, *, event_type: str, event_laps: int, with_round: bool) -> None:
    """The captured Race.json and Result.json in an event folder; the event's own files (not captured) minimal."""
    folder = root / "events" / NEW_EVENT
    (folder / NEW_RACE).mkdir(parents=True, exist_ok=True)
    (root / "httpfiles").mkdir(exist_ok=True)
    for name in ("Race.json", "Result.json"):
        (folder / NEW_RACE / name).write_bytes((NEW_CAPTURE / name).read_bytes())
    write_json(
        root / "httpfiles" / "Channels.json",
        [{"Number": 1, "Band": "Raceband", "ChannelPrefix": "R", "Frequency": 5658, "ID": NEW_CHANNEL}],
    )
    write_json(folder / "Pilots.json", [{"Name": "Mac", "ID": NEW_PILOT, "ExternalID": 0}])
    rounds = [{"RoundNumber": 2, "EventType": "Race", "Valid": True, "Order": 200, "ID": NEW_ROUND}]
    write_json(folder / "Rounds.json", rounds if with_round else [])
    write_json(folder / "Stages.json", [])
    event = {
        "EventType": event_type,
        "Name": "Mac side",
        "Start": "2025/08/01 0:00:00",
        "Laps": event_laps,
        "PBLaps": 2,
        "PrimaryTimingSystemLocation": "Holeshot",
        "PilotChannels": [{"Pilot": NEW_PILOT, "Channel": NEW_CHANNEL}],
        "Rounds": [NEW_ROUND] if with_round else [],
        "Races": [NEW_RACE],
        "Channels": [NEW_CHANNEL],
        "RulesLocked": True,
        "TimeZone": "UTC",
        "Flags": ["2025/08/01 17:56:40.5"],
        "ID": NEW_EVENT,
    }
    write_json(folder / "Event.json", [event])


def _best_race_time(pb: RunningPocketBase) -> float:
    rows = pb.records("pilotBests", f'event = "{record_id(NEW_EVENT)}"')
    assert len(rows) == 1
    return float(rows[0]["bestRaceTime"])  # type: ignore[arg-type]


def test_new_capture_race_time_uses_event_laps_only_in_race_events(pb: RunningPocketBase, tmp_path: Path) -> None:
    """The FPVMacSideCore race (TargetLaps 4, holeshot, laps 1-5), worked out by hand:

    - ``Event.Laps`` 3 (``LapRecordManager`` ``UpdateRaceTime(Event.Laps)``, not the race's TargetLaps): holeshot +
      laps 1-3, ``Ext.TotalTime`` = lap 3's end 17:56:37.941 - the holeshot's start (17:56:29.196 - 1.4108415 s)
      = 10.1558415 s; with ``Event.Laps`` 4 it is 17:56:39.708 - that start = 11.9228415 s.
    - An event of type TimeTrial has no race times (``EventTypes.HasLapCountLimit``) though the round is a Race.
    - Lap 5 is past the race's target in a ``Race`` race (``Race.GetValidLapsInRace``).
    """
    _needs(NEW_CAPTURE)
    _lay_out_new_capture(tmp_path, event_type="Race", event_laps=3, with_round=True)
    _full(pb, tmp_path, NEW_EVENT)
    assert _best_race_time(pb) == pytest.approx(10.1558415, abs=1e-6)
    race = _races(pb, NEW_EVENT)[NEW_RACE]
    assert (race["name"], race["roundNumber"], race["eventType"], race["bracket"]) == ("Race 2-7", 2, "Race", "")
    laps = {int(lap["lapNumber"]): lap["withinTarget"] for lap in pb.records("laps", f'race = "{race["id"]}"')}  # type: ignore[call-overload]
    assert laps == {0: True, 1: True, 2: True, 3: True, 4: True, 5: False}
    event = pb.records("events", f'id = "{record_id(NEW_EVENT)}"')[0]
    assert (event["locked"], event["flags"]) == (True, ["2025-08-01 17:56:40.500Z"])

    _lay_out_new_capture(tmp_path, event_type="Race", event_laps=4, with_round=True)
    _full(pb, tmp_path, NEW_EVENT)
    assert _best_race_time(pb) == pytest.approx(11.9228415, abs=1e-6)

    _lay_out_new_capture(tmp_path, event_type="TimeTrial", event_laps=4, with_round=True)
    _full(pb, tmp_path, NEW_EVENT)
    assert _best_race_time(pb) == 0


def test_new_capture_race_of_a_round_missing_from_rounds_json(pb: RunningPocketBase, tmp_path: Path) -> None:
    """``DB/JSON/Race.cs`` ``GetRaceLibObject``: the captured race's round is not in (an empty) Rounds.json and the
    race is valid, so FPVTrackside makes up round 1 (0 + 1) of type Unknown: "Unknown 1-7". An Unknown race is not a
    ``Race`` race: no lap is past the target and it has no race time."""
    _needs(NEW_CAPTURE)
    _lay_out_new_capture(tmp_path, event_type="Race", event_laps=4, with_round=False)
    _full(pb, tmp_path, NEW_EVENT)
    race = _races(pb, NEW_EVENT)[NEW_RACE]
    assert (race["name"], race["roundNumber"], race["eventType"], race["round"]) == ("Unknown 1-7", 1, "Unknown", "")
    assert race["extra"] == {"unresolved": {"Round": NEW_ROUND}}
    assert all(lap["withinTarget"] for lap in pb.records("laps", f'race = "{race["id"]}"'))
    assert _best_race_time(pb) == 0


# -- generated variants -------------------------------------------------------------------------------------------


def _race_ids(root: Path, event_id: str) -> list[str]:
    return sorted(p.name for p in (root / "events" / event_id).iterdir() if p.is_dir())


def source_event(root: Path, event_id: str) -> GeneratedEvent:
    """A captured event folder described like a generated one, for ``Source``."""
    return GeneratedEvent(
        root=root,
        event_id=event_id,
        pilot_ids=[],
        round_ids=[],
        stage_ids=[],
        race_ids=_race_ids(root, event_id),
        deleted_race_id=None,
        missing_race_id=None,
        invalid_race_id=None,
        running_race_id=None,
        unstarted_race_ids=[],
    )


def _vary(event: GeneratedEvent) -> dict[str, str]:
    """Other event types, brackets, a round-less race, a race of a missing round, Event.Laps != TargetLaps."""
    folder = event.event_dir()
    document = read(folder / "Event.json")
    document[0]["Laps"] = document[0]["Laps"] + 1
    write_json(folder / "Event.json", document)
    rounds = read(folder / "Rounds.json")
    valid_races = [r for r in rounds if r["Valid"] and r["EventType"] == "Race"]
    valid_races[0]["EventType"] = "TimeTrial"
    write_json(folder / "Rounds.json", rounds)
    finished = [rid for rid in event.finished_race_ids if read(event.race_file(rid))[0]["Valid"]]
    roundless, orphan, lettered = finished[-1], finished[-2], event.unstarted_race_ids[0]
    for race_id, round_guid, bracket in (
        (roundless, ZERO_GUID, None),
        (orphan, "cccccccc-0000-4000-8000-00000000000c", None),
        (lettered, None, "Q"),
    ):
        race = read(event.race_file(race_id))
        if round_guid is not None:
            race[0]["Round"] = round_guid
        if bracket is not None:
            race[0]["Bracket"] = bracket
        write_json(event.race_file(race_id), race)
    return {"roundless": roundless, "orphan": orphan, "lettered": lettered, "timeTrialRound": valid_races[0]["ID"]}


@pytest.mark.parametrize("legacy", [False, True], ids=["newer", "older"])
def test_generated_variants_match_an_independent_computation(
    shared_pb: RunningPocketBase, tmp_path: Path, legacy: bool
) -> None:
    """Names (``Race.RaceName``), round numbers and types (``Race.RoundNumber``, ``Race.Type``,
    ``DB/JSON/Race.cs`` ``GetRaceLibObject``), lap target flags (``Race.GetValidLapsInRace``), pilot bests
    (``LapRecordManager``), the stage standings (``ResultManager``) and pilotSchedule, for an event whose files were
    changed the ways real events differ."""
    event = generate_event(tmp_path, EventSpec(seed=31, pilots=8, rounds=6, legacy=legacy))
    varied = _vary(event)
    _full(shared_pb, event.root, event.event_id)
    source = Source(event)
    stored = _races(shared_pb, event.event_id)
    for race in source.races.values():
        row = stored[race.id]
        bracket = read(event.race_file(race.id))[0].get("Bracket")
        want = rules.race_name(race.kind, race.round_number, race.number, bracket)
        assert (row["name"], row["roundNumber"], row["eventType"]) == (want, race.round_number, race.kind), race.id
    assert stored[varied["roundless"]]["name"].endswith(f" 1-{source.races[varied['roundless']].number}")
    assert stored[varied["orphan"]]["name"].startswith("Unknown ")
    assert stored[varied["lettered"]]["name"].endswith(" (Q)")
    assert any(r.kind == "TimeTrial" and r.laps for r in source.races.values())

    laps = {str(lap["sourceId"]): lap for lap in shared_pb.records("laps", f'event = "{record_id(event.event_id)}"')}
    for race in source.races.values():
        for lap in race.laps:
            assert laps[lap.id]["withinTarget"] is lap.within, (race.kind, lap.number)
    assert_bests(shared_pb, event, source)
    assert any(row["bestRaceTime"] for row in source.pilot_bests().values())
    assert_schedule(shared_pb, event, source)

    expected = source.stage_leaderboard()
    rows = shared_pb.records("stageLeaderboard", f'event = "{record_id(event.event_id)}"')
    found = {(str(r["stage"]), str(r["pilot"])): (r["points"], r["droppedPoints"], r["rolloverPoints"]) for r in rows}
    assert found == {
        (record_id(st) if st else "", record_id(p)): (w["points"], w["droppedPoints"], w["rolloverPoints"])
        for (st, p), w in expected.items()
    }


def test_race_times_exist_only_in_race_events(shared_pb: RunningPocketBase, tmp_path: Path) -> None:
    """``RaceLib/LapRecordManager.cs`` ``UpdatePilot``: ``if (Event.EventType.HasLapCountLimit())``: an event of
    another type (here Endurance) has no race times, even for its Race rounds; lap records stay."""
    event = generate_event(tmp_path, EventSpec(seed=32, pilots=6, rounds=4))
    document = read(event.event_dir() / "Event.json")
    document[0]["EventType"] = "Endurance"
    write_json(event.event_dir() / "Event.json", document)
    _full(shared_pb, event.root, event.event_id)
    rows = shared_pb.records("pilotBests", f'event = "{record_id(event.event_id)}"')
    assert rows and all(row["bestRaceTime"] == 0 and row["bestRaceTimeRace"] == "" for row in rows)
    assert any(row["fastestLap"] for row in rows)
    assert_bests(shared_pb, event, Source(event))
