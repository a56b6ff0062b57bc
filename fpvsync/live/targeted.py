"""Targeted syncs: converge only some races (and, if asked, the event-level documents), remembering in memory what
was mirrored so that re-reading an unchanged running race costs one GET and no PocketBase request, and a changed one
two GETs at most (its ``Result.json`` is asked again only once the race ends: FPVTrackside writes it then).

The live package talks to the engine only through :class:`TargetedSync`; :class:`EngineSync` implements it with
the engine's targeted pass (:func:`fpvsync.engine.poll.poll` with a :class:`~fpvsync.engine.poll.PollFocus` and
a :class:`~fpvsync.engine.poll.PollMemory`), so the same fingerprint rules keep the mirror right::

    sync = EngineSync(ctx, event_id, PollPolicy())
    outcome = sync.sync(frozenset({race_id}), event_documents=False, hint=RaceHint(race_id=race_id))
    outcome.changed      # races whose records differed from what PocketBase held (and were converged)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fpvsync.engine.poll import PollFocus, PollMemory, PollPolicy, PollRun
from fpvsync.engine.sources import Loaded
from fpvsync.engine.sync import RaceWork, SyncContext
from fpvsync.errors import FpvsyncError
from fpvsync.event_state import RaceHint, RaceState, update_event_state
from fpvsync.summary import SyncSummary
from fpvsync.trackside.models import Race, Result

__all__ = ["EngineSync", "SyncOutcome", "TargetedSync"]


@dataclass(frozen=True)
class SyncOutcome:
    """What a targeted sync did."""

    summary: SyncSummary
    #: Races (source GUIDs) whose records differed from what PocketBase held (and were converged).
    changed: frozenset[str] = frozenset()
    #: Races whose ``Race.json`` could not be read whole (missing, empty, half-written).
    unavailable: frozenset[str] = frozenset()
    #: The detection GUIDs (lower case) each race read holds.
    detections: dict[str, frozenset[str]] = field(default_factory=dict)
    #: The state each race read shows (``idle``: not started, ``running``, ``ended``).
    states: dict[str, RaceState] = field(default_factory=dict)
    #: Races whose ``Result.json`` was read holding results.
    results: frozenset[str] = frozenset()


class TargetedSync(Protocol):
    """Converge ``races`` (source GUIDs), plus the event-level documents and results when ``event_documents``."""

    def sync(self, races: frozenset[str], event_documents: bool, hint: RaceHint | None) -> SyncOutcome: ...

    def warm(self) -> None:
        """Read ahead what every sync needs, so that the first lap does not wait for it. Raises sync errors."""


class EngineSync:
    """:class:`TargetedSync` over the engine's targeted pass. Not thread-safe: one worker calls it."""

    def __init__(self, ctx: SyncContext, event_id: str, policy: PollPolicy, *, base_max_age: float = 120.0) -> None:
        self.ctx = ctx
        self.event_id = event_id
        self.policy = policy
        #: The event documents (rounds, pilots, channels: what races are mapped with) are read again when older than
        #: this, and whenever a sync asks for them (a notification of a race loaded or ended).
        self.base_max_age = base_max_age
        self.memory = PollMemory()
        self._base_read_at = float("-inf")
        #: Asked after each sync that wrote: True when more syncs are waiting, so that ``eventState`` is bumped
        #: once for a burst (by the last sync of it) instead of once per lap.
        self.more_waiting: Callable[[], bool] = lambda: False
        self._owed_event_state: set[str] = set()
        #: Each race's ``Result.json`` as last read, while the race had not ended and the file did not exist: asked
        #: again once ``Race.json`` shows the end (whole passes, which read everything, catch anything else).
        self.absent_results: dict[str, Loaded[Result]] = {}

    def sync(self, races: frozenset[str], event_documents: bool, hint: RaceHint | None) -> SyncOutcome:
        if not races and not event_documents:
            return SyncOutcome(self._hint_only(hint))
        fresh = event_documents or time.monotonic() - self._base_read_at > self.base_max_age
        run = _TargetedPass(self, races, fresh, hint)
        summary = run.run(run.body)
        if summary.unreachable or summary.skipped:
            self.forget()  # writes may have stopped half way: ask PocketBase again next time
        elif fresh and run.event is not None:
            self._base_read_at = time.monotonic()
        return SyncOutcome(
            summary,
            frozenset(run.changed),
            frozenset(run.unavailable_races),
            dict(run.detections),
            dict(run.states),
            frozenset(run.resulted),
        )

    def _hint_only(self, hint: RaceHint | None) -> SyncSummary:
        """A state only notifications tell (a race armed): ``eventState`` says it, no document is read."""
        summary = SyncSummary(command="poll", event=self.event_id, dry_run=self.ctx.sink.dry_run)
        if hint is not None and hint.state is not None and not self.ctx.sink.dry_run:
            self.bump_event_state(set(), hint, summary)
        return summary

    def bump_event_state(self, written: set[str], hint: RaceHint | None, summary: SyncSummary) -> None:
        """Bump ``eventState`` once per burst: a sync followed by waiting ones leaves the bump to the last."""
        armed = hint is not None and hint.state == "armed"  # only a hint can tell it
        if written and not armed and self.more_waiting():
            self._owed_event_state |= written
            return
        written |= self._owed_event_state
        if not written and (hint is None or hint.state is None):
            return
        try:
            update_event_state(self.ctx.sink, self.event_id, written, hint)
            self._owed_event_state.clear()
        except FpvsyncError as exc:
            self._owed_event_state |= written
            summary.warn("eventState", f"could not update eventState: {exc}")

    def warm(self) -> None:
        """Read the state and the event documents, and converge the running race (if any)."""
        outcome = self.sync(frozenset(), True, None)
        if outcome.summary.unreachable:
            raise FpvsyncError(outcome.summary.unreachable)

    def forget(self) -> None:
        """Drop what is remembered (the next sync reads the state and the event documents again)."""
        self.memory = PollMemory()
        self._base_read_at = float("-inf")
        self.absent_results.clear()


