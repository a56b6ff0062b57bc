"""Which race a notification means: notifications name races by round and race number, the mirror by GUID.

The numbers are read from what PocketBase already holds (the ``rounds`` and ``races`` of the event), so resolving
costs the timing laptop nothing; an unknown pair re-reads the index (at most once per ``refresh_after`` seconds).
The race FPVTrackside has loaded comes from ``/current`` (builds that have it), else from what PocketBase holds: the
race started and not ended, or, when none runs, the next race to run by FPVTrackside's own rule (``eventState``'s
``nextRace``), which is the race the operator loads next.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from fpvsync.ids import record_id
from fpvsync.live.notifications import RaceRef
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient

__all__ = ["EventRaces", "current_race"]


@dataclass(frozen=True)
class _Candidate:
    race_id: str
    race_type: str
    #: (valid, running, start): the larger wins among races sharing their numbers.
    preference: tuple[bool, bool, str]


def _type_key(race_type: str) -> str:
    """Race types compared loosely (``Practise`` is FPVTrackside's older spelling of ``Practice``)."""
    return race_type.strip().lower().replace("practise", "practice")


class EventRaces:
    """``RaceRef -> race GUID`` for one event, from PocketBase, and the race loaded now. Thread-safe."""

    def __init__(
        self, client: TracksideClient, sink: PocketBaseSink, event_id: str, *, refresh_after: float = 1.0
    ) -> None:
        self.client = client
        self.sink = sink
        self.event_id = event_id
        self.refresh_after = refresh_after
        self._races: dict[tuple[int, int], list[_Candidate]] = {}
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def lookup(self, ref: RaceRef) -> str | None:
        with self._lock:
            found = self._pick(ref)
            if found is None and time.monotonic() - self._read_at >= self.refresh_after:
                self._races = self._read()
                self._read_at = time.monotonic()
                found = self._pick(ref)
            return found

    def _pick(self, ref: RaceRef) -> str | None:
        """A race run again keeps its numbers (the old run is made invalid): the valid, running, newest one wins."""
        candidates = self._races.get((ref.round, ref.race), [])
        wanted = _type_key(ref.race_type) if ref.race_type else None
        found = [c for c in candidates if c.race_type == wanted] or candidates  # a type named differently: any
        return max(found, key=lambda c: c.preference).race_id if found else None

    def current(self) -> str | None:
        return current_race(self.client, self.sink, self.event_id)

    def _read(self) -> dict[tuple[int, int], list[_Candidate]]:
        rid = record_id(self.event_id)
        rounds = {
            str(r["id"]): (r.get("roundNumber"), _type_key(str(r.get("eventType") or "")))
            for r in self.sink.list_records("rounds", f'event = "{rid}"', "id,roundNumber,eventType")
        }
        candidates: dict[tuple[int, int], list[_Candidate]] = {}
        fields = "sourceId,raceNumber,round,valid,start,end"
        for race in self.sink.list_records("races", f'event = "{rid}"', fields):
            round_number, race_type = rounds.get(str(race.get("round") or ""), (None, ""))
            race_number = race.get("raceNumber")
            if isinstance(round_number, int | float) and isinstance(race_number, int | float):
                start = str(race.get("start") or "")
                running = bool(start) and not race.get("end")
                preference = (bool(race.get("valid")), running, start)
                key = (int(round_number), int(race_number))
                candidates.setdefault(key, []).append(_Candidate(str(race["sourceId"]), race_type, preference))
        return candidates


def current_race(client: TracksideClient, sink: PocketBaseSink, event_id: str) -> str | None:
    """The race FPVTrackside has loaded: ``/current``, else the newest started, not ended race in PocketBase, else
    the next race to run (so that the fast tier sees it start on builds without ``/current``)."""
    race = client.current_race()
    if race is not None or client.supports_current():
        return race.lower() if race else None
    rid = record_id(event_id)
    running = list(sink.list_records("races", f'event = "{rid}" && start != "" && end = ""', "sourceId,start"))
    running.sort(key=lambda r: str(r.get("start") or ""))
    if running:
        return str(running[-1]["sourceId"])
    state = next(iter(sink.list_records("eventState", f'id = "{rid}"', "nextRace")), None)
    next_race = str(state.get("nextRace") or "") if state else ""
    if not next_race:
        return None
    found = next(iter(sink.list_records("races", f'id = "{next_race}"', "sourceId")), None)
    return str(found["sourceId"]) if found else None
