"""``eventState``: the "now / next" record front ends subscribe to, one per event.

PocketBase view collections send no realtime events, so a leaderboard cannot subscribe to ``leaderboard`` or
``pilotBests``. Instead every run that wrote anything for an event bumps ``changeSeq`` on the event's
``eventState`` record (``id`` = the event's record id) in the same run, and front ends re-read the views when it
moves. An idle pass never touches it::

    update_event_state(sink, event_id, written={"laps", "detections"}, hint=RaceHint(race_id=current))

Which race is *current* and which is *next*, by the best source at hand:

1. a :class:`RaceHint` naming the race: a doorbell notification, else ``/current`` on builds that have it (every
   command asks it when it wrote something, not only poll);
2. else a race that has started and not ended (the newest start);
3. else the race order: the first race FPVTrackside would load next (``RaceManager.GetNextRace``: valid, not run
   yet, listing pilots).

*Next* is the race FPVTrackside shows as next (``UI/Nodes/EventStatusNode.cs``: ``GetNextRace(unfinishedOnly:
true, allowCurrent: false)``): the first race in FPVTrackside's race order (``Round.Order``, then ``RaceNumber``:
the ``raceOrder`` view; a race of a round missing from ``Rounds.json`` sits at its made-up round's ``Order``,
``DB/JSON/Race.cs`` ``GetRaceLibObject``) that is not the current one, is valid, has not ended and lists pilots.
The whole order counts, not only what follows the current race: a race left unrun earlier comes first.
Brackets do not change the order (a bracket only names a race: ``Race.RaceName``).
``raceState`` is ``running`` (started, not ended), ``ended``, or ``idle`` (not started); a hint may say ``armed``
(the race director armed the start).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from fpvsync.errors import SinkRejected
from fpvsync.ids import record_id
from fpvsync.pb.sink import PocketBaseSink

__all__ = ["EVENT_STATE", "RaceHint", "RaceState", "compute_state", "update_event_state"]

EVENT_STATE: Final = "eventState"
RaceState = Literal["idle", "armed", "running", "ended"]
_FIELDS: Final = ("currentRace", "nextRace", "raceState", "raceStartedAt")
_DOCUMENT_STATES: Final[dict[str, RaceState]] = {"running": "running", "ended": "ended"}


@dataclass(frozen=True)
class RaceHint:
    """What the source said about the race at hand, beyond the documents (``/current``, a notification)."""

    #: The FPVTrackside GUID of the race FPVTrackside has loaded, if known.
    race_id: str | None = None
    #: A state the documents cannot show (``armed``: started by the race director, no file written yet).
    state: RaceState | None = None


def _pb_now() -> str:
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%d %H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def compute_state(order: list[dict[str, Any]], hint: RaceHint | None = None) -> dict[str, Any]:
    """``currentRace``, ``nextRace``, ``raceState`` and ``raceStartedAt`` from the event's ``raceOrder`` rows
    (sorted by ``position``) and an optional hint. Pure: the rules in the module docstring."""
    by_id = {str(row["id"]): row for row in order}
    current: dict[str, Any] | None = None
    if hint is not None and hint.race_id:
        current = by_id.get(record_id(hint.race_id))
    if current is None:
        running = [row for row in order if row.get("state") == "running"]
        current = max(running, key=lambda row: str(row.get("start") or ""), default=None)
    if current is None:
        current = next((row for row in order if _runnable(row)), None)
    following = next((row for row in order if _unfinished(row) and row is not current), None)
    state: RaceState = "idle"
    if current is not None:
        state = _DOCUMENT_STATES.get(str(current.get("state")), "idle")
        hinted = hint is not None and hint.race_id is not None and by_id.get(record_id(hint.race_id)) is current
        # A file that says more (the race started or ended) wins over a hint of "armed".
        if hinted and hint is not None and hint.state is not None and not (hint.state == "armed" and state != "idle"):
            state = hint.state
    return {
        "currentRace": str(current["id"]) if current else "",
        "nextRace": str(following["id"]) if following else "",
        "raceState": state,
        "raceStartedAt": str(current.get("start") or "") if current and state in ("running", "ended") else "",
    }


def _runnable(row: dict[str, Any]) -> bool:
    """A race FPVTrackside would load next (``RaceManager.GetNextRace``): valid, not run yet, with pilots.

    A row without ``pilots`` (a view from before the field) counts as having some."""
    return bool(row.get("valid")) and row.get("state") == "unstarted" and row.get("pilots", 1) != 0


def _unfinished(row: dict[str, Any]) -> bool:
    """``GetNextRace(unfinishedOnly: true)``'s test: valid, not ended (a race that started counts), with pilots."""
    return bool(row.get("valid")) and row.get("state") != "ended" and row.get("pilots", 1) != 0


