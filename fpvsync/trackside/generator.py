"""A deterministic generator of realistic FPVTrackside event folders.

:func:`generate_event` writes a directory laid out like FPVTrackside's data folder as its web server serves it::

    ROOT/httpfiles/Channels.json                      every channel the program knows (shared by all events)
    ROOT/events/{eventId}/Event.json                  [Event]
    ROOT/events/{eventId}/Pilots.json                 [Pilot, ...]
    ROOT/events/{eventId}/Rounds.json                 [Round, ...]
    ROOT/events/{eventId}/Stages.json                 [Stage, ...]          (not in legacy events)
    ROOT/events/{eventId}/Results.json                [Result, ...]         (round roll-over results only)
    ROOT/events/{eventId}/{raceId}/Race.json          [Race] or []
    ROOT/events/{eventId}/{raceId}/Result.json        [Result, ...]         (finished races only)

Files are written the way FPVTrackside writes them (:func:`write_json`): UTF-8 without BOM, indented by two
spaces, CRLF line endings, non-ASCII characters kept. The same seed and size give byte-identical files; every
GUID comes from ``random.Random(seed)``. Several events (different seeds) can share one root: Channels.json has
the same content for all of them. Generating an event again replaces its folder.

Usage::

    event = generate_event(tmp_path, EventSpec(seed=7, pilots=16, rounds=4))
    event.race_file(event.running_race_id)   # .../events/<event>/<race>/Race.json

What an event holds
-------------------
``K = ceil(pilots / pilots_per_race)`` races per round; every pilot flies once per round, with the channel the
roster gives them. With ``rounds >= 4`` the rounds are (in ``Order``)::

    index 0        "Practise" round 1      EndOfLap timing; its Race.json and Result.json files are in the legacy
                                            shape (an older build wrote them: no GamePoints key, no HandicapOffset,
                                            results without Time/LapsFinished, finish line "LapRF8Way").
                                            It also holds the *invalid race* (RaceNumber K+1, Valid: false, flown,
                                            no Result.json).
    index 1        "Race" round 1          Handicapped: pilots carry non-zero HandicapOffset and start late.
                                            Brackets alternate "Winners" / "Losers".
    index 2..R-3   "Race" rounds 2..       plain rounds, Bracket "None".
    index R-2      "AggregateLaps" round   Valid: false (a deleted round; its races still exist and are finished).
                                            Legacy events spell the type "Enduro".
    index R-1      final "Race" round      stage 2 (StageType 4, Final) / legacy RoundType "Final"; Brackets
                                            lettered so the last race is the "A" final. The last two races are
                                            *unstarted* (Start and End not set, no laps, no Result.json), the one
                                            before is *running* (Start set, End not set, a holeshot and up to two
                                            laps per pilot, no Result.json); the others are finished.

With fewer rounds: 3 rounds = practice, aggregate (deleted), final; 2 rounds = practice, final; 1 round = one plain
race round whose tail is running/unstarted. The invalid race always belongs to the first round. Besides these
races, ``Event.Races`` names the *deleted race* (its Race.json is exactly ``[]``) and the *missing race* (no folder
at all). ``Event.Races`` is sorted by GUID, like the folder listing FPVTrackside builds it from;
:attr:`GeneratedEvent.race_ids` is in event order (``Round.Order``, ``RaceNumber``), then the deleted and the
missing race.

Every race but the practice ones uses holeshot timing: each pilot's first pass is lap 0 (``IsHoleshot``), then
laps 1.. . Every race has two split timers (detections with ``TimingSystemIndex`` 1 and 2, ``IsLapEnd`` false, no
Lap). ``RaceSector`` is ``LapNumber * 100 + TimingSystemIndex``. Laps hold the GUID of their finish-line
detection; ``StartTime`` is the previous valid pass (or the pilot's start), ``LengthSeconds = EndTime - StartTime``
to the millisecond. Invalid passes (``Valid: false``, ``ValidityType`` "Marshall" or "ManualOverride") keep a Lap
whose number the next valid lap repeats.

The finished holeshot races of valid rounds, in event order, are H[0], H[1], ... (with the default spec: Race 1-1,
Race 1-2, ...). Guaranteed, whatever the seed:

- H[0]: its first pilot (first in ``PilotChannels``) has an invalid "Marshall" pass on lap 2 (lap 1 when
  TargetLaps is 1); its second pilot flies TargetLaps+1 laps, its third TargetLaps+2; its last pilot is DNF
  (TargetLaps-1 laps); it has game points; one of its detections and one of its results carry an unknown
  ``FutureField`` key; ``Event.Flags`` holds a moment of it.
- H[1]: its first pilot has an invalid "ManualOverride" pass on lap 1; non-zero ``TotalPausedTime`` (every pass
  after the pause is shifted by it); an unknown ``FutureField`` key on the race.

Other finished races get, at random: invalid passes (3% of laps), extra laps past the target (about a quarter of
pilots), a DNF pilot (12% of races) and game points (10% of new-shape races). Unknown ``FutureField`` keys also sit
on the Event, the first pilot and the first stage. Results: points 10/8/6/4/2/0 by position (laps within the
target first, then the time of the last of them); ``DNF`` when fewer than TargetLaps laps. Results.json holds
"RoundRollOver" results (Race = zero GUID) of the best four pilots into the final round. Pilots.json lists the
racing pilots, a practice pilot (in the roster, ``PracticePilot: true``, never races) and a removed pilot (in
``RemovedPilots``, not in the roster). Pilots come from one pool shared by all seeds, so the same pilot keeps the
same GUID across events, as in FPVTrackside.

``EventSpec(legacy=True)`` writes the whole event in the old schema generation: no Stages.json, rounds with
RoundType/PointSummary/TimeSummary, no GamePoints key, no HandicapOffset, results without Time/LapsFinished, no
TimeZone, pilots without VelocidroneUID/VideoFlipped/VideoMirrored, events with MultiGPRaceFormat and Locked.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "NOT_SET",
    "ZERO_GUID",
    "EventSpec",
    "GeneratedEvent",
    "channel_id",
    "format_date",
    "format_span",
    "generate_event",
    "write_json",
]

ZERO_GUID = "00000000-0000-0000-0000-000000000000"
#: How FPVTrackside writes an unset date (``DateTime.MinValue``).
NOT_SET = "0001/01/01 0:00:00"

Json = dict[str, Any]

DEFAULT_NAME = 'Zürich "Night" Cup \\ 2025'


# --------------------------------------------------------------------------------------------------------------
# Value formats
# --------------------------------------------------------------------------------------------------------------


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` the way FPVTrackside does: UTF-8 without BOM, indent 2, non-ASCII kept, CRLF line endings.

    JSON escapes newlines inside strings, so every raw newline of the dump is structural and becomes CRLF.
    Parent directories are created.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def format_date(value: datetime | None) -> str:
    """A date as FPVTrackside writes it: ``yyyy/MM/dd H:mm:ss.FFF`` (wall clock, no offset).

    The hour is not zero-padded; the fraction is truncated to milliseconds, drops trailing zeros and disappears
    when zero. ``None`` gives the "not set" sentinel ``0001/01/01 0:00:00``.

    >>> format_date(datetime(2025, 1, 30, 16, 0, 57, 850000))
    '2025/01/30 16:00:57.85'
    """
    if value is None:
        return NOT_SET
    text = f"{value.year:04d}/{value.month:02d}/{value.day:02d} {value.hour}:{value.minute:02d}:{value.second:02d}"
    millis = value.microsecond // 1000
    if millis:
        text += "." + f"{millis:03d}".rstrip("0")
    return text


def format_span(seconds: float) -> str:
    """A duration in .NET's ``c`` format, ``[-][d.]hh:mm:ss[.fffffff]``, from seconds.

    >>> format_span(120), format_span(0.5), format_span(93784)
    ('00:02:00', '00:00:00.5000000', '1.02:03:04')
    """
    ticks = round(seconds * 10_000_000)
    sign = "-" if ticks < 0 else ""
    whole, fraction = divmod(abs(ticks), 10_000_000)
    minutes, secs = divmod(whole, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    text = f"{sign}{days}." if days else sign
    text += f"{hrs:02d}:{mins:02d}:{secs:02d}"
    if fraction:
        text += f".{fraction:07d}"
    return text


def channel_id(number: int) -> str:
    """The fixed GUID of FPVTrackside's channel ``number``: ``printf("%08x-0000-0000-0000-000000000000", n)``."""
    return f"{number:08x}-0000-0000-0000-000000000000"


