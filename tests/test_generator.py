"""The event generator, checked on the files it writes (parsed with plain ``json``), not on its internals."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from fpvsync.trackside.generator import (
    NOT_SET,
    ZERO_GUID,
    EventSpec,
    GeneratedEvent,
    channel_id,
    format_date,
    format_span,
    generate_event,
    write_json,
)

REPO = Path(__file__).resolve().parent.parent
DATE = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$")
SPAN = re.compile(r"^-?(?:\d+\.)?\d{2}:\d{2}:\d{2}(?:\.\d{7})?$")
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def load(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8"))


def parse_date(text: str) -> datetime:
    match = DATE.match(text)
    assert match, f"bad date {text!r}"
    year, month, day, hour, minute, second, fraction = match.groups()
    assert not fraction or not fraction.endswith("0"), f"trailing zero in {text!r}"
    assert len(hour) == 1 or not hour.startswith("0"), f"zero-padded hour in {text!r}"
    millis = int((fraction or "0").ljust(3, "0"))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), millis * 1000)


def span_seconds(text: str) -> float:
    assert SPAN.match(text), f"bad span {text!r}"
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("-")
    days = 0
    if "." in text.split(":")[0]:
        day_text, text = text.split(".", 1)
        days = int(day_text)
    hours, minutes, seconds = text.split(":")
    return sign * (days * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds))


class Folder:
    """An event folder read back from disk."""

    def __init__(self, event: GeneratedEvent) -> None:
        self.event = event
        self.dir = event.event_dir()
        self.channels = {c["ID"]: c for c in load(event.root / "httpfiles" / "Channels.json")}
        self.ev = load(self.dir / "Event.json")[0]
        self.pilots = {p["ID"]: p for p in load(self.dir / "Pilots.json")}
        self.rounds = {r["ID"]: r for r in load(self.dir / "Rounds.json")}
        stages = self.dir / "Stages.json"
        self.stages = {s["ID"]: s for s in load(stages)} if stages.exists() else {}
        self.races: dict[str, dict[str, Any]] = {}
        self.results: dict[str, list[dict[str, Any]]] = {}
        for race_id in event.race_ids:
            race_file = self.dir / race_id / "Race.json"
            if race_file.exists() and load(race_file):
                self.races[race_id] = load(race_file)[0]
            result_file = self.dir / race_id / "Result.json"
            if result_file.exists():
                self.results[race_id] = load(result_file)

    def all_races(self) -> list[dict[str, Any]]:
        return list(self.races.values())

    def holeshot_races(self) -> list[dict[str, Any]]:
        return [r for r in self.all_races() if r["PrimaryTimingSystemLocation"] == "Holeshot" and r["Detections"]]


@pytest.fixture(scope="module")
def default_event(tmp_path_factory: pytest.TempPathFactory) -> GeneratedEvent:
    return generate_event(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def folder(default_event: GeneratedEvent) -> Folder:
    return Folder(default_event)


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    return Folder(generate_event(tmp_path_factory.mktemp("legacy"), EventSpec(seed=5, legacy=True)))


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# ---- value formats ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (datetime(2025, 1, 29), "2025/01/29 0:00:00"),
        (datetime(2025, 1, 30, 16, 0, 57, 850000), "2025/01/30 16:00:57.85"),
        (datetime(2025, 5, 3, 14, 39, 20, 325000), "2025/05/03 14:39:20.325"),
        (datetime(2025, 5, 3, 9, 5, 7, 1000), "2025/05/03 9:05:07.001"),
        (datetime(2025, 5, 3, 9, 5, 7, 999999), "2025/05/03 9:05:07.999"),
        (datetime(2025, 5, 3, 9, 5, 7, 500), "2025/05/03 9:05:07"),
        (datetime(1, 1, 1), NOT_SET),
        (None, "0001/01/01 0:00:00"),
    ],
)
def test_format_date(value: datetime | None, text: str) -> None:
    assert format_date(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (120, "00:02:00"),
        (0.5, "00:00:00.5000000"),
        (511.5605717, "00:08:31.5605717"),
        (93784, "1.02:03:04"),
        (0, "00:00:00"),
        (-1.5, "-00:00:01.5000000"),
        (86400 * 12 + 0.25, "12.00:00:00.2500000"),
    ],
)
def test_format_span(seconds: float, text: str) -> None:
    assert format_span(seconds) == text


def test_channel_id() -> None:
    assert channel_id(1) == "00000001-0000-0000-0000-000000000000"
    assert channel_id(16) == "00000010-0000-0000-0000-000000000000"
    assert channel_id(81) == "00000051-0000-0000-0000-000000000000"


def test_write_json_formatting(tmp_path: Path) -> None:
    path = tmp_path / "a" / "x.json"
    write_json(path, [{"Name": 'Zürich "N" \\ \n', "Prefix": "\u0000", "List": []}])
    raw = path.read_bytes()
    assert raw == (
        b'[\r\n  {\r\n    "Name": "Z\xc3\xbcrich \\"N\\" \\\\ \\n",\r\n    "Prefix": "\\u0000",\r\n'
        b'    "List": []\r\n  }\r\n]'
    )


# ---- determinism and layout ---------------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    spec = EventSpec(seed=11)
    first = generate_event(tmp_path / "a", spec)
    second = generate_event(tmp_path / "b", spec)
    assert first.event_id == second.event_id
    assert first.pilot_ids == second.pilot_ids
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    # Generating again into the same root replaces the event with the same bytes.
    generate_event(tmp_path / "a", spec)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def test_different_seeds_differ(tmp_path: Path) -> None:
    one = generate_event(tmp_path / "a", EventSpec(seed=1))
    two = generate_event(tmp_path / "b", EventSpec(seed=2))
    assert one.event_id != two.event_id
    assert set(one.race_ids).isdisjoint(two.race_ids)
    files_one = {k.split("/", 2)[-1]: v for k, v in tree(tmp_path / "a").items() if k.startswith("events")}
    files_two = {k.split("/", 2)[-1]: v for k, v in tree(tmp_path / "b").items() if k.startswith("events")}
    assert files_one["Event.json"] != files_two["Event.json"]
    assert files_one["Pilots.json"] != files_two["Pilots.json"]


def test_layout(folder: Folder, default_event: GeneratedEvent) -> None:
    root, ev = default_event.root, default_event
    assert (root / "httpfiles" / "Channels.json").is_file()
    for name in ("Event.json", "Pilots.json", "Rounds.json", "Stages.json", "Results.json"):
        assert (ev.event_dir() / name).is_file(), name
    assert set(folder.ev["Races"]) == set(ev.race_ids)
    assert len(ev.race_ids) == len(set(ev.race_ids))
    assert folder.ev["Races"] == sorted(folder.ev["Races"])  # like a folder listing
    for race_id in ev.race_ids:
        if race_id == ev.missing_race_id:
            assert not (ev.event_dir() / race_id).exists()
        else:
            assert ev.race_file(race_id).is_file()
    assert ev.race_file(ev.deleted_race_id or "").read_bytes() == b"[]"
    assert not ev.result_file(ev.deleted_race_id or "").exists()
    # Every folder in the event is listed.
    folders = {p.name for p in ev.event_dir().iterdir() if p.is_dir()}
    assert folders <= set(ev.race_ids)
    # race_ids: scheduled races in event order, then the deleted and the missing race.
    scheduled = ev.race_ids[:-2]
    keys = [(folder.rounds[folder.races[r]["Round"]]["Order"], folder.races[r]["RaceNumber"]) for r in scheduled]
    assert keys == sorted(keys)
    assert ev.race_ids[-2:] == [ev.deleted_race_id, ev.missing_race_id]


def test_files_are_utf8_crlf_without_bom(default_event: GeneratedEvent) -> None:
    files = list(default_event.root.rglob("*.json"))
    assert len(files) > 30
    for path in files:
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), path
        raw.decode("utf-8")
        if raw != b"[]":
            assert b"\r\n" in raw, path
            assert raw.count(b"\n") == raw.count(b"\r\n"), path
            assert raw.split(b"\r\n")[1].startswith(b"  {"), path
    names = (default_event.event_dir() / "Pilots.json").read_bytes().decode("utf-8")
    assert "Łukasz" in names or "日本の鷹" in names  # not \u-escaped


# ---- content --------------------------------------------------------------------------------------------------


def test_channels(folder: Folder) -> None:
    channels = list(folder.channels.values())
    assert len(channels) >= 48
    by_number = {int(c["ID"].split("-")[0], 16): c for c in channels}
    for n in range(1, 9):
        assert (by_number[n]["Band"], by_number[n]["Number"], by_number[n]["ShortBand"]) == ("Fatshark", n, "F")
        assert (by_number[n + 8]["Band"], by_number[n + 8]["Number"]) == ("Raceband", n)
    assert by_number[9]["Frequency"] == 5658
    assert {"A", "B", "E"} <= {c["Band"] for c in channels}
    assert all(c["ID"] == channel_id(n) for n, c in by_number.items())
    assert all(isinstance(c["Frequency"], int) and c["Frequency"] > 5000 for c in channels)
    prefixes = Counter(c["ChannelPrefix"] for c in channels)
    assert prefixes["\u0000"] > len(channels) / 2
    assert all(len(p) == 1 for p in prefixes)
    names = [c["DisplayName"] for c in channels]
    assert names.count(None) > len(names) - 5


def test_channels_json_is_shared_between_events(tmp_path: Path) -> None:
    one = generate_event(tmp_path, EventSpec(seed=1))
    before = (tmp_path / "httpfiles" / "Channels.json").read_bytes()
    two = generate_event(tmp_path, EventSpec(seed=2, legacy=True))
    assert (tmp_path / "httpfiles" / "Channels.json").read_bytes() == before
    assert one.event_dir().is_dir()
    assert two.event_dir().is_dir()
    assert len(list((tmp_path / "events").iterdir())) == 2


def test_event(folder: Folder, default_event: GeneratedEvent) -> None:
    ev = folder.ev
    assert len(load(default_event.event_dir() / "Event.json")) == 1
    for key in [
        "EventType",
        "Name",
        "Start",
        "End",
        "Laps",
        "PBLaps",
        "PackLimit",
        "RaceLength",
        "MinStartDelay",
        "MaxStartDelay",
        "PrimaryTimingSystemLocation",
        "RaceStartIgnoreDetections",
        "MinLapTime",
        "LastOpened",
        "PilotChannels",
        "RemovedPilots",
        "Rounds",
        "Races",
        "Club",
        "Channels",
        "ChannelColors",
        "ChannelDisplayNames",
        "Enabled",
        "VisibleOnline",
        "Track",
        "Sectors",
        "PilotsRegistered",
        "Flags",
        "GameTypeName",
        "TimeZone",
        "ID",
        "ExternalID",
    ]:
        assert key in ev, key
    assert list(ev)[-2:] == ["ID", "ExternalID"]
    assert ev["ID"] == default_event.event_id
    assert ev["Name"] == 'Zürich "Night" Cup \\ 2025'
    assert ev["TimeZone"] == "Europe/Berlin"
    assert ev["Laps"] == 3
    assert ev["PrimaryTimingSystemLocation"] == "Holeshot"
    for key in ("RaceLength", "MinStartDelay", "MaxStartDelay", "RaceStartIgnoreDetections", "MinLapTime"):
        span_seconds(ev[key])
    parse_date(ev["Start"])
    assert ev["End"] == NOT_SET
    parse_date(ev["LastOpened"])
    frequencies = [folder.channels[c]["Frequency"] for c in ev["Channels"]]
    assert frequencies == sorted(frequencies)
    assert len(ev["ChannelColors"]) == 8
    assert all(re.fullmatch(r"#[0-9A-F]{6}", c) for c in ev["ChannelColors"])
    assert len(ev["ChannelDisplayNames"]) == len(ev["Channels"])
    assert ev["Rounds"] == default_event.round_ids
    assert ev["Club"] == ZERO_GUID
    assert "FutureField" in ev
    # Roster and removed pilot.
    roster = {pc["Pilot"] for pc in ev["PilotChannels"]}
    assert all(GUID.match(pc["ID"]) and pc["Channel"] in ev["Channels"] for pc in ev["PilotChannels"])
    assert len(ev["RemovedPilots"]) == 1
    removed = ev["RemovedPilots"][0]
    assert removed in folder.pilots
    assert removed not in roster
    assert roster <= set(folder.pilots)
    assert ev["PilotsRegistered"] == sum(1 for p in roster if not folder.pilots[p]["PracticePilot"])
    assert all(parse_date(flag) for flag in ev["Flags"])


def test_pilots(folder: Folder, default_event: GeneratedEvent) -> None:
    pilots = list(folder.pilots.values())
    assert [p["ID"] for p in pilots] == default_event.pilot_ids
    assert len(pilots) == 16 + 2
    practice = [p for p in pilots if p["PracticePilot"]]
    assert len(practice) == 1
    assert practice[0]["ID"] in {pc["Pilot"] for pc in folder.ev["PilotChannels"]}
    names = [p["Name"] for p in pilots]
    assert len(set(names)) == len(names)
    assert any(ord(ch) > 0x2FFF for n in names for ch in n)  # CJK or emoji
    assert any(any(ch in "ŁłØøÜüÖöŽž" for ch in n) for n in names)
    assert any('"' in n for n in names)
    assert any("\\" in n for n in names)
    for key in (
        "Phonetic",
        "FirstName",
        "LastName",
        "SillyName",
        "DiscordID",
        "Aircraft",
        "CatchPhrase",
        "BestResult",
        "TimingSensitivityPercent",
        "PhotoPath",
        "VelocidroneUID",
        "VideoFlipped",
        "VideoMirrored",
        "ID",
        "ExternalID",
    ):
        assert all(key in p for p in pilots), key


def test_pilots_keep_their_guid_across_events(tmp_path: Path) -> None:
    one = Folder(generate_event(tmp_path / "a", EventSpec(seed=1)))
    two = Folder(generate_event(tmp_path / "b", EventSpec(seed=3)))
    shared = set(one.pilots) & set(two.pilots)
    assert shared
    for pid in shared:
        a = {k: v for k, v in one.pilots[pid].items() if k != "FutureField"}
        b = {k: v for k, v in two.pilots[pid].items() if k != "FutureField"}
        assert a == b


def test_rounds_and_stages(folder: Folder, default_event: GeneratedEvent) -> None:
    rounds = list(folder.rounds.values())
    assert [r["ID"] for r in rounds] == default_event.round_ids
    assert list(folder.stages) == default_event.stage_ids
    for rnd in rounds:
        assert rnd["Stage"] in folder.stages
        assert "RoundType" not in rnd
        assert "PointSummary" not in rnd
        parse_date(rnd["ScheduledStart"])
    types = {r["EventType"] for r in rounds}
    assert "Practise" in types
    assert types & {"AggregateLaps", "Enduro"}
    invalid = [r for r in rounds if not r["Valid"]]
    assert len(invalid) == 1
    races_of_invalid = [r for r in folder.all_races() if r["Round"] == invalid[0]["ID"]]
    assert races_of_invalid
    assert all(folder.results.get(r["ID"]) for r in races_of_invalid)
    final = max(rounds, key=lambda r: r["Order"])
    assert folder.stages[final["Stage"]]["StageType"] == 4
    assert {s["StageType"] for s in folder.stages.values()} == {0, 4}
    standings = [s["Standings"] for s in folder.stages.values() if s["Standings"]]
    assert standings
    assert all(row["PilotId"] in folder.pilots for row in standings[0]["Rows"])


def test_relations_resolve(folder: Folder, default_event: GeneratedEvent) -> None:
    for race in folder.all_races():
        assert race["Event"] == default_event.event_id
        assert race["Round"] in folder.rounds
        assert race["TargetLaps"] == folder.ev["Laps"]
        for pc in race["PilotChannels"]:
            assert pc["Pilot"] in folder.pilots
            assert pc["Channel"] in folder.channels
        pilots = {pc["Pilot"] for pc in race["PilotChannels"]}
        assert len({pc["Channel"] for pc in race["PilotChannels"]}) == len(pilots)
        for d in race["Detections"]:
            assert d["Pilot"] in pilots
            assert d["Channel"] in folder.channels
        for gp in race.get("GamePoints") or []:
            assert gp["Pilot"] in pilots
            assert gp["Channel"] in folder.channels
    for race_id, results in folder.results.items():
        race = folder.races[race_id]
        for result in results:
            assert result["Race"] == race_id
            assert result["Round"] == race["Round"]
            assert result["Pilot"] in folder.pilots
            assert result["Event"] == default_event.event_id
    for result in load(default_event.event_dir() / "Results.json"):
        assert result["Round"] in folder.rounds
        assert result["Pilot"] in folder.pilots


def test_laps_and_detections_are_consistent(folder: Folder) -> None:
    sub_second = 0
    for race in folder.all_races():
        detections = {d["ID"]: d for d in race["Detections"]}
        assert len(detections) == len(race["Detections"])
        for d in race["Detections"]:
            assert d["RaceSector"] == d["LapNumber"] * 100 + d["TimingSystemIndex"]
            assert d["IsLapEnd"] == (d["TimingSystemIndex"] == 0)
            assert d["ValidityType"] in {"Auto", "ManualOverride", "Marshall"}
            sub_second += "." in d["Time"]
        lapped = set()
        for lap in race["Laps"]:
            d = detections[lap["Detection"]]
            assert d["IsLapEnd"] is True
            assert d["TimingSystemIndex"] == 0
            assert lap["LapNumber"] == d["LapNumber"]
            assert lap["EndTime"] == d["Time"]
            length = parse_date(lap["EndTime"]) - parse_date(lap["StartTime"])
            assert length == timedelta(seconds=lap["LengthSeconds"])
            assert lap["LengthSeconds"] > 0
            lapped.add(lap["Detection"])
        # Split detections never make laps; every finish-line pass does.
        assert lapped == {i for i, d in detections.items() if d["IsLapEnd"]}
        times = [parse_date(d["Time"]) for d in race["Detections"]]
        assert times == sorted(times)
    assert sub_second > 100


def test_holeshot(folder: Folder) -> None:
    races = folder.holeshot_races()
    assert races
    for race in races:
        first: dict[str, dict[str, Any]] = {}
        for d in race["Detections"]:
            if d["Valid"] and d["IsLapEnd"]:
                first.setdefault(d["Pilot"], d)
        for d in first.values():
            assert d["LapNumber"] == 0
            assert d["IsHoleshot"] is True
        assert sum(d["IsHoleshot"] for d in race["Detections"]) == len(first)
        zero_laps = [lap for lap in race["Laps"] if lap["LapNumber"] == 0]
        assert len(zero_laps) == len(first)
    end_of_lap = [r for r in folder.all_races() if r["PrimaryTimingSystemLocation"] == "EndOfLap"]
    assert end_of_lap
    for race in end_of_lap:
        assert not any(d["IsHoleshot"] or d["LapNumber"] == 0 for d in race["Detections"])


def test_invalid_passes_repeat_the_lap_number(folder: Folder) -> None:
    kinds = set()
    for race in folder.all_races():
        for i, d in enumerate(race["Detections"]):
            if d["Valid"]:
                continue
            kinds.add(d["ValidityType"])
            assert d["IsLapEnd"]
            later = [
                x for x in race["Detections"][i + 1 :] if x["Pilot"] == d["Pilot"] and x["Valid"] and x["IsLapEnd"]
            ]
            assert later
            assert later[0]["LapNumber"] == d["LapNumber"]
            laps = Counter(
                lap["LapNumber"]
                for lap in race["Laps"]
                if next(x for x in race["Detections"] if x["ID"] == lap["Detection"])["Pilot"] == d["Pilot"]
            )
            assert laps[d["LapNumber"]] >= 2
    assert kinds == {"Marshall", "ManualOverride"}


def test_race_features_present(folder: Folder, default_event: GeneratedEvent) -> None:
    races = folder.all_races()
    # Split timers.
    splits = [d for r in races for d in r["Detections"] if d["TimingSystemIndex"] > 0]
    assert splits
    assert {d["TimingSystemIndex"] for d in splits} == {1, 2}
    assert not any(d["IsLapEnd"] for d in splits)
    # Laps past the target, +1 and +2.
    beyond: Counter[int] = Counter()
    for race in races:
        valid = Counter(d["Pilot"] for d in race["Detections"] if d["Valid"] and d["IsLapEnd"] and d["LapNumber"])
        beyond.update(n - race["TargetLaps"] for n in valid.values() if n > race["TargetLaps"])
    assert beyond[1]
    assert beyond[2]
    # Pause, brackets, game points, handicaps, unknown keys.
    assert any(span_seconds(r["TotalPausedTime"]) > 0 for r in races)
    assert {r["Bracket"] for r in races} >= {"None", "Winners", "Losers", "A"}
    assert any(r.get("GamePoints") for r in races)
    assert any(r.get("GamePoints") == [] for r in races)
    offsets = [span_seconds(pc["HandicapOffset"]) for r in races for pc in r["PilotChannels"] if "HandicapOffset" in pc]
    assert any(o > 0 for o in offsets)
    assert any("FutureField" in r for r in races)
    assert any("FutureField" in d for r in races for d in r["Detections"])
    assert any("FutureField" in x for rs in folder.results.values() for x in rs)
    # Dates with sub-second precision on race starts.
    started = [r for r in races if r["Start"] != NOT_SET]
    assert any("." in r["Start"] for r in started)
    assert all(parse_date(r["Start"]) < parse_date(r["End"]) for r in started if r["End"] != NOT_SET)
    # A DNF.
    assert any(x["DNF"] for rs in folder.results.values() for x in rs)
    # Aliases for the timing system.
    types = {d["TimingSystemType"] for r in races for d in r["Detections"]}
    assert {"LapRF", "LapRF8Way"} <= types


def test_mixed_generations(folder: Folder, default_event: GeneratedEvent) -> None:
    races = folder.all_races()
    old = [r for r in races if "GamePoints" not in r]
    new = [r for r in races if "GamePoints" in r]
    assert old
    assert new
    assert {r["ID"] for r in old} == set(default_event.legacy_shape_race_ids)
    for race in old:
        assert not any("HandicapOffset" in pc for pc in race["PilotChannels"])
        for result in folder.results.get(race["ID"], []):
            assert "Time" not in result
            assert "LapsFinished" not in result
    for race in new:
        assert all("HandicapOffset" in pc for pc in race["PilotChannels"])
        for result in folder.results.get(race["ID"], []):
            assert "Time" in result
            assert "LapsFinished" in result


def test_special_races(folder: Folder, default_event: GeneratedEvent) -> None:
    ev = default_event
    assert ev.invalid_race_id
    assert ev.running_race_id
    assert ev.unstarted_race_ids
    invalid = folder.races[ev.invalid_race_id]
    assert invalid["Valid"] is False
    assert invalid["Laps"]
    assert not ev.result_file(ev.invalid_race_id).exists()
    assert [r for r in folder.all_races() if not r["Valid"]] == [invalid]

    running = folder.races[ev.running_race_id]
    assert running["Start"] != NOT_SET
    assert running["End"] == NOT_SET
    assert running["Laps"]
    assert running["Detections"]
    assert not ev.result_file(ev.running_race_id).exists()

    for race_id in ev.unstarted_race_ids:
        race = folder.races[race_id]
        assert race["Start"] == NOT_SET
        assert race["End"] == NOT_SET
        assert race["Laps"] == []
        assert race["Detections"] == []
        assert race["PilotChannels"]
        assert not ev.result_file(race_id).exists()

    finished = [r["ID"] for r in folder.all_races() if r["End"] != NOT_SET and r["Valid"]]
    assert finished == ev.finished_race_ids
    assert set(folder.results) == set(finished)


def test_results(folder: Folder, default_event: GeneratedEvent) -> None:
    for race_id, results in folder.results.items():
        race = folder.races[race_id]
        assert sorted(x["Pilot"] for x in results) == sorted(pc["Pilot"] for pc in race["PilotChannels"])
        assert [x["Position"] for x in results] == list(range(1, len(results) + 1))
        assert [x["Points"] for x in results] == [10, 8, 6, 4, 2, 0, 0, 0][: len(results)]
        assert all(x["ResultType"] == "Race" and x["Valid"] for x in results)
        for x in results:
            counted = {
                d["LapNumber"]
                for d in race["Detections"]
                if d["Pilot"] == x["Pilot"]
                and d["Valid"]
                and d["IsLapEnd"]
                and 1 <= d["LapNumber"] <= race["TargetLaps"]
            }
            assert x["DNF"] == (len(counted) < race["TargetLaps"])
            if "LapsFinished" in x:
                assert x["LapsFinished"] == len(counted)
                span_seconds(x["Time"])
    rollover = load(default_event.event_dir() / "Results.json")
    assert 1 <= len(rollover) <= 4
    assert all(x["ResultType"] == "RoundRollOver" and x["Race"] == ZERO_GUID for x in rollover)


def test_every_guid_is_well_formed(folder: Folder) -> None:
    ids = [folder.ev["ID"], *folder.pilots, *folder.rounds, *folder.stages]
    for race in folder.all_races():
        ids += [race["ID"], *(d["ID"] for d in race["Detections"]), *(lap["ID"] for lap in race["Laps"])]
    assert all(GUID.match(i) for i in ids)
    assert len(ids) == len(set(ids))


# ---- legacy ---------------------------------------------------------------------------------------------------


def test_legacy_event(legacy: Folder) -> None:
    ev = legacy.event
    assert not (ev.event_dir() / "Stages.json").exists()
    assert ev.stage_ids == []
    assert "TimeZone" not in legacy.ev
    assert "MultiGPRaceFormat" in legacy.ev
    assert "Locked" in legacy.ev
    for rnd in legacy.rounds.values():
        assert "Stage" not in rnd
        assert {"RoundType", "PointSummary", "TimeSummary", "LapCountAfterRound", "SheetFormatFilename"} <= set(rnd)
    assert {r["RoundType"] for r in legacy.rounds.values()} == {"Round", "Final"}
    for path in ev.event_dir().rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        for key in ('"GamePoints"', '"HandicapOffset"', '"LapsFinished"', '"VelocidroneUID"', '"FutureField"'):
            assert key not in text, (path, key)
    assert legacy.results
    assert ev.running_race_id
    assert ev.invalid_race_id
    assert all("Time" not in x for rs in legacy.results.values() for x in rs)


# ---- size -----------------------------------------------------------------------------------------------------


def test_large_event_is_quick(tmp_path: Path) -> None:
    started = time.perf_counter()
    event = generate_event(tmp_path, EventSpec(seed=42, pilots=64, rounds=25, laps=3))
    elapsed = time.perf_counter() - started
    assert elapsed < 10, elapsed
    assert 395 <= len(event.race_ids) <= 410
    records = 0
    for race_id in event.race_ids:
        race_file = event.race_file(race_id)
        if race_file.exists():
            for race in load(race_file):
                records += len(race["Detections"]) + len(race["Laps"])
        if event.result_file(race_id).exists():
            records += len(load(event.result_file(race_id)))
    print(f"large event: {len(event.race_ids)} races, {records} detection+lap+result records in {elapsed:.2f}s")
    assert records > 20_000
    assert (
        records
        == event.counts["detections"]
        + event.counts["laps"]
        + event.counts["results"]
        - event.counts["rollover_results"]
    )


def test_small_specs_still_work(tmp_path: Path) -> None:
    for i, spec in enumerate(
        [
            EventSpec(seed=3, pilots=1, rounds=1, laps=1),
            EventSpec(seed=4, pilots=5, rounds=2, pilots_per_race=2),
            EventSpec(seed=6, pilots=7, rounds=3, laps=2, pilots_per_race=8),
        ]
    ):
        event = generate_event(tmp_path / str(i), spec)
        folder = Folder(event)
        assert set(folder.ev["Races"]) == set(event.race_ids)
        assert len(folder.rounds) == spec.rounds
        for race in folder.all_races():
            assert race["Round"] in folder.rounds


def test_bad_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pilots_per_race"):
        generate_event(tmp_path, EventSpec(pilots_per_race=9))
    with pytest.raises(ValueError, match="at least 1"):
        generate_event(tmp_path, EventSpec(pilots=0))


def test_cli(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "generate_event.py"),
            str(tmp_path),
            "--seed",
            "9",
            "--pilots",
            "8",
            "--rounds",
            "3",
            "--laps",
            "2",
            "--legacy",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    event_id = done.stdout.splitlines()[0]
    assert GUID.match(event_id)
    assert "detections" in done.stdout
    event = load(tmp_path / "events" / event_id / "Event.json")[0]
    assert event["Laps"] == 2
    assert "TimeZone" not in event
    assert not (tmp_path / "events" / event_id / "Stages.json").exists()
