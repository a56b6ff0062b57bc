"""Pure functions from FPVTrackside models to PocketBase records: the place to read to learn the schema mapping.

- Names: FPVTrackside's ``PascalCase`` keys become ``camelCase`` fields (``PBLaps`` → ``pbLaps``, ``DNF`` → ``dnf``).
- Dates: FPVTrackside writes the timing laptop's local wall-clock time without an offset; records hold UTC
  (``YYYY-MM-DD HH:MM:SS.sssZ``), converted with the event's zone (see :func:`event_zone`). Unset dates are ``""``.
- Time spans are numbers of seconds. Enums hold canonical names (aliases resolved by the models).
- Relations are computed ids (:func:`fpvsync.ids.record_id`). A reference to something the source does not have
  (zero GUID, or a GUID not in the parent's document) leaves the relation empty; an unknown GUID is kept in
  ``extra.unresolved`` so nothing the source sent is lost.
- ``extra`` holds every source key the models do not know, plus unreadable values, verbatim.
- ``syncHash`` is a digest of everything else in the record: equal hashes mean nothing to write.
- Derived answers that need only one source document are stored with its record (:mod:`fpvsync.derived`): a lap's
  ``valid``/``isHoleshot``/``withinTarget``, an event's ``channelInfo``.

No I/O happens here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fpvsync import derived, display, rules
from fpvsync.ids import SOURCE, record_id
from fpvsync.trackside.models import (
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
    parse_date,
)

Body = dict[str, Any]


@dataclass(frozen=True)
class Record:
    """One PocketBase record as fpvsync wants it to be."""

    collection: str
    source_id: str
    body: Body
    id: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", record_id(self.source_id))

    @property
    def sync_hash(self) -> str:
        return str(self.body["syncHash"])


@dataclass(frozen=True)
class Known:
    """The record ids a relation may point at (records PocketBase has, or that this run writes first).

    A reference to anything else is left unresolved instead of failing the write.
    """

    pilots: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    rounds: frozenset[str] = frozenset()


def event_zone(event: Event | None, configured: tzinfo | None) -> tzinfo | None:
    """The zone of the timing laptop's clock: configured, else ``Event.TimeZone``, else ``None`` (this machine's)."""
    if configured is not None:
        return configured
    if event is not None and event.time_zone:
        try:
            return ZoneInfo(event.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return None


def utc(value: datetime | None, zone: tzinfo | None) -> str:
    """A local wall-clock time as PocketBase's UTC date text; ``""`` when unset.

    With no zone, the naive time is read in this machine's local zone (DST-aware).
    """
    if value is None:
        return ""
    aware = value.replace(tzinfo=zone) if zone is not None and value.tzinfo is None else value
    try:
        moment = aware.astimezone(UTC)
    except OverflowError:  # the calendar's very edge (year 9999 in a zone behind UTC): no real race time
        return ""
    # isoformat pads the year to 4 digits and truncates to milliseconds, like PocketBase: faster than strftime.
    return moment.replace(tzinfo=None).isoformat(" ", "milliseconds") + "Z"


def rel(source_id: str | None) -> str:
    """The relation value for a referenced source id ("" for none)."""
    return record_id(source_id) if source_id else ""


#: The encoder of the JSON a ``syncHash`` is taken of (built once: :func:`finish` runs for every record).
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def finish(collection: str, source_id: str, body: Body, model: TracksideModel | None = None) -> Record:
    """Add identity, ``extra`` and ``syncHash`` to a mapped body."""
    extra = dict(body.pop("extra", None) or {})
    if model is not None:
        extra.update(model.extras())
    body["source"] = SOURCE
    body["sourceId"] = source_id
    body["extra"] = extra or None
    if model is not None and "externalId" not in body:
        body["externalId"] = model.external_id
    canonical = _CANONICAL.encode(body)
    body["syncHash"] = hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()
    return Record(collection, source_id, body)


def _resolve(
    body: Body, unresolved: dict[str, str], name: str, source_key: str, guid: str | None, known: frozenset[str]
) -> None:
    if guid and record_id(guid) in known:
        body[name] = record_id(guid)
    else:
        body[name] = ""
        if guid:
            unresolved[source_key] = guid


def _with_unresolved(body: Body, unresolved: Mapping[str, str]) -> Body:
    if unresolved:
        body["extra"] = {"unresolved": dict(unresolved)}
    return body


def channel(model: Channel) -> Record | None:
    if not model.id:
        return None
    body: Body = {
        "number": model.number,
        "band": model.band,
        "shortBand": model.short_band,
        "channelPrefix": model.channel_prefix,
        "frequency": model.frequency,
        "displayName": model.display_name,
        "shortName": display.channel_name(model),
    }
    return finish("channels", model.id, body, model)


def pilot(model: Pilot) -> Record | None:
    if not model.id:
        return None
    body: Body = {
        "name": model.name,
        "phonetic": model.phonetic,
        "firstName": model.first_name,
        "lastName": model.last_name,
        "sillyName": model.silly_name,
        "discordId": model.discord_id,
        "aircraft": model.aircraft,
        "catchPhrase": model.catch_phrase,
        "bestResult": model.best_result,
        "timingSensitivityPercent": model.timing_sensitivity_percent,
        "practicePilot": model.practice_pilot,
        "photoPath": model.photo_path,
        "velocidroneUid": model.velocidrone_uid,
        "videoFlipped": model.video_flipped,
        "videoMirrored": model.video_mirrored,
    }
    return finish("pilots", model.id, body, model)


def channels_by_id(items: Iterable[Channel] | None) -> dict[str, Channel] | None:
    """``Channels.json``'s channels by GUID, for :func:`event`; ``None`` when the document is unavailable."""
    if items is None:
        return None
    return {c.id: c for c in items if c.id}