# --------------------------------------------------------------------------------------------------------------
# Channels (FPVTrackside's built-in list: id, band, short band, prefix, number, MHz)
# --------------------------------------------------------------------------------------------------------------

_NO_PREFIX = "\u0000"
_DJI_FPV_HD = {1: 5660, 2: 5695, 3: 5735, 4: 5770, 5: 5805, 6: 5878, 7: 5914, 8: 5839}
_DJI_O3 = {1: 5669, 2: 5705, 3: 5768, 4: 5804, 5: 5839, 6: 5876, 7: 5912}
_E_BAND = {1: 5705, 2: 5685, 3: 5665, 4: 5645, 5: 5885, 6: 5905, 7: 5925, 8: 5945}


def _channel_table() -> list[tuple[int, str, str, str, int, int, str | None]]:
    """(id, Band, ShortBand, ChannelPrefix, Number, Frequency, DisplayName) of every known channel, by id."""
    table: list[tuple[int, str, str, str, int, int, str | None]] = []

    def add(band: str, short: str, numbers: range, freq: dict[int, int], prefix: str = _NO_PREFIX) -> None:
        for number in numbers:
            table.append((len(table) + 1, band, short, prefix, number, freq[number], None))

    add("Fatshark", "F", range(1, 9), {n: 5740 + (n - 1) * 20 for n in range(1, 9)})
    add("Raceband", "R", range(1, 9), {n: 5658 + (n - 1) * 37 for n in range(1, 9)})
    add("A", "A", range(1, 9), {n: 5865 - (n - 1) * 20 for n in range(1, 9)})
    add("B", "B", range(1, 9), {n: 5733 + (n - 1) * 19 for n in range(1, 9)})
    add("DJIFPVHD", "D", range(1, 9), _DJI_FPV_HD)
    add("E", "E", range(1, 9), _E_BAND)
    add("HDZero", "Z", range(1, 9), {n: 5658 + (n - 1) * 37 for n in range(1, 9)}, "R")
    add("HDZero", "Z", range(2, 5, 2), {n: 5740 + (n - 1) * 20 for n in (2, 4)}, "F")
    add("LowBand", "L", range(1, 9), {n: 5333 + (n - 1) * 40 for n in range(1, 9)})
    add("Diatone", "D", range(1, 9), {n: 5362 + (n - 1) * 37 for n in range(1, 9)})
    add("DJIO3", "D", range(1, 8), _DJI_O3)
    # A couple of channels carry a display name set in the program's channel settings.
    for index in (56, 57):  # HDZero F2 and F4
        row = table[index]
        table[index] = (*row[:6], f"HDZ {row[3]}{row[4]}")
    return table


