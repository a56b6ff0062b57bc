"""Targeted syncs: converge only some races (and, if asked, the event-level documents), remembering in memory what
was applied so that re-reading an unchanged running race costs one GET and no PocketBase request.

The live package talks to the engine only through :class:`TargetedSync`; :class:`EngineSync` implements it over
today's :class:`~fpvsync.engine.poll.PollRun` (this module is the one place to change when the engine offers a
targeted pass of its own)::

    sync = EngineSync(ctx, event_id, PollPolicy())
    outcome = sync.sync(frozenset({race_id}), event_documents=False, hint=RaceHint(race_id=race_id))
    outcome.changed      # races whose documents differed from what was applied (and were converged)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from fpvsync.engine.poll import PollPolicy, PollRun
from fpvsync.engine.sources import entries_whole, load, race_path
from fpvsync.engine.sync import RACE_CHILDREN, BaseDocuments, RaceWork, SyncContext
from fpvsync.errors import FpvsyncError
from fpvsync.event_state import RaceHint, update_event_state
from fpvsync.ids import record_id
from fpvsync.pb import bookkeeping
from fpvsync.pb.sink import filter_string
from fpvsync.summary import SyncSummary
from fpvsync.trackside.models import Result

__all__ = ["EngineSync", "SyncOutcome", "TargetedSync"]


@dataclass(frozen=True)
class SyncOutcome:
    """What a targeted sync did."""

    summary: SyncSummary
    #: Races (source GUIDs) whose documents differed from what was last applied.
    changed: frozenset[str] = frozenset()
    #: Races whose ``Race.json`` could not be read whole (missing, empty, half-written).
    unavailable: frozenset[str] = frozenset()
    #: The detection GUIDs (lower case) each race read holds.
    detections: dict[str, frozenset[str]] = field(default_factory=dict)


class TargetedSync(Protocol):
    """Converge ``races`` (source GUIDs), plus the event-level documents and results when ``event_documents``."""

    def sync(self, races: frozenset[str], event_documents: bool, hint: RaceHint | None) -> SyncOutcome: ...

    def warm(self) -> None:
        """Read ahead what every sync needs, so that the first lap does not wait for it. Raises sync errors."""


@dataclass
class _Memory:
    """What this process knows PocketBase holds, kept across targeted syncs."""

    #: path -> sha256 of documents applied (as stored in the bookkeeping); ``None`` until first loaded.
    applied: dict[str, str] | None = None
    base: BaseDocuments | None = None
    base_loaded_at: float = float("-inf")
    #: Existing pilots and channels (``id -> syncHash``), read once per event documents read.
    globals: tuple[dict[str, str], dict[str, str]] | None = None
    #: What PocketBase holds for races this process wrote: race record id -> (race syncHash, children by
    #: collection). Trusted only while the race's stored document hash is the one this process applied.
    races: dict[str, tuple[str, dict[str, dict[str, str]]]] = field(default_factory=dict)


class EngineSync:
    """:class:`TargetedSync` over today's engine. Not thread-safe: one worker calls it."""

    def __init__(self, ctx: SyncContext, event_id: str, policy: PollPolicy, *, base_max_age: float = 120.0) -> None:
        self.ctx = ctx
        self.event_id = event_id
        self.policy = policy
        #: Event documents older than this are fetched again before a changed race is mapped (they are also read
        #: whenever a sync asks for them: a notification of a race loaded or ended).
        self.base_max_age = base_max_age
        self.memory = _Memory()
        #: Asked after each sync that wrote: True when more syncs are waiting, so that ``eventState`` is bumped
        #: once for a burst (by the last sync of it) instead of once per lap.
        self.more_waiting: Callable[[], bool] = lambda: False
        self._owed_event_state: set[str] = set()

    def sync(self, races: frozenset[str], event_documents: bool, hint: RaceHint | None) -> SyncOutcome:
        run = _TargetedRun(self, races, event_documents)
        run.race_hint = hint
        summary = run.run(run.body)
        self._remember(run)
        return SyncOutcome(summary, frozenset(run.changed), frozenset(run.unavailable_races), run.detections)

    def warm(self) -> None:
        memory = self.memory
        sink = self.ctx.sink
        if memory.applied is None:
            memory.applied = bookkeeping.load_document_hashes(sink, self.event_id)
        if memory.globals is None:
            memory.globals = (sink.existing_hashes("pilots"), sink.existing_hashes("channels"))
        if memory.base is None:
            run = _TargetedRun(self, frozenset(), False)
            run.event_id = self.event_id
            memory.base = run.load_base()
            memory.base_loaded_at = time.monotonic()

    def forget(self) -> None:
        """Drop what is remembered (the next sync reads the bookkeeping and event documents again)."""
        self.memory = _Memory()

    def _remember(self, run: _TargetedRun) -> None:
        memory = self.memory
        if memory.applied is None or run.summary.unreachable or run.summary.skipped or self.ctx.sink.dry_run:
            memory.races.clear()  # writes may have stopped half way
            return
        if run.stored_changed:
            failed = {error.scope for error in run.summary.errors}
            for path, (scope, sha) in run.hashes.items():
                if scope not in failed:
                    memory.applied[path] = sha
            for path in run.gone:
                memory.applied.pop(path, None)
            for rid in run.forget_races:
                memory.races.pop(rid, None)
            if run.summary.errors:  # what failed is asked about again
                memory.races.clear()
            else:
                memory.races.update(run.remember_races)


