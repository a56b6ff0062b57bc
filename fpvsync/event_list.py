"""The events an operator can work with: the one FPVTrackside has open, and every event mirrored in PocketBase.

FPVTrackside's web server names only its open event (on ``/``): it cannot list its other events. PocketBase's
``events`` and ``races`` collections are public-read, so listing needs no credentials. Reads only; no printing::

    listing = gather(client, "http://127.0.0.1:8090")
    listing.to_dict()  # {"ok", "trackside", "pocketbase", "openEvent", "events": [...]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import ValidationError

from fpvsync.engine.sources import event_path
from fpvsync.errors import FpvsyncError
from fpvsync.mapping import event_zone, utc
from fpvsync.pb.sink import filter_string
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.models import Event, parse_list

PAGE: Final = 1000


@dataclass
class Answer:
    """Whether a server answered, at which URL (without credentials), and why not."""

    url: str
    ok: bool = True
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "error": self.error}


@dataclass
class ListedEvent:
    event_id: str
    name: str
    #: UTC, as PocketBase stores dates (``""`` when unknown).
    start: str
    #: Race records mirrored in PocketBase; for an open event not mirrored yet, the races FPVTrackside lists.
    races: int
    open: bool = False
    mirrored: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "eventId": self.event_id,
            "name": self.name,
            "start": self.start,
            "races": self.races,
            "open": self.open,
            "mirrored": self.mirrored,
        }


@dataclass
class EventList:
    trackside: Answer
    pocketbase: Answer
    open_event: str | None = None
    events: list[ListedEvent] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 when both servers answered; 3 when either did not (what the other one said is still listed)."""
        return 0 if self.trackside.ok and self.pocketbase.ok else 3

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.exit_code == 0,
            "trackside": self.trackside.to_dict(),
            "pocketbase": self.pocketbase.to_dict(),
            "openEvent": self.open_event,
            "events": [event.to_dict() for event in self.events],
        }


def gather(client: TracksideClient, pb_url: str, timeout: float = 10.0) -> EventList:
    """Ask FPVTrackside for its open event and PocketBase for the mirrored ones; open event first, then newest."""
    listing = EventList(Answer(client.display_url), Answer(_without_credentials(pb_url)))
    opened = _open_event(client, listing.trackside)
    listing.open_event = opened.event_id if opened else None
    mirrored = _mirrored(pb_url, timeout, listing.pocketbase)
    if opened is not None:
        same = next((e for e in mirrored if e.event_id == opened.event_id), None)
        if same is not None:
            mirrored.remove(same)
            opened = same
        opened.open = True
        listing.events.append(opened)
    listing.events.extend(sorted(mirrored, key=lambda e: e.start, reverse=True))
    return listing


def _open_event(client: TracksideClient, answer: Answer) -> ListedEvent | None:
    try:
        event_id = client.current_event()
        document = client.fetch(event_path(event_id, "Event.json"))
    except FpvsyncError as exc:
        answer.ok, answer.error = False, str(exc)
        return None
    try:
        events = parse_list(Event, document.data, document.path).items
    except (FpvsyncError, ValidationError, ValueError, TypeError):
        events = []
    event = events[0] if events else None
    if event is None:
        return ListedEvent(event_id, "", "", 0)
    return ListedEvent(event_id, event.name or "", utc(event.start, event_zone(event, None)), len(event.races))


def _mirrored(pb_url: str, timeout: float, answer: Answer) -> list[ListedEvent]:
    found: list[ListedEvent] = []
    try:
        with httpx.Client(base_url=pb_url.rstrip("/"), timeout=timeout) as pb:
            page = 1
            while True:
                items = _get(pb, "events", {"page": page, "fields": "id,sourceId,name,start"})["items"]
                for item in items:
                    races = _get(pb, "races", {"filter": f"event = {filter_string(str(item['id']))}", "fields": "id"})
                    found.append(
                        ListedEvent(
                            str(item.get("sourceId") or ""),
                            str(item.get("name") or ""),
                            str(item.get("start") or ""),
                            int(races.get("totalItems") or 0),
                            mirrored=True,
                        )
                    )
                if len(items) < PAGE:
                    return found
                page += 1
    except (httpx.HTTPError, ValueError) as exc:
        answer.ok, answer.error = False, _describe(exc, answer.url)
    return found


def _get(pb: httpx.Client, collection: str, params: dict[str, Any]) -> dict[str, Any]:
    per_page = PAGE if "page" in params else 1
    response = pb.get(f"/api/collections/{collection}/records", params={"perPage": per_page, **params})
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def _describe(exc: Exception, url: str) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        if status == 404:
            return f"PocketBase at {url} has no events collection (apply fpvsync's migrations)"
        return f"PocketBase at {url} answered {status}"
    if isinstance(exc, ValueError):
        return f"PocketBase at {url} answered something that is not PocketBase's JSON"
    return f"PocketBase at {url} did not answer: {type(exc).__name__}"


def _without_credentials(url: str) -> str:
    return str(httpx.URL(url).copy_with(username=None, password=None))


__all__ = ["Answer", "EventList", "ListedEvent", "gather"]
