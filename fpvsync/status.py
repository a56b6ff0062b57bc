"""``fpvsync status``: how the mirror of an event is doing, for people at the field.

Gathers, without writing anything: whether FPVTrackside and PocketBase answer, the last sync runs, how many records
each collection holds for the event, when a change was last mirrored, and whether the source has changes the mirror
does not have yet (event-level documents and the running race, compared by content hash).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from fpvsync.engine.sources import CHANNELS_PATH, checked_guid, event_path, race_path
from fpvsync.errors import DocumentUnavailable, FpvsyncError
from fpvsync.ids import record_id
from fpvsync.pb import bookkeeping
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import COLLECTIONS
from fpvsync.trackside.client import TracksideClient


@dataclass
class Reachability:
    ok: bool
    url: str
    error: str | None = None
    #: What could not be checked although the server answers (no credentials, say).
    note: str | None = None


@dataclass
class Status:
    event: str | None
    trackside: Reachability
    pocketbase: Reachability
    runs: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    last_change: str | None = None
    #: Source documents whose content differs from what was last mirrored (``None``: could not compare).
    pending: list[str] | None = None
    checked: int = 0
    current_race: str | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.trackside.ok and self.pocketbase.ok else 3

    def to_dict(self) -> dict[str, Any]:
        """The ``status --json`` document: camelCase keys like every other document, ``errors`` like a summary."""
        document = {_camel(key): value for key, value in asdict(self).items()}
        document["ok"] = self.exit_code == 0
        document["errors"] = [
            {"scope": scope, "collection": None, "sourceId": None, "message": reach.error}
            for scope, reach in (("source", self.trackside), ("pocketbase", self.pocketbase))
            if not reach.ok
        ]
        return document


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


NO_CREDENTIALS_NOTE = (
    "no superuser credentials: runs, record counts and pending changes need FPVSYNC_PB_EMAIL and "
    "FPVSYNC_PB_PASSWORD, or FPVSYNC_PB_TOKEN"
)


def gather(client: TracksideClient, sink: PocketBaseSink | None, event_id: str | None, *, pb_url: str = "") -> Status:
    """The status of ``event_id`` (default: FPVTrackside's current event). Without a ``sink`` (no credentials),
    only whether PocketBase at ``pb_url`` answers is checked."""
    trackside = Reachability(True, client.display_url)
    pocketbase = Reachability(True, sink.url if sink is not None else pb_url)
    try:
        event_id = checked_guid(event_id) if event_id else client.current_event()
    except (FpvsyncError, DocumentUnavailable) as exc:
        trackside = Reachability(False, client.display_url, str(exc))
    status = Status(event_id, trackside, pocketbase)
    if sink is None:
        status.pocketbase = _health(pb_url)
        return status
    try:
        sink.authenticate()
    except FpvsyncError as exc:
        status.pocketbase = Reachability(False, sink.url, str(exc))
        return status
    if event_id is None:
        return status
    eid = record_id(event_id)
    try:
        status.runs = [
            {
                k: run.get(k)
                for k in ("command", "ok", "exitCode", "startedAt", "durationSeconds", "written", "errorCount")
            }
            for run in bookkeeping.recent_runs(sink, event_id, 10)
        ]
        for collection in COLLECTIONS:
            filter_ = "" if collection in ("channels", "pilots") else f'event = "{eid}"'
            if collection == "events":
                filter_ = f'id = "{eid}"'
            page = sink.send(
                f"/api/collections/{collection}/records",
                {"method": "GET", "params": {"perPage": 1, "fields": "id", "filter": filter_}},
            )
            status.counts[collection] = int(page.get("totalItems", 0))
        states = bookkeeping.load_document_states(sink, event_id)
    except FpvsyncError as exc:
        status.pocketbase = Reachability(False, sink.url, str(exc))
        return status
    status.last_change = max((synced for _, synced in states.values()), default=None)
    if status.trackside.ok:
        _compare(client, event_id, states, status)
    return status


def _health(pb_url: str) -> Reachability:
    """Whether PocketBase answers ``/api/health`` (needs no credentials)."""
    try:
        with httpx.Client(timeout=5.0, follow_redirects=False) as http:
            answer = http.get(f"{pb_url.rstrip('/')}/api/health")
    except httpx.HTTPError as exc:
        return Reachability(False, pb_url, f"PocketBase at {pb_url} did not answer: {exc or type(exc).__name__}")
    if answer.status_code != 200:
        return Reachability(False, pb_url, f"PocketBase at {pb_url} answered HTTP {answer.status_code} to /api/health")
    return Reachability(True, pb_url, note=NO_CREDENTIALS_NOTE)


def _compare(client: TracksideClient, event_id: str, states: dict[str, tuple[str, str]], status: Status) -> None:
    paths = [CHANNELS_PATH] + [event_path(event_id, n) for n in ("Event.json", "Pilots.json", "Rounds.json")]
    try:
        status.current_race = client.current_race()
    except FpvsyncError:
        status.current_race = None
    if status.current_race:
        paths.append(race_path(event_id, status.current_race, "Race.json"))
    pending: list[str] = []
    try:
        for path in paths:
            try:
                document = client.fetch(path, required=False)
            except DocumentUnavailable:
                continue
            status.checked += 1
            if states.get(path, ("", ""))[0] != document.sha256:
                pending.append(path)
    except FpvsyncError as exc:
        status.trackside = Reachability(False, client.display_url, str(exc))
        return
    status.pending = pending
