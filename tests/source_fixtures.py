"""Helpers for the FPVTrackside source tests: a small hand-written event folder, free ports, file trees.

The fixtures built on them live in :mod:`tests.conftest_source`.

The sample is written the way FPVTrackside writes files (indented, CRLF line endings, UTF-8 without BOM, names
with quotes, backslashes and non-ASCII characters) so byte-for-byte checks mean something.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENT_ID = "7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13"
OLD_EVENT_ID = "0b6f2e11-3c4d-4e5f-9a6b-7c8d9e0f1a2b"
FINISHED_RACE_ID = "a1000000-0000-4000-8000-000000000001"
RUNNING_RACE_ID = "a1000000-0000-4000-8000-000000000002"
DELETED_RACE_ID = "a1000000-0000-4000-8000-000000000003"
MISSING_RACE_ID = "a1000000-0000-4000-8000-000000000004"
PILOT_IDS = ("b2000000-0000-4000-8000-000000000001", "b2000000-0000-4000-8000-000000000002")
ROUND_ID = "c3000000-0000-4000-8000-000000000001"
NOT_SET = "0001/01/01 0:00:00"
ZERO = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class SampleEvent:
    """A replay directory with one current event (and an older one), shaped like the generator's output."""

    root: Path
    event_id: str = EVENT_ID
    race_ids: tuple[str, ...] = (FINISHED_RACE_ID, RUNNING_RACE_ID, DELETED_RACE_ID, MISSING_RACE_ID)
    finished_race_id: str = FINISHED_RACE_ID
    running_race_id: str = RUNNING_RACE_ID
    #: Listed in Event.json, Race.json is ``[]``.
    deleted_race_id: str = DELETED_RACE_ID
    #: Listed in Event.json, folder present but no Race.json.
    missing_race_id: str = MISSING_RACE_ID
    other_event_id: str = OLD_EVENT_ID
    files: tuple[str, ...] = field(default=())

    def path(self, relative: str) -> Path:
        return self.root / relative

    def event_file(self, name: str) -> Path:
        return self.root / "events" / self.event_id / name

    def race_file(self, race_id: str, name: str = "Race.json") -> Path:
        return self.root / "events" / self.event_id / race_id / name


def dump(data: Any) -> bytes:
    """JSON the way FPVTrackside writes it: indented, CRLF, UTF-8, non-ASCII kept."""
    return json.dumps(data, indent=2, ensure_ascii=False).replace("\n", "\r\n").encode("utf-8")


def _race(race_id: str, number: int, start: str, end: str) -> dict[str, Any]:
    return {
        "Laps": [],
        "Detections": [],
        "GamePoints": [],
        "Start": start,
        "End": end,
        "TotalPausedTime": "00:00:00",
        "PilotChannels": [{"Pilot": PILOT_IDS[0], "Channel": "00000009-0000-0000-0000-000000000000"}],
        "RaceNumber": number,
        "Round": ROUND_ID,
        "TargetLaps": 3,
        "PrimaryTimingSystemLocation": "Holeshot",
        "Valid": True,
        "AutoAssignNumbers": True,
        "Event": EVENT_ID,
        "Bracket": "None",
        "ID": race_id,
        "ExternalID": 0,
    }


def write_sample_event(root: Path) -> SampleEvent:
    """Write the sample replay directory under ``root`` and describe it."""
    files: dict[str, bytes] = {}
    event_root = f"events/{EVENT_ID}"
    channels = [
        {
            "Number": n - 8,
            "Band": "Raceband",
            "ShortBand": "R",
            "ChannelPrefix": "\u0000",
            "Frequency": 5658 + 37 * (n - 9),
            "DisplayName": None,
            "ID": f"{n:08x}-0000-0000-0000-000000000000",
            "ExternalID": 0,
        }
        for n in range(9, 13)
    ]
    files["httpfiles/Channels.json"] = dump(channels)
    files[f"{event_root}/Event.json"] = dump(
        [
            {
                "EventType": "Race",
                "Name": 'Club night "spring" \\ Zürich 🚁',
                "Start": "2025/05/03 9:00:00",
                "End": NOT_SET,
                "Laps": 3,
                "PBLaps": 2,
                "LastOpened": "2025/05/03 14:39:20.325",
                "Races": [FINISHED_RACE_ID, RUNNING_RACE_ID, DELETED_RACE_ID, MISSING_RACE_ID],
                "ID": EVENT_ID,
                "ExternalID": 0,
            }
        ]
    )
    files[f"{event_root}/Pilots.json"] = dump(
        [
            {"Name": "Jürgen “Quad” O'Brien", "PracticePilot": False, "ID": PILOT_IDS[0], "ExternalID": 0},
            {"Name": 'Back\\slash "Q"', "PracticePilot": True, "ID": PILOT_IDS[1], "ExternalID": 0},
        ]
    )
    files[f"{event_root}/Rounds.json"] = dump(
        [{"Name": "", "RoundNumber": 1, "EventType": "Race", "Valid": True, "Order": 100, "ID": ROUND_ID}]
    )
    files[f"{event_root}/{FINISHED_RACE_ID}/Race.json"] = dump(
        [_race(FINISHED_RACE_ID, 1, "2025/05/03 10:00:00", "2025/05/03 10:02:30.5")]
    )
    files[f"{event_root}/{FINISHED_RACE_ID}/Result.json"] = dump(
        [
            {
                "Points": 10,
                "Position": 1,
                "Valid": True,
                "Event": EVENT_ID,
                "Pilot": PILOT_IDS[0],
                "Race": FINISHED_RACE_ID,
                "Round": ROUND_ID,
                "DNF": False,
                "ResultType": "Race",
                "ID": "d4000000-0000-4000-8000-000000000001",
                "ExternalID": 0,
            }
        ]
    )
    files[f"{event_root}/{RUNNING_RACE_ID}/Race.json"] = dump(
        [_race(RUNNING_RACE_ID, 2, "2025/05/03 14:40:01.2", NOT_SET)]
    )
    files[f"{event_root}/{DELETED_RACE_ID}/Race.json"] = b"[]"
    old_root = f"events/{OLD_EVENT_ID}"
    files[f"{old_root}/Event.json"] = dump(
        [{"Name": "Older event", "LastOpened": "2024/11/30 18:05:00", "Races": [], "ID": OLD_EVENT_ID}]
    )
    files[f"{old_root}/Pilots.json"] = dump([])
    files[f"{old_root}/Rounds.json"] = dump([])

    for relative, body in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    (root / event_root / MISSING_RACE_ID).mkdir(parents=True, exist_ok=True)
    return SampleEvent(root=root, files=tuple(files))


def free_port() -> int:
    """A loopback port that nothing listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root``, by relative POSIX path, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
