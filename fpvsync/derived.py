"""Answers computed from FPVTrackside's data by FPVTrackside's own rules, for the records fpvsync writes.

Pure functions, no I/O. What the mapping stores from here:

- on every lap (:func:`lap_flags`): ``valid``, ``isHoleshot``, ``withinTarget``;
- on every event (:func:`channel_info`): each event channel's colour and display name.

Everything that spans several races (pilot bests, leaderboards, race order) is computed by PocketBase view
collections instead (``pb_migrations/1764000100_derived.js``), so that it is always current.

The rules, as FPVTrackside applies them (``RaceLib``: ``Race``, ``Lap``, ``Ext``, ``EventManager``, ``Channel``):

- A lap is **valid** when its detection is valid and its length is positive (``Ext.BestConsecutive``).
- The **holeshot** is the lap of a holeshot detection, in a race timed in ``Holeshot`` mode (``Race.GetHoleshot``
  ignores holeshots of ``EndOfLap`` races). Without a detection, lap 0 of a ``Holeshot`` race is the holeshot.
- A lap is **within the target** when its number is at most the race's ``TargetLaps``; the holeshot is within. Only
  races of type ``Race`` cut at the target (``Race.GetValidLapsInRace``: ``if (Type == EventTypes.Race)``); in a
  time trial, practice or any other type every lap is within. A race without a target (``TargetLaps`` unset or 0)
  has no lap past it.
- **Channel colours** (``EventManager.SetChannelColors``): the event's channels sorted by frequency, then band (in
  the order of FPVTrackside's ``Band`` enum), are walked in that order; the walk moves to the next colour of the
  palette (``Event.ChannelColors``, wrapping) unless a channel is less than 15 MHz from the previous one
  (``Channel.InterferesWith``), so channels that interfere share a colour.
- A channel's **display name** is the event's ``ChannelDisplayNames`` entry for it (same index as in
  ``Event.Channels``), else the channel's own ``DisplayName``, else band letter + prefix + number
  (``Channel.GetBandChannelText``: ``R1``, ``ZF2``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from fpvsync.ids import record_id
from fpvsync.trackside.models import Channel, Detection, Event, Lap, Race

__all__ = ["INTERFERENCE_MHZ", "LapFlags", "channel_info", "display_name", "lap_flags"]

#: Channels closer than this interfere (``Channel.InterferesWith``).
INTERFERENCE_MHZ = 15

# FPVTrackside's Band enum values: the tie-break of channels on the same frequency.
_BAND_ORDER = {
    "None": 0,
    "Fatshark": 1,
    "Raceband": 2,
    "A": 3,
    "B": 4,
    "E": 5,
    "DJIFPVHD": 6,
    "HDZero": 7,
    "SharkByte": 7,
    "LowBand": 8,
    "Diatone": 9,
    "DJIO3": 10,
}


class LapFlags(TypedDict):
    valid: bool
    isHoleshot: bool
    withinTarget: bool


def lap_flags(model: Lap, detection: Detection | None, race: Race | None, race_type: str | None = "Race") -> LapFlags:
    """``valid``, ``isHoleshot`` and ``withinTarget`` of a lap, from its detection, its race and the race's type
    (``Race.Type``; only ``Race`` races cut at the target: ``Race.GetValidLapsInRace``)."""
    length = model.length_seconds
    valid = detection is not None and detection.valid is True and length is not None and length > 0
    mode = race.primary_timing_system_location if race is not None else None
    if mode == "EndOfLap":
        holeshot = False
    elif detection is not None and detection.is_holeshot is not None:
        holeshot = detection.is_holeshot
    else:
        holeshot = mode == "Holeshot" and model.lap_number == 0
    target = race.target_laps if race is not None else None
    number = model.lap_number
    cuts = race_type == "Race"
    within = not cuts or holeshot or not target or target <= 0 or number is None or number <= target
    return {"valid": valid, "isHoleshot": holeshot, "withinTarget": within}


def display_name(channel: Channel | None, event_name: str | None = None) -> str | None:
    """A channel's name as FPVTrackside shows it (see the module docstring)."""
    if event_name:
        return event_name
    if channel is None:
        return None
    if channel.display_name:
        return channel.display_name
    # Band.GetCharacter(): the band name's first letter, "Z" for HDZero; Channels.json carries it as ShortBand.
    letter = channel.short_band or ("Z" if channel.band == "HDZero" else (channel.band or "")[:1])
    if not letter and channel.number is None:
        return None
    return f"{letter}{channel.channel_prefix or ''}{channel.number if channel.number is not None else ''}"


def channel_info(event: Event, channels: Mapping[str, Channel]) -> list[dict[str, Any]]:
    """One entry per event channel, in FPVTrackside's colour walk order (frequency, then band).

    Each entry: ``channel`` (record id), ``sourceId`` (GUID), ``frequency``, ``band``, ``shortBand``, ``number``,
    ``color`` (``#RRGGBB`` from the palette, ``None`` without a palette) and ``displayName``. Channels the
    ``channels`` mapping does not know cannot be placed: they come last, without frequency or colour.
    """
    names: Sequence[str | None] = event.channel_display_names
    palette = event.channel_colors
    entries: list[tuple[int, str, Channel | None, str | None]] = []
    seen: set[str] = set()
    for index, guid in enumerate(event.channels):
        if guid in seen:
            continue
        seen.add(guid)
        name = names[index] if index < len(names) else None
        entries.append((index, guid, channels.get(guid), name))

    def walk_key(entry: tuple[int, str, Channel | None, str | None]) -> tuple[int, int, str, int]:
        index, _, model, _ = entry
        assert model is not None
        band = model.band or ""
        return (model.frequency or 0, _BAND_ORDER.get(band, len(_BAND_ORDER) + 1), band, index)

    placed = sorted((e for e in entries if e[2] is not None), key=walk_key)
    unplaced = [e for e in entries if e[2] is None]

    info: list[dict[str, Any]] = []
    colour = -1
    previous: int | None = None
    for _, guid, model, name in placed:
        assert model is not None
        frequency = model.frequency or 0
        if previous is None or abs(frequency - previous) >= INTERFERENCE_MHZ:
            colour += 1
        previous = frequency
        info.append(
            {
                "channel": record_id(guid),
                "sourceId": guid,
                "frequency": model.frequency,
                "band": model.band,
                "shortBand": model.short_band,
                "number": model.number,
                "color": palette[colour % len(palette)] if palette else None,
                "displayName": display_name(model, name),
            }
        )
    for _, guid, _, name in unplaced:
        info.append(
            {
                "channel": record_id(guid),
                "sourceId": guid,
                "frequency": None,
                "band": None,
                "shortBand": None,
                "number": None,
                "color": None,
                "displayName": name or None,
            }
        )
    return info
