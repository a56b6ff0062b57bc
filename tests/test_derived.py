"""Derived race data in PocketBase: lap flags, pilot bests, leaderboards, race order and channel colours.

Expectations are computed here straight from the generated FPVTrackside files with ``json`` (not with fpvsync's
models, mapping or views), by FPVTrackside's rules (see ``fpvsync/derived.py`` and the migration
``1764000100_derived.js``), and compared with what a real PocketBase answers after a real sync.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from fpvsync import derived
from fpvsync.ids import record_id
from fpvsync.trackside.generator import ZERO_GUID, EventSpec, GeneratedEvent, generate_event, write_json
from fpvsync.trackside.models import Channel, Detection, Event, Lap, Race
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read, run_cli, utc_text

NOT_SET = "0001/01/01 0:00:00"
TYPES = {
    "Practise": "Practice",
    "AggregateLaps": "Endurance",
    "Enduro": "Endurance",
    "CasualPractise": "CasualPractice",
}
BAND_ORDER = ["None", "Fatshark", "Raceband", "A", "B", "E", "DJIFPVHD", "HDZero", "LowBand", "Diatone", "DJIO3"]


# -- the event as its files say ---------------------------------------------------------------------------------


@dataclass
class SourceLap:
    id: str
    race: str
    pilot: str
    number: int
    length: float
    end: str  # UTC text: sorts like time
    valid: bool
    holeshot: bool
    within: bool


@dataclass
class SourceRace:
    id: str
    round: str
    number: int
    kind: str  # Race.Type: its round's EventType, else the event's; "Unknown" for a round missing from Rounds.json
    round_number: int  # Race.RoundNumber
    round_order: int | None  # the round's Order (RoundNumber * 100 for a made-up round), None without a round
    valid: bool
    start: str  # UTC text, "" when not started
    end: str
    target: int
    paused: str
    pilots: list[str]
    channels: dict[str, str] = field(default_factory=dict)  # pilot GUID -> channel GUID
    laps: list[SourceLap] = field(default_factory=list)


class Source:
    """An event read from its FPVTrackside files with the ``json`` module."""

    def __init__(self, event: GeneratedEvent) -> None:
        folder = event.event_dir()
        self.event = read(folder / "Event.json")[0]
        self.zone = self.event.get("TimeZone") or "UTC"
        self.rounds = {r["ID"]: r for r in read(folder / "Rounds.json")}
        stages_file = folder / "Stages.json"
        self.stages = {st["ID"]: st for st in read(stages_file)} if stages_file.exists() else {}
        self.pilot_names = {p["ID"]: p["Name"] for p in read(folder / "Pilots.json")}
        self.channels = {c["ID"]: c for c in read(event.root / "httpfiles" / "Channels.json")}
        self.races: dict[str, SourceRace] = {}
        self.results: list[dict[str, Any]] = []
        for race_id in event.race_ids:
            path = event.race_file(race_id)
            document = read(path) if path.exists() else []
            if not document:
                continue
            self.races[race_id] = self._race(document[0])
            if event.result_file(race_id).exists():
                self.results.extend(read(event.result_file(race_id)))
        if (folder / "Results.json").exists():
            self.results.extend(read(folder / "Results.json"))

    def time(self, text: str) -> str:
        return "" if text == NOT_SET else utc_text(text, self.zone)

    def _race(self, race: dict[str, Any]) -> SourceRace:
        # Race.RoundNumber / Race.Type, and DB/JSON/Race.cs GetRaceLibObject for a round missing from Rounds.json.
        round_obj = self.rounds.get(race["Round"])
        kind, number, order = self.event["EventType"], 1, None
        if round_obj is not None:
            kind = round_obj.get("EventType") or kind
            number, order = round_obj["RoundNumber"], round_obj["Order"]
        elif race["Round"] != ZERO_GUID and race["Valid"]:
            kind, number = "Unknown", 1 + max((r["RoundNumber"] for r in self.rounds.values()), default=0)
            order = number * 100
        holeshot_mode = race["PrimaryTimingSystemLocation"] == "Holeshot"
        detections = {d["ID"]: d for d in race["Detections"]}
        source = SourceRace(
            id=race["ID"],
            round=race["Round"],
            number=race["RaceNumber"],
            kind=TYPES.get(kind, kind),
            round_number=number,
            round_order=order,
            valid=race["Valid"],
            start=self.time(race["Start"]),
            end=self.time(race["End"]),
            target=race["TargetLaps"],
            paused=race["TotalPausedTime"],
            pilots=[pc["Pilot"] for pc in race["PilotChannels"]],
            channels={pc["Pilot"]: pc["Channel"] for pc in race["PilotChannels"]},
        )
        for lap in race["Laps"]:
            detection = detections[lap["Detection"]]
            holeshot = holeshot_mode and detection["IsHoleshot"]
            source.laps.append(
                SourceLap(
                    id=lap["ID"],
                    race=race["ID"],
                    pilot=detection["Pilot"],
                    number=lap["LapNumber"],
                    length=lap["LengthSeconds"],
                    end=self.time(lap["EndTime"]),
                    valid=detection["Valid"] and lap["LengthSeconds"] > 0,
                    holeshot=holeshot,
                    # Race.GetValidLapsInRace: only "Race" races cut at the target.
                    within=holeshot or source.kind != "Race" or lap["LapNumber"] <= race["TargetLaps"],
                )
            )
        return source

    # -- expectations ------------------------------------------------------------------------------------------

    def pilot_bests(self) -> dict[str, dict[str, Any]]:
        """pilot GUID -> the pilotBests row FPVTrackside's rules give (GUIDs for races and rounds)."""
        pb_laps = self.event["PBLaps"]
        rows: dict[str, dict[str, Any]] = {}
        races = [r for r in self.races.values() if r.valid]
        for pilot in sorted({p for r in self.races.values() for p in r.pilots}):
            row: dict[str, Any] = {
                "racesFlown": sum(1 for r in races if pilot in r.pilots and r.start),
                "validLaps": sum(
                    1 for r in races for lap in r.laps if lap.pilot == pilot and lap.valid and not lap.holeshot
                ),
                "fastestLap": None,
                "fastestConsecutive": None,
                "fastestHoleshot": None,
                "bestRaceTime": None,
            }
            records = [r for r in races if r.kind != "Practice"]
            laps = [lap for r in records for lap in r.laps if lap.pilot == pilot and lap.valid and not lap.holeshot]
            if laps:
                best = min(laps, key=lambda lap: (lap.length, lap.end, lap.number))
                row["fastestLap"] = (best.length, best.race)
            holeshots = [lap for r in records for lap in r.laps if lap.pilot == pilot and lap.valid and lap.holeshot]
            if holeshots:
                best = min(holeshots, key=lambda lap: (lap.length, lap.end, lap.number))
                row["fastestHoleshot"] = (best.length, best.race)
            windows = []
            for race in records:
                ordered = sorted(
                    (lap for lap in race.laps if lap.pilot == pilot and lap.valid and not lap.holeshot),
                    key=lambda lap: (lap.end, lap.number),
                )
                for i in range(len(ordered) - pb_laps + 1):
                    window = ordered[i : i + pb_laps]
                    windows.append((round(sum(lap.length for lap in window), 7), window[-1].end, race.id))
            if windows and pb_laps > 0:
                total, _, race_id = min(windows)
                row["fastestConsecutive"] = (total, race_id)
            times = []
            event_laps = self.event["Laps"]
            # LapRecordManager.UpdatePilot: race times only in a "Race" event (EventTypes.HasLapCountLimit).
            for race in races if self.event["EventType"] == "Race" and event_laps > 0 else []:
                if race.kind != "Race":
                    continue
                ordered = sorted(
                    (lap for lap in race.laps if lap.pilot == pilot and lap.valid),
                    key=lambda lap: (lap.end, lap.number),
                )
                need = event_laps + (1 if ordered and ordered[0].holeshot else 0)
                if len(ordered) >= need:
                    times.append((total_time(ordered[:need]), race.start, race.id))
            if times:
                total, _, race_id = min(times)
                row["bestRaceTime"] = (total, race_id)
            rows[pilot] = row
        return rows

    def leaderboard(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(round GUID, pilot GUID) -> points, rank, races, wins, DNFs of the round."""
        rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"points": 0, "racePoints": 0, "rolloverPoints": 0, "races": 0, "wins": 0, "dnfs": 0}
        )
        for result in self.results:
            race = self.races.get(result["Race"])
            if not result["Valid"] or (result["ResultType"] != "RoundRollOver" and (race is None or not race.valid)):
                continue
            row = rows[(result["Round"], result["Pilot"])]
            row["points"] += result["Points"]
            if result["ResultType"] == "RoundRollOver":
                row["rolloverPoints"] += result["Points"]
            else:
                row["racePoints"] += result["Points"]
                row["races"] += 1
                row["wins"] += result["Position"] == 1
                row["dnfs"] += result["DNF"]
        for (round_id, _), row in rows.items():
            others = [r["points"] for (other, _), r in rows.items() if other == round_id]
            row["position"] = 1 + sum(points > row["points"] for points in others)
        return dict(rows)

    def stage_leaderboard(self) -> dict[tuple[str, str], dict[str, int]]:
        """(stage GUID or "", pilot GUID) -> points after FPVTrackside's ``ResultManager`` rules.

        ``GetStagePointRaces``: valid races of the stage's valid rounds whose type has points (Race, Endurance).
        ``GetCreateResults``: a roll-over result counts only in a final stage asking for RoundPositionRollover, for a
        pilot listed in one of its races (``Race.HasPilot``, started or not). ``GetPointsTotal``: with DropWorstRound,
        more than one result and no missed round (``RoundManager.CountRounds`` from the pilot's first to last round),
        the lowest result is dropped.
        """
        valid_rounds = {guid: r for guid, r in self.rounds.items() if r["Valid"]}

        def group(round_obj: dict[str, Any]) -> str:
            stage = round_obj.get("Stage")
            return "" if not stage or stage.strip("0-") == "" else str(stage)

        def settings(key: str) -> dict[str, Any]:
            if key in self.stages:
                return self.stages[key].get("PointSummary") or {}
            mine = [r for r in valid_rounds.values() if group(r) == key and isinstance(r.get("PointSummary"), dict)]
            return max(mine, key=lambda r: r["Order"])["PointSummary"] if mine else {}

        def final(key: str) -> bool:
            if key in self.stages:
                return self.stages[key].get("StageType") in (4, "Final")
            return any(r.get("RoundType") == "Final" for r in valid_rounds.values() if group(r) == key)

        entries: dict[tuple[str, str], list[tuple[int, int | None]]] = defaultdict(list)  # (points, round order)
        for result in self.results:
            race = self.races.get(result["Race"])
            round_obj = valid_rounds.get(result["Round"])
            if result["ResultType"] == "RoundRollOver" or race is None or round_obj is None:
                continue
            if result["Valid"] and race.valid and race.kind in ("Race", "Endurance"):
                entries[(group(round_obj), result["Pilot"])].append((result["Points"], round_obj["Order"]))
        for result in self.results:
            if result["ResultType"] != "RoundRollOver" or not result["Valid"]:
                continue
            for stage in {group(r) for r in valid_rounds.values()}:
                racing = any(
                    result["Pilot"] in race.pilots
                    for race in self.races.values()
                    if race.valid
                    and race.kind in ("Race", "Endurance")
                    and race.round in valid_rounds
                    and group(valid_rounds[race.round]) == stage
                )
                if final(stage) and settings(stage).get("RoundPositionRollover") and racing:
                    entries[(stage, result["Pilot"])].append((result["Points"], None))
        table: dict[tuple[str, str], dict[str, int]] = {}
        for key, items in entries.items():
            points = [p for p, _ in items]
            orders = [o for _, o in items if o is not None]
            total, dropped = sum(points), 0
            if settings(key[0]).get("DropWorstRound") and len(items) > 1 and orders:
                span = sum(1 for r in valid_rounds.values() if min(orders) <= r["Order"] <= max(orders))
                if len(orders) >= span:
                    dropped = min(points)
            table[key] = {
                "points": total - dropped,
                "droppedPoints": dropped,
                "rolloverPoints": sum(p for p, o in items if o is None),
            }
        return table

    def race_order(self) -> list[str]:
        """Race GUIDs in event order: (Round.Order, RaceNumber), invalid races last, races without a round after."""
        return [
            r.id
            for r in sorted(
                self.races.values(),
                key=lambda r: (
                    not r.valid,
                    r.round_order is None,
                    r.round_order or 0,
                    r.number,
                    r.start == "",
                    r.start,
                    record_id(r.id),
                ),
            )
        ]

    def pilot_schedule(self) -> dict[str, tuple[str, int, int, str]]:
        """pilot GUID -> (next race, races until it, its raceOrder position, the pilot's channel in it).

        ``RaceManager.GetNextRace``: valid races not run yet that list pilots, in (``Round.Order``, race) order."""
        schedule: dict[str, tuple[str, int, int, str]] = {}
        pending = 0
        for position, race_id in enumerate(self.race_order(), start=1):
            race = self.races[race_id]
            if race.valid and not race.start and race.pilots:
                for pilot in race.pilots:
                    schedule.setdefault(pilot, (race_id, pending, position, race.channels[pilot]))
                pending += 1
        return schedule

    def channel_colours(self) -> dict[str, tuple[str | None, str | None]]:
        """channel GUID -> (colour, display name) by FPVTrackside's interference walk."""
        palette = self.event["ChannelColors"]
        names = self.event["ChannelDisplayNames"]
        ordered = sorted(
            self.event["Channels"],
            key=lambda c: (self.channels[c]["Frequency"], BAND_ORDER.index(self.channels[c]["Band"])),
        )
        colours: dict[str, tuple[str | None, str | None]] = {}
        index, previous = -1, None
        for guid in ordered:
            channel = self.channels[guid]
            if previous is None or abs(channel["Frequency"] - previous) >= 15:
                index += 1
            previous = channel["Frequency"]
            name = names[self.event["Channels"].index(guid)] or channel["DisplayName"]
            if not name:
                prefix = channel["ChannelPrefix"].replace("\u0000", "")
                name = f"{channel['ShortBand']}{prefix}{channel['Number']}"
            colours[guid] = (palette[index % len(palette)], name)
        return colours


def total_time(laps: list[SourceLap]) -> float:
    """``Ext.TotalTime``: the last lap's end minus the first lap's start (a lap starts at its end minus its length)."""
    ends = [datetime.strptime(lap.end, "%Y-%m-%d %H:%M:%S.%fZ").replace(tzinfo=UTC) for lap in laps]
    epoch = min(ends)
    end = max((e - epoch).total_seconds() for e in ends)
    start = min((e - epoch).total_seconds() - lap.length for e, lap in zip(ends, laps, strict=True))
    return round(end - start, 7)


# -- what PocketBase answers ------------------------------------------------------------------------------------


class Guest:
    """A public (unauthenticated) client that counts its requests: each front-end question is one request."""

    def __init__(self, pb: RunningPocketBase) -> None:
        self.requests = 0
        self.client = httpx.Client(base_url=pb.url, timeout=30, event_hooks={"request": [self._count]})

    def _count(self, request: httpx.Request) -> None:
        self.requests += 1

    def get(self, path: str, **params: Any) -> Any:
        before = self.requests
        answer = self.client.get(path, params=params)
        assert answer.status_code == 200, answer.text
        assert self.requests == before + 1
        return answer.json()

    def close(self) -> None:
        self.client.close()


def bests_in_pocketbase(pb: RunningPocketBase, event_guid: str) -> dict[str, dict[str, Any]]:
    rows = pb.records("pilotBests", f'event = "{record_id(event_guid)}"')
    return {str(row["pilot"]): row for row in rows}


def assert_bests(pb: RunningPocketBase, event: GeneratedEvent, source: Source) -> None:
    expected = source.pilot_bests()
    stored = bests_in_pocketbase(pb, event.event_id)
    assert set(stored) == {record_id(p) for p in expected}
    race_rounds = {
        record_id(r.id): record_id(r.round) if r.round in source.rounds else "" for r in source.races.values()
    }
    for pilot, want in expected.items():
        row = stored[record_id(pilot)]
        assert row["racesFlown"] == want["racesFlown"], pilot
        assert row["validLaps"] == want["validLaps"], pilot
        assert row["consecutiveLaps"] == source.event["PBLaps"]
        for name in ("fastestLap", "fastestConsecutive", "fastestHoleshot", "bestRaceTime"):
            race_field, round_field = f"{name}Race", f"{name}Round"
            if want[name] is None:
                assert (row[name], row[race_field], row[round_field]) == (0, "", ""), (pilot, name)
            else:
                value, race_id = want[name]
                assert row[name] == pytest.approx(value, abs=1e-6), (pilot, name)
                assert row[race_field] == record_id(race_id), (pilot, name)
                assert row[round_field] == race_rounds[record_id(race_id)], (pilot, name)


def sync(command: list[str], pb: RunningPocketBase, replay: ReplayServer) -> None:
    result = run_cli([*command, "--json"], pb, replay.url)
    assert result.exit_code == 0, result.stdout + result.stderr


@dataclass
class Synced:
    event: GeneratedEvent
    replay: ReplayServer
    source: Source


@pytest.fixture(scope="module")
def synced(shared_pb: RunningPocketBase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synced]:
    """A generated event (every kind of race, see the generator's docstring) after one `fpvsync full`."""
    event = generate_event(tmp_path_factory.mktemp("derived"), EventSpec(seed=21, pilots=12, rounds=6))
    with ReplayServer(event.root, current_event=event.event_id) as replay:
        sync(["full", event.event_id], shared_pb, replay)
        yield Synced(event, replay, Source(event))


# -- pure rules -------------------------------------------------------------------------------------------------


def _channel(
    number: int, band: str, frequency: int, short: str = "", prefix: str = "", name: str | None = None
) -> Channel:
    return Channel.model_validate(
        {
            "ID": f"{number:08x}-0000-0000-0000-000000000000",
            "Number": number,
            "Band": band,
            "ShortBand": short or band[0],
            "ChannelPrefix": prefix or "\u0000",
            "Frequency": frequency,
            "DisplayName": name,
        }
    )


def test_channel_colours_move_on_only_past_15_mhz_and_the_palette_wraps() -> None:
    channels = [
        _channel(1, "Raceband", 5658),
        _channel(2, "Fatshark", 5760),
        _channel(3, "Raceband", 5769),  # 9 MHz from 5760: interferes, same colour
        _channel(4, "A", 5783),  # 14 MHz from the previous one (not from the group's first): same colour again
        _channel(5, "E", 5798),  # exactly 15 MHz away: next colour
        _channel(6, "HDZero", 5798, short="Z", prefix="R"),  # same frequency, band HDZero after E
        _channel(7, "B", 5900, name="Custom"),
    ]
    event = Event.model_validate(
        {
            "ID": "e",
            "Channels": [c.id for c in reversed(channels)],
            "ChannelColors": ["#111111", "#222222", "#333333"],
            "ChannelDisplayNames": ["Zielkanal", None, None, None, None, None, ""],
        }
    )
    info = derived.channel_info(event, {c.id: c for c in channels if c.id})
    assert [(i["number"], i["color"], i["displayName"]) for i in info] == [
        (1, "#111111", "R1"),
        (2, "#222222", "F2"),
        (3, "#222222", "R3"),
        (4, "#222222", "A4"),
        (5, "#333333", "E5"),
        (6, "#333333", "ZR6"),
        (7, "#111111", "Zielkanal"),  # the palette wraps; the event's display name wins over the channel's
    ]
    assert info[0]["channel"] == record_id(channels[0].id or "") and info[0]["sourceId"] == channels[0].id


def test_channel_info_keeps_unknown_channels_without_colour() -> None:
    known = _channel(9, "Raceband", 5658)
    event = Event.model_validate(
        {"ID": "e", "Channels": ["000000ff-0000-0000-0000-000000000000", known.id], "ChannelColors": []}
    )
    info = derived.channel_info(event, {known.id or "": known})
    assert [(i["sourceId"], i["color"], i["frequency"]) for i in info] == [
        (known.id, None, 5658),
        ("000000ff-0000-0000-0000-000000000000", None, None),
    ]


@pytest.mark.parametrize(
    ("mode", "detection", "number", "length", "flags"),
    [
        ("Holeshot", {"Valid": True, "IsHoleshot": True}, 0, 2.5, (True, True, True)),
        ("Holeshot", {"Valid": True, "IsHoleshot": False}, 3, 20.0, (True, False, True)),
        ("Holeshot", {"Valid": True, "IsHoleshot": False}, 4, 20.0, (True, False, False)),  # past TargetLaps 3
        ("Holeshot", {"Valid": False, "IsHoleshot": False}, 2, 9.0, (False, False, True)),
        ("Holeshot", {"Valid": True, "IsHoleshot": False}, 1, 0.0, (False, False, True)),  # zero length
        ("Holeshot", None, 0, 2.5, (False, True, True)),  # no detection: lap 0 is the holeshot, but not valid
        ("EndOfLap", {"Valid": True, "IsHoleshot": True}, 1, 20.0, (True, False, True)),  # no holeshot in EndOfLap
    ],
)
def test_lap_flags(
    mode: str, detection: dict[str, Any] | None, number: int, length: float, flags: tuple[bool, bool, bool]
) -> None:
    race = Race.model_validate({"ID": "r", "PrimaryTimingSystemLocation": mode, "TargetLaps": 3})
    lap = Lap.model_validate({"ID": "l", "LapNumber": number, "LengthSeconds": length})
    found = derived.lap_flags(lap, Detection.model_validate(detection) if detection else None, race)
    assert (found["valid"], found["isHoleshot"], found["withinTarget"]) == flags


def test_a_race_without_target_has_no_lap_past_it() -> None:
    lap = Lap.model_validate({"ID": "l", "LapNumber": 12, "LengthSeconds": 20.0})
    race = Race.model_validate({"ID": "r", "TargetLaps": 0})
    assert derived.lap_flags(lap, None, race)["withinTarget"] is True


# -- end to end -------------------------------------------------------------------------------------------------


def test_every_lap_carries_valid_holeshot_and_target_flags(shared_pb: RunningPocketBase, synced: Synced) -> None:
    stored = {
        str(lap["sourceId"]): lap for lap in shared_pb.records("laps", f'event = "{record_id(synced.event.event_id)}"')
    }
    laps = [lap for race in synced.source.races.values() for lap in race.laps]
    assert len(stored) == len(laps)
    for lap in laps:
        record = stored[lap.id]
        assert (record["valid"], record["isHoleshot"], record["withinTarget"]) == (lap.valid, lap.holeshot, lap.within)
    # The data holds what the rules are about.
    assert any(not lap.valid for lap in laps) and any(not lap.within for lap in laps)
    repeated = defaultdict(list)
    for lap in laps:
        repeated[(lap.race, lap.pilot, lap.number)].append(lap.valid)
    assert any(sorted(flags) == [False, True] for flags in repeated.values())  # an invalid pass repeats a lap number


def test_pilot_bests_follow_fpvtrackside_rules(shared_pb: RunningPocketBase, synced: Synced) -> None:
    races = synced.source.races.values()
    assert any(r.paused != "00:00:00" for r in races)  # a paused race: its laps are taken as FPVTrackside timed them
    assert any(not r.valid and r.laps for r in races)  # a flown race marked invalid: it never counts
    assert any(r.kind == "Practice" and r.laps for r in races)  # practice: no lap records
    assert_bests(shared_pb, synced.event, synced.source)


def test_leaderboard_per_round(shared_pb: RunningPocketBase, synced: Synced) -> None:
    expected = synced.source.leaderboard()
    rows = shared_pb.records("leaderboard", f'event = "{record_id(synced.event.event_id)}"')
    found = {(str(r["round"]), str(r["pilot"])): r for r in rows}
    assert set(found) == {(record_id(a), record_id(b)) for a, b in expected}
    for (round_id, pilot), want in expected.items():
        row = found[(record_id(round_id), record_id(pilot))]
        assert {k: row[k] for k in want} == want, (round_id, pilot)
        assert row["roundOrder"] == synced.source.rounds[round_id]["Order"]
        assert row["roundValid"] is synced.source.rounds[round_id]["Valid"]
    assert any(w["rolloverPoints"] for w in expected.values()) and any(w["dnfs"] for w in expected.values())


def test_stage_leaderboard_follows_result_manager(shared_pb: RunningPocketBase, synced: Synced) -> None:
    """``RaceLib/ResultManager.cs`` ``GetPointsTotal``, ``GetCreateResults``, ``GetRollOverRound``: the qualifying
    stage drops each pilot's worst round (its PointSummary asks), roll-over points count only in the final stage."""
    expected = synced.source.stage_leaderboard()
    rows = shared_pb.records("stageLeaderboard", f'event = "{record_id(synced.event.event_id)}"')
    found = {
        (str(r["stage"]), str(r["pilot"])): {k: r[k] for k in ("points", "droppedPoints", "rolloverPoints")}
        for r in rows
    }
    assert found == {(record_id(st) if st else "", record_id(p)): want for (st, p), want in expected.items()}
    assert any(w["droppedPoints"] for w in expected.values())
    assert any(w["rolloverPoints"] for w in expected.values())
    for stage in {st for st, _ in expected}:
        points = sorted(
            (int(str(r["points"])), int(str(r["position"])))
            for r in rows
            if str(r["stage"]) == (record_id(stage) if stage else "")
        )
        for value, position in points:
            assert position == 1 + sum(other > value for other, _ in points)


def test_race_order_and_current_race(shared_pb: RunningPocketBase, synced: Synced) -> None:
    rows: list[dict[str, Any]] = shared_pb.records("raceOrder", f'event = "{record_id(synced.event.event_id)}"')
    rows.sort(key=lambda r: int(r["position"]))
    ordered = [str(r["race"]) for r in rows]
    assert ordered == [record_id(r) for r in synced.source.race_order()]
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))
    assert {str(r["race"]) for r in rows if r["current"]} == {record_id(synced.event.running_race_id or "")}
    states = {str(r["race"]): r["state"] for r in rows}
    assert states[record_id(synced.event.running_race_id or "")] == "running"
    assert {states[record_id(r)] for r in synced.event.unstarted_race_ids} == {"unstarted"}
    assert states[record_id(synced.event.finished_race_ids[0])] == "ended"
    assert ordered[-1] == record_id(synced.event.invalid_race_id or "")


def test_event_channel_colours_and_names(shared_pb: RunningPocketBase, synced: Synced) -> None:
    stored = shared_pb.records("events", f'id = "{record_id(synced.event.event_id)}"')[0]
    expected = synced.source.channel_colours()
    info = stored["channelInfo"]
    assert isinstance(info, list)
    assert {i["sourceId"]: (i["color"], i["displayName"]) for i in info} == expected
    assert all(i["channel"] == record_id(i["sourceId"]) for i in info)
    assert len({colour for colour, _ in expected.values()}) < len(expected)  # two channels interfere: one colour


def test_front_end_queries_are_one_public_request_each(shared_pb: RunningPocketBase, synced: Synced) -> None:
    source, event = synced.source, synced.event
    eid = record_id(event.event_id)
    guest = Guest(shared_pb)
    try:
        # The event, by its FPVTrackside GUID (with its channel colours).
        found = guest.get("/api/collections/events/records", filter=f'sourceId = "{event.event_id}"')
        assert [item["id"] for item in found["items"]] == [eid]
        assert found["items"][0]["name"] == source.event["Name"]

        # Its pilots: the roster, each with pilot and channel.
        roster = guest.get(
            "/api/collections/pilotChannels/records",
            filter=f'event = "{eid}" && race = ""',
            expand="pilot,channel",
            perPage=500,
        )
        names = {item["expand"]["pilot"]["sourceId"]: item["expand"]["pilot"]["name"] for item in roster["items"]}
        assert names == {pc["Pilot"]: source.pilot_names[pc["Pilot"]] for pc in source.event["PilotChannels"]}

        # Its rounds, in order.
        rounds = guest.get("/api/collections/rounds/records", filter=f'event = "{eid}"', sort="order", perPage=500)
        assert [r["sourceId"] for r in rounds["items"]] == sorted(
            source.rounds, key=lambda r: source.rounds[r]["Order"]
        )

        # A race with its laps.
        race = source.races[event.finished_race_ids[1]]
        answer = guest.get(f"/api/collections/races/records/{record_id(race.id)}", expand="laps_via_race,round")
        laps = {lap["sourceId"]: lap for lap in answer["expand"]["laps_via_race"]}
        assert set(laps) == {lap.id for lap in race.laps}
        assert all(laps[lap.id]["valid"] is lap.valid for lap in race.laps)
        assert answer["expand"]["round"]["sourceId"] == race.round

        # Its races, in order.
        order = guest.get("/api/collections/raceOrder/records", filter=f'event = "{eid}"', sort="position", perPage=500)
        assert [item["race"] for item in order["items"]] == [record_id(r) for r in source.race_order()]

        # The leaderboard of a round, best first, with the pilots.
        round_id = race.round
        board = guest.get(
            "/api/collections/leaderboard/records",
            filter=f'round = "{record_id(round_id)}"',
            sort="position,pilot",
            expand="pilot",
        )
        expected = {p: row for (r, p), row in source.leaderboard().items() if r == round_id}
        assert [item["expand"]["pilot"]["sourceId"] for item in board["items"]] == sorted(
            expected, key=lambda p: (expected[p]["position"], record_id(p))
        )
        assert [item["points"] for item in board["items"]] == sorted(
            (w["points"] for w in expected.values()), reverse=True
        )

        # The standings of a stage.
        stage = source.rounds[round_id]["Stage"]
        standings = guest.get(
            "/api/collections/stageLeaderboard/records",
            filter=f'event = "{eid}" && stage = "{record_id(stage)}"',
            sort="position",
            expand="pilot",
        )
        positions = [item["position"] for item in standings["items"]]
        assert positions == sorted(positions) and positions[0] == 1
        assert all(item["expand"]["pilot"]["sourceId"] in source.pilot_names for item in standings["items"])

        # Every pilot's bests, fastest lap first.
        bests = guest.get(
            "/api/collections/pilotBests/records",
            filter=f'event = "{eid}" && fastestLapRace != ""',
            sort="fastestLap",
            expand="pilot",
            perPage=200,
            skipTotal=1,
        )
        want = source.pilot_bests()
        fastest = sorted((w["fastestLap"][0], record_id(p)) for p, w in want.items() if w["fastestLap"])
        assert [item["fastestLap"] for item in bests["items"]] == pytest.approx([length for length, _ in fastest])
        assert {item["pilot"] for item in bests["items"]} == {pilot for _, pilot in fastest}

        # The race running now.
        current = guest.get("/api/collections/raceOrder/records", filter=f'event = "{eid}" && current = true')
        assert [item["race"] for item in current["items"]] == [record_id(event.running_race_id or "")]
    finally:
        guest.close()


def _race_with(source: Source, condition: Any) -> SourceRace:
    return next(r for r in source.races.values() if r.valid and r.kind == "Race" and condition(r))


def test_derived_data_follows_the_race_director(shared_pb: RunningPocketBase, tmp_path: Path) -> None:
    """A lap invalidated, an invalid pass made valid, a result changed: one `fpvsync race` later, all views follow."""
    event = generate_event(tmp_path / "trackside", EventSpec(seed=22, pilots=8, rounds=5))
    with ReplayServer(event.root, current_event=event.event_id) as replay:
        sync(["full", event.event_id], shared_pb, replay)
        source = Source(event)
        assert_bests(shared_pb, event, source)
        before = source.pilot_bests()

        # 1. The director invalidates the fastest lap of the event.
        pilot = min((p for p in before if before[p]["fastestLap"]), key=lambda p: before[p]["fastestLap"][0])
        length, race_id = before[pilot]["fastestLap"]
        race_file = event.race_file(race_id)
        document = read(race_file)
        lap = next(
            lap
            for lap in document[0]["Laps"]
            if lap["LengthSeconds"] == length
            and next(d for d in document[0]["Detections"] if d["ID"] == lap["Detection"])["Pilot"] == pilot
        )
        detection = next(d for d in document[0]["Detections"] if d["ID"] == lap["Detection"])
        detection["Valid"], detection["ValidityType"] = False, "ManualOverride"
        write_json(race_file, document)
        sync(["race", event.event_id, race_id], shared_pb, replay)
        source = Source(event)
        after = source.pilot_bests()
        assert after[pilot]["fastestLap"][0] > length and after[pilot]["validLaps"] == before[pilot]["validLaps"] - 1
        assert_bests(shared_pb, event, source)
        assert shared_pb.records("laps", f'sourceId = "{lap["ID"]}"')[0]["valid"] is False

        # 2. The director makes an invalid pass valid: a short lap appears.
        race = _race_with(source, lambda r: any(not lap.valid for lap in r.laps))
        document = read(event.race_file(race.id))
        ghost = next(d for d in document[0]["Detections"] if d["IsLapEnd"] and not d["Valid"])
        ghost["Valid"], ghost["ValidityType"] = True, "ManualOverride"
        write_json(event.race_file(race.id), document)
        sync(["race", event.event_id, race.id], shared_pb, replay)
        before, source = after, Source(event)
        after = source.pilot_bests()
        assert after[ghost["Pilot"]]["validLaps"] == before[ghost["Pilot"]]["validLaps"] + 1
        assert_bests(shared_pb, event, source)

        # 3. A result is corrected: the leaderboard follows.
        result_file = event.result_file(race.id)
        results = read(result_file)
        results[-1]["Points"] += 7
        write_json(result_file, results)
        sync(["race", event.event_id, race.id], shared_pb, replay)
        row = shared_pb.records(
            "leaderboard", f'round = "{record_id(race.round)}" && pilot = "{record_id(results[-1]["Pilot"])}"'
        )[0]
        assert row["points"] == Source(event).leaderboard()[(race.round, results[-1]["Pilot"])]["points"]


def assert_schedule(pb: RunningPocketBase, event: GeneratedEvent, source: Source) -> None:
    expected = source.pilot_schedule()
    rows = pb.records("pilotSchedule", f'event = "{record_id(event.event_id)}"')
    found = {
        str(r["pilot"]): (str(r["nextRace"]), r["racesUntil"], r["position"], str(r["channel"]), str(r["round"]))
        for r in rows
    }
    assert found == {
        record_id(pilot): (
            record_id(race),
            until,
            position,
            record_id(channel),
            record_id(source.races[race].round) if source.races[race].round in source.rounds else "",
        )
        for pilot, (race, until, position, channel) in expected.items()
    }
    assert all(str(r["id"]) == str(r["event"]) + str(r["pilot"]) for r in rows)


def test_pilot_schedule_names_each_pilots_next_race(shared_pb: RunningPocketBase, synced: Synced) -> None:
    """pilotSchedule: per pilot, the first valid not-started race in FPVTrackside's race order (``Round.Order``,
    ``RaceNumber``: ``RaceLib/RaceManager.cs``) whose PilotChannels list them, their channel in it, and how many
    not-started races come before it."""
    assert_schedule(shared_pb, synced.event, synced.source)
    rows = shared_pb.records("pilotSchedule", f'event = "{record_id(synced.event.event_id)}"')
    unstarted = [record_id(r) for r in synced.event.unstarted_race_ids]
    assert {str(r["nextRace"]) for r in rows} == set(unstarted)
    assert {r["racesUntil"] for r in rows} == {0, 1}
    order = {
        str(r["race"]): r["position"]
        for r in shared_pb.records("raceOrder", f'event = "{record_id(synced.event.event_id)}"')
    }
    assert all(order[str(r["nextRace"])] == r["position"] for r in rows)
