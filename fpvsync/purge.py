"""Remove one event's mirror from PocketBase, so that a later ``poll`` or ``full`` mirrors it again from scratch.

What goes:

- every record of the event in the synced collections (results, game points, laps, detections, pilot channels,
  races, rounds, stages, then the event record itself), children before parents;
- its ``eventState`` record;
- its per-event state (:data:`STATE_COLLECTION` records whose ``event`` is the event's GUID), so nothing remembers
  having mirrored it and the next pass writes everything again;
- its ``syncLocks`` lock ``poll:<event>``: purge takes that lock first (a pass of the event that is writing makes
  purge stop without deleting anything) and deletes it when done.

Pilots and channels are global. A pilot goes only when no record of another event refers to it. Channels come
from FPVTrackside's one ``Channels.json`` that every event's sync mirrors whole, so they stay while any other event
is mirrored and go with the last one.

What stays: ``syncRuns``. Runs are history; each keeps the event's GUID in ``eventId`` (its ``event`` relation is
emptied by PocketBase when the event record goes), and the purge itself is logged there too.

:func:`plan` reads what a purge would delete; :func:`purge` deletes it. Both work on a dry-run sink.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from fpvsync.engine import state
from fpvsync.ids import record_id
from fpvsync.pb.lock import SYNC_LOCKS, Held, try_lock
from fpvsync.pb.sink import Delete, PocketBaseSink, filter_string
from fpvsync.summary import SyncSummary

__all__ = ["EVENT_STATE", "STATE_COLLECTION", "PurgePlan", "plan", "purge"]

#: The collection of per-event sync state: records with a text field ``event`` holding the event's GUID.
STATE_COLLECTION: Final = state.SYNC_SCOPES
EVENT_STATE: Final = "eventState"
#: An event's own collections, children before parents (the order deletes go in).
EVENT_COLLECTIONS: Final = (
    "results",
    "gamePoints",
    "laps",
    "detections",
    "pilotChannels",
    "races",
    "rounds",
    "stages",
)
#: Where records refer to pilots and channels (besides an event's own ``removedPilots`` and ``channels``).
PILOT_REFERENCES: Final = ("pilotChannels", "detections", "laps", "gamePoints", "results")
CHANNEL_REFERENCES: Final = ("pilotChannels", "detections", "gamePoints")
#: Ids per ``a = "x" || a = "y"`` filter: PocketBase allows at most 200 expressions and 3,500 characters.
_IDS_PER_FILTER: Final = 80
#: Seconds purge waits for a running pass of the event to finish before giving up.
LOCK_WAIT: Final = 5.0
LOCK_LEASE: Final = 300.0


@dataclass
class PurgePlan:
    """What purging one event deletes (record ids by collection) and which shared records it keeps."""

    event_id: str
    name: str | None
    deletes: dict[str, list[str]] = field(default_factory=dict)
    #: Pilots and channels this event refers to that stay because another event still needs them.
    kept: dict[str, int] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not any(self.deletes.values())

    def counts(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in self.deletes.items() if ids}


def plan(sink: PocketBaseSink, event_id: str) -> PurgePlan:
    """Read what purging ``event_id`` (a GUID) would delete; writes nothing."""
    eid = record_id(event_id)
    events = {str(item["id"]): item for item in sink.list_records("events", None, "name,removedPilots")}
    this = events.pop(eid, None)
    result = PurgePlan(event_id, str(this["name"]) if this and this.get("name") else None)
    own = f"event = {filter_string(eid)}"
    for collection in EVENT_COLLECTIONS:
        result.deletes[collection] = _ids(sink.list_records(collection, own, "id"))
    result.deletes[EVENT_STATE] = _ids(sink.list_records(EVENT_STATE, own, "id"))
    result.deletes["events"] = [eid] if this is not None else []

    pilots = _referenced(sink, PILOT_REFERENCES, "pilot", own)
    if this is not None:
        pilots |= set(this.get("removedPilots") or [])
    shared_pilots = {p for other in events.values() for p in other.get("removedPilots") or []}
    shared_pilots |= _referenced_elsewhere(sink, PILOT_REFERENCES, "pilot", eid, pilots - shared_pilots)
    result.deletes["pilots"] = sorted(pilots - shared_pilots)
    result.kept["pilots"] = len(pilots & shared_pilots)

    if events:
        result.deletes["channels"] = []
        result.kept["channels"] = len(_referenced(sink, CHANNEL_REFERENCES, "channel", own))
    else:
        result.deletes["channels"] = _ids(sink.list_records("channels", None, "id"))

    result.deletes[STATE_COLLECTION] = _ids(
        sink.list_records(STATE_COLLECTION, f"event = {filter_string(event_id)}", "id")
    )
    return result


def purge(sink: PocketBaseSink, purge_plan: PurgePlan) -> SyncSummary:
    """Delete what ``purge_plan`` lists, holding the event's poll lock; the summary counts deletes per collection.

    When a pass of the event holds the lock, nothing is deleted and the summary carries one error.
    """
    event_id = purge_plan.event_id
    summary = SyncSummary("purge", event_id, dry_run=sink.dry_run)
    lock = None
    if not sink.dry_run:
        taken = try_lock(sink, f"poll:{event_id}", lease=LOCK_LEASE, wait=LOCK_WAIT)
        if isinstance(taken, Held):
            summary.error(
                "purge",
                f"a pass of this event is writing ({taken.holder}, since {taken.acquired_at}): try again later",
                SYNC_LOCKS,
            )
            return summary
        lock = taken
    try:
        # The sync state goes first: a purge cut short (PocketBase gone, Ctrl-C) between two batches must not leave
        # state claiming that deleted records are mirrored, or the next poll would skip writing them again.
        sink.write(_deletes(purge_plan, [STATE_COLLECTION, *EVENT_COLLECTIONS, EVENT_STATE, "events"]), summary)
        # Shared records last, checked again right before they go (the event's own deletes can take a while).
        _keep_what_others_took_up(sink, purge_plan)
        sink.write(_deletes(purge_plan, ["pilots", "channels"]), summary)
        for name, kept in purge_plan.kept.items():
            summary.add(name, "unchanged", kept)
    finally:
        if lock is not None:
            lock.release()
    return summary


def _deletes(purge_plan: PurgePlan, collections: Iterable[str]) -> list[Delete]:
    scope = f"purge {purge_plan.event_id}"
    return [
        Delete(collection=name, id=record, scope=scope)
        for name in collections
        for record in purge_plan.deletes.get(name, [])
    ]


def _keep_what_others_took_up(sink: PocketBaseSink, purge_plan: PurgePlan) -> None:
    """Drop from the plan the pilots and channels another event came to use since it was made.

    A plan is shown and confirmed before the purge takes the event's lock, and that lock does not stop other
    events' syncs: one of them may have mirrored a second event (which needs the channels) or a race with one of
    the planned pilots meanwhile. PocketBase would empty those references in the other event's records, and its
    sync state would not notice.
    """
    eid = record_id(purge_plan.event_id)
    pilots = set(purge_plan.deletes.get("pilots", []))
    if pilots:
        others = sink.list_records("events", f"id != {filter_string(eid)}", "removedPilots")
        taken = {p for other in others for p in other.get("removedPilots") or []} & pilots
        taken |= _referenced_elsewhere(sink, PILOT_REFERENCES, "pilot", eid, pilots - taken)
        if taken:
            purge_plan.deletes["pilots"] = sorted(pilots - taken)
            purge_plan.kept["pilots"] = purge_plan.kept.get("pilots", 0) + len(taken)
    if purge_plan.deletes.get("channels") and next(
        sink.list_records("events", f"id != {filter_string(eid)}", "id"), None
    ):
        purge_plan.kept["channels"] = len(purge_plan.deletes["channels"])
        purge_plan.deletes["channels"] = []


def _ids(items: Iterable[dict[str, object]]) -> list[str]:
    return [str(item["id"]) for item in items]


def _referenced(sink: PocketBaseSink, collections: Iterable[str], field_name: str, filter: str) -> set[str]:
    """Ids in ``field_name`` of the records of ``collections`` matching ``filter``."""
    found: set[str] = set()
    for collection in collections:
        for item in sink.list_records(collection, f"({filter}) && {field_name} != ''", field_name):
            found.add(str(item[field_name]))
    return found


def _referenced_elsewhere(
    sink: PocketBaseSink, collections: Iterable[str], field_name: str, event_record_id: str, candidates: set[str]
) -> set[str]:
    """The ``candidates`` that a record of another event refers to in ``field_name``."""
    found: set[str] = set()
    for collection in collections:
        for chunk in _chunks(sorted(candidates - found)):
            anyof = " || ".join(f"{field_name} = {filter_string(value)}" for value in chunk)
            other = f"event != {filter_string(event_record_id)} && ({anyof})"
            found.update(str(item[field_name]) for item in sink.list_records(collection, other, field_name))
    return found


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IDS_PER_FILTER):
        yield values[start : start + _IDS_PER_FILTER]
