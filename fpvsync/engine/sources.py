"""Fetching and parsing FPVTrackside documents for the engine: one call per document, never an exception for an
unusable one (it becomes a :class:`Loaded` with ``items is None``), so one bad file fails only its scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from fpvsync.errors import ConfigError, DocumentUnavailable
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import EMPTY_BODY, TracksideClient
from fpvsync.trackside.models import TracksideModel, parse_list

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
) -> Loaded[M]:
    """Fetch and parse ``path``. Issues in readable objects become warnings; they never fail the document.

    Raises only :class:`~fpvsync.errors.SourceUnreachable` (FPVTrackside itself is gone: no point going on).
    """
    try:
        document = client.fetch(path, required=required)
        parsed = parse_list(model, document.data, path)
    except DocumentUnavailable as exc:
        return Loaded(path, None, problem=exc.reason, empty=exc.empty or exc.reason == EMPTY_BODY)
    for issue in parsed.issues:
        summary.warn(scope, issue)
    return Loaded(path, parsed.items, sha256=document.sha256)