_CHANNELS = _channel_table()
_FREQUENCY = {row[0]: row[5] for row in _CHANNELS}
_BAND = {row[0]: row[1] for row in _CHANNELS}


def _channels_document() -> list[Json]:
    return [
        {
            "Number": number,
            "Band": band,
            "ShortBand": short,
            "ChannelPrefix": prefix,
            "Frequency": frequency,
            "DisplayName": display,
            "ID": channel_id(ident),
            "ExternalID": 0,
        }
        for ident, band, short, prefix, number, frequency, display in _CHANNELS
    ]


# The event's channels (ids): Raceband 1, 2, 4, 6, 7, 8 and Fatshark 2, 4. F2 (5760) and R4 (5769) interfere.
_EVENT_CHANNELS = [9, 10, 2, 12, 4, 14, 15, 16]
# The order heats use them in: non-interfering first.
_RACE_CHANNELS = [9, 16, 10, 15, 2, 4, 14, 12]
_PALETTE = ["#FF0000", "#0000FF", "#00FF00", "#FFFF00", "#FF00FF", "#00FFFF", "#FF8000", "#8000FF"]

# --------------------------------------------------------------------------------------------------------------
# Pilots: one pool shared by every seed, so a pilot keeps its GUID across events
# --------------------------------------------------------------------------------------------------------------

_HANDLES = [
    "Łukasz",
    "日本の鷹",
    'Dr. "Flip" Flop',
    "Back\\Slash",
    "Zoë",
    "Søren",
    "O'Malley",
    "Ñandú",
    "Ørjan",
    "Ünal",
    "Ζέφυρος",
    "Квадрик",
    "Renée",
    "Jörg \\o/",
    "Đorđe",
    "Siobhán",
    "Aurélien",
    "Mikuláš",
    "Çağrı",  # noqa: RUF001 (a dotless i, on purpose)
    "🚁 Rotor",
    "Nguyễn",
    "Smash",
    'The "Ghost"',
    "Ærø",
]
_FIRST = ["Łukasz", "Zoë", "Søren", "Hiroshi", "Renée", "Jörg", "Đorđe", "Siobhán", "Ana", "Mika", "Ömer", "Kai"]
_LAST = ["Nowak", "Müller", "Østergaard", "田中", "Dubois", "O'Brien", "Kovač", "Ní Bhriain", "García", "Virtanen"]
_AIRCRAFT = ['5" Freestyle', "Whoop 65mm", "3.5\\ cinewhoop", 'Race 5" X', None]
_POOL_SEED = 0x5EED_F1A7
_PRACTICE_POOL_INDEX = -1


def _pilot_record(index: int, legacy: bool) -> Json:
    """Pilot number ``index`` of the shared pool (``-1`` is the practice pilot)."""
    rng = random.Random(_POOL_SEED + index)
    ident = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if index == _PRACTICE_POOL_INDEX:
        name, first, last = "Übungs-Pilot (Practice)", None, None
    else:
        name = _HANDLES[index % len(_HANDLES)]
        if index >= len(_HANDLES):
            name += f" {index // len(_HANDLES) + 1}"
        first = _FIRST[index % len(_FIRST)]
        last = _LAST[(index * 7) % len(_LAST)]
    record: Json = {
        "Name": name,
        "Phonetic": name.lower() if rng.random() < 0.5 else "",
        "FirstName": first,
        "LastName": last,
        "SillyName": None,
        "DiscordID": f"{name.split()[0].lower()}#{rng.randint(1000, 9999)}" if rng.random() < 0.3 else None,
        "Aircraft": rng.choice(_AIRCRAFT),
        "CatchPhrase": 'Send it "full" \\ throttle' if index % 9 == 4 else None,
        "BestResult": None,
        "TimingSensitivityPercent": 100 if rng.random() < 0.8 else rng.choice([80, 90, 110, 120]),
        "PracticePilot": index == _PRACTICE_POOL_INDEX,
        "PhotoPath": f"pilots\\{ident[:8]}.jpg" if rng.random() < 0.25 else None,
    }
    if not legacy:
        record["VelocidroneUID"] = str(rng.randint(100000, 999999)) if rng.random() < 0.2 else None
        record["VideoFlipped"] = False
        record["VideoMirrored"] = rng.random() < 0.05
    record["ID"] = ident
    record["ExternalID"] = rng.randint(10000, 99999) if rng.random() < 0.3 else 0
    return record


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventSpec:
    """What to generate. ``start`` is the local wall-clock time the event day begins (first race ~20 min later)."""

    seed: int = 1
    pilots: int = 16
    rounds: int = 4
    pilots_per_race: int = 4
    laps: int = 3
    name: str = DEFAULT_NAME
    time_zone: str | None = "Europe/Berlin"
    legacy: bool = False
    start: datetime = datetime(2025, 5, 3, 9, 0)

    @property
    def races_per_round(self) -> int:
        return math.ceil(self.pilots / self.pilots_per_race)