def event(
    model: Event, zone: tzinfo | None, known: Known, channels: Mapping[str, Channel] | None = None
) -> Record | None:
    """An event. With ``channels`` (``Channels.json`` by GUID) it carries ``channelInfo``: each event channel's
    colour and display name (:func:`fpvsync.derived.channel_info`). Without, the record has no ``channelInfo`` key,
    so an unavailable Channels.json leaves the stored value as it is."""
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    channel_ids = [record_id(c) for c in model.channels if record_id(c) in known.channels]
    removed = [record_id(p) for p in model.removed_pilots if record_id(p) in known.pilots]
    missing_channels = [c for c in model.channels if record_id(c) not in known.channels]
    missing_pilots = [p for p in model.removed_pilots if record_id(p) not in known.pilots]
    body: Body = {
        "name": model.name,
        "eventType": model.event_type,
        "start": utc(model.start, zone),
        "end": utc(model.end, zone),
        "laps": model.laps,
        "pbLaps": model.pb_laps,
        "packLimit": model.pack_limit,
        "raceLength": model.race_length,
        "minStartDelay": model.min_start_delay,
        "maxStartDelay": model.max_start_delay,
        "primaryTimingSystemLocation": model.primary_timing_system_location,
        "raceStartIgnoreDetections": model.race_start_ignore_detections,
        "minLapTime": model.min_lap_time,
        "lastOpened": utc(model.last_opened, zone),
        "channels": channel_ids,
        "channelColors": model.channel_colors,
        "channelDisplayNames": model.channel_display_names,
        "removedPilots": removed,
        "enabled": model.enabled,
        "visibleOnline": model.visible_online,
        "club": model.club or "",
        "track": model.track or "",
        "sectors": model.sectors,
        "pilotsRegistered": model.pilots_registered,
        "flags": event_flags(model.flags, zone),
        "gameTypeName": model.game_type_name,
        "timeZone": model.time_zone,
        "locked": model.rules_locked if model.rules_locked is not None else model.locked,
        "multiGpRaceFormat": model.multi_gp_race_format,
    }
    if channels is not None:
        body["channelInfo"] = derived.channel_info(model, channels)
    extra: Body = {}
    if missing_channels:
        extra["unresolvedChannels"] = missing_channels
    if missing_pilots:
        extra["unresolvedRemovedPilots"] = missing_pilots
    if unresolved or extra:
        body["extra"] = {**extra, **({"unresolved": unresolved} if unresolved else {})}
    return finish("events", model.id, body, model)


def stage(model: Stage, event_id: str) -> Record | None:
    if not model.id:
        return None
    body: Body = {
        "event": record_id(event_id),
        "name": model.name,
        "pointSummary": model.point_summary,
        "timeSummary": model.time_summary,
        "lapCountAfterRound": model.lap_count_after_round,
        "sheetFormatFilename": model.sheet_format_filename,
        "scriptFormatFilename": model.script_format_filename,
        "valid": model.valid,
        "order": model.order,
        "stageType": model.stage_type,
        "standings": model.standings,
    }
    return finish("stages", model.id, body, model)


def round_(model: Round, event_id: str, zone: tzinfo | None, known: Known) -> Record | None:
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    body: Body = {
        "event": record_id(event_id),
        "name": model.name,
        "displayName": display.round_name(model),
        "roundNumber": model.round_number,
        "eventType": model.event_type,
        "valid": model.valid,
        "order": model.order,
        "scheduledStart": utc(model.scheduled_start, zone),
        "handicapped": model.handicapped,
        "gameTypeName": model.game_type_name,
        "roundType": model.round_type,
        "pointSummary": model.point_summary,
        "timeSummary": model.time_summary,
        "lapCountAfterRound": model.lap_count_after_round,
        "sheetFormatFilename": model.sheet_format_filename,
    }
    _resolve(body, unresolved, "stage", "Stage", model.stage, known.stages)
    return finish("rounds", model.id, _with_unresolved(body, unresolved), model)


