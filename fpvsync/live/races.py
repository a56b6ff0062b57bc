"""Which race a notification means: notifications name races by round and race number, the mirror by GUID.

The numbers are read from what PocketBase already holds (the ``rounds`` and ``races`` of the event), so resolving
costs the timing laptop nothing; an unknown pair re-reads the index (at most once per ``refresh_after`` seconds).
The race FPVTrackside has loaded comes from ``/current`` (builds that have it), else from the races PocketBase
holds as started and not ended.
"""

from __future__ import annotations

import threading
import time

from fpvsync.ids import record_id
from fpvsync.live.notifications import RaceRef
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient

__all__ = ["EventRaces", "current_race"]


class EventRaces:
    """``RaceRef -> race GUID`` for one event, from PocketBase, and the race loaded now. Thread-safe."""

    def __init__(
        self, client: TracksideClient, sink: PocketBaseSink, event_id: str, *, refresh_after: float = 1.0
    ) -> None:
        self.client = client
        self.sink = sink
        self.event_id = event_id
        self.refresh_after = refresh_after
        self._races: dict[RaceRef, str] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def lookup(self, ref: RaceRef) -> str | None:
        with self._lock:
            found = self._races.get(ref)
            if found is None and time.monotonic() - self._read_at >= self.refresh_after:
                self._races = self._read()
                self._read_at = time.monotonic()
                found = self._races.get(ref)
            return found

    def current(self) -> str | None:
        return current_race(self.client, self.sink, self.event_id)

    def _read(self) -> dict[RaceRef, str]:
        rid = record_id(self.event_id)
        rounds = {
            str(r["id"]): r.get("roundNumber")
            for r in self.sink.list_records("rounds", f'event = "{rid}"', "id,roundNumber")
        }
        index: dict[RaceRef, str] = {}
        for race in self.sink.list_records("races", f'event = "{rid}"', "sourceId,raceNumber,round"):
            round_number = rounds.get(str(race.get("round") or ""))
            race_number = race.get("raceNumber")
            if isinstance(round_number, int | float) and isinstance(race_number, int | float):
                index[RaceRef(int(round_number), int(race_number))] = str(race["sourceId"])
        return index


def current_race(client: TracksideClient, sink: PocketBaseSink, event_id: str) -> str | None:
    """The race FPVTrackside has loaded: ``/current``, else the newest started, not ended race in PocketBase."""
    race = client.current_race()
    if race is not None or client.supports_current():
        return race.lower() if race else None
    rid = record_id(event_id)
    running = list(sink.list_records("races", f'event = "{rid}" && start != "" && end = ""', "sourceId,start"))
    running.sort(key=lambda r: str(r.get("start") or ""))
    return str(running[-1]["sourceId"]) if running else None
