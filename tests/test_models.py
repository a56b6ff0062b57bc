"""Tests of the FPVTrackside models: real documents of both schema generations, value formats, leniency."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fpvsync.errors import DocumentUnavailable
from fpvsync.trackside.models import (
    GUID_ZERO,
    Channel,
    Detection,
    Event,
    GamePoint,
    Lap,
    Pilot,
    PilotChannel,
    Race,
    RacePilotChannel,
    Result,
    Round,
    Stage,
    TracksideModel,
    canonical_enum,
    parse_date,
    parse_list,
    parse_span,
)
from tests.strategies import documents, json_keys, json_values

ALL_MODELS: list[type[TracksideModel]] = [
    PilotChannel,
    RacePilotChannel,
    Pilot,
    Channel,
    Event,
    Stage,
    Round,
    Detection,
    Lap,
    GamePoint,
    Race,
    Result,
]

EVENT_ID = "6b0f3d0e-8a61-4c4e-9d8e-2f1c5b7a9e30"
PILOT_A = "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11"
PILOT_B = "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f"
ROUND_1 = "3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60"
ROUND_2 = "77aa1c2e-5d3f-4b8a-9c0d-e1f2a3b4c5d6"
STAGE_1 = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
RACE_1 = "1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8"
R9 = "00000009-0000-0000-0000-000000000000"
R11 = "0000000b-0000-0000-0000-000000000000"


def source_document(text: str) -> Any:
    """Decode a sample the way fpvsync receives it: CRLF line endings (written on Windows), UTF-8 bytes."""
    return json.loads(text.strip().replace("\n", "\r\n").encode("utf-8"))


# --------------------------------------------------------------------------------------------------------------
# Samples as FPVTrackside writes them (raw strings: the backslashes are JSON escapes)
# --------------------------------------------------------------------------------------------------------------

EVENT_NEW = r"""
[
  {
    "EventType": "Race",
    "Name": "Club Night \"Summer\" Series \\ Zürich · 夏",
    "Start": "2025/08/16 9:00:00",
    "End": "0001/01/01 0:00:00",
    "Laps": 3,
    "PBLaps": 3,
    "PackLimit": 0,
    "RaceLength": "00:02:00",
    "MinStartDelay": "00:00:00.5000000",
    "MaxStartDelay": "00:00:05",
    "PrimaryTimingSystemLocation": "Holeshot",
    "RaceStartIgnoreDetections": "00:00:00.5000000",
    "MinLapTime": "00:00:05",
    "LastOpened": "2025/08/16 18:42:07.13",
    "PilotChannels": [
      {"Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "Channel": "00000009-0000-0000-0000-000000000000",
       "ID": "8c2f1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e5f", "ExternalID": 0},
      {"Pilot": "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f", "Channel": "0000000b-0000-0000-0000-000000000000",
       "ID": "8c2f1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e60", "ExternalID": 0}
    ],
    "RemovedPilots": [],
    "Rounds": ["3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60"],
    "Club": "00000000-0000-0000-0000-000000000000",
    "Channels": ["00000009-0000-0000-0000-000000000000", "0000000b-0000-0000-0000-000000000000"],
    "ChannelColors": ["#FF0000", "#00FF00", "#0000FF", "#FFFF00"],
    "ChannelDisplayNames": [null, "R3 \"low\""],
    "Enabled": true,
    "IsGQ": false,
    "MultiGPDisabledSlots": [],
    "Races": ["1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8"],
    "SyncWithFPVTrackside": false,
    "SyncWithMultiGP": false,
    "GenerateHeatsMultiGP": false,
    "VisibleOnline": true,
    "RulesLocked": false,
    "Track": "00000000-0000-0000-0000-000000000000",
    "Sectors": [],
    "PilotsRegistered": 2,
    "Flags": [],
    "GameTypeName": null,
    "TimeZone": "Europe/Zurich",
    "ID": "6b0f3d0e-8a61-4c4e-9d8e-2f1c5b7a9e30",
    "ExternalID": 0
  }
]
"""

EVENT_OLD = r"""
[
  {
    "EventType": "Practise",
    "Name": "Tuesday practice",
    "Start": "2023/06/06 18:00:00",
    "End": "2023/06/06 21:30:00",
    "Laps": 4,
    "PBLaps": 2,
    "PackLimit": 3,
    "RaceLength": "00:00:00",
    "MinStartDelay": "00:00:01",
    "MaxStartDelay": "00:00:03",
    "PrimaryTimingSystemLocation": "EndOfLap",
    "RaceStartIgnoreDetections": "00:00:00",
    "MinLapTime": "00:00:04.5000000",
    "LastOpened": "2023/06/06 17:55:12.4",
    "PilotChannels": [],
    "RemovedPilots": ["5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11"],
    "Rounds": [],
    "Club": "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
    "Channels": ["00000001-0000-0000-0000-000000000000"],
    "ChannelColors": ["#FF0000"],
    "ChannelDisplayNames": null,
    "Enabled": true,
    "MultiGPRaceFormat": "AggregateLaps",
    "Locked": false,
    "SyncWith": "None",
    "ID": "2f0e1d2c-3b4a-4596-8786-a5b4c3d2e1f0",
    "ExternalID": 41235
  }
]
"""

PILOTS = r"""
[
  {
    "Name": "Zoë \"Zippy\" O'Brien",
    "Phonetic": "zo ee",
    "FirstName": "Zoë",
    "LastName": "O'Brien",
    "SillyName": "C:\\FPV\\zippy",
    "DiscordID": null,
    "Aircraft": "5\" freestyle",
    "CatchPhrase": "line one\r\nline two",
    "BestResult": null,
    "TimingSensitivityPercent": 100,
    "PracticePilot": false,
    "PhotoPath": "pilots/zippy.png",
    "VelocidroneUID": "0a1b2c",
    "VideoFlipped": false,
    "VideoMirrored": true,
    "ID": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11",
    "ExternalID": 0
  },
  {
    "Name": "山田 🚁",
    "Phonetic": null,
    "FirstName": null,
    "LastName": null,
    "SillyName": null,
    "Aircraft": null,
    "CatchPhrase": null,
    "BestResult": null,
    "TimingSensitivityPercent": 85,
    "PracticePilot": true,
    "PhotoPath": null,
    "ID": "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f",
    "ExternalID": 0
  }
]
"""

CHANNELS = r"""
[
  {"Number": 1, "Band": "Raceband", "ShortBand": "R", "ChannelPrefix": "\u0000", "Frequency": 5658,
   "DisplayName": null, "ID": "00000009-0000-0000-0000-000000000000", "ExternalID": 0},
  {"Number": 1, "Band": "Fatshark", "ShortBand": "F", "ChannelPrefix": "L", "Frequency": 5740,
   "DisplayName": "F1 \"tree\"", "ID": "00000001-0000-0000-0000-000000000000", "ExternalID": 0}
]
"""

STAGES = r"""
[
  {
    "Name": "Qualifying",
    "PointSummary": null,
    "TimeSummary": {"IncludeAllRounds": false, "TimeSummaryType": "PB"},
    "LapCountAfterRound": false,
    "SheetFormatFilename": null,
    "ScriptFormatFilename": null,
    "Valid": true,
    "Order": 100,
    "StageType": 0,
    "Standings": null,
    "ID": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    "ExternalID": 0
  },
  {
    "Name": "Double elimination",
    "PointSummary": {"RoundPositionRollover": true, "DropWorstRound": false},
    "TimeSummary": null,
    "LapCountAfterRound": true,
    "SheetFormatFilename": "DoubleElim16.xlsx",
    "ScriptFormatFilename": "double_elim.lua",
    "Valid": true,
    "Order": 200,
    "StageType": 1,
    "Standings": {
      "Headings": ["Pos", "Pilot"],
      "Rows": [{"Name": "Zoë", "PilotId": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "Values": ["1", "Zoë"]}]
    },
    "ID": "ab8e7d6c-5b4a-4392-8170-6f5e4d3c2b1b",
    "ExternalID": 0
  }
]
"""

ROUNDS = r"""
[
  {
    "Name": "",
    "RoundNumber": 1,
    "EventType": "Race",
    "Valid": true,
    "Order": 100,
    "ScheduledStart": "0001/01/01 0:00:00",
    "Handicapped": false,
    "GameTypeName": null,
    "Stage": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
    "ID": "3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60",
    "ExternalID": 0
  },
  {
    "Name": null,
    "RoundNumber": 2,
    "EventType": "Enduro",
    "RoundType": "Final",
    "Valid": false,
    "PointSummary": {"RoundPositionRollover": false, "DropWorstRound": true},
    "TimeSummary": null,
    "LapCountAfterRound": false,
    "Order": 200,
    "SheetFormatFilename": "Final8.xlsx",
    "ScheduledStart": "2023/06/10 13:30:00",
    "ID": "77aa1c2e-5d3f-4b8a-9c0d-e1f2a3b4c5d6",
    "ExternalID": 0
  }
]
"""

RACE_NEW = r"""
[
  {
    "Laps": [
      {"Detection": "d0000000-0000-4000-8000-000000000001", "LengthSeconds": 1.234, "LapNumber": 0,
       "StartTime": "2025/08/16 9:12:00.5", "EndTime": "2025/08/16 9:12:01.734",
       "ID": "10000000-0000-4000-8000-000000000001", "ExternalID": 0},
      {"Detection": "d0000000-0000-4000-8000-000000000003", "LengthSeconds": 31.5605717, "LapNumber": 1,
       "StartTime": "2025/08/16 9:12:01.734", "EndTime": "2025/08/16 9:12:33.2945717",
       "ID": "10000000-0000-4000-8000-000000000002", "ExternalID": 0}
    ],
    "Detections": [
      {"TimingSystemIndex": 0, "Channel": "00000009-0000-0000-0000-000000000000", "Time": "2025/08/16 9:12:01.734",
       "Peak": 3512, "TimingSystemType": "LapRF8Way", "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "LapNumber": 0,
       "Valid": true, "ValidityType": "Auto", "IsLapEnd": true, "RaceSector": 0, "IsHoleshot": true,
       "ID": "d0000000-0000-4000-8000-000000000001", "ExternalID": 0},
      {"TimingSystemIndex": 1, "Channel": "00000009-0000-0000-0000-000000000000", "Time": "2025/08/16 9:12:15.1",
       "Peak": 2870, "TimingSystemType": "LapRF8Way", "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "LapNumber": 1,
       "Valid": true, "ValidityType": "Auto", "IsLapEnd": false, "RaceSector": 101, "IsHoleshot": false,
       "ID": "d0000000-0000-4000-8000-000000000002", "ExternalID": 0},
      {"TimingSystemIndex": 0, "Channel": "00000009-0000-0000-0000-000000000000", "Time": "2025/08/16 9:12:33.2945717",
       "Peak": 3390, "TimingSystemType": "LapRF8Way", "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "LapNumber": 1,
       "Valid": false, "ValidityType": "ManualOverride", "IsLapEnd": true, "RaceSector": 100, "IsHoleshot": false,
       "ID": "d0000000-0000-4000-8000-000000000003", "ExternalID": 0}
    ],
    "GamePoints": [
      {"Channel": "0000000b-0000-0000-0000-000000000000", "Pilot": "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f",
       "Valid": true, "Time": "2025/08/16 9:12:20", "ID": "90000000-0000-4000-8000-000000000001", "ExternalID": 0}
    ],
    "Start": "2025/08/16 9:12:00.5",
    "End": "0001/01/01 0:00:00",
    "TotalPausedTime": "00:00:00",
    "PilotChannels": [
      {"HandicapOffset": "00:00:01.5000000", "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11",
       "Channel": "00000009-0000-0000-0000-000000000000", "ID": "8c2f1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e5f",
       "ExternalID": 0},
      {"HandicapOffset": "00:00:00", "Pilot": "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f",
       "Channel": "0000000b-0000-0000-0000-000000000000", "ID": "8c2f1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e60",
       "ExternalID": 0}
    ],
    "RaceNumber": 1,
    "Round": "3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60",
    "TargetLaps": 3,
    "PrimaryTimingSystemLocation": "Holeshot",
    "Valid": true,
    "AutoAssignNumbers": true,
    "Event": "6b0f3d0e-8a61-4c4e-9d8e-2f1c5b7a9e30",
    "Bracket": "None",
    "ID": "1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8",
    "ExternalID": 0
  }
]
"""

RACE_OLD = r"""
[
  {
    "Laps": [
      {"Detection": "e0000000-0000-4000-8000-000000000001", "LengthSeconds": 28.09, "LapNumber": 1,
       "StartTime": "2023/06/06 18:20:03", "EndTime": "2023/06/06 18:20:31.09",
       "ID": "20000000-0000-4000-8000-000000000001", "ExternalID": 0}
    ],
    "Detections": [
      {"TimingSystemIndex": 0, "Channel": "00000001-0000-0000-0000-000000000000", "Time": "2023/06/06 18:20:31.09",
       "Peak": 411, "TimingSystemType": "SharkByte", "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "LapNumber": 1,
       "Valid": true, "ValidityType": "Marshall", "IsLapEnd": true,
       "ID": "e0000000-0000-4000-8000-000000000001", "ExternalID": 0}
    ],
    "Start": "2023/06/06 18:20:03",
    "End": "2023/06/06 18:22:03.117",
    "TotalPausedTime": "00:00:12.2500000",
    "PilotChannels": [
      {"Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "Channel": "00000001-0000-0000-0000-000000000000",
       "ID": "30000000-0000-4000-8000-000000000001", "ExternalID": 0}
    ],
    "RaceNumber": 7,
    "Round": "77aa1c2e-5d3f-4b8a-9c0d-e1f2a3b4c5d6",
    "TargetLaps": 0,
    "PrimaryTimingSystemLocation": "EndOfLap",
    "Valid": false,
    "AutoAssignNumbers": false,
    "Event": "2f0e1d2c-3b4a-4596-8786-a5b4c3d2e1f0",
    "Bracket": "Winners",
    "ID": "40000000-0000-4000-8000-000000000001",
    "ExternalID": 0
  }
]
"""

RESULTS_NEW = r"""
[
  {"Points": 10, "Position": 1, "Valid": true, "Event": "6b0f3d0e-8a61-4c4e-9d8e-2f1c5b7a9e30",
   "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "Race": "1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8",
   "Round": "3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60", "DNF": false, "ResultType": "Race",
   "Time": "00:01:12.3456789", "LapsFinished": 3, "ID": "50000000-0000-4000-8000-000000000001", "ExternalID": 0},
  {"Points": 0, "Position": -1, "Valid": true, "Event": "6b0f3d0e-8a61-4c4e-9d8e-2f1c5b7a9e30",
   "Pilot": "c0ffee00-1234-4bcd-8ef0-9a8b7c6d5e4f", "Race": "1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8",
   "Round": "3e9d2a71-0c4b-4f5e-8a6d-1b2c3d4e5f60", "DNF": true, "ResultType": "Race",
   "Time": "00:00:00", "LapsFinished": 0, "ID": "50000000-0000-4000-8000-000000000002", "ExternalID": 0}
]
"""

RESULTS_ROLLOVER_OLD = r"""
[
  {"Points": 14, "Position": 2, "Valid": true, "Event": "2f0e1d2c-3b4a-4596-8786-a5b4c3d2e1f0",
   "Pilot": "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11", "Race": "00000000-0000-0000-0000-000000000000",
   "Round": "77aa1c2e-5d3f-4b8a-9c0d-e1f2a3b4c5d6", "DNF": false, "ResultType": "RoundRollOver",
   "ID": "60000000-0000-4000-8000-000000000001", "ExternalID": 0}
]
"""


def parse_one(model: type[Any], text: str) -> Any:
    parsed = parse_list(model, source_document(text), "sample.json")
    assert parsed.issues == []
    assert len(parsed.items) == 1
    return parsed.items[0]


# --------------------------------------------------------------------------------------------------------------
# Real documents
# --------------------------------------------------------------------------------------------------------------


def test_event_new_generation() -> None:
    event = parse_one(Event, EVENT_NEW)
    assert event.id == EVENT_ID
    assert event.external_id == 0
    assert event.event_type == "Race"
    assert event.name == 'Club Night "Summer" Series \\ Zürich · 夏'
    assert event.start == datetime(2025, 8, 16, 9, 0, 0)
    assert event.end is None  # the year-1 sentinel: no end
    assert (event.laps, event.pb_laps, event.pack_limit) == (3, 3, 0)
    assert event.race_length == 120.0
    assert event.min_start_delay == 0.5
    assert event.max_start_delay == 5.0
    assert event.min_lap_time == 5.0
    assert event.race_start_ignore_detections == 0.5
    assert event.primary_timing_system_location == "Holeshot"
    assert event.last_opened == datetime(2025, 8, 16, 18, 42, 7, 130000)
    assert [(pc.pilot, pc.channel) for pc in event.pilot_channels] == [(PILOT_A, R9), (PILOT_B, R11)]
    assert event.pilot_channels[0].id == "8c2f1d3e-1b2a-4c5d-9e8f-0a1b2c3d4e5f"
    assert event.removed_pilots == []
    assert event.rounds == [ROUND_1]
    assert event.races == [RACE_1]
    assert event.club is None  # zero GUID: no club
    assert event.track is None
    assert event.channels == [R9, R11]
    assert event.channel_colors == ["#FF0000", "#00FF00", "#0000FF", "#FFFF00"]
    assert event.channel_display_names == [None, 'R3 "low"']
    assert (event.enabled, event.visible_online) == (True, True)
    assert event.sectors == []
    assert event.flags == []
    assert event.pilots_registered == 2
    assert event.game_type_name is None
    assert event.time_zone == "Europe/Zurich"
    assert event.multi_gp_race_format is None
    assert event.locked is None
    # Sync flags and the other keys this model does not represent are kept as sent.
    assert event.extras() == {
        "IsGQ": False,
        "MultiGPDisabledSlots": [],
        "SyncWithFPVTrackside": False,
        "SyncWithMultiGP": False,
        "GenerateHeatsMultiGP": False,
    }
    assert event.rules_locked is False


def test_event_old_generation() -> None:
    event = parse_one(Event, EVENT_OLD)
    assert event.event_type == "Practice"  # "Practise" is an alias
    assert event.end == datetime(2023, 6, 6, 21, 30)
    assert event.min_lap_time == 4.5
    assert event.race_length == 0.0
    assert event.primary_timing_system_location == "EndOfLap"
    assert event.club == "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
    assert event.removed_pilots == [PILOT_A]
    assert event.channel_display_names == []  # null list
    assert event.external_id == 41235
    # "AggregateLaps" is an EventType alias of Endurance, but a MultiGPRaceFormat name of its own.
    assert event.multi_gp_race_format == "AggregateLaps"
    assert event.locked is False
    assert event.time_zone is None
    assert event.races == []
    assert event.extras() == {"SyncWith": "None"}


def test_pilots_with_hard_names_in_both_generations() -> None:
    parsed = parse_list(Pilot, source_document(PILOTS), "Pilots.json")
    assert parsed.issues == []
    zoe, yamada = parsed.items
    assert zoe.name == 'Zoë "Zippy" O\'Brien'
    assert zoe.silly_name == "C:\\FPV\\zippy"
    assert zoe.aircraft == '5" freestyle'
    assert zoe.catch_phrase == "line one\r\nline two"  # the CRLF inside a value is data, kept as is
    assert zoe.first_name == "Zoë"
    assert zoe.discord_id is None
    assert zoe.timing_sensitivity_percent == 100
    assert (zoe.practice_pilot, zoe.video_flipped, zoe.video_mirrored) == (False, False, True)
    assert zoe.velocidrone_uid == "0a1b2c"
    assert zoe.photo_path == "pilots/zippy.png"
    assert yamada.name == "山田 🚁"
    assert yamada.practice_pilot is True
    assert yamada.timing_sensitivity_percent == 85
    # Older builds have no Velocidrone/video fields: they read as not set.
    assert (yamada.velocidrone_uid, yamada.video_flipped, yamada.video_mirrored) == (None, None, None)
    assert yamada.extras() == {}


def test_channels_and_the_nul_prefix() -> None:
    parsed = parse_list(Channel, source_document(CHANNELS), "httpfiles/Channels.json")
    raceband, fatshark = parsed.items
    assert raceband.channel_prefix == ""
    assert fatshark.channel_prefix == "L"
    assert (raceband.number, raceband.band, raceband.short_band, raceband.frequency) == (1, "Raceband", "R", 5658)
    assert raceband.display_name is None
    assert fatshark.display_name == 'F1 "tree"'
    assert raceband.id == R9
    assert fatshark.id == "00000001-0000-0000-0000-000000000000"


def test_stages() -> None:
    qualifying, double_elim = parse_list(Stage, source_document(STAGES)).items
    assert qualifying.stage_type == "Default"
    assert qualifying.point_summary is None
    assert qualifying.time_summary == {"IncludeAllRounds": False, "TimeSummaryType": "PB"}
    assert qualifying.standings is None
    assert (qualifying.valid, qualifying.order, qualifying.lap_count_after_round) == (True, 100, False)
    assert double_elim.stage_type == "DoubleElimination"
    assert double_elim.point_summary == {"RoundPositionRollover": True, "DropWorstRound": False}
    assert double_elim.standings["Rows"][0]["PilotId"] == PILOT_A
    assert double_elim.sheet_format_filename == "DoubleElim16.xlsx"
    assert double_elim.script_format_filename == "double_elim.lua"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(0, "Default"), (1, "DoubleElimination"), (2, "ChaseTheAce"), (3, "StreetLeague"), (4, "Final"), (9, "9")],
)
def test_stage_type_numbers(raw: int, expected: str) -> None:
    assert Stage.model_validate({"StageType": raw}).stage_type == expected


def test_rounds_in_both_generations() -> None:
    new, old = parse_list(Round, source_document(ROUNDS)).items
    assert new.name == ""
    assert new.round_number == 1
    assert new.event_type == "Race"
    assert new.scheduled_start is None
    assert new.stage == STAGE_1
    assert new.handicapped is False
    assert (new.round_type, new.point_summary, new.sheet_format_filename) == (None, None, None)
    assert old.id == ROUND_2
    assert old.name is None
    assert old.event_type == "Endurance"  # "Enduro" is an alias
    assert old.round_type == "Final"
    assert old.valid is False
    assert old.point_summary == {"RoundPositionRollover": False, "DropWorstRound": True}
    assert old.time_summary is None
    assert old.sheet_format_filename == "Final8.xlsx"
    assert old.scheduled_start == datetime(2023, 6, 10, 13, 30)
    assert old.stage is None


def test_race_new_generation() -> None:
    race = parse_one(Race, RACE_NEW)
    assert race.id == RACE_1
    assert race.start == datetime(2025, 8, 16, 9, 12, 0, 500000)
    assert race.end is None  # running
    assert race.total_paused_time == 0.0
    assert (race.race_number, race.round, race.event, race.target_laps) == (1, ROUND_1, EVENT_ID, 3)
    assert race.primary_timing_system_location == "Holeshot"
    assert (race.valid, race.auto_assign_numbers) == (True, True)
    assert race.bracket == "None"  # FPVTrackside's bracket name, not a null

    holeshot, split, invalid = race.detections
    assert holeshot.is_holeshot is True
    assert holeshot.timing_system_type == "LapRF"  # "LapRF8Way" is an alias
    assert holeshot.time == datetime(2025, 8, 16, 9, 12, 1, 734000)
    assert (holeshot.peak, holeshot.lap_number, holeshot.race_sector) == (3512, 0, 0)
    assert (split.timing_system_index, split.is_lap_end, split.race_sector) == (1, False, 101)
    assert invalid.valid is False
    assert invalid.validity_type == "ManualOverride"
    assert invalid.time == datetime(2025, 8, 16, 9, 12, 33, 294571)  # 7 fraction digits: truncated to µs

    lap0, lap1 = race.laps
    assert lap0.detection == holeshot.id
    assert lap0.length_seconds == 1.234
    assert lap1.length_seconds == 31.5605717
    assert lap1.start_time == datetime(2025, 8, 16, 9, 12, 1, 734000)

    (point,) = race.game_points
    assert (point.channel, point.pilot, point.valid) == (R11, PILOT_B, True)
    assert point.time == datetime(2025, 8, 16, 9, 12, 20)

    a, b = race.pilot_channels
    assert isinstance(a, RacePilotChannel)
    assert (a.pilot, a.channel, a.handicap_offset) == (PILOT_A, R9, 1.5)
    assert b.handicap_offset == 0.0


def test_race_old_generation() -> None:
    race = parse_one(Race, RACE_OLD)
    assert race.game_points is None  # the key is absent: the build predates game points
    assert race.end == datetime(2023, 6, 6, 18, 22, 3, 117000)
    assert race.total_paused_time == 12.25
    assert race.valid is False
    assert race.bracket == "Winners"
    (detection,) = race.detections
    assert detection.timing_system_type == "HDZero"  # "SharkByte" is an alias
    assert detection.validity_type == "Marshall"
    assert (detection.race_sector, detection.is_holeshot) == (None, None)
    assert race.laps[0].end_time == datetime(2023, 6, 6, 18, 20, 31, 90000)
    assert race.pilot_channels[0].handicap_offset is None


def test_race_with_empty_game_points_is_not_an_old_build() -> None:
    assert Race.model_validate({"GamePoints": []}).game_points == []
    assert Race.model_validate({}).game_points is None


def test_results_new_and_roll_over() -> None:
    winner, dnf = parse_list(Result, source_document(RESULTS_NEW)).items
    assert (winner.points, winner.position, winner.dnf, winner.result_type) == (10, 1, False, "Race")
    assert winner.time == pytest.approx(72.3456789, abs=1e-9)
    assert winner.laps_finished == 3
    assert (winner.event, winner.pilot, winner.race, winner.round) == (EVENT_ID, PILOT_A, RACE_1, ROUND_1)
    assert (dnf.position, dnf.dnf, dnf.time, dnf.laps_finished) == (-1, True, 0.0, 0)

    (rollover,) = parse_list(Result, source_document(RESULTS_ROLLOVER_OLD)).items
    assert rollover.race is None  # zero GUID: a round roll-over result has no race
    assert rollover.result_type == "RoundRollOver"
    assert (rollover.time, rollover.laps_finished) == (None, None)  # older build
    assert rollover.round == ROUND_2


# --------------------------------------------------------------------------------------------------------------
# Value formats
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025/01/29 0:00:00", datetime(2025, 1, 29, 0, 0, 0)),
        ("2025/01/30 16:00:57.85", datetime(2025, 1, 30, 16, 0, 57, 850000)),
        ("2025/05/03 14:39:20.325", datetime(2025, 5, 3, 14, 39, 20, 325000)),
        ("2025/05/03 9:05:07.5", datetime(2025, 5, 3, 9, 5, 7, 500000)),
        ("2025/05/03 9:05:07.0000001", datetime(2025, 5, 3, 9, 5, 7, 0)),
        ("2025/05/03 9:05:07.1234567", datetime(2025, 5, 3, 9, 5, 7, 123456)),
        ("2025-05-03T14:39:20.3250000", datetime(2025, 5, 3, 14, 39, 20, 325000)),
        ("2025-05-03 14:39:20", datetime(2025, 5, 3, 14, 39, 20)),
        ("0001/01/01 0:00:00", None),
        ("0001/06/15 12:30:00.5", None),
        ("0001-01-01T00:00:00", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_date(text: str | None, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_parse_date_is_naive_for_the_source_format_and_keeps_an_iso_offset() -> None:
    parsed = parse_date("2025/05/03 14:39:20.325")
    assert parsed is not None
    assert parsed.tzinfo is None
    assert parse_date("2025-05-03T14:39:20Z") == datetime(2025, 5, 3, 14, 39, 20, tzinfo=UTC)
    aware = parse_date("2025-05-03T14:39:20+02:00")
    assert aware is not None
    assert aware.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize(
    "junk", ["2025/13/45 x", "2025/13/01 0:00:00", "2025/02/30 0:00:00", "yesterday", "16:00:57", 42, True, [], {}]
)
def test_parse_date_rejects_junk(junk: Any) -> None:
    with pytest.raises(ValueError, match=r"could not read .* as a date"):
        parse_date(junk)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    )
)
def test_parse_date_reads_what_fpvtrackside_writes(moment: datetime) -> None:
    # C# "yyyy/MM/dd H:mm:ss.FFF": hour unpadded, fraction without trailing zeros, absent when zero.
    fraction = f"{moment.microsecond // 1000:03d}".rstrip("0")
    text = f"{moment.year:04d}/{moment:%m/%d} {moment.hour}:{moment:%M:%S}" + (f".{fraction}" if fraction else "")
    assert parse_date(text) == moment


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:02:00", 120.0),
        ("00:00:00.5000000", 0.5),
        ("00:08:31.5605717", 511.5605717),
        ("1.02:03:04", 93784.0),
        ("1.02:03:04.5", 93784.5),
        ("-00:00:01.5000000", -1.5),
        ("-1.00:00:00", -86400.0),
        ("23:59:59.9999999", 86399.9999999),
        (12, 12.0),
        (2.5, 2.5),
        ("", None),
        (None, None),
    ],
)
def test_parse_span(text: Any, seconds: float | None) -> None:
    assert parse_span(text) == seconds


@pytest.mark.parametrize("junk", ["24:00:00", "00:60:00", "00:00:60", "2 minutes", "1:2:3", "00:00", True, [], {}])
def test_parse_span_rejects_junk(junk: Any) -> None:
    with pytest.raises(ValueError, match="as a time span"):
        parse_span(junk)


def test_parse_span_rejects_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="as a time span"):
        parse_span(math.inf)


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_parse_span_reads_dotnet_c_format(ticks: int) -> None:
    # .NET TimeSpan "c": [-][d.]hh:mm:ss[.fffffff], 1 tick = 100 ns.
    sign = "-" if ticks < 0 else ""
    seconds, fraction = divmod(abs(ticks), 10_000_000)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = sign + (f"{days}." if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"
    if fraction:
        text += f".{fraction:07d}"
    assert parse_span(text) == pytest.approx(ticks / 10_000_000, rel=1e-15, abs=1e-9)


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("EventType", "Practise", "Practice"),
        ("EventType", "Practice", "Practice"),
        ("EventType", "AggregateLaps", "Endurance"),
        ("EventType", "Enduro", "Endurance"),
        ("EventType", "CasualPractise", "CasualPractice"),
        ("EventType", "TimeTrial", "TimeTrial"),
        ("EventType", "SomethingNew", "SomethingNew"),
        ("TimingSystemType", "SharkByte", "HDZero"),
        ("TimingSystemType", "LapRF8Way", "LapRF"),
        ("TimingSystemType", "Video", "Video"),
        ("TimingSystemType", "Practise", "Practise"),  # aliases belong to their enum
        ("MultiGPRaceFormat", "AggregateLaps", "AggregateLaps"),
        ("MultiGPRaceFormat", 2, "Fastest3ConsecutiveLaps"),
        ("StageType", 2, "ChaseTheAce"),
        ("StageType", 3.0, "StreetLeague"),
        ("StageType", -1, "-1"),
        ("StageType", "Final", "Final"),
        ("ValidityType", 1, "1"),
        ("NoSuchEnum", "Practise", "Practise"),
        ("EventType", "", None),
        ("EventType", None, None),
    ],
)
def test_canonical_enum(kind: str, raw: Any, expected: str | None) -> None:
    assert canonical_enum(kind, raw) == expected


@pytest.mark.parametrize("junk", [True, 1.5, [], {"a": 1}])
def test_canonical_enum_rejects_non_names(junk: Any) -> None:
    with pytest.raises(ValueError, match="as a EventType value"):
        canonical_enum("EventType", junk)


def test_enum_aliases_in_models() -> None:
    assert Event.model_validate({"EventType": "CasualPractise"}).event_type == "CasualPractice"
    assert Round.model_validate({"EventType": "AggregateLaps"}).event_type == "Endurance"
    assert Detection.model_validate({"TimingSystemType": "SharkByte"}).timing_system_type == "HDZero"
    unknown = Detection.model_validate({"TimingSystemType": "Velocidrone", "ValidityType": "Robot"})
    assert (unknown.timing_system_type, unknown.validity_type) == ("Velocidrone", "Robot")
    assert unknown.issues == []
    assert Result.model_validate({"ResultType": ""}).result_type is None


def test_guids_are_lower_cased_and_zero_means_none() -> None:
    detection = Detection.model_validate(
        {
            "ID": "D0000000-0000-4000-8000-00000000ABCD",
            "Pilot": GUID_ZERO,
            "Channel": "0000000B-0000-0000-0000-000000000000",
        }
    )
    assert detection.id == "d0000000-0000-4000-8000-00000000abcd"
    assert detection.pilot is None
    assert detection.channel == R11
    assert Pilot.model_validate({"ID": GUID_ZERO}).id is None
    assert PilotChannel.model_validate({"Pilot": GUID_ZERO.upper(), "Channel": ""}).model_dump() == {
        "id": None,
        "external_id": None,
        "pilot": None,
        "channel": None,
    }


def test_zero_guid_in_a_reference_list_is_dropped_and_reported() -> None:
    event = Event.model_validate({"Rounds": [ROUND_1.upper(), GUID_ZERO]})
    assert event.rounds == [ROUND_1]
    assert event.extras() == {"Rounds": [ROUND_1.upper(), GUID_ZERO]}
    assert event.issues == [
        f"Event.Rounds[1]: could not read '{GUID_ZERO}' as a GUID reference (the zero GUID refers to nothing)"
    ]


# --------------------------------------------------------------------------------------------------------------
# Leniency: unknown keys, wrong types, broken lists
# --------------------------------------------------------------------------------------------------------------


def test_unknown_keys_are_kept_at_every_level() -> None:
    race = Race.model_validate(
        {
            "Start": "2025/08/16 9:12:00",
            "Weather": {"Wind": 3, "Rain": None},
            "Detections": [{"Valid": True, "Confidence": 0.97}],
            "PilotChannels": [{"Pilot": PILOT_A, "Team": 'Blue \\ "Team"'}],
        }
    )
    assert race.extras() == {"Weather": {"Wind": 3, "Rain": None}}
    assert race.detections[0].extras() == {"Confidence": 0.97}
    assert race.pilot_channels[0].extras() == {"Team": 'Blue \\ "Team"'}
    assert race.all_issues() == []


def test_wrong_types_are_reported_not_raised() -> None:
    race = Race.model_validate({"Start": 42, "TargetLaps": "abc", "Valid": {}, "RaceNumber": 3, "New": 1})
    assert (race.start, race.target_laps, race.valid) == (None, None, None)
    assert race.race_number == 3
    assert race.extras() == {"Start": 42, "TargetLaps": "abc", "Valid": {}, "New": 1}
    assert sorted(race.issues) == [
        "Race.Start: could not read 42 as a date",
        "Race.TargetLaps: could not read 'abc' as an integer",
        "Race.Valid: could not read {} as a boolean",
    ]


def test_unreadable_date_issue_names_the_value() -> None:
    race = Race.model_validate({"Start": "2025/13/45 x"})
    assert race.start is None
    assert race.issues == ["Race.Start: could not read '2025/13/45 x' as a date"]
    assert race.extras() == {"Start": "2025/13/45 x"}


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("RaceNumber", 3.0, 3),  # integral float
        ("RaceNumber", 3.5, None),
        ("RaceNumber", "3", None),
        ("RaceNumber", True, None),
        ("Valid", False, False),
        ("Valid", 1, None),
        ("Valid", "true", None),
        ("TotalPausedTime", 1.25, 1.25),
        ("TotalPausedTime", "abc", None),
        ("Bracket", 3, "3"),
        ("Bracket", ["A"], None),
    ],
)
def test_scalar_leniency(key: str, raw: Any, expected: Any) -> None:
    race = Race.model_validate({key: raw})
    field_name = next(name for name, info in Race.model_fields.items() if info.alias == key)
    value = getattr(race, field_name)
    assert value == expected
    assert type(value) is type(expected)
    if expected is None:
        assert race.extras() == {key: raw}
        assert len(race.issues) == 1
        assert race.issues[0].startswith(f"Race.{key}: could not read ")
    else:
        assert race.extras() == {}
        assert race.issues == []


@pytest.mark.parametrize(("raw", "expected"), [("Zippy", "Zippy"), (12345, "12345"), (1.5, "1.5"), (None, None)])
def test_text_fields_take_numbers_as_text(raw: Any, expected: str | None) -> None:
    pilot = Pilot.model_validate({"VelocidroneUID": raw})
    assert pilot.velocidrone_uid == expected
    assert pilot.issues == []


def test_text_fields_reject_booleans_and_structures() -> None:
    pilot = Pilot.model_validate({"Name": True, "Aircraft": ["quad"]})
    assert (pilot.name, pilot.aircraft) == (None, None)
    assert pilot.extras() == {"Name": True, "Aircraft": ["quad"]}


def test_a_list_keeps_readable_items_and_the_raw_list() -> None:
    raw_detections = [
        "garbage",
        {"Time": "2025/08/16 9:12:01.734", "Valid": True},
        None,
        7,
        {"Time": 12, "Valid": True},
    ]
    race = Race.model_validate({"Detections": raw_detections, "Laps": {"not": "a list"}})
    assert [d.valid for d in race.detections] == [True, True]
    assert race.detections[1].time is None
    assert race.laps == []
    assert race.extras() == {"Detections": raw_detections, "Laps": {"not": "a list"}}
    # Nulls carry nothing and are dropped quietly; indexes are the source's.
    assert race.issues == [
        "Race.Laps: could not read {'not': 'a list'} as a list",
        "Race.Detections[0]: could not read 'garbage' as a Detection object",
        "Race.Detections[3]: could not read 7 as a Detection object",
    ]
    assert race.all_issues() == [*race.issues, "Race.Detections[4].Time: could not read 12 as a date"]


def test_null_lists_read_as_empty() -> None:
    event = Event.model_validate({"PilotChannels": None, "Rounds": None, "ChannelColors": None})
    assert (event.pilot_channels, event.rounds, event.channel_colors) == ([], [], [])
    assert event.issues == []
    assert event.extras() == {}


def test_nested_issues_are_not_the_parents_own() -> None:
    race = Race.model_validate({"PilotChannels": [{"HandicapOffset": "soon"}]})
    assert race.issues == []
    assert race.extras() == {}
    assert race.pilot_channels[0].issues == ["RacePilotChannel.HandicapOffset: could not read 'soon' as a time span"]
    assert race.all_issues() == ["Race.PilotChannels[0].HandicapOffset: could not read 'soon' as a time span"]


def test_fields_by_name_and_alias() -> None:
    by_name = Result(points=10, position=1, race=GUID_ZERO, time="00:00:30")
    assert (by_name.points, by_name.position, by_name.race, by_name.time) == (10, 1, None, 30.0)
    # A key sent under both spellings: the JSON key is the field, the other is kept, not lost.
    both = Result.model_validate({"Points": 10, "points": 3})
    assert both.points == 10
    assert both.extras() == {"points": 3}


def test_models_dump_without_warnings() -> None:
    # pytest turns warnings into errors: pydantic's serializer must accept what the validators produced.
    race = parse_one(Race, RACE_NEW)
    dumped = race.model_dump(mode="json", by_alias=True)
    assert dumped["Start"] == "2025-08-16T09:12:00.500000"
    assert dumped["Detections"][0]["TimingSystemType"] == "LapRF"
    assert json.loads(race.model_dump_json())["total_paused_time"] == 0.0


# --------------------------------------------------------------------------------------------------------------
# parse_list
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "type_name"), [({"Name": "x"}, "object"), ("", "string"), (None, "null"), (3, "number")]
)
def test_parse_list_refuses_a_non_array(data: Any, type_name: str) -> None:
    with pytest.raises(DocumentUnavailable) as caught:
        parse_list(Pilot, data, "events/e/Pilots.json")
    assert caught.value.path == "events/e/Pilots.json"
    assert caught.value.reason == f"expected a JSON array, got {type_name}"


def test_parse_list_empty_array_is_empty_not_unavailable() -> None:
    parsed = parse_list(Race, [], "events/e/r/Race.json")
    assert (parsed.items, parsed.issues) == ([], [])


def test_parse_list_skips_non_objects_and_collects_nested_issues() -> None:
    parsed = parse_list(
        Race,
        [{"RaceNumber": 1}, "oops", None, {"RaceNumber": "two", "Laps": [{"LapNumber": 1.5}]}],
        "events/e/r/Race.json",
    )
    assert [race.race_number for race in parsed.items] == [1, None]
    assert parsed.issues == [
        "events/e/r/Race.json[1]: skipped: expected an object, got string 'oops'",
        "events/e/r/Race.json[2]: skipped: expected an object, got null None",
        "events/e/r/Race.json[3]: Race.RaceNumber: could not read 'two' as an integer",
        "events/e/r/Race.json[3]: Race.Laps[0].LapNumber: could not read 1.5 as an integer",
    ]


# --------------------------------------------------------------------------------------------------------------
# Properties: arbitrary JSON never raises and nothing is lost
# --------------------------------------------------------------------------------------------------------------


def _reads_as_nothing(raw: Any) -> bool:
    """Values a field may legitimately read as None: null, blank text, the zero GUID, the year-1 date."""
    if raw is None:
        return True
    if not isinstance(raw, str):
        return False
    if raw.strip() == "" or raw.lower() == GUID_ZERO:
        return True
    try:
        return parse_date(raw) is None
    except ValueError:
        return False


def _assert_nothing_lost(model: type[TracksideModel], doc: dict[str, Any], obj: TracksideModel) -> None:
    extras = obj.extras()
    by_key = {}
    for name, info in model.model_fields.items():
        by_key[info.alias or name] = name
        by_key.setdefault(name, name)
    for key, raw in doc.items():
        if key in extras:
            assert extras[key] is raw
            if key in by_key:  # a known key set aside: it must say why
                assert any(
                    issue.startswith((f"{model.__name__}.{key}:", f"{model.__name__}.{key}[")) for issue in obj.issues
                )
            continue
        assert key in by_key, f"{key!r} neither read nor kept"
        value = getattr(obj, by_key[key])
        if model.model_fields[by_key[key]].annotation is Any:
            assert value is raw  # kept as sent
        elif isinstance(value, list):
            # A list read whole: every item made it (nulls only in lists that allow them, like ChannelDisplayNames).
            raw_items = raw if isinstance(raw, list) else []
            keeps_nulls = None in value
            assert len(value) == len([item for item in raw_items if keeps_nulls or item is not None])
        elif value is None:
            assert _reads_as_nothing(raw), f"{key}={raw!r} read as None without a note"
    for issue in obj.issues:
        key = issue.split(": ", 1)[0].removeprefix(f"{model.__name__}.").split("[", 1)[0]
        assert key in extras, f"issue {issue!r} but nothing kept"


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_model_reads_any_json_in_every_field(model: type[TracksideModel]) -> None:
    @given(documents(model))
    def check(doc: dict[str, Any]) -> None:
        parsed = parse_list(model, [doc], "doc.json")
        assert len(parsed.items) == 1
        obj = parsed.items[0]
        _assert_nothing_lost(model, doc, obj)
        assert parsed.issues == [f"doc.json[0]: {issue}" for issue in obj.all_issues()]
        assert set(obj.issues) <= set(obj.all_issues())

    check()


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_a_key_equal_to_a_fields_python_name_next_to_its_json_key_is_kept_with_a_note(
    model: type[TracksideModel],
) -> None:
    """Found by hypothesis: ``{"standings": None, "ID": None, "Standings": None}`` kept "standings" silently."""
    for name, info in model.model_fields.items():
        if info.alias and info.alias != name:
            doc = {name: None, "ID": None, info.alias: None}
            _assert_nothing_lost(model, doc, model.model_validate(doc))


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.__name__)
def test_every_known_key_with_a_wrong_value(model: type[TracksideModel]) -> None:
    """Every known key at once holding something of a type no field takes."""
    doc = {key: {"unexpected": [1, "two"]} for key in json_keys(model)}
    obj = model.model_validate(doc)
    any_fields = {info.alias for info in model.model_fields.values() if info.annotation is Any}
    assert set(obj.extras()) == set(doc) - any_fields
    assert len(obj.issues) == len(doc) - len(any_fields)


@given(st.lists(json_values, max_size=6))
def test_parse_list_of_anything(data: list[Any]) -> None:
    parsed = parse_list(Detection, data, "d.json")
    assert len(parsed.items) == sum(isinstance(item, dict) for item in data)


# --------------------------------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------------------------------


def _race_document(detections: int) -> str:
    """A Race.json with ``detections`` detections (and a lap for each finish-line one), as FPVTrackside writes it."""
    start = datetime(2025, 8, 16, 9, 12, 0, 500000)
    items = []
    laps = []
    for i in range(detections):
        at = start + timedelta(milliseconds=1234 * i + 7)
        stamp = f"{at:%Y/%m/%d} {at.hour}:{at:%M:%S}." + f"{at.microsecond // 1000:03d}".rstrip("0")
        detection_id = f"d0000000-0000-4000-8000-{i:012x}"
        items.append(
            {
                "TimingSystemIndex": i % 2,
                "Channel": R9,
                "Time": stamp.rstrip("."),
                "Peak": 3000 + i % 500,
                "TimingSystemType": "LapRF8Way",
                "Pilot": PILOT_A,
                "LapNumber": i // 2,
                "Valid": True,
                "ValidityType": "Auto",
                "IsLapEnd": i % 2 == 0,
                "RaceSector": (i // 2) * 100 + i % 2,
                "IsHoleshot": i == 0,
                "ID": detection_id,
                "ExternalID": 0,
            }
        )
        if i % 2 == 0:
            laps.append(
                {
                    "Detection": detection_id,
                    "LengthSeconds": 2.468,
                    "LapNumber": i // 2,
                    "StartTime": stamp.rstrip("."),
                    "EndTime": stamp.rstrip("."),
                    "ID": f"10000000-0000-4000-8000-{i:012x}",
                    "ExternalID": 0,
                }
            )
    race = source_document(RACE_NEW)[0] | {"Detections": items, "Laps": laps}
    return json.dumps([race], indent=2, ensure_ascii=False)


def measure_detections_per_second(detections: int = 20_000, repeats: int = 5) -> tuple[float, float]:
    """Best-of-``repeats`` rates parsing one Race.json: (models only, json.loads + models)."""
    text = _race_document(detections)
    best_models = best_total = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        data = json.loads(text)
        t1 = time.perf_counter()
        parsed = parse_list(Race, data, "Race.json")
        t2 = time.perf_counter()
        assert parsed.issues == []
        assert len(parsed.items[0].detections) == detections
        best_models = min(best_models, t2 - t1)
        best_total = min(best_total, t2 - t0)
    return detections / best_models, detections / best_total


def test_a_large_race_document_parses_completely() -> None:
    # Speed is measured by `python -m tests.test_models` (and the benchmark), never asserted here.
    parsed = parse_list(Race, json.loads(_race_document(2_000)), "Race.json")
    assert parsed.issues == []
    race = parsed.items[0]
    assert len(race.detections) == 2_000
    assert len(race.laps) == 1_000
    assert race.laps[-1].detection == race.detections[-2].id


if __name__ == "__main__":
    # .venv/bin/python -m tests.test_models  -- prints the parse rate
    rates = measure_detections_per_second()
    print("Race.json with 20,000 detections (+10,000 laps), best of 5:")
    print(f"  models only:          {rates[0]:>10,.0f} detections/s")
    print(f"  json.loads + models:  {rates[1]:>10,.0f} detections/s")