def roster_pilot_channel(model: PilotChannel, event_id: str, known: Known) -> Record | None:
    """An event roster entry. Its identity is (event, pilot): a pilot has one channel in an event."""
    if not model.pilot:
        return None
    return _pilot_channel(model, f"{event_id}/{model.pilot}", event_id, None, known)


def race_pilot_channel(model: RacePilotChannel, event_id: str, race_id: str, known: Known) -> Record | None:
    """A race's channel assignment. Its identity is (race, pilot): a pilot flies one channel in a race."""
    if not model.pilot:
        return None
    return _pilot_channel(model, f"{race_id}/{model.pilot}", event_id, race_id, known)


def _pilot_channel(model: PilotChannel, source_id: str, event_id: str, race_id: str | None, known: Known) -> Record:
    unresolved: dict[str, str] = {}
    body: Body = {
        "event": record_id(event_id),
        "race": rel(race_id),
        "handicapOffset": model.handicap_offset if isinstance(model, RacePilotChannel) else None,
    }
    _resolve(body, unresolved, "pilot", "Pilot", model.pilot, known.pilots)
    _resolve(body, unresolved, "channel", "Channel", model.channel, known.channels)
    _with_unresolved(body, unresolved)
    if model.id:
        body.setdefault("extra", {})["ID"] = model.id
    return finish("pilotChannels", source_id, body, model)


def race(
    model: Race,
    event_id: str,
    zone: tzinfo | None,
    known: Known,
    round_model: Round | None = None,
    default_event_type: str | None = None,
    *,
    rounds: Mapping[str, Round] | None = None,
    game_type_name: str | None = None,
) -> Record | None:
    """A race, named, numbered and typed as FPVTrackside shows it (:mod:`fpvsync.rules`).

    ``rounds`` (``Rounds.json`` by GUID) lets the mapping tell a round missing from the event (FPVTrackside's
    "Unknown" round) from a round-less race; without it, ``round_model`` alone gives the race's round."""
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    placed = rules.race_round(model, _rounds_at_hand(rounds, round_model), default_event_type)
    body: Body = {
        "event": record_id(event_id),
        "name": rules.race_name(placed.event_type, placed.number, model.race_number, model.bracket, game_type_name),
        "raceNumber": model.race_number,
        "roundNumber": placed.number,
        "eventType": placed.event_type,
        "start": utc(model.start, zone),
        "end": utc(model.end, zone),
        "totalPausedTime": model.total_paused_time,
        "targetLaps": model.target_laps,
        "primaryTimingSystemLocation": model.primary_timing_system_location,
        "valid": model.valid,
        "autoAssignNumbers": model.auto_assign_numbers,
        "bracket": rules.bracket(model.bracket),
    }
    _resolve(body, unresolved, "round", "Round", model.round, known.rounds)
    return finish("races", model.id, _with_unresolved(body, unresolved), model)


def race_type(
    model: Race, rounds: Mapping[str, Round] | None, round_model: Round | None, default_event_type: str | None
) -> str | None:
    """``Race.Type``: the race's round's ``EventType``, else the event's (:func:`fpvsync.rules.race_round`)."""
    return rules.race_round(model, _rounds_at_hand(rounds, round_model), default_event_type).event_type


def _rounds_at_hand(rounds: Mapping[str, Round] | None, round_model: Round | None) -> Mapping[str, Round] | None:
    if rounds is not None:
        return rounds
    return {round_model.id: round_model} if round_model is not None and round_model.id else None


def event_flags(flags: Any, zone: tzinfo | None) -> Any:
    """``Event.Flags`` (``DateTime[]``) as UTC date texts, converted with the event's zone like every other date.

    A value that is not a date is kept as sent; anything but a list is kept as it is."""
    if not isinstance(flags, list):
        return flags
    converted: list[Any] = []
    for item in flags:
        try:
            moment = parse_date(item)
        except ValueError:
            converted.append(item)
            continue
        converted.append(utc(moment, zone) if moment is not None else "")
    return converted