class _TargetedPass(PollRun):
    """A poll pass focused on some races, noting what the live mirror needs to know about them."""

    def __init__(self, owner: EngineSync, races: frozenset[str], event_documents: bool, hint: RaceHint | None):
        focus = PollFocus(races=races, event_documents=event_documents)
        super().__init__(owner.ctx, owner.event_id, owner.policy, focus=focus, memory=owner.memory)
        self.owner = owner
        self.race_hint = hint
        self.changed: set[str] = set()
        self.unavailable_races: set[str] = set()
        self.detections: dict[str, frozenset[str]] = {}
        self.states: dict[str, RaceState] = {}
        self.resulted: set[str] = set()

    def load_race_document(self, race_id: str, *, children: bool) -> Loaded[Race]:
        document = super().load_race_document(race_id, children=children)
        if document.items is None:
            self.unavailable_races.add(race_id)
        elif document.items:
            race = document.items[0]
            self.detections[race_id] = frozenset(d.id.lower() for d in race.detections if d.id)
            self.states[race_id] = "ended" if race.end else "running" if race.start else "idle"
        return document

    def load_result_document(self, race_id: str, race: Race) -> Loaded[Result]:
        absent = self.owner.absent_results
        if race.end is None and race_id in absent:
            return absent[race_id]
        document = super().load_result_document(race_id, race)
        if document.items:
            self.resulted.add(race_id)
        if race.end is None and document.empty:
            absent[race_id] = document
        else:
            absent.pop(race_id, None)
        return document

    def apply_race(self, work: RaceWork, *, children: bool) -> None:
        if work.race.items is not None:
            self.changed.add(work.race_id)
        super().apply_race(work, children=children)

    def update_event_state(self) -> None:
        written = {name for name, counts in self.summary.collections.items() if counts.written}
        if self.sink.dry_run or self.event is None:
            self.owner._owed_event_state |= written
            return
        self.owner.bump_event_state(written, self.race_hint, self.summary)

    def should_record_run(self) -> bool:
        """Targeted syncs run per lap: only those that failed go to ``syncRuns`` (passes keep the heartbeat)."""
        return not self.summary.skipped and bool(self.summary.errors or self.summary.unreachable)