class _TargetedRun(PollRun):
    """A poll pass restricted to some races (and optionally the event documents)."""

    def __init__(self, owner: EngineSync, races: frozenset[str], event_documents: bool) -> None:
        super().__init__(owner.ctx, owner.event_id, owner.policy)
        self.owner = owner
        self.targets = sorted(races)
        self.event_documents = event_documents
        self.changed: set[str] = set()
        self.unavailable_races: set[str] = set()
        self.detections: dict[str, frozenset[str]] = {}
        self.stored_changed = False
        #: Keyed by race source id (the scope's name) for the owner: what PocketBase now holds for each.
        self.remember_races: dict[str, tuple[str, dict[str, dict[str, str]]]] = {}
        self.forget_races: set[str] = set()

    def body(self) -> None:
        memory = self.owner.memory
        if memory.applied is None:
            memory.applied = bookkeeping.load_document_hashes(self.sink, self.event_id)
        applied = memory.applied
        self.states = {path: (sha, "") for path, sha in applied.items()}
        self.stored_hashes = dict(applied)

        base = self._base(fresh=self.event_documents)
        base_changed = self.event_documents and any(d.sha256 is not None and self._differs(d) for d in base.all())
        rollover = self.load_rollover_results() if self.event_documents else None
        rollover_changed = rollover is not None and rollover.sha256 is not None and self._differs(rollover)

        works: list[RaceWork] = []
        for race_id in self.targets:
            work = self.fetch_race(race_id, children=True, results=False, map_records=False)
            if work.race.items is None:
                self.unavailable_races.add(race_id)
                self.report_unavailable_race(work, synced_before=work.race.path in applied)
                continue
            if work.race.items:
                self.detections[race_id] = frozenset(d.id.lower() for d in work.race.items[0].detections if d.id)
            if self.event_documents or (work.ended and self._differs(work.race)):
                self._load_result(work)
            if self._race_changed(work):
                works.append(work)
                self.changed.add(race_id)
        if not (base_changed or rollover_changed or works):
            return

        if not self.event_documents and time.monotonic() - memory.base_loaded_at > self.owner.base_max_age:
            base = self._base(fresh=True)
            base_changed = any(d.sha256 is not None and self._differs(d) for d in base.all())
        if not self.prepare(base):
            return
        self.take_lock()
        if base_changed:
            memory.globals = None
            self.apply_base(base)
        else:
            if memory.globals is None:
                memory.globals = (self.sink.existing_hashes("pilots"), self.sink.existing_hashes("channels"))
            self.learn_known(base, *memory.globals)
        unknown = self._recall_races([w.race_id for w in works], listed=base_changed)
        if unknown:
            if not base_changed:
                ids = " || ".join(f'id = "{record_id(r)}"' for r in unknown)
                self.existing_races.update(self.sink.existing_hashes("races", ids))
            self.load_children(RACE_CHILDREN, unknown).result()
        for work in works:
            self.map_race(work)
            self.apply_race(work, children=True)
            self._note_race(work)
        if base_changed:
            stale = self.stale_races(self.race_ids())
            if stale:
                self.load_children(RACE_CHILDREN, record_ids=stale).result()
                self.delete_stale_races(stale)
        if rollover_changed and rollover is not None:
            self.sync_rollover_results(rollover)
        self.stored_changed = True

    def update_event_state(self) -> None:
        """Bump ``eventState`` once per burst: a sync followed by waiting ones leaves the bump to the last."""
        owner = self.owner
        written = {name for name, counts in self.summary.collections.items() if counts.written}
        if self.sink.dry_run or self.event is None:
            owner._owed_event_state |= written
            return
        armed = self.race_hint is not None and self.race_hint.state == "armed"  # only a hint can tell it
        if written and not armed and owner.more_waiting():
            owner._owed_event_state |= written
            return
        written |= owner._owed_event_state
        if not written and (self.race_hint is None or self.race_hint.state is None):
            return
        try:
            update_event_state(self.sink, self.event_id, written, self.race_hint)
            owner._owed_event_state.clear()
        except FpvsyncError as exc:
            owner._owed_event_state |= written
            self.summary.warn("eventState", f"could not update eventState: {exc}")

    def _recall_races(self, race_ids: list[str], *, listed: bool) -> list[str]:
        """Fill :attr:`existing_races` and :attr:`children` from memory for the races whose stored document hash
        is still the one this process applied (one request, under the lock: no other pass is writing). Returns
        the races PocketBase must be asked about."""
        memory = self.owner.memory
        assert memory.applied is not None
        held = {r: memory.races[record_id(r)] for r in race_ids if record_id(r) in memory.races}
        if held:
            paths = {r: race_path(self.event_id, r, "Race.json") for r in held}
            where = " || ".join(f"path = {filter_string(p)}" for p in paths.values())
            stored = {
                str(item["path"]): str(item.get("sha256") or "")
                for item in self.sink.list_records(bookkeeping.DOCUMENT_HASHES, where, "path,sha256")
            }
            for race_id, path in paths.items():
                if stored.get(path) != memory.applied.get(path):  # another process wrote it meanwhile
                    del held[race_id]
                    memory.races.pop(record_id(race_id), None)
        for race_id, (race_hash, children) in held.items():
            rid = record_id(race_id)
            if not listed:
                self.existing_races[rid] = race_hash
            for collection in RACE_CHILDREN:
                self.children.setdefault(collection, {})[rid] = dict(children.get(collection, {}))
        return [r for r in race_ids if r not in held]

    def _note_race(self, work: RaceWork) -> None:
        """What PocketBase holds for ``work``'s race once its writes succeed (the run's errors are checked after)."""
        rid = record_id(work.race_id)
        race_records = work.records.get("races") or []
        if work.deleted or work.race.items is None or not race_records or not self.rounds_known:
            self.forget_races.add(rid)
            return
        children = {c: dict(self.children.get(c, {}).get(rid, {})) for c in RACE_CHILDREN}
        for collection in RACE_CHILDREN:
            if collection == "gamePoints" and work.race.items[0].game_points is None:
                continue  # left as it was
            if collection in work.records:
                children[collection] = {r.id: r.sync_hash for r in work.records[collection]}
        self.remember_races[rid] = (race_records[0].sync_hash, children)

    def _base(self, *, fresh: bool) -> BaseDocuments:
        memory = self.owner.memory
        if fresh or memory.base is None:
            memory.base = self.load_base()
            memory.base_loaded_at = time.monotonic()
        return memory.base

    def _load_result(self, work: RaceWork) -> None:
        """``Result.json``, read only when it may have moved (the race ended, or results were announced)."""
        path = race_path(self.event_id, work.race_id, "Result.json")
        scope = f"race {work.race_id}"
        work.result = load(self.client, path, Result, self.summary, scope, required=False, check=entries_whole)

    def should_record_run(self) -> bool:
        """Targeted syncs run per lap: only those that failed go to ``syncRuns`` (passes keep the heartbeat)."""
        return not self.summary.skipped and bool(self.summary.errors or self.summary.unreachable)