def detection(
    model: Detection, event_id: str, race_id: str, zone: tzinfo | None, known: Known, lap_seconds: float | None = None
) -> Record | None:
    """A detection; ``lap_seconds`` is the length of the lap it ends (for its display name), if it ends one."""
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    body: Body = {
        "event": record_id(event_id),
        "race": record_id(race_id),
        "timingSystemIndex": model.timing_system_index,
        "time": utc(model.time, zone),
        "peak": model.peak,
        "timingSystemType": model.timing_system_type,
        "lapNumber": model.lap_number,
        "valid": model.valid,
        "validityType": model.validity_type,
        "isLapEnd": model.is_lap_end,
        "raceSector": model.race_sector,
        "isHoleshot": model.is_holeshot,
        "displayName": display.detection_name(model, lap_seconds),
    }
    _resolve(body, unresolved, "pilot", "Pilot", model.pilot, known.pilots)
    _resolve(body, unresolved, "channel", "Channel", model.channel, known.channels)
    return finish("detections", model.id, _with_unresolved(body, unresolved), model)


def lap(
    model: Lap,
    event_id: str,
    race_id: str,
    zone: tzinfo | None,
    detections: Mapping[str, Detection],
    known: Known,
    race_model: Race | None = None,
    race_type: str | None = "Race",
) -> Record | None:
    """A lap. It has no pilot of its own: the pilot comes from its detection (in the same race file).

    ``valid``, ``isHoleshot`` and ``withinTarget`` follow FPVTrackside's rules (:func:`fpvsync.derived.lap_flags`)
    from the detection and the race (its timing mode, target laps and type)."""
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    source_detection = detections.get(model.detection) if model.detection else None
    body: Body = {
        "event": record_id(event_id),
        "race": record_id(race_id),
        "lapNumber": model.lap_number,
        "lengthSeconds": model.length_seconds,
        "startTime": utc(model.start_time, zone),
        "endTime": utc(model.end_time, zone),
        **derived.lap_flags(model, source_detection, race_model, race_type),
    }
    if source_detection is not None and source_detection.id:
        body["detection"] = record_id(source_detection.id)
    else:
        body["detection"] = ""
        if model.detection:
            unresolved["Detection"] = model.detection
    pilot_id = source_detection.pilot if source_detection is not None else None
    _resolve(body, unresolved, "pilot", "Detection.Pilot", pilot_id, known.pilots)
    return finish("laps", model.id, _with_unresolved(body, unresolved), model)


def game_point(model: GamePoint, event_id: str, race_id: str, zone: tzinfo | None, known: Known) -> Record | None:
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    body: Body = {
        "event": record_id(event_id),
        "race": record_id(race_id),
        "valid": model.valid,
        "time": utc(model.time, zone),
    }
    _resolve(body, unresolved, "pilot", "Pilot", model.pilot, known.pilots)
    _resolve(body, unresolved, "channel", "Channel", model.channel, known.channels)
    return finish("gamePoints", model.id, _with_unresolved(body, unresolved), model)


def result(model: Result, event_id: str, race_id: str | None, known: Known) -> Record | None:
    """A result: of a race (``race_id`` given) or a round roll-over (``race_id`` None)."""
    if not model.id:
        return None
    unresolved: dict[str, str] = {}
    body: Body = {
        "event": record_id(event_id),
        "race": rel(race_id),
        "points": model.points,
        "position": model.position,
        "valid": model.valid,
        "dnf": model.dnf,
        "resultType": model.result_type,
        "time": model.time,
        "lapsFinished": model.laps_finished,
    }
    _resolve(body, unresolved, "round", "Round", model.round, known.rounds)
    _resolve(body, unresolved, "pilot", "Pilot", model.pilot, known.pilots)
    return finish("results", model.id, _with_unresolved(body, unresolved), model)


def race_children(
    model: Race, event_id: str, zone: tzinfo | None, known: Known, race_type: str | None = "Race"
) -> dict[str, list[Record]]:
    """Every child record of a race file, by collection: pilot channels, detections, laps, game points.

    ``race_type`` is the race's ``Race.Type`` (:func:`race_type`): only ``Race`` races cut laps at the target."""
    race_id = model.id or ""
    detections_by_id = {d.id: d for d in model.detections if d.id}
    lap_seconds = {item.detection: item.length_seconds for item in model.laps if item.detection}
    children: dict[str, list[Record]] = {
        "pilotChannels": _present(race_pilot_channel(pc, event_id, race_id, known) for pc in model.pilot_channels),
        "detections": _present(
            detection(d, event_id, race_id, zone, known, lap_seconds.get(d.id or "")) for d in model.detections
        ),
        "laps": _present(
            lap(item, event_id, race_id, zone, detections_by_id, known, model, race_type) for item in model.laps
        ),
        "gamePoints": _present(game_point(g, event_id, race_id, zone, known) for g in model.game_points or []),
    }
    return children


def _present(records: Iterable[Record | None]) -> list[Record]:
    return [r for r in records if r is not None]
