"""Capture a live FPVTrackside's documents for one event into a replay directory.

The directory gets the layout :class:`~fpvsync.trackside.replay.ReplayServer` serves, each file holding the
bytes exactly as FPVTrackside sent them::

    report = record_event(client, Path("captures/club-night"))
    print(report.asstr())

What FPVTrackside reports as missing (an empty body for a document that is usually missing: ``Stages.json``,
``Results.json``, a race's ``Race.json`` or ``Result.json``) is not written, and a stale copy from an earlier
capture is removed, so that replaying the directory answers like the source did. A document that stays
unavailable (HTML, unparseable JSON, or an empty body for a required document) is reported as an error and any
earlier copy is kept.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from fpvsync.errors import ConfigError, DocumentUnavailable
from fpvsync.trackside.client import TracksideClient

__all__ = ["RecordReport", "record_event"]

#: Event documents: (path relative to the event folder, required).
EVENT_DOCUMENTS: Final = (
    ("Event.json", True),
    ("Pilots.json", True),
    ("Rounds.json", True),
    ("Stages.json", False),
    ("Results.json", False),
)
#: Race documents: a race listed in Event.json may be deleted, or its folder may lack a file.
RACE_DOCUMENTS: Final = (("Race.json", False), ("Result.json", False))
CHANNELS: Final = "httpfiles/Channels.json"

# An id becomes a folder name: accept GUID-like ids only, never anything that could leave the directory.
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass
class RecordReport:
    """What :func:`record_event` did. Paths are relative to :attr:`directory`, in fetch order."""

    directory: Path
    event_id: str
    written: list[str] = field(default_factory=list)
    #: Documents FPVTrackside reported as missing (empty body); not written.
    missing: list[str] = field(default_factory=list)
    #: Documents that stayed unavailable, with the reason.
    errors: dict[str, str] = field(default_factory=dict)
    race_ids: list[str] = field(default_factory=list)
    bytes_written: int = 0
    duration_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def asdict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "directory": str(self.directory),
            "event": self.event_id,
            "races": list(self.race_ids),
            "written": list(self.written),
            "missing": list(self.missing),
            "errors": [{"path": path, "message": reason} for path, reason in self.errors.items()],
            "bytesWritten": self.bytes_written,
            "durationSeconds": round(self.duration_seconds, 3),
        }

    def asstr(self) -> str:
        lines = [
            f"event {self.event_id}: {len(self.written)} files written ({self.bytes_written} bytes), "
            f"{len(self.missing)} missing, {len(self.errors)} unavailable, "
            f"{len(self.race_ids)} races, in {self.duration_seconds:.2f} s"
        ]
        lines += [f"  missing      {path}" for path in self.missing]
        lines += [f"  unavailable  {path}: {reason}" for path, reason in self.errors.items()]
        return "\n".join(lines)


def record_event(
    client: TracksideClient,
    directory: Path,
    event_id: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> RecordReport:
    """Capture ``event_id`` (default: FPVTrackside's current event) into ``directory``.

    ``progress`` is called with each document's path before it is fetched. Raises
    :class:`~fpvsync.errors.SourceUnreachable` when FPVTrackside stops answering,
    :class:`~fpvsync.errors.DocumentUnavailable` when the current event cannot be read from the index page, and
    :class:`~fpvsync.errors.ConfigError` for an ``event_id`` that could not be a folder name; unavailable
    documents are listed in the report instead.
    """
    started = time.monotonic()
    if event_id is None:
        event_id = client.current_event()
        if not _SAFE_ID.match(event_id):
            raise DocumentUnavailable("/", f"the index page names event {event_id!r}, which is not a plain id")
    elif not _SAFE_ID.match(event_id):
        raise ConfigError(f"event id {event_id!r} is not a plain id like 3f1a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b")
    directory = Path(directory)
    report = RecordReport(directory=directory, event_id=event_id)

    def capture(path: str, required: bool) -> Any:
        if progress is not None:
            progress(path)
        try:
            document = client.fetch(path, required=required)
        except DocumentUnavailable as exc:
            if not required and exc.empty:
                report.missing.append(path)
                with contextlib.suppress(FileNotFoundError):
                    (directory / path).unlink()
            else:
                report.errors[path] = exc.reason
            return None
        _write_atomic(directory / path, document.body)
        report.written.append(path)
        report.bytes_written += len(document.body)
        return document.data

    capture(CHANNELS, True)
    event_root = f"events/{event_id}"
    event_data = None
    for name, required in EVENT_DOCUMENTS:
        data = capture(f"{event_root}/{name}", required)
        if name == "Event.json":
            event_data = data
    if event_data is not None:
        for race_id in _race_ids(event_data, report, f"{event_root}/Event.json"):
            report.race_ids.append(race_id)
            for name, required in RACE_DOCUMENTS:
                capture(f"{event_root}/{race_id}/{name}", required)
    report.duration_seconds = time.monotonic() - started
    return report


def _race_ids(event_data: Any, report: RecordReport, path: str) -> list[str]:
    """The race ids of ``Event.json``'s ``Races`` list, in order, without duplicates or unsafe names."""
    if not (isinstance(event_data, list) and event_data and isinstance(event_data[0], dict)):
        report.errors[path] = "Event.json is not a one-element array of objects; races not recorded"
        return []
    races = event_data[0].get("Races") or []
    if not isinstance(races, list):
        report.errors[path] = "Event.json's Races is not a list; races not recorded"
        return []
    ids: list[str] = []
    for index, race_id in enumerate(races):
        if not isinstance(race_id, str) or not _SAFE_ID.match(race_id):
            report.errors[f"{path}#Races[{index}]"] = f"race id {race_id!r} is not a plain id; skipped"
        elif race_id not in ids:
            ids.append(race_id)
    return ids


def _write_atomic(target: Path, body: bytes) -> None:
    """Write ``body`` to ``target`` through a temporary file in the same folder and :func:`os.replace`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
