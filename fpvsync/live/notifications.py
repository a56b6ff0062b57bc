"""FPVTrackside's push notifications, read into what a mirror needs to know: which race to look at and whether the
event-level documents may have moved. Pure: no I/O.

FPVTrackside PUTs one JSON object per event to its ``NotificationURL``, in one of two formats that never co-emit:

- **legacy** (``RemoteNotifier``): no type field, the shape tells. ``RaceState`` (``Round``, ``Race``, ``State``:
  ``Arm`` | ``Start`` | ``End`` | ``Cancel`` | ``Times Up``), ``PilotRaceState`` (``Round``, ``Race``, ``Pilots``),
  ``DetectionDetails`` (``TimingSystemIndex``, ``LapNumber``, ``Time``... no race: it is the current race's),
  ``PilotCrashedOut`` (``CrashedOut``) and ``CaptureDetails`` (``TimingSystemIndex`` only);
- **ExtensionMode**: an envelope ``{type, ts, seq, ...}`` with races named by ``round`` + ``race`` numbers
  (``Hello``, ``RaceLoaded``, ``NextRace``, ``RacePreStart``, ``RaceStart``, ``RaceEnd``, ``RaceCancelled``,
  ``RaceTimesUp``, ``DetectionExt``, ``RaceResult``, ``StageRanking``, ``PilotCrashedOut``, ``PilotRaceState``,
  ``PilotStaggeredStart``, ``RaceStartAnnouncement``). Unknown types are ignored.

A notification is a hint, never data: it only picks what to re-read. Usage::

    note = parse_notification(body)          # raises NotificationError on garbage
    if note.wants_sync: ...                  # note.race (RaceRef | None = the current race), note.event_documents
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final, Literal

from fpvsync.event_state import RaceState

__all__ = ["Expect", "Format", "Notification", "NotificationError", "RaceRef", "parse_notification"]

Format = Literal["legacy", "extension"]

#: Bodies larger than this are not FPVTrackside's (its largest, RaceLoaded with many pilots, is a few kB).
MAX_BODY: Final = 1_000_000


class NotificationError(ValueError):
    """The body is not a notification FPVTrackside would send (not JSON, not an object, wrong field types)."""


@dataclass(frozen=True)
class RaceRef:
    """A race as notifications name it: its round's number, its number within the round, and the race type
    (FPVTrackside numbers rounds per type: practice round 1 and race round 1 are two rounds)."""

    round: int
    race: int
    race_type: str | None = None

    def __str__(self) -> str:
        kind = f"{self.race_type} " if self.race_type else ""
        return f"{kind}round {self.round} race {self.race}"


@dataclass(frozen=True)
class Notification:
    """What one notification asks the mirror to re-read."""

    format: Format
    #: ``type`` (ExtensionMode) or the legacy shape's class name (``RaceState``, ``DetectionDetails``...).
    kind: str
    #: The race it names; ``None`` means the race FPVTrackside has loaded now (legacy detections name none).
    race: RaceRef | None = None
    #: Whether the race's documents may have changed (False for Hello, NextRace, StageRanking, unknown types).
    race_changed: bool = False
    #: Whether the event-level documents and results may have changed (race loaded, ended, results...).
    event_documents: bool = False
    #: A race state the documents may not show yet (``armed``), or that they will (``running``, ``ended``).
    state: RaceState | None = None
    #: ExtensionMode's sequence number (restarts at 1 when FPVTrackside restarts).
    seq: int | None = None
    #: The detection's GUID (``DetectionExt``): the race's file holds it once it is written.
    detection_id: str | None = None
    #: What the race's file will show once written (see :data:`Expect`); with :attr:`detection_id`, the mirror
    #: re-reads a race a few times until it does.
    expect: Expect | None = None

    @property
    def wants_sync(self) -> bool:
        return self.race_changed or self.event_documents


#: What a notification says the race's files will show once FPVTrackside has saved them (it may notify first): the
#: race started, ended, its results written, or just something new (legacy detections, which carry no id).
#: ``None``: maybe nothing new (a race loaded, armed or cancelled before its start): read once, never waited for.
Expect = Literal["running", "ended", "results", "change"]

# type -> (race documents may have changed, event documents may have changed, race state hint, what to wait for)
_EXTENSION: Final[dict[str, tuple[bool, bool, RaceState | None, Expect | None]]] = {
    "RaceLoaded": (True, True, None, None),
    "RaceStartAnnouncement": (False, False, "armed", None),
    "RacePreStart": (False, False, "armed", None),
    "RaceStart": (True, False, "running", "running"),
    "DetectionExt": (True, False, "running", None),  # waits for its detection id (else for any change)
    "PilotCrashedOut": (True, False, None, None),
    "PilotStaggeredStart": (True, False, None, None),
    "PilotRaceState": (True, False, None, None),
    "RaceTimesUp": (True, False, None, None),
    "RaceEnd": (True, True, "ended", "ended"),
    "RaceCancelled": (True, False, None, None),  # a start called off during its countdown: nothing was saved
    "RaceResult": (True, True, None, "results"),
    "NextRace": (False, True, None, None),
    "StageRanking": (False, True, None, None),
}
#: Extension types naming no race of their own (``NextRace`` names the race *after* the current one).
_NO_RACE: Final = frozenset({"NextRace", "StageRanking", "PilotCrashedOut"})
_LEGACY_STATES: Final[dict[str, tuple[bool, bool, RaceState | None, Expect | None]]] = {
    # State -> (race documents may have changed, event documents may have changed, hint, what to wait for)
    "arm": (False, False, "armed", None),
    "start": (True, False, "running", "running"),
    "end": (True, True, "ended", "ended"),
    "cancel": (True, False, None, None),
    "times up": (True, False, None, None),
}


def parse_notification(body: bytes) -> Notification:
    """Read one notification body. Raises :class:`NotificationError` for anything FPVTrackside would not send."""
    if len(body) > MAX_BODY:
        raise NotificationError(f"body of {len(body)} bytes is too large")
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotificationError(f"not JSON ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise NotificationError(f"a JSON {type(data).__name__}, not an object")
    if "type" in data:
        return _extension(data)
    return _legacy(data)


def _extension(data: dict[str, Any]) -> Notification:
    kind = data["type"]
    if not isinstance(kind, str):
        raise NotificationError("`type` is not a string")
    seq = data.get("seq")
    if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool)):
        raise NotificationError("`seq` is not an integer")
    known = _EXTENSION.get(kind)
    if known is None:  # Hello, and types newer than this reader: nothing to re-read
        return Notification("extension", kind, seq=seq)
    race_changed, event_documents, state, expect = known
    race = None if kind in _NO_RACE else _race_ref(data.get("round"), data.get("race"), data.get("raceType"))
    detection = data.get("detectionId") if kind == "DetectionExt" else None
    detection_id = detection.strip().lower() if isinstance(detection, str) and detection.strip() else None
    if kind == "DetectionExt" and detection_id is None:
        expect = "change"  # no id to wait for: any change will do, as for a legacy detection
    return Notification("extension", kind, race, race_changed, event_documents, state, seq, detection_id, expect)


def _legacy(data: dict[str, Any]) -> Notification:
    if "State" in data and "Round" in data:
        state = data["State"]
        if not isinstance(state, str):
            raise NotificationError("RaceState.State is not a string")
        race_changed, event_documents, hint, expect = _LEGACY_STATES.get(
            state.strip().lower(), (True, False, None, None)
        )
        ref = _race_ref(data.get("Round"), data.get("Race"), data.get("Type"))
        return Notification("legacy", "RaceState", ref, race_changed, event_documents, hint, expect=expect)
    if "Pilots" in data and "Round" in data:
        return Notification(
            "legacy", "PilotRaceState", _race_ref(data.get("Round"), data.get("Race"), data.get("Type")), True
        )
    if "CrashedOut" in data:
        return Notification("legacy", "PilotCrashedOut", None, True)
    if "LapNumber" in data and "TimingSystemIndex" in data:
        return Notification("legacy", "DetectionDetails", None, True, state="running", expect="change")
    if "TimingSystemIndex" in data:
        return Notification("legacy", "CaptureDetails", None, True)
    raise NotificationError(f"an object of no known shape (keys: {', '.join(sorted(map(str, data))[:8])})")


def _race_ref(round_number: object, race_number: object, race_type: object = None) -> RaceRef | None:
    """Both numbers, or ``None`` (``NextRace`` at the end of the schedule sends nulls)."""
    if round_number is None or race_number is None:
        return None
    if not _is_int(round_number) or not _is_int(race_number):
        raise NotificationError(f"round/race are not integers ({round_number!r}, {race_number!r})")
    assert isinstance(round_number, int) and isinstance(race_number, int)
    return RaceRef(round_number, race_number, race_type if isinstance(race_type, str) and race_type else None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
