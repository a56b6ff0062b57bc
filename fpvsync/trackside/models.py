"""Lenient pydantic models of FPVTrackside's JSON documents.

FPVTrackside serializes its C# classes as they are, and the format drifts between releases: fields come and go,
enum names gain aliases, null strings and sentinel dates stand for "not set", and one event folder can mix files
written by different builds. These models read every generation without ever failing on a value:

- Every field is optional. A key the source did not send, or sent as ``null``, reads as ``None`` (``[]`` for
  list fields).
- A value of the wrong type or an unreadable value (``"Start": 42``, ``"Laps": "abc"``, ``"Valid": {}``) does not
  raise: the field reads as ``None`` (or ``[]``), the raw value is kept in :meth:`TracksideModel.extras` under its
  JSON key, and a note is added to :attr:`TracksideModel.issues`. A list keeps its readable items and drops the
  others, each with a note; the whole list as sent is then kept in ``extras()``.
- Keys the models do not know are kept in ``extras()`` as sent. Nothing the source sends is lost.

Values are normalised on the way in, so that the rest of fpvsync sees one shape:

- dates become naive :class:`~datetime.datetime` (the timing laptop's wall clock), and the year-1 sentinel
  ``0001/01/01 0:00:00`` becomes ``None`` (:func:`parse_date`);
- time spans become seconds as ``float`` (:func:`parse_span`);
- GUIDs are lower-cased, and the zero GUID ("no reference") becomes ``None``;
- enum names are replaced by their canonical alias (:func:`canonical_enum`).

The models know nothing of HTTP or PocketBase. Field names are snake_case, with the exact FPVTrackside JSON keys
as aliases; both are accepted on input::

    race = Race.model_validate(json.loads(body)[0])
    race.start            # datetime(2025, 5, 3, 14, 39, 20, 325000) or None
    race.extras()         # {"SomeNewField": ..., "Start": 42 if Start was unreadable, ...}
    race.all_issues()     # ["Race.Start: could not read 42 as a date", "Race.Laps[3].EndTime: ...", ...]

    parsed = parse_list(Pilot, json.loads(body), "events/<id>/Pilots.json")
    parsed.items, parsed.issues
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from fpvsync.errors import DocumentUnavailable

__all__ = [
    "GUID_ZERO",
    "Channel",
    "Detection",
    "Event",
    "GamePoint",
    "Lap",
    "Parsed",
    "Pilot",
    "PilotChannel",
    "Race",
    "RacePilotChannel",
    "Result",
    "Round",
    "Stage",
    "TracksideModel",
    "canonical_enum",
    "parse_date",
    "parse_list",
    "parse_span",
]

GUID_ZERO = "00000000-0000-0000-0000-000000000000"
"""FPVTrackside's "no reference"."""


# --------------------------------------------------------------------------------------------------------------
# Value helpers
# --------------------------------------------------------------------------------------------------------------


