"""Fetching and parsing FPVTrackside documents for the engine: one call per document, never an exception for an
unusable one (it becomes a :class:`Loaded` with ``items is None``), so one bad file fails only its scope.

Deletions follow from what a document lists, so a document whose scope deletes what it does not list must be read
*whole*: with a ``check`` (:func:`entries_whole`, :func:`race_whole`, :func:`event_whole`), an entry that is not an
object, an entry without a readable identity, or a list of children that is missing or unreadable makes the
document unavailable instead of quietly shorter. Channels and pilots are never deleted: their documents are read
leniently (unreadable entries are skipped with a warning).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fpvsync.errors import ConfigError, DocumentUnavailable
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import EMPTY_BODY, TracksideClient
from fpvsync.trackside.models import Event, Race, TracksideModel, parse_list

M = TypeVar("M", bound=TracksideModel)

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def checked_guid(value: str, what: str = "event id") -> str:
    """``value`` as a lower-case GUID, or :class:`ConfigError`: ids go into URLs and PocketBase filters."""
    normalized = value.strip().lower()
    if not _GUID.match(normalized):
        raise ConfigError(f"{what} {value!r} is not a GUID like 3f1a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b")
    return normalized


def event_path(event_id: str, name: str) -> str:
    return f"events/{event_id}/{name}"


def race_path(event_id: str, race_id: str, name: str) -> str:
    return f"events/{event_id}/{race_id}/{name}"


CHANNELS_PATH = "httpfiles/Channels.json"


@dataclass(frozen=True)
class Loaded(Generic[M]):
    """One document's objects, or why there are none (``items is None``: unavailable, never "empty")."""

    path: str
    items: list[M] | None
    sha256: str | None = None
    problem: str | None = None
    #: The body was empty: the file does not exist (or was being rewritten at that instant).
    empty: bool = False

    @property
    def available(self) -> bool:
        return self.items is not None


def load(
    client: TracksideClient,
    path: str,
    model: type[M],
    summary: SyncSummary,
    scope: str,
    *,
    required: bool = True,
    check: Callable[[list[Any], list[M]], str | None] | None = None,
) -> Loaded[M]:
    """Fetch and parse ``path``. Issues in readable objects become warnings; they never fail the document, unless
    ``check`` (given the raw array and the parsed objects) says why the document cannot be used whole.

    Raises only :class:`~fpvsync.errors.SourceUnreachable` (FPVTrackside itself is gone: no point going on).
    """
    try:
        document = client.fetch(path, required=required)
        parsed = parse_list(model, document.data, path)
    except DocumentUnavailable as exc:
        return Loaded(path, None, problem=exc.reason, empty=exc.empty or exc.reason == EMPTY_BODY)
    if check is not None:
        skipped = len(document.data) - len(parsed.items)
        problem = (
            f"{skipped} of {len(document.data)} entries are not objects"
            if skipped
            else check(document.data, parsed.items)
        )
        if problem is not None:
            return Loaded(path, None, problem=f"{problem} (damaged file?)")
    for issue in parsed.issues:
        summary.warn(scope, issue)
    return Loaded(path, parsed.items, sha256=document.sha256)


def _unidentified(items: Sequence[TracksideModel], what: str) -> str | None:
    missing = sum(1 for item in items if not item.id)
    return f"{missing} {what} without a readable ID" if missing else None


def objects_only(data: list[Any], items: Sequence[TracksideModel]) -> str | None:
    """Every entry is an object (checked by :func:`load` itself): nothing more is needed."""
    return None


def entries_whole(data: list[Any], items: Sequence[TracksideModel]) -> str | None:
    """Every entry of a list document (rounds, stages, results) has an ID."""
    return _unidentified(items, "entries")


def _lists_whole(raw: dict[str, Any], model: TracksideModel, keys: Sequence[str], name: str) -> str | None:
    """Each of ``keys`` holds a list (``null`` and a missing key are "unknown", not "none") read without losses."""
    for key in keys:
        if not isinstance(raw.get(key), list):
            return f"{name}.{key} is {'missing' if key not in raw else 'not a list'}"
        if key in model.extras():
            return f"{name}.{key} has unreadable entries"
    return None


def race_whole(data: list[Any], items: Sequence[Race]) -> str | None:
    """A race's children can be told completely: every child list readable, every child identifiable."""
    if not items:
        return None  # [] : the race was deleted
    race, raw = items[0], data[0]
    lists = ["PilotChannels", "Detections", "Laps"]
    if raw.get("GamePoints") is not None:  # absent (older builds) or null: game points are left as they are
        lists.append("GamePoints")
    problem = _lists_whole(raw, race, lists, "Race")
    if problem is None and any(pc.pilot is None for pc in race.pilot_channels):
        problem = "a Race.PilotChannels entry has no readable Pilot"
    for children, what in (
        (race.detections, "detections"),
        (race.laps, "laps"),
        (race.game_points or [], "game points"),
    ):
        problem = problem or _unidentified(children, what)
    return problem


def event_whole(data: list[Any], items: Sequence[Event]) -> str | None:
    """The event's race list and roster can be told completely (races and roster entries not listed are deleted)."""
    if not items:
        return None  # reported as "holds no event"
    event = items[0]
    problem = _lists_whole(data[0], event, ["Races", "PilotChannels"], "Event")
    if problem is None and any(pc.pilot is None for pc in event.pilot_channels):
        problem = "an Event.PilotChannels entry has no readable Pilot"
    return problem
