"""Checking the EVENT and RACE a user typed before a run starts, so that a typo is a usage error at once.

FPVTrackside answers an empty 200 for a file that does not exist, which a run would otherwise retry with backoff
and report as "unavailable" seconds later. One request (``Event.json`` read as optional: an empty body is final
at once) tells "no such event" apart; the event's race list (or the race's own file) tells "no such race".
"""

from __future__ import annotations

from fpvsync.engine.sources import checked_guid, event_path, race_path
from fpvsync.errors import ConfigError, DocumentUnavailable, FpvsyncError, SourceUnreachable
from fpvsync.trackside.client import TracksideClient


def ensure_known(client: TracksideClient, event: str | None, race: str | None = None) -> None:
    """Raise :class:`ConfigError` when FPVTrackside has no event ``event`` (or no race ``race`` in it).

    Says nothing when it cannot tell (FPVTrackside not answering, a half-written file): the run then reports it,
    and records it in ``syncRuns``.
    """
    if event is None:
        return
    event_id = checked_guid(event)
    race_id = checked_guid(race, "race id") if race is not None else None
    try:
        document = client.fetch(event_path(event_id, "Event.json"), required=False)
    except DocumentUnavailable as exc:
        if exc.empty:
            raise ConfigError(
                f"event {event} not found on FPVTrackside at {client.display_url}{_known(client)}"
            ) from None
        return
    except SourceUnreachable:
        return
    if race_id is None:
        return
    data = document.data
    if isinstance(data, list) and data:  # Event.json holds a list with the event in it
        data = data[0]
    listed = data.get("Races") if isinstance(data, dict) else None
    if isinstance(listed, list) and race_id in {str(r).lower() for r in listed}:
        return
    try:
        client.fetch(race_path(event_id, race_id, "Race.json"), required=False)
    except DocumentUnavailable as exc:
        if exc.empty:
            raise ConfigError(f"race {race} not found in event {event} on FPVTrackside") from None
    except SourceUnreachable:
        return


def _known(client: TracksideClient) -> str:
    """`` (open: ID)`` naming the event FPVTrackside has open (its web server lists no other), or nothing."""
    try:
        return f" (the event open there is {client.current_event()})"
    except FpvsyncError:
        return ""