def _show(value: Any, limit: int = 60) -> str:
    """A short repr of a value for an issue note: large nested values must not flood the log."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unreadable(value: Any, what: str) -> ValueError:
    return ValueError(f"could not read {_show(value)} as {what}")


def parse_date(value: Any) -> datetime | None:
    """Read an FPVTrackside date as a datetime; ``None`` when it is not set.

    FPVTrackside writes ``yyyy/MM/dd H:mm:ss.FFF`` in the timing laptop's local wall-clock time with no offset:
    ``2025/01/29 0:00:00``, ``2025/01/30 16:00:57.85`` (850 ms). That is returned as a *naive* datetime; which zone
    it is in is the caller's business. ISO 8601 is accepted too; an ISO value with an offset keeps it (the result is
    then aware). ``None``, ``""`` and any date in year 1 (.NET's ``DateTime.MinValue``, FPVTrackside's "not set")
    give ``None``. Fractions finer than a microsecond are truncated.

    Raises ValueError for anything else.
    """
    if not isinstance(value, str):
        if value is None:
            return None
        if isinstance(value, datetime):
            return None if value.year == 1 else value
        raise _unreadable(value, "a date")
    text = value.strip()
    if not text:
        return None
    # FPVTrackside's own format is rewritten to ISO 8601 for datetime.fromisoformat (in C, several times faster
    # than a regex and datetime()): the date's slashes become dashes and the hour gets its leading zero.
    if len(text) > 12 and text[4] == "/" and text[7] == "/" and text[10] == " ":
        clock = text[11:]
        iso = f"{text[:4]}-{text[5:7]}-{text[8:10]}T{'0' if clock[1] == ':' else ''}{clock}"
    else:
        iso = text
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        raise _unreadable(value, "a date") from None
    return None if parsed.year == 1 else parsed


# .NET TimeSpan "c" format: [-][d.]hh:mm:ss[.fffffff]
_SPAN = re.compile(r"(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?")


def parse_span(value: Any) -> float | None:
    """Read a .NET time span (``[-][d.]hh:mm:ss[.fffffff]``) as seconds.

    ``00:08:31.5605717`` gives 511.5605717, ``1.02:03:04`` gives 93784.0, ``-00:00:01.5`` gives -1.5.
    Numbers are taken to be seconds already and pass through; ``None`` and ``""`` give ``None``.
    Raises ValueError for anything else, including out-of-range hours, minutes or seconds.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise _unreadable(value, "a time span")
    if isinstance(value, int | float):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise _unreadable(value, "a time span")
        return seconds
    if isinstance(value, timedelta):
        return value.total_seconds()
    if not isinstance(value, str):
        raise _unreadable(value, "a time span")
    text = value.strip()
    if not text:
        return None
    match = _SPAN.fullmatch(text)
    if match is None:
        raise _unreadable(value, "a time span")
    sign, days, hours, minutes, secs, fraction = match.groups()
    h, m, s = int(hours), int(minutes), int(secs)
    if h > 23 or m > 59 or s > 59:
        raise _unreadable(value, "a time span")
    # Whole ticks (100 ns) first, so that the 7 fraction digits survive exactly up to the final division.
    ticks = (((int(days or 0) * 24 + h) * 60 + m) * 60 + s) * 10_000_000
    if fraction:
        ticks += int(fraction.ljust(7, "0"))
    return (-ticks if sign else ticks) / 10_000_000


# Aliases per enum: the first name of each group in FPVTrackside's history is the canonical one.
_ENUM_ALIASES: dict[str, dict[str, str]] = {
    "EventType": {
        "Practise": "Practice",
        "AggregateLaps": "Endurance",
        "Enduro": "Endurance",
        "CasualPractise": "CasualPractice",
    },
    "TimingSystemType": {
        "SharkByte": "HDZero",
        "LapRF8Way": "LapRF",
    },
}

# Enums that are (or were) serialized as integers.
_ENUM_NUMBERS: dict[str, tuple[str, ...]] = {
    "StageType": ("Default", "DoubleElimination", "ChaseTheAce", "StreetLeague", "Final"),
    "MultiGPRaceFormat": ("AggregateLaps", "FastestLap", "Fastest3ConsecutiveLaps", "BestRound"),
}