@dataclass(frozen=True)
class GeneratedEvent:
    """Where the event was written and which GUID plays which part (see the module docstring)."""

    root: Path
    event_id: str
    pilot_ids: list[str]
    round_ids: list[str]
    stage_ids: list[str]
    race_ids: list[str]
    deleted_race_id: str | None
    missing_race_id: str | None
    invalid_race_id: str | None
    running_race_id: str | None
    unstarted_race_ids: list[str]
    #: Races with a Result.json, in event order.
    finished_race_ids: list[str] = field(default_factory=list)
    #: Races whose Race.json (and Result.json) have the legacy shape although the event does not.
    legacy_shape_race_ids: list[str] = field(default_factory=list)
    #: Record counts by kind: channels, pilots, roster, stages, rounds, races, race_pilot_channels, detections,
    #: laps, game_points, results (race results and roll-over results), rollover_results.
    counts: dict[str, int] = field(default_factory=dict)

    def event_dir(self) -> Path:
        return self.root / "events" / self.event_id

    def race_file(self, race_id: str) -> Path:
        return self.event_dir() / race_id / "Race.json"

    def result_file(self, race_id: str) -> Path:
        return self.event_dir() / race_id / "Result.json"


def generate_event(root: Path, spec: EventSpec = EventSpec()) -> GeneratedEvent:
    """Write one event (and the shared Channels.json) under ``root``; see the module docstring for its content."""
    if spec.pilots < 1 or spec.rounds < 1 or spec.laps < 1:
        raise ValueError("pilots, rounds and laps must be at least 1")
    if not 1 <= spec.pilots_per_race <= len(_RACE_CHANNELS):
        raise ValueError(f"pilots_per_race must be between 1 and {len(_RACE_CHANNELS)}")
    return _Builder(Path(root), spec).build()


# --------------------------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------------------------

_FINISHED, _RUNNING, _UNSTARTED = "finished", "running", "unstarted"
_POINTS = (10, 8, 6, 4, 2)


@dataclass
class _Round:
    id: str
    index: int
    event_type: str
    number: int
    valid: bool
    final: bool
    handicapped: bool
    practice: bool
    scheduled_start: int | None = None


@dataclass
class _Race:
    id: str
    round: _Round
    number: int
    slots: list[tuple[str, int]]  # (pilot id, channel number)
    state: str
    valid: bool = True
    legacy_shape: bool = False
    bracket: str = "None"
    # Set by the feature planner.
    invalid_laps: dict[int, dict[int, str]] = field(default_factory=dict)  # slot -> lap -> validity type
    extra_laps: dict[int, int] = field(default_factory=dict)  # slot -> laps past the target
    dnf_laps: dict[int, int] = field(default_factory=dict)  # slot -> laps flown
    game_points: bool = False
    pause: bool = False
    future_race: bool = False
    future_detection: bool = False
    future_result: bool = False
    flagged: bool = False
    # Set by the simulation.
    start: int | None = None
    end: int | None = None
    results: list[Json] = field(default_factory=list)


@dataclass
class _Pass:
    time: int  # milliseconds from the event's base time
    slot: int
    timer: int
    lap: int
    valid: bool = True
    validity: str = "Auto"
    holeshot: bool = False
    peak: int = 0
    id: str = ""


