"""``fpvsync status``: how the mirror of an event is doing, for people at the field.

Gathers, without writing anything: whether FPVTrackside and PocketBase answer, the last sync runs, how many records
each collection holds for the event, when a change was last mirrored, and what is pending: the mirror is "in sync"
only when, as far as the stored state tells (:mod:`fpvsync.engine.state`), PocketBase holds what a ``full`` would
write: the event-level documents and the running race are as last mirrored, every listed race was mirrored whole,
and every race was mapped with the event's current context (rounds, pilots, channels, zone, mapping version).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from fpvsync.engine import state
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
        states = state.load(sink, event_id)
    except FpvsyncError as exc:
        status.pocketbase = Reachability(False, sink.url, str(exc))
        return status
    status.last_change = max((s.changed_at or s.verified_at for s in states.values()), default=None) or None
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


#: Which stored scope remembers each event-level document.
_DOCUMENT_SCOPES = {
    "Channels.json": state.CHANNELS_SCOPE,
    "Pilots.json": state.PILOTS_SCOPE,
    "Event.json": state.EVENT_SCOPE,
    "Rounds.json": state.EVENT_SCOPE,
}


def _compare(client: TracksideClient, event_id: str, states: dict[str, state.ScopeState], status: Status) -> None:
    """Pending: documents not mirrored as they are now, and races not mirrored whole with the current context."""
    paths = [CHANNELS_PATH] + [event_path(event_id, n) for n in ("Event.json", "Pilots.json", "Rounds.json")]
    try:
        status.current_race = client.current_race()
    except FpvsyncError:
        status.current_race = None
    if status.current_race:
        paths.append(race_path(event_id, status.current_race, "Race.json"))
    pending: list[str] = []
    listed: list[str] = []
    try:
        for path in paths:
            try:
                document = client.fetch(path, required=False)
            except DocumentUnavailable:
                continue
            status.checked += 1
            name = path.rsplit("/", 1)[-1]
            scope = _DOCUMENT_SCOPES.get(name) if path.count("/") < 3 else state.race_scope(path.split("/")[2])
            stored = states.get(scope) if scope else None
            if stored is None or not stored.complete or stored.inputs.get(path) != document.sha256:
                pending.append(path)
            if name == "Event.json" and path.count("/") == 2:
                listed = _listed_races(document.data)
    except FpvsyncError as exc:
        status.trackside = Reachability(False, client.display_url, str(exc))
        return
    event_state = states.get(state.EVENT_SCOPE)
    context = event_state.context if event_state is not None else None
    for race_id in listed:
        path = race_path(event_id, race_id, "Race.json")
        stored = states.get(state.race_scope(race_id))
        if path in pending or (stored is not None and stored.complete and stored.context == context):
            continue
        if stored is None and not _exists(client, path):
            continue  # listed before its Race.json is written: nothing to mirror yet
        pending.append(path)
    status.pending = pending


def _exists(client: TracksideClient, path: str) -> bool:
    try:
        client.fetch(path, required=False)
    except DocumentUnavailable as exc:
        return not exc.empty
    return True


def _listed_races(data: object) -> list[str]:
    """The race folders an Event.json document lists (lower-case GUIDs)."""
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return []
    races = data[0].get("Races")
    return [str(r).lower() for r in races if isinstance(r, str)] if isinstance(races, list) else []