def canonical_enum(kind: str, value: Any) -> str | None:
    """The canonical name of an FPVTrackside enum value.

    ``kind`` is the enum's C# name (``"EventType"``, ``"TimingSystemType"``, ``"StageType"``, ...). Aliases map to
    their canonical name (``"Practise"`` -> ``"Practice"``, ``"SharkByte"`` -> ``"HDZero"``); integers of an enum
    serialized as numbers map to their name (``StageType`` 2 -> ``"ChaseTheAce"``); anything else, including
    unknown kinds, names FPVTrackside added later and unknown numbers, is kept as text. ``None`` and ``""`` give
    ``None``. Raises ValueError for values that are neither text nor whole numbers.
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not value:
            return None
        aliases = _ENUM_ALIASES.get(kind)
        return aliases.get(value, value) if aliases else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        names = _ENUM_NUMBERS.get(kind)
        return names[value] if names is not None and 0 <= value < len(names) else str(value)
    raise _unreadable(value, f"a {kind} value")


# Field validators. Each is a single cheap Python call run by pydantic-core (PlainValidator): no second pass of
# pydantic's own coercion, which would also accept things we do not want (e.g. "3" or true for an int).


def _int(value: Any) -> int | None:
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise _unreadable(value, "an integer")


def _float(value: Any) -> float | None:
    if value is None:
        return None
    if type(value) is float or type(value) is int:
        result = float(value)
        if math.isfinite(result):
            return result
    raise _unreadable(value, "a number")


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise _unreadable(value, "a boolean")


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    if type(value) is int or type(value) is float:
        return str(value)
    raise _unreadable(value, "text")


def _prefix(value: Any) -> str | None:
    text = _text(value)
    return text.replace("\x00", "") if text else text


def _guid(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        guid = value.lower()
        return None if not guid or guid == GUID_ZERO else guid
    raise _unreadable(value, "a GUID")


def _guid_item(value: Any) -> str:
    """A GUID inside a list of references, where "no reference" has no meaning and is dropped like junk."""
    guid = _guid(value)
    if guid is None:
        raise _unreadable(value, "a GUID reference (the zero GUID refers to nothing)")
    return guid


def _text_item(value: Any) -> str:
    text = _text(value)
    if text is None:
        raise _unreadable(value, "text")
    return text


def _enum(kind: str) -> Callable[[Any], str | None]:
    aliases = _ENUM_ALIASES.get(kind, {})

    def read(value: Any) -> str | None:
        if type(value) is str and value:  # the usual case, inlined: this runs for every detection
            return aliases.get(value, value)
        return canonical_enum(kind, value)

    return read


def _null_to_empty(value: Any) -> Any:
    return [] if value is None else value


_Int = Annotated[int | None, PlainValidator(_int)]
_Float = Annotated[float | None, PlainValidator(_float)]
_Bool = Annotated[bool | None, PlainValidator(_bool)]
_Text = Annotated[str | None, PlainValidator(_text)]
_Prefix = Annotated[str | None, PlainValidator(_prefix)]
_Guid = Annotated[str | None, PlainValidator(_guid)]
# A BeforeValidator, not a PlainValidator: pydantic 2.14 warns when it serializes a datetime whose validator is
# plain. Its own datetime check on an already-built datetime is cheap.
_Date = Annotated[datetime | None, BeforeValidator(parse_date)]
_Span = Annotated[float | None, PlainValidator(parse_span)]
_GuidList = Annotated[list[Annotated[str, PlainValidator(_guid_item)]], BeforeValidator(_null_to_empty)]
_TextList = Annotated[list[Annotated[str, PlainValidator(_text_item)]], BeforeValidator(_null_to_empty)]
_NullableTextList = Annotated[list[_Text], BeforeValidator(_null_to_empty)]


_EventType = Annotated[str | None, PlainValidator(_enum("EventType"))]
_TimingSystemType = Annotated[str | None, PlainValidator(_enum("TimingSystemType"))]
_TimingLocation = Annotated[str | None, PlainValidator(_enum("PrimaryTimingSystemLocation"))]
_ValidityType = Annotated[str | None, PlainValidator(_enum("ValidityType"))]
_ResultType = Annotated[str | None, PlainValidator(_enum("ResultType"))]
_RoundType = Annotated[str | None, PlainValidator(_enum("RoundType"))]
_StageType = Annotated[str | None, PlainValidator(_enum("StageType"))]
_Band = Annotated[str | None, PlainValidator(_enum("Band"))]
_Bracket = Annotated[str | None, PlainValidator(_enum("Bracket"))]
_MultiGPRaceFormat = Annotated[str | None, PlainValidator(_enum("MultiGPRaceFormat"))]


def _f(alias: str) -> Any:
    return Field(None, alias=alias)


def _list(alias: str) -> Any:
    return Field(default_factory=list, alias=alias)


# --------------------------------------------------------------------------------------------------------------
# Base model
# --------------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Salvage:
    """What a model could not read: raw values by the key they came under, notes ``(path, message)``, and for
    lists that lost items the source index of each item kept."""

    unread: dict[str, Any]
    notes: list[tuple[str, str]]
    positions: dict[str, list[int]]


_MAX_SALVAGE_PASSES = 4


class TracksideModel(BaseModel):
    """Base of every FPVTrackside object: the ``ID``/``ExternalID`` pair, unknown keys kept, lenient reading.

    Reading never raises for a mapping: see the module docstring. The happy path costs one extra Python call per
    object (the wrap validator); the repair work only runs when pydantic reported errors.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: _Guid = _f("ID")
    external_id: _Int = _f("ExternalID")

    # What could not be read, only on objects that had such values. Not a pydantic private attribute: those cost
    # about a fifth of the parse time of a detection (set up on every instance). This class-level None is shadowed by
    # an instance attribute, set with object.__setattr__ in _salvaged; fields, dumps and repr never see it, while
    # equality, copies and pickling carry it along with the instance's __dict__.
    _salvage: ClassVar[_Salvage | None] = None

    # Fields that can hold TracksideModels (directly or in a list), as (field name, JSON key); set per subclass.
    _nested_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Fields whose values are lists: an error at (key, index) drops the item, not the whole list.
    _list_keys: ClassVar[frozenset[str]] = frozenset()
    # Python field names that differ from their JSON key, with that key: a document holding both keys is read by
    # the JSON key, and the other is kept aside with a note (see _shadowed).
    _aliases_by_name: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        nested: list[tuple[str, str]] = []
        lists: set[str] = set()
        for name, info in cls.model_fields.items():
            keys = {name, info.alias or name}
            annotation = info.annotation
            if _holds_list(annotation):
                lists |= keys
            if _holds_model(annotation):
                nested.append((name, info.alias or name))
        cls._nested_fields = tuple(nested)
        cls._list_keys = frozenset(lists)
        cls._aliases_by_name = {
            name: info.alias for name, info in cls.model_fields.items() if info.alias and info.alias != name
        }

    @model_validator(mode="wrap")
    @classmethod
    def _lenient(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, dict) and not cls._aliases_by_name.keys().isdisjoint(data):
            return cls._shadowed(data, handler)
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise  # not an object at all: the container (list or parse_list) drops it and says so
            return cls._salvaged(data, handler, exc)

    @classmethod
    def _shadowed(cls, data: dict[str, Any], handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Read ``data`` where a key equals a field's Python name: alone it fills the field (``populate_by_name``);
        next to the field's JSON key, the JSON key wins and the other is kept in ``extras()`` with a note."""
        shadowed = {name: data[name] for name, alias in cls._aliases_by_name.items() if name in data and alias in data}
        if not shadowed:
            try:
                return handler(data)
            except ValidationError as exc:
                return cls._salvaged(data, handler, exc)
        work = {key: value for key, value in data.items() if key not in shadowed}
        try:
            instance = handler(work)
        except ValidationError as exc:
            instance = cls._salvaged(work, handler, exc)
        salvage = instance._salvage or _Salvage({}, [], {})
        notes = [(name, f"ignored: {cls._aliases_by_name[name]} gives this value") for name in shadowed]
        merged = _Salvage({**salvage.unread, **shadowed}, [*salvage.notes, *notes], salvage.positions)
        object.__setattr__(instance, "_salvage", merged)
        return instance

    @classmethod
    def _salvaged(cls, data: dict[str, Any], handler: ModelWrapValidatorHandler[Self], exc: ValidationError) -> Self:
        """Move what pydantic could not read aside, note why, and validate the rest again."""
        work = dict(data)
        unread: dict[str, Any] = {}
        notes: list[tuple[str, str]] = []
        # For lists that lost items: the source index of each item left, so that notes name the source's index.
        positions: dict[str, list[int]] = {}
        for _ in range(_MAX_SALVAGE_PASSES):
            moved: set[str] = set()
            dropped: dict[str, set[int]] = {}
            for error in exc.errors():
                loc = error["loc"]
                key = loc[0] if loc else None
                if not isinstance(key, str) or key not in work:
                    raise exc  # not about one of the input's keys: nothing to move aside
                if key in moved:
                    continue
                value = work[key]
                index = loc[1] if len(loc) >= 2 else None
                if (
                    key in cls._list_keys
                    and isinstance(index, int)
                    and isinstance(value, list)
                    and 0 <= index < len(value)
                ):
                    indexes = dropped.setdefault(key, set())
                    if index not in indexes:
                        indexes.add(index)
                        if value[index] is not None:  # a null item carries nothing: dropped without a note
                            source_index = positions[key][index] if key in positions else index
                            notes.append((f"{key}[{source_index}]", _message(error, value[index])))
                            unread.setdefault(key, data[key])
                else:
                    notes.append((key, _message(error, value)))
                    unread[key] = data[key]
                    moved.add(key)
                    dropped.pop(key, None)
                    positions.pop(key, None)
            for key in moved:
                del work[key]
            for key, indexes in dropped.items():
                kept = positions.get(key) or list(range(len(work[key])))
                positions[key] = [p for i, p in enumerate(kept) if i not in indexes]
                work[key] = [item for i, item in enumerate(work[key]) if i not in indexes]
            try:
                instance = handler(work)
            except ValidationError as again:
                exc = again
                continue
            object.__setattr__(instance, "_salvage", _Salvage(unread, notes, positions))
            return instance
        raise exc

    def extras(self) -> dict[str, Any]:
        """Everything the source sent that no field represents, under the JSON key it came with.

        That is the unknown keys as sent, plus the known keys whose values could not be read (the raw value;
        for a list with unreadable items, the whole list as sent).
        """
        extra = dict(self.__pydantic_extra__ or {})
        if self._salvage is not None:
            extra.update(self._salvage.unread)
        return extra

    @property
    def issues(self) -> list[str]:
        """Notes on this object's values that could not be read, e.g.
        ``"Race.Start: could not read '2025/13/45 x' as a date"``. Nested objects keep their own: see
        :meth:`all_issues`."""
        salvage = self._salvage
        if salvage is None:
            return []
        name = type(self).__name__
        return [f"{name}.{path}: {message}" for path, message in salvage.notes]

    def all_issues(self) -> list[str]:
        """:attr:`issues` of this object and of every object nested in it, each prefixed with its path, e.g.
        ``"Race.Detections[12].Time: could not read 42 as a date"``. Indexes are those of the source's lists."""
        found: list[str] = []
        self._collect_issues(type(self).__name__, found)
        return found

    def _collect_issues(self, prefix: str, found: list[str]) -> None:
        salvage = self._salvage
        positions: dict[str, list[int]] = {}
        if salvage is not None:
            found.extend(f"{prefix}.{path}: {message}" for path, message in salvage.notes)
            positions = salvage.positions
        for name, key in self._nested_fields:
            value = getattr(self, name)
            if isinstance(value, TracksideModel):
                value._collect_issues(f"{prefix}.{key}", found)
            elif isinstance(value, list):
                source = positions.get(key) or positions.get(name)
                for index, item in enumerate(value):
                    # Most objects (tens of thousands of detections) have nothing to report: skip them cheaply.
                    if isinstance(item, TracksideModel) and (item._salvage is not None or item._nested_fields):
                        where = source[index] if source is not None and index < len(source) else index
                        item._collect_issues(f"{prefix}.{key}[{where}]", found)


def _holds_list(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is list:
        return True
    return any(_holds_list(arg) for arg in get_args(annotation))


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, TracksideModel):
        return True
    return any(_holds_model(arg) for arg in get_args(annotation))


def _message(error: ErrorDetails, value: Any) -> str:
    """The note for one pydantic error: our validators already wrote it; pydantic's own errors get one here."""
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    kind = error["type"]
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        what = f"a {ctx['class_name']} object" if "class_name" in ctx else "an object"
        return f"could not read {_show(value)} as {what}"
    if kind == "list_type":
        return f"could not read {_show(value)} as a list"
    return f"could not read {_show(value)}: {error['msg']}"


# --------------------------------------------------------------------------------------------------------------
# Entities
# --------------------------------------------------------------------------------------------------------------


class PilotChannel(TracksideModel):
    """A pilot on a channel: an entry of the event roster."""

    pilot: _Guid = _f("Pilot")
    channel: _Guid = _f("Channel")


class RacePilotChannel(PilotChannel):
    """A pilot on a channel in one race; newer builds add a handicap."""

    handicap_offset: _Span = _f("HandicapOffset")


class Pilot(TracksideModel):
    name: _Text = _f("Name")
    phonetic: _Text = _f("Phonetic")
    first_name: _Text = _f("FirstName")
    last_name: _Text = _f("LastName")
    silly_name: _Text = _f("SillyName")
    discord_id: _Text = _f("DiscordID")
    aircraft: _Text = _f("Aircraft")
    catch_phrase: _Text = _f("CatchPhrase")
    best_result: _Text = _f("BestResult")
    timing_sensitivity_percent: _Int = _f("TimingSensitivityPercent")
    practice_pilot: _Bool = _f("PracticePilot")
    photo_path: _Text = _f("PhotoPath")
    velocidrone_uid: _Text = _f("VelocidroneUID")
    video_flipped: _Bool = _f("VideoFlipped")
    video_mirrored: _Bool = _f("VideoMirrored")


class Channel(TracksideModel):
    """A video channel. ``channel_prefix`` is ``""`` when FPVTrackside writes its "no prefix" NUL character."""

    number: _Int = _f("Number")
    band: _Band = _f("Band")
    short_band: _Text = _f("ShortBand")
    channel_prefix: _Prefix = _f("ChannelPrefix")
    frequency: _Int = _f("Frequency")
    display_name: _Text = _f("DisplayName")


class Event(TracksideModel):
    """An event. Spans (race length, delays, minimum lap time, ignore window) are in seconds."""

    event_type: _EventType = _f("EventType")
    name: _Text = _f("Name")
    start: _Date = _f("Start")
    end: _Date = _f("End")
    laps: _Int = _f("Laps")
    pb_laps: _Int = _f("PBLaps")
    pack_limit: _Int = _f("PackLimit")
    race_length: _Span = _f("RaceLength")
    min_start_delay: _Span = _f("MinStartDelay")
    max_start_delay: _Span = _f("MaxStartDelay")
    min_lap_time: _Span = _f("MinLapTime")
    primary_timing_system_location: _TimingLocation = _f("PrimaryTimingSystemLocation")
    race_start_ignore_detections: _Span = _f("RaceStartIgnoreDetections")
    last_opened: _Date = _f("LastOpened")
    pilot_channels: Annotated[list[PilotChannel], BeforeValidator(_null_to_empty)] = _list("PilotChannels")
    removed_pilots: _GuidList = _list("RemovedPilots")
    rounds: _GuidList = _list("Rounds")
    races: _GuidList = _list("Races")
    club: _Guid = _f("Club")
    channels: _GuidList = _list("Channels")
    channel_colors: _TextList = _list("ChannelColors")
    channel_display_names: _NullableTextList = _list("ChannelDisplayNames")
    enabled: _Bool = _f("Enabled")
    visible_online: _Bool = _f("VisibleOnline")
    track: _Guid = _f("Track")
    sectors: Any = _f("Sectors")
    pilots_registered: _Int = _f("PilotsRegistered")
    flags: Any = _f("Flags")
    game_type_name: _Text = _f("GameTypeName")
    time_zone: _Text = _f("TimeZone")
    multi_gp_race_format: _MultiGPRaceFormat = _f("MultiGPRaceFormat")
    locked: _Bool = _f("Locked")
    #: Newer builds' name for ``Locked``.
    rules_locked: _Bool = _f("RulesLocked")


class Stage(TracksideModel):
    """A stage of an event (newer builds): a group of rounds with one format."""

    name: _Text = _f("Name")
    point_summary: Any = _f("PointSummary")
    time_summary: Any = _f("TimeSummary")
    lap_count_after_round: _Bool = _f("LapCountAfterRound")
    sheet_format_filename: _Text = _f("SheetFormatFilename")
    script_format_filename: _Text = _f("ScriptFormatFilename")
    valid: _Bool = _f("Valid")
    order: _Int = _f("Order")
    stage_type: _StageType = _f("StageType")
    standings: Any = _f("Standings")


class Round(TracksideModel):
    """A round. ``round_type`` .. ``sheet_format_filename`` are only in older builds (moved to Stage since)."""

    name: _Text = _f("Name")
    round_number: _Int = _f("RoundNumber")
    event_type: _EventType = _f("EventType")
    valid: _Bool = _f("Valid")
    order: _Int = _f("Order")
    scheduled_start: _Date = _f("ScheduledStart")
    handicapped: _Bool = _f("Handicapped")
    game_type_name: _Text = _f("GameTypeName")
    stage: _Guid = _f("Stage")
    round_type: _RoundType = _f("RoundType")
    point_summary: Any = _f("PointSummary")
    time_summary: Any = _f("TimeSummary")
    lap_count_after_round: _Bool = _f("LapCountAfterRound")
    sheet_format_filename: _Text = _f("SheetFormatFilename")


class Detection(TracksideModel):
    """One pass of a pilot over a timing line (index 0 is the finish line)."""

    timing_system_index: _Int = _f("TimingSystemIndex")
    channel: _Guid = _f("Channel")
    time: _Date = _f("Time")
    peak: _Int = _f("Peak")
    timing_system_type: _TimingSystemType = _f("TimingSystemType")
    pilot: _Guid = _f("Pilot")
    lap_number: _Int = _f("LapNumber")
    valid: _Bool = _f("Valid")
    validity_type: _ValidityType = _f("ValidityType")
    is_lap_end: _Bool = _f("IsLapEnd")
    race_sector: _Int = _f("RaceSector")
    is_holeshot: _Bool = _f("IsHoleshot")


class Lap(TracksideModel):
    """A lap; it has no pilot of its own: that comes from its detection."""

    detection: _Guid = _f("Detection")
    length_seconds: _Float = _f("LengthSeconds")
    lap_number: _Int = _f("LapNumber")
    start_time: _Date = _f("StartTime")
    end_time: _Date = _f("EndTime")


class GamePoint(TracksideModel):
    channel: _Guid = _f("Channel")
    pilot: _Guid = _f("Pilot")
    valid: _Bool = _f("Valid")
    time: _Date = _f("Time")


class Race(TracksideModel):
    """A race with its laps, detections and game points inline.

    ``game_points`` is ``None`` when the key is absent (builds before early 2025), ``[]`` when present but empty.
    """

    laps: Annotated[list[Lap], BeforeValidator(_null_to_empty)] = _list("Laps")
    detections: Annotated[list[Detection], BeforeValidator(_null_to_empty)] = _list("Detections")
    game_points: list[GamePoint] | None = _f("GamePoints")
    start: _Date = _f("Start")
    end: _Date = _f("End")
    total_paused_time: _Span = _f("TotalPausedTime")
    pilot_channels: Annotated[list[RacePilotChannel], BeforeValidator(_null_to_empty)] = _list("PilotChannels")
    race_number: _Int = _f("RaceNumber")
    round: _Guid = _f("Round")
    target_laps: _Int = _f("TargetLaps")
    primary_timing_system_location: _TimingLocation = _f("PrimaryTimingSystemLocation")
    valid: _Bool = _f("Valid")
    auto_assign_numbers: _Bool = _f("AutoAssignNumbers")
    event: _Guid = _f("Event")
    bracket: _Bracket = _f("Bracket")


class Result(TracksideModel):
    """A pilot's result in a race, or a round roll-over result (``race`` is ``None``). ``time`` is in seconds."""

    points: _Int = _f("Points")
    position: _Int = _f("Position")
    valid: _Bool = _f("Valid")
    event: _Guid = _f("Event")
    pilot: _Guid = _f("Pilot")
    race: _Guid = _f("Race")
    round: _Guid = _f("Round")
    dnf: _Bool = _f("DNF")
    result_type: _ResultType = _f("ResultType")
    time: _Span = _f("Time")
    laps_finished: _Int = _f("LapsFinished")


# --------------------------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------------------------

M = TypeVar("M", bound=TracksideModel)


@dataclass
class Parsed(Generic[M]):
    """The objects of one JSON array, and notes on everything that could not be read in it."""

    items: list[M] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)


_JSON_TYPE_NAMES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


def parse_list(model: type[M], data: Any, document: str = "") -> Parsed[M]:
    """Read an already-decoded JSON array of ``model`` objects.

    Items that are not objects are skipped. ``Parsed.issues`` holds one note per skipped item and every issue of
    the parsed objects (nested ones included), each prefixed with ``document[index]``.

    Raises DocumentUnavailable if ``data`` is not an array: FPVTrackside always writes one, so anything else is a
    broken or half-written file, never "no objects".
    """
    if not isinstance(data, list):
        raise DocumentUnavailable(document, f"expected a JSON array, got {_json_type(data)}")
    parsed: Parsed[M] = Parsed()
    for index, item in enumerate(data):
        where = f"{document}[{index}]"
        if not isinstance(item, dict):
            parsed.issues.append(f"{where}: skipped: expected an object, got {_json_type(item)} {_show(item)}")
            continue
        try:
            obj = model.model_validate(item)
        except ValidationError as exc:  # pragma: no cover -- the models salvage every mapping
            parsed.issues.append(f"{where}: skipped: {exc}")
            continue
        parsed.items.append(obj)
        parsed.issues.extend(f"{where}: {issue}" for issue in obj.all_issues())
    return parsed