def _race_order(sink: PocketBaseSink, event_rid: str) -> list[dict[str, Any]]:
    rows = sink.send(
        "/api/collections/raceOrder/records",
        {
            "method": "GET",
            "params": {
                "filter": f'event = "{event_rid}"',
                "sort": "position",
                "perPage": 1000,
                "skipTotal": 1,
                "fields": "id,position,state,valid,start,pilots",
            },
        },
    )["items"]
    return list(rows)


def _stored(sink: PocketBaseSink, event_rid: str) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = sink.send(f"/api/collections/{EVENT_STATE}/records/{event_rid}", {"method": "GET"})
    except SinkRejected as exc:
        if exc.status == 404:
            return None
        raise
    return answer


def update_event_state(
    sink: PocketBaseSink, event_id: str, written: Collection[str], hint: RaceHint | None = None
) -> bool:
    """Bring the event's ``eventState`` up to date after a run; return whether it was written.

    ``written`` names the collections the run changed for this event. The record is written when ``written`` is
    not empty (``changeSeq`` goes up by one) or when the current/next race or its state moved (a hint, say);
    otherwise nothing is written, so idle passes stay idle. The event record must exist. Raises the sink's errors.
    """
    if sink.dry_run:
        return False
    rid = record_id(event_id)
    stored = _stored(sink, rid)
    if stored is not None and written and _order_unchanged(written, stored, hint):
        wanted = {k: stored.get(k) or "" for k in _FIELDS}
    else:
        wanted = compute_state(_race_order(sink, rid), hint)
    moved = stored is None or any(_same_value(stored.get(k), wanted[k]) is False for k in _FIELDS)
    if not written and not moved:
        return False
    body = {
        **wanted,
        "event": rid,
        "changeSeq": int((stored or {}).get("changeSeq") or 0) + 1,
        "changedAt": _pb_now(),
        "changedCollections": sorted(written) if written else [EVENT_STATE],
    }
    if stored is None:
        sink.send(f"/api/collections/{EVENT_STATE}/records", {"method": "POST", "body": {"id": rid, **body}})
    else:
        sink.send(f"/api/collections/{EVENT_STATE}/records/{rid}", {"method": "PATCH", "body": body})
    return True


#: Collections whose records never move the race order's current or next race: ``raceOrder`` rows hold a race's
#: validity, start, end and number of pilots, all from ``races`` and ``pilotChannels``.
_ORDER_NEUTRAL: Final = frozenset({"laps", "detections", "gamePoints", "results"})


def _order_unchanged(written: Collection[str], stored: dict[str, Any], hint: RaceHint | None) -> bool:
    """Whether the stored current and next race still hold: only laps and the like were written (a lap of the
    running race, the live tiers' common case), and a hint names the stored current race in the stored state.
    Saves reading the whole race order per lap. (Without a hint, the stored current race may have been a hint's
    that no longer holds: the order decides.)"""
    if not set(written) <= _ORDER_NEUTRAL or hint is None or hint.race_id is None:
        return False
    if record_id(hint.race_id) != stored.get("currentRace"):
        return False
    return hint.state is None or hint.state == stored.get("raceState")


def _same_value(stored: object, wanted: object) -> bool:
    return str(stored or "") == str(wanted or "")