class _Builder:
    def __init__(self, root: Path, spec: EventSpec) -> None:
        self.root = root
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.legacy = spec.legacy
        self.base = spec.start
        self.counts: dict[str, int] = dict.fromkeys(
            (
                "channels",
                "pilots",
                "roster",
                "stages",
                "rounds",
                "races",
                "race_pilot_channels",
                "detections",
                "laps",
                "game_points",
                "results",
                "rollover_results",
            ),
            0,
        )

    # ---- helpers --------------------------------------------------------------------------------------------

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def date(self, millis: int | None) -> str:
        if millis is None:
            return NOT_SET
        return format_date(self.base + timedelta(milliseconds=millis))

    # ---- plan -----------------------------------------------------------------------------------------------

    def build(self) -> GeneratedEvent:
        spec, rng = self.spec, self.rng
        self.event_id = self.guid()
        self.event_dir = self.root / "events" / self.event_id

        offset = rng.randrange(0, 8)
        pool = list(range(offset, offset + spec.pilots))
        self.pilots = [_pilot_record(i, self.legacy) for i in pool]
        self.practice_pilot = _pilot_record(_PRACTICE_POOL_INDEX, self.legacy)
        self.removed_pilot = _pilot_record(offset + spec.pilots, self.legacy)
        pilot_ids = [p["ID"] for p in self.pilots]
        self.pilot_names = {p["ID"]: p["Name"] for p in self.pilots}
        self.roster = {pid: _RACE_CHANNELS[i % spec.pilots_per_race] for i, pid in enumerate(pilot_ids)}
        self.pace = {pid: rng.randint(19_000, 32_000) for pid in pilot_ids}

        # Drawn in legacy events too, so that a seed names the same objects in both generations.
        stage_ids = [self.guid(), self.guid()]
        self.stage_ids = [] if self.legacy else stage_ids
        self.rounds = self._plan_rounds()
        self.races = self._plan_races(pilot_ids)
        self.deleted_race_id = self.guid()
        self.missing_race_id = self.guid()
        self._plan_features()

        if self.event_dir.exists():
            shutil.rmtree(self.event_dir)
        self._simulate_and_write_races()
        self._write_event_files()
        self._write_channels()

        ordered = [race.id for race in self.races]
        running = [r.id for r in self.races if r.state == _RUNNING]
        invalid = [r.id for r in self.races if not r.valid]
        return GeneratedEvent(
            root=self.root,
            event_id=self.event_id,
            pilot_ids=[*pilot_ids, self.practice_pilot["ID"], self.removed_pilot["ID"]],
            round_ids=[r.id for r in self.rounds],
            stage_ids=list(self.stage_ids),
            race_ids=[*ordered, self.deleted_race_id, self.missing_race_id],
            deleted_race_id=self.deleted_race_id,
            missing_race_id=self.missing_race_id,
            invalid_race_id=invalid[0] if invalid else None,
            running_race_id=running[0] if running else None,
            unstarted_race_ids=[r.id for r in self.races if r.state == _UNSTARTED],
            finished_race_ids=[r.id for r in self.races if r.results],
            legacy_shape_race_ids=[r.id for r in self.races if r.legacy_shape and not self.legacy],
            counts=dict(self.counts),
        )

    def _plan_rounds(self) -> list[_Round]:
        count = self.spec.rounds
        practice = 0 if count >= 2 else None
        final = count - 1 if count >= 2 else None
        aggregate = count - 2 if count >= 3 else None
        handicapped = 1 if count >= 4 else None
        numbers: dict[str, int] = {}
        rounds = []
        for index in range(count):
            if index == practice:
                event_type = "Practise"
            elif index == aggregate:
                event_type = "Enduro" if self.legacy else "AggregateLaps"
            else:
                event_type = "Race"
            numbers[event_type] = numbers.get(event_type, 0) + 1
            rounds.append(
                _Round(
                    id=self.guid(),
                    index=index,
                    event_type=event_type,
                    number=numbers[event_type],
                    valid=index != aggregate,
                    final=index == final,
                    handicapped=index == handicapped,
                    practice=index == practice,
                )
            )
        return rounds

    def _plan_races(self, pilot_ids: list[str]) -> list[_Race]:
        spec, rng = self.spec, self.rng
        per_round = spec.races_per_round
        groups = [pilot_ids[c :: spec.pilots_per_race] for c in range(spec.pilots_per_race)]
        races: list[_Race] = []
        last = self.rounds[-1]
        for rnd in self.rounds:
            for group in groups:
                rng.shuffle(group)
            for k in range(per_round):
                slots = [(group[k], self.roster[group[k]]) for group in groups if k < len(group)]
                if rnd is last:
                    unstarted = min(2, per_round - 1)
                    state = (
                        _UNSTARTED
                        if k >= per_round - unstarted
                        else _RUNNING
                        if k == per_round - unstarted - 1
                        else _FINISHED
                    )
                else:
                    state = _FINISHED
                race = _Race(id=self.guid(), round=rnd, number=k + 1, slots=slots, state=state)
                race.legacy_shape = self.legacy or rnd.practice
                if rnd.final:
                    race.bracket = chr(ord("A") + min(per_round - 1 - k, 25))
                elif rnd.handicapped:
                    race.bracket = "Winners" if k % 2 == 0 else "Losers"
                races.append(race)
            if rnd.index == 0:
                # A race the director removed: flown, then marked invalid; it keeps its file.
                removed = _Race(
                    id=self.guid(),
                    round=rnd,
                    number=per_round + 1,
                    slots=list(races[-1].slots),
                    state=_FINISHED,
                    valid=False,
                    legacy_shape=self.legacy or rnd.practice,
                )
                races.append(removed)
        return races

    def _plan_features(self) -> None:
        rng, laps = self.rng, self.spec.laps
        finished = [r for r in self.races if r.state == _FINISHED and r.valid]
        showcase = [r for r in finished if r.round.valid and not r.round.practice and not r.legacy_shape]
        if not showcase:
            showcase = [r for r in finished if not r.legacy_shape] or finished
        for race in finished:
            for slot in range(len(race.slots)):
                for lap in range(1, laps + 1):
                    if rng.random() < 0.03:
                        race.invalid_laps.setdefault(slot, {})[lap] = rng.choice(["Marshall", "ManualOverride"])
                draw = rng.random()
                if draw < 0.07:
                    race.extra_laps[slot] = 2
                elif draw < 0.25:
                    race.extra_laps[slot] = 1
            if rng.random() < 0.12:
                race.dnf_laps[rng.randrange(len(race.slots))] = rng.randrange(0, laps)
            race.game_points = not race.legacy_shape and rng.random() < 0.10
        if showcase:
            first = showcase[0]
            size = len(first.slots)
            first.dnf_laps.clear()
            first.invalid_laps.setdefault(0, {})[min(2, laps)] = "Marshall"
            first.extra_laps[min(1, size - 1)] = 1
            first.extra_laps[min(2, size - 1)] = 2
            first.dnf_laps[size - 1] = laps - 1
            first.game_points = not first.legacy_shape
            first.future_detection = first.future_result = first.flagged = not self.legacy
            second = showcase[1] if len(showcase) > 1 else first
            if second is not first:
                second.dnf_laps.pop(0, None)
            second.invalid_laps.setdefault(0, {})[1] = "ManualOverride"
            second.pause = True
            second.future_race = not self.legacy

    # ---- races ----------------------------------------------------------------------------------------------

    def _simulate_and_write_races(self) -> None:
        rng = self.rng
        cursor = 20 * 60_000 + rng.randrange(0, 60_000)
        for race in self.races:
            rnd = race.round
            if race.state != _UNSTARTED:
                race.start = cursor + rng.randrange(0, 1000)
                if rnd.scheduled_start is None:
                    rnd.scheduled_start = race.start // 60_000 * 60_000 - 5 * 60_000
            elif rnd.scheduled_start is None:
                rnd.scheduled_start = cursor // 60_000 * 60_000
            document = self._race_document(race)
            write_json(self.event_dir / race.id / "Race.json", [document])
            if race.end is not None:
                cursor = race.end + rng.randint(60_000, 180_000)
            elif race.start is not None:
                cursor = race.start + 10 * 60_000
            if race.state == _FINISHED and race.valid:
                write_json(self.event_dir / race.id / "Result.json", race.results)
                self.counts["results"] += len(race.results)
        write_json(self.event_dir / self.deleted_race_id / "Race.json", [])

    def _fly(self, race: _Race, slot: int, start: int, laps: int, holeshot: bool) -> list[_Pass]:
        """The passes of one pilot who starts at ``start`` and completes ``laps`` laps."""
        rng = self.rng
        pace = self.pace[race.slots[slot][0]]
        invalid = race.invalid_laps.get(slot, {})
        passes: list[_Pass] = []
        t = start
        if holeshot:
            t += rng.randint(1_800, 4_500)
            passes.append(_Pass(t, slot, 0, 0, holeshot=True, peak=rng.randint(600, 1500)))
        for lap in range(1, laps + 1):
            length = int(pace * rng.uniform(0.94, 1.08))
            if rng.random() < 0.05:
                length += rng.randint(2_000, 6_000)  # a wobble or a clipped gate
            if lap in invalid:
                ghost = t + int(length * rng.uniform(0.35, 0.7))
                passes.append(_Pass(ghost, slot, 0, lap, False, invalid[lap], peak=rng.randint(300, 650)))
            for timer in (1, 2):
                split = t + length * timer // 3 + rng.randint(-800, 800)
                passes.append(_Pass(split, slot, timer, lap, peak=rng.randint(70, 160)))
            t += length
            passes.append(_Pass(t, slot, 0, lap, peak=rng.randint(600, 1500)))
        return passes

    def _race_document(self, race: _Race) -> Json:
        rng, spec = self.rng, self.spec
        holeshot = not race.round.practice
        target = spec.laps
        handicaps = [
            rng.choice([0, 0, 500, 1000, 1500, 2500]) if race.round.handicapped and not self.legacy else 0
            for _ in race.slots
        ]
        passes: list[_Pass] = []
        pilot_start: list[int] = []
        paused = 0
        if race.start is not None:
            for slot in range(len(race.slots)):
                begin = race.start + handicaps[slot]
                pilot_start.append(begin)
                if race.state == _RUNNING:
                    flown = rng.randint(0, min(2, target))
                elif slot in race.dnf_laps:
                    flown = race.dnf_laps[slot]
                else:
                    flown = target + race.extra_laps.get(slot, 0)
                passes.extend(self._fly(race, slot, begin, flown, holeshot))
            if race.pause:
                at = race.start + rng.randint(15_000, 40_000)
                paused = rng.randint(5_000, 30_000)
                for p in passes:
                    if p.time > at:
                        p.time += paused
            passes.sort(key=lambda p: (p.time, p.slot, p.timer))
            if race.state == _FINISHED:
                last = max((p.time for p in passes), default=race.start + 60_000)
                race.end = last + rng.randint(1_500, 4_000)

        finish_type = "LapRF8Way" if race.legacy_shape else "LapRF"
        detections: list[Json] = []
        for p in passes:
            p.id = self.guid()
            detection: Json = {
                "TimingSystemIndex": p.timer,
                "Channel": channel_id(race.slots[p.slot][1]),
                "Time": self.date(p.time),
                "Peak": p.peak,
                "TimingSystemType": finish_type if p.timer == 0 else "RotorHazard",
                "Pilot": race.slots[p.slot][0],
                "LapNumber": p.lap,
                "Valid": p.valid,
                "ValidityType": p.validity,
                "IsLapEnd": p.timer == 0,
                "RaceSector": p.lap * 100 + p.timer,
                "IsHoleshot": p.holeshot,
            }
            if race.future_detection and len(detections) == 1:
                detection["FutureField"] = {"Confidence": 0.97, "Source": "ÜberTimer"}
            detection["ID"] = p.id
            detection["ExternalID"] = 0
            detections.append(detection)

        laps, counted = self._laps(passes, pilot_start, target)
        if race.state == _FINISHED and race.valid:
            race.results = self._results(race, counted)

        game_points: list[Json] = []
        if race.game_points and race.start is not None and race.end is not None:
            for n in range(rng.randint(1, 3)):
                pilot, channel = race.slots[rng.randrange(len(race.slots))]
                game_points.append(
                    {
                        "Channel": channel_id(channel),
                        "Pilot": pilot,
                        "Valid": n != 2,
                        "Time": self.date(rng.randint(race.start + 5_000, race.end)),
                        "ID": self.guid(),
                        "ExternalID": 0,
                    }
                )

        pilot_channels: list[Json] = []
        for slot, (pilot, channel) in enumerate(race.slots):
            entry: Json = {"Pilot": pilot, "Channel": channel_id(channel)}
            if not race.legacy_shape:
                entry["HandicapOffset"] = format_span(handicaps[slot] / 1000)
            entry["ID"] = self.guid()
            entry["ExternalID"] = 0
            pilot_channels.append(entry)

        document: Json = {"Laps": laps, "Detections": detections}
        if not race.legacy_shape:
            document["GamePoints"] = game_points
        document.update(
            {
                "Start": self.date(race.start),
                "End": self.date(race.end),
                "TotalPausedTime": format_span(paused / 1000),
                "PilotChannels": pilot_channels,
                "RaceNumber": race.number,
                "Round": race.round.id,
                "TargetLaps": target,
                "PrimaryTimingSystemLocation": "Holeshot" if holeshot else "EndOfLap",
                "Valid": race.valid,
                "AutoAssignNumbers": True,
                "Event": self.event_id,
                "Bracket": race.bracket,
            }
        )
        if race.future_race:
            document["FutureField"] = ["ß", 2, None]
        document["ID"] = race.id
        document["ExternalID"] = 0

        self.counts["races"] += 1
        self.counts["detections"] += len(detections)
        self.counts["laps"] += len(laps)
        self.counts["game_points"] += len(game_points)
        self.counts["race_pilot_channels"] += len(pilot_channels)
        return document

    def _laps(self, passes: list[_Pass], pilot_start: list[int], target: int) -> tuple[list[Json], list[list[int]]]:
        """Laps from the finish-line passes (in time order), and each slot's counted lap end times."""
        previous = list(pilot_start)
        counted: list[list[int]] = [[] for _ in pilot_start]
        laps: list[Json] = []
        for p in passes:
            if p.timer != 0:
                continue
            begin = previous[p.slot]
            laps.append(
                {
                    "Detection": p.id,
                    "LengthSeconds": (p.time - begin) / 1000,
                    "LapNumber": p.lap,
                    "StartTime": self.date(begin),
                    "EndTime": self.date(p.time),
                    "ID": self.guid(),
                    "ExternalID": 0,
                }
            )
            if p.valid:
                previous[p.slot] = p.time
                if 1 <= p.lap <= target:
                    counted[p.slot].append(p.time)
        return laps, counted

    def _results(self, race: _Race, counted: list[list[int]]) -> list[Json]:
        assert race.start is not None
        target = self.spec.laps
        order = sorted(
            range(len(race.slots)),
            key=lambda s: (-len(counted[s]), counted[s][-1] if counted[s] else 0, s),
        )
        results: list[Json] = []
        for position, slot in enumerate(order, start=1):
            done = counted[slot]
            result: Json = {
                "Points": _POINTS[position - 1] if position <= len(_POINTS) else 0,
                "Position": position,
                "Valid": True,
                "Event": self.event_id,
                "Pilot": race.slots[slot][0],
                "Race": race.id,
                "Round": race.round.id,
                "DNF": len(done) < target,
                "ResultType": "Race",
            }
            if not race.legacy_shape:
                result["Time"] = format_span((done[-1] - race.start) / 1000 if done else 0)
                result["LapsFinished"] = len(done)
            if race.future_result and position == 1:
                result["FutureField"] = True
            result["ID"] = self.guid()
            result["ExternalID"] = 0
            results.append(result)
        return results

    # ---- event files ----------------------------------------------------------------------------------------

    def _points_by_pilot(self) -> dict[str, tuple[int, int]]:
        """Points and race count per pilot over the valid, non-final rounds."""
        totals: dict[str, tuple[int, int]] = {}
        for race in self.races:
            if race.round.final or not race.round.valid:
                continue
            for result in race.results:
                points, count = totals.get(result["Pilot"], (0, 0))
                totals[result["Pilot"]] = (points + result["Points"], count + 1)
        return totals

    def _write_event_files(self) -> None:
        spec, rng = self.spec, self.rng
        self.event_dir.mkdir(parents=True, exist_ok=True)
        totals = self._points_by_pilot()
        standings = sorted(totals.items(), key=lambda item: (-item[1][0], self.pilot_names[item[0]]))

        # Pilots.json
        pilots = [*self.pilots, self.practice_pilot, self.removed_pilot]
        if not self.legacy:
            first = dict(pilots[0])
            ident, external = first.pop("ID"), first.pop("ExternalID")
            first["FutureField"] = {"Nested": [1, "zwei", None]}
            first["ID"], first["ExternalID"] = ident, external
            pilots[0] = first
        write_json(self.event_dir / "Pilots.json", pilots)
        self.counts["pilots"] = len(pilots)

        # Stages.json
        if not self.legacy:
            stage_one: Json = {
                "Name": "Qualifikation \N{EN DASH} Vorläufe",
                "PointSummary": {"RoundPositionRollover": False, "DropWorstRound": True},
                "TimeSummary": {"IncludeAllRounds": False, "TimeSummaryType": "PB"},
                "LapCountAfterRound": False,
                "SheetFormatFilename": None,
                "ScriptFormatFilename": None,
                "Valid": True,
                "Order": 0,
                "StageType": 0,
                "Standings": {
                    "Headings": ["Position", "Points", "Races"],
                    "Rows": [
                        {"Name": self.pilot_names[pid], "PilotId": pid, "Values": [str(i), str(pts), str(n)]}
                        for i, (pid, (pts, n)) in enumerate(standings, start=1)
                    ],
                },
                "FutureField": 42,
                "ID": self.stage_ids[0],
                "ExternalID": 0,
            }
            stage_two: Json = {
                "Name": 'Finals "A\N{EN DASH}Z"',
                "PointSummary": {"RoundPositionRollover": True, "DropWorstRound": False},
                "TimeSummary": None,
                "LapCountAfterRound": False,
                "SheetFormatFilename": None,
                "ScriptFormatFilename": None,
                "Valid": True,
                "Order": 1,
                "StageType": 4,
                "Standings": None,
                "ID": self.stage_ids[1],
                "ExternalID": 0,
            }
            stages = [stage_one, stage_two] if len(self.rounds) >= 2 else [stage_one]
            if len(stages) == 1:
                self.stage_ids = self.stage_ids[:1]
            write_json(self.event_dir / "Stages.json", stages)
            self.counts["stages"] = len(stages)

        # Rounds.json
        rounds = [self._round_document(rnd) for rnd in self.rounds]
        write_json(self.event_dir / "Rounds.json", rounds)
        self.counts["rounds"] = len(rounds)

        # Results.json: roll-over results of the best pilots into the final round.
        final = next((r for r in self.rounds if r.final), None)
        if final is not None and standings:
            rollover = []
            for position, (pid, _) in enumerate(standings[:4], start=1):
                result: Json = {
                    "Points": (4, 3, 2, 1)[position - 1],
                    "Position": position,
                    "Valid": True,
                    "Event": self.event_id,
                    "Pilot": pid,
                    "Race": ZERO_GUID,
                    "Round": final.id,
                    "DNF": False,
                    "ResultType": "RoundRollOver",
                }
                if not self.legacy:
                    result["Time"] = format_span(0)
                    result["LapsFinished"] = 0
                result["ID"] = self.guid()
                result["ExternalID"] = 0
                rollover.append(result)
            write_json(self.event_dir / "Results.json", rollover)
            self.counts["rollover_results"] = len(rollover)
            self.counts["results"] += len(rollover)

        # Event.json
        roster = [
            {"Pilot": pid, "Channel": channel_id(channel), "ID": self.guid(), "ExternalID": 0}
            for pid, channel in self.roster.items()
        ]
        roster.append(
            {
                "Pilot": self.practice_pilot["ID"],
                "Channel": channel_id(_RACE_CHANNELS[0]),
                "ID": self.guid(),
                "ExternalID": 0,
            }
        )
        self.counts["roster"] = len(roster)
        channels = sorted(_EVENT_CHANNELS, key=lambda c: (_FREQUENCY[c], _BAND[c]))
        display_names: list[str | None] = [None] * len(channels)
        display_names[-1] = "Bänd 8"
        flags = [
            self.date(race.start + 41_250)
            for race in self.races
            if race.flagged and race.start is not None and not self.legacy
        ]
        started = [r.start for r in self.races if r.start is not None]
        last_day = (self.base + timedelta(milliseconds=max(started, default=0))).date() + timedelta(days=1)
        event: Json = {
            "EventType": "Race",
            "Name": spec.name,
            "Start": format_date(datetime.combine(self.base.date(), datetime.min.time())),
            "End": NOT_SET if not self.legacy else format_date(datetime.combine(last_day, datetime.min.time())),
            "Laps": spec.laps,
            "PBLaps": 2,
            "PackLimit": 0,
            "RaceLength": format_span(120),
            "MinStartDelay": format_span(0.5),
            "MaxStartDelay": format_span(5),
            "PrimaryTimingSystemLocation": "Holeshot",
            "RaceStartIgnoreDetections": format_span(0.5),
            "MinLapTime": format_span(5),
            "LastOpened": self.date(-41 * 60_000 + rng.randrange(0, 60_000)),
            "PilotChannels": roster,
            "RemovedPilots": [self.removed_pilot["ID"]],
            "Rounds": [r.id for r in self.rounds],
            "Club": ZERO_GUID,
            "Channels": [channel_id(c) for c in channels],
            "ChannelColors": list(_PALETTE),
            "ChannelDisplayNames": display_names,
            "Enabled": True,
        }
        if self.legacy:
            event["MultiGPRaceFormat"] = "AggregateLaps"
        else:
            event["IsGQ"] = False
            event["MultiGPDisabledSlots"] = []
        event["Races"] = sorted([*(r.id for r in self.races), self.deleted_race_id, self.missing_race_id])
        event["SyncWithFPVTrackside"] = False
        event["SyncWithMultiGP"] = False
        if not self.legacy:
            event["GenerateHeatsMultiGP"] = False
        event["VisibleOnline"] = True
        event["Locked" if self.legacy else "RulesLocked"] = False
        event.update(
            {
                "Track": ZERO_GUID,
                "Sectors": [],
                "PilotsRegistered": len(self.pilots),
                "Flags": flags,
                "GameTypeName": None,
            }
        )
        if not self.legacy:
            event["TimeZone"] = spec.time_zone
            event["FutureField"] = {"Added": "2026", "List": ["ä", "\\", '"']}
        event["ID"] = self.event_id
        event["ExternalID"] = 0
        write_json(self.event_dir / "Event.json", [event])

    def _round_document(self, rnd: _Round) -> Json:
        document: Json = {
            "Name": "Finale \N{EN DASH} Main Event" if rnd.final else "",
            "RoundNumber": rnd.number,
            "EventType": rnd.event_type,
        }
        if self.legacy:
            document["RoundType"] = "Final" if rnd.final else "Round"
            document["Valid"] = rnd.valid
            document["PointSummary"] = {"RoundPositionRollover": True, "DropWorstRound": False} if rnd.final else None
            document["TimeSummary"] = (
                {"IncludeAllRounds": False, "TimeSummaryType": "PB"} if not rnd.practice and not rnd.final else None
            )
            document["LapCountAfterRound"] = False
            document["Order"] = rnd.index
            document["SheetFormatFilename"] = None
            document["ScheduledStart"] = self.date(rnd.scheduled_start)
        else:
            document["Valid"] = rnd.valid
            document["Order"] = rnd.index
            document["ScheduledStart"] = self.date(rnd.scheduled_start)
            document["Handicapped"] = rnd.handicapped
            document["GameTypeName"] = None
            document["Stage"] = self.stage_ids[1] if rnd.final else self.stage_ids[0]
        document["ID"] = rnd.id
        document["ExternalID"] = 0
        return document

    def _write_channels(self) -> None:
        path = self.root / "httpfiles" / "Channels.json"
        document = _channels_document()
        self.counts["channels"] = len(document)
        text = json.dumps(document, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode("utf-8")
        if not path.exists() or path.read_bytes() != text:
            write_json(path, document)
