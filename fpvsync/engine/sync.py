"""The sync operations: ``snapshot``, ``race``, ``results`` and ``full``, as plain functions returning a summary.

Every operation first converges the event's base scope (channels, pilots, the event, stages, rounds, roster), so
that every relation a race needs exists, then its own scopes. Scopes follow architecture.md's rules:

- a document that is unavailable (empty body, HTML, unparseable JSON) changes nothing in its scope and is reported;
- ``Race.json`` = ``[]`` deletes the race and everything under it;
- records gone from a scope's document are deleted; pilots and channels (global) never are;
- a failing scope does not stop the others; FPVTrackside or PocketBase becoming unreachable stops the run, keeps
  what was written, and is reported so the next run heals.

Races are fetched and parsed by one worker thread and mapped by another while the main thread compares and writes,
so the timing laptop still sees one request at a time while PocketBase is kept busy; what PocketBase holds of the
races is listed meanwhile, one listing per collection side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal, TypeVar

from fpvsync import mapping, names
from fpvsync.engine import state
from fpvsync.engine.pipeline import prefetch, responsive_threads
from fpvsync.engine.plan import RELATIONS, Operation, ScopeChanges, delete_all, plan_collection
from fpvsync.engine.progress import NULL_PROGRESS, Progress
from fpvsync.engine.sources import (
    CHANNELS_PATH,
    Loaded,
    checked_guid,
    entries_whole,
    event_path,
    event_whole,
    load,
    objects_only,
    race_path,
    race_whole,
)
from fpvsync.errors import (
    AuthError,
    ConfigError,
    DocumentUnavailable,
    FpvsyncError,
    SinkRejected,
    SinkUnreachable,
    SourceUnreachable,
)
from fpvsync.event_state import RaceHint, update_event_state
from fpvsync.ids import record_id
from fpvsync.mapping import Known, Record
from fpvsync.pb import bookkeeping
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.models import Channel, Event, Pilot, Race, Result, Round, Stage, TracksideModel

M = TypeVar("M", bound=TracksideModel)
Command = Literal["snapshot", "race", "results", "full", "poll"]
RACE_CHILDREN = ("pilotChannels", "detections", "laps", "gamePoints", "results")


@dataclass
class SyncContext:
    """What every operation works with. The caller owns (and closes) the client and the sink."""

    client: TracksideClient
    sink: PocketBaseSink
    #: The configured zone of the timing laptop's clock; else ``Event.TimeZone``; else this machine's.
    zone: tzinfo | None = None
    progress: Progress = NULL_PROGRESS
    #: Store a ``syncRuns`` record for each run (off for dry runs automatically).
    record_runs: bool = True


class SkipRun(Exception):
    """Raised inside a run to end it without writing; the message says why (e.g. another poll holds the lock)."""


@dataclass(frozen=True)
class BaseDocuments:
    """The event-level documents, fetched and parsed."""

    channels: Loaded[Channel]
    event: Loaded[Event]
    pilots: Loaded[Pilot]
    rounds: Loaded[Round]
    stages: Loaded[Stage]

    def all(self) -> tuple[Loaded[Any], ...]:
        return (self.channels, self.event, self.pilots, self.rounds, self.stages)


@dataclass
class RaceWork:
    """One race's documents, mapped: produced by the fetch worker, consumed by the writer."""

    race_id: str
    race: Loaded[Race]
    result: Loaded[Result] | None
    records: dict[str, list[Record]] = field(default_factory=dict)
    children: bool = True
    deleted: bool = False
    ended: bool = False
    #: This folder holds a copy of another listed race (its Race.json names that race's ID): left out.
    duplicate_of: str | None = None


class EventRun:
    """One operation on one event: the state shared by its scopes."""

    def __init__(self, ctx: SyncContext, command: Command, event_id: str | None) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.sink = ctx.sink
        self.command = command
        self.started_at = datetime.now(UTC)
        self._clock = time.perf_counter()
        self.summary = SyncSummary(command=command, dry_run=ctx.sink.dry_run)
        self.requested_event = event_id
        self.event_id = ""
        self.event: Event | None = None
        self.zone: tzinfo | None = ctx.zone
        self.known = Known()
        self.rounds: dict[str, Round] = {}
        #: Rounds.json was read: race records (named after their round) can be mapped.
        self.rounds_known = True
        self.existing_races: dict[str, str] = {}
        self.children: dict[str, dict[str, dict[str, str]]] = {}
        #: The state stored for this event when the run began (see :mod:`fpvsync.engine.state`).
        self.stored: dict[str, state.ScopeState] = {}
        #: Scopes this run made PocketBase hold completely: their state is stored once the writes succeeded.
        self.done: dict[str, state.ScopeState] = {}
        #: Scopes this run wrote only part of, or read a changed document of without writing it whole.
        self.touched: set[str] = set()
        #: Scopes whose records this run compared with PocketBase (edits behind fpvsync's back included).
        self.compared: set[str] = set()
        #: Scopes this run wrote records of: their state is stored again, after those writes.
        self.written_scopes: set[str] = set()
        #: Scopes gone from the source: their state is deleted.
        self.forgotten: set[str] = set()
        #: The digest of what races are mapped with in this run (rounds, pilots, channels, zone, event type).
        self.race_context = ""
        self.state_saved = 0
        #: The state as stored once the run ended (the stored state and what this run saved).
        self.stored_after: dict[str, state.ScopeState] = {}
        #: What the source said about the race at hand beyond its documents (``/current``, a notification).
        self.race_hint: RaceHint | None = None
        self._pending: list[Operation] = []

    # -- the run's frame ------------------------------------------------------------------------------------------

    def run(self, body: Callable[[], None]) -> SyncSummary:
        """Resolve the event, run ``body``, flush, store the state and the run record; never raises sync errors."""
        try:
            self.event_id = checked_guid(self.requested_event or self._current_event())
            self.summary.event = self.event_id
            self.stored = self.load_state()
            body()
            self.flush(final=True)
            self._store_state()
        except SkipRun as exc:
            self.summary.skipped = str(exc)
        except SourceUnreachable as exc:
            self.flush_quietly()
            self.summary.unreachable = str(exc)
            self.summary.error("source", str(exc))
        except (SinkUnreachable, AuthError) as exc:
            self.summary.unreachable = str(exc)
            self.summary.refused = isinstance(exc, AuthError)
            self.summary.error("pocketbase", str(exc))
        except SinkRejected as exc:  # a refusal naming no record: what was written stays, the rest is next time
            self.summary.error("pocketbase", str(exc))
        finally:
            self.ctx.progress.stop()
            self.update_event_state()
            self.finished()
        self.summary.duration_seconds = time.perf_counter() - self._clock
        if self.should_record_run():
            self._record_run()
        return self.summary

    def update_event_state(self) -> None:
        """Bump the event's ``eventState`` when this run wrote anything for it (or a hint says the race moved).

        Runs while a poll still holds its lock, so that overlapping passes never race on ``changeSeq``."""
        if self.sink.dry_run or self.event is None:
            return
        written = {name for name, counts in self.summary.collections.items() if counts.written}
        if not written and (self.race_hint is None or self.race_hint.state is None):
            return
        if self.race_hint is None and self.summary.unreachable is None:
            self.race_hint = self._current_race_hint()
        try:
            update_event_state(self.sink, self.event_id, written, self.race_hint)
        except FpvsyncError as exc:
            self.summary.warn("eventState", f"could not update eventState: {exc}")

    def _current_race_hint(self) -> RaceHint | None:
        """``/current`` for every command, not only poll: the race FPVTrackside has loaded, on builds that say."""
        try:
            current = self.client.current_race()
        except FpvsyncError:
            return None
        return RaceHint(race_id=current) if current else None

    def finished(self) -> None:
        """Called once the run's writes are over, whatever happened (subclasses release what they hold)."""

    def should_record_run(self) -> bool:
        return not self.summary.skipped

    def _current_event(self) -> str:
        try:
            return self.client.current_event()
        except DocumentUnavailable as exc:
            raise ConfigError(f"could not tell FPVTrackside's current event ({exc.reason}); pass the EVENT id") from exc

    def _record_run(self) -> None:
        if self.sink.dry_run or not self.ctx.record_runs:
            return
        try:
            bookkeeping.record_run(self.sink, self.summary, self.started_at, self.summary.exit_code)
        except (SinkUnreachable, AuthError, SinkRejected) as exc:
            self.summary.warn("pocketbase", f"could not record this run in syncRuns: {exc}")

    def load_state(self) -> dict[str, state.ScopeState]:
        return state.load(self.sink, self.event_id)

    def _store_state(self) -> None:
        """Store the state of the scopes this run converged, after their writes succeeded (never before).

        A scope with a failed write, or one this run wrote only part of, loses its fingerprint: the live mirror
        then mirrors it again whole."""
        if self.sink.dry_run:
            return
        failed = {_state_scope(error.scope) for error in self.summary.errors}
        stored = self.stored
        now = bookkeeping.pb_datetime(datetime.now(UTC))
        states: list[state.ScopeState] = []
        for scope, done in self.done.items():
            before = stored.get(scope)
            if scope in failed:
                if before is not None and before.complete:
                    states.append(before.dirty())
                continue
            changed_at = before.changed_at if before is not None else ""
            if self.command == "poll" and (before is None or dict(before.inputs) != dict(done.inputs)):
                changed_at = now  # only the live mirror tells "recent": races `full` wrote are settled at once
            states.append(self._edits_counted(replace(done, changed_at=changed_at), before))
        for scope in (self.touched | (failed & stored.keys())) - self.done.keys():
            before = stored.get(scope)
            if before is not None and before.complete:
                states.append(replace(before.dirty(), edited_after=before.edits_after))
        restamp = (self.written_scopes & self.done.keys()) - failed
        states = state.changed(states, stored, restamp)
        gone = [scope for scope in self.forgotten if scope in stored and scope not in self.done]
        if states or gone:
            self.before_state_write()
        self.state_saved = state.save(self.sink, self.event_id, states, stored, restamp)
        if gone:
            self.state_saved += state.forget(self.sink, self.event_id, gone)
        self.stored_after = {
            **{k: v for k, v in stored.items() if k not in gone},
            **{s.scope: s for s in states},
        }

    def _edits_counted(self, done: state.ScopeState, before: state.ScopeState | None) -> state.ScopeState:
        """``done`` with the time from which edits behind fpvsync's back count: from this store on when the scope
        was compared with PocketBase (and repaired) in this run; else, from when it was last compared, whatever is
        stored in between (a state stored again moves its ``updated``)."""
        if done.scope in self.compared:
            return replace(done, edited_after="")
        if before is None:
            return done
        kept = replace(done, edited_after=before.edited_after)
        if kept.same(before) and kept.changed_at == before.changed_at:
            return kept  # not stored again: its ``updated`` still tells
        return replace(done, edited_after=before.edits_after)

    def before_state_write(self) -> None:
        """Called before the state is written (the live mirror takes its lock here if no write took it)."""

    def completed(
        self,
        scope: str,
        records: Mapping[str, Iterable[Record]],
        *documents: Loaded[Any] | None,
        compared: bool = True,
    ) -> None:
        """Note that ``scope`` now holds exactly ``records`` (every collection it manages), read from ``documents``;
        ``compared``: its records were listed from PocketBase and repaired in this run (else only re-derived)."""
        if compared:
            self.compared.add(scope)
        inputs = {d.path: d.sha256 or "" for d in documents if d is not None}
        context = self.race_context if state.race_of(scope) is not None or scope == state.EVENT_SCOPE else ""
        self.done[scope] = state.ScopeState(scope, state.fingerprint(records), context, inputs)

    # -- writing --------------------------------------------------------------------------------------------------

    def submit(self, changes: ScopeChanges) -> None:
        """Queue a scope's writes; full chunks go to PocketBase at once."""
        if len(changes):
            self.written_scopes.add(_state_scope(changes.scope))
        self._pending.extend(changes.operations())
        self.flush(final=False)

    def flush(self, *, final: bool) -> None:
        size = self.sink.batch_size
        while self._pending and (final or len(self._pending) >= size):
            chunk, self._pending = self._pending[:size], self._pending[size:]
            self.sink.write(chunk, self.summary)

    def flush_quietly(self) -> None:
        try:
            self.flush(final=True)
        except (SinkUnreachable, AuthError) as exc:
            self.summary.error("pocketbase", str(exc))

    # -- the base scope: channels, pilots, event, stages, rounds, roster ------------------------------------------

    def sync_base(self) -> bool:
        """Converge the global and event-level collections. False when ``Event.json`` is unavailable."""
        return self.apply_base(self.load_base())

    def load_base(self) -> BaseDocuments:
        """Fetch and parse the event-level documents (no PocketBase access)."""
        client, summary, eid = self.client, self.summary, self.event_id
        return BaseDocuments(
            channels=load(client, CHANNELS_PATH, Channel, summary, "channels"),
            event=load(client, event_path(eid, "Event.json"), Event, summary, "event", check=event_whole),
            pilots=load(client, event_path(eid, "Pilots.json"), Pilot, summary, "pilots"),
            rounds=load(client, event_path(eid, "Rounds.json"), Round, summary, "event", check=entries_whole),
            stages=load(
                client, event_path(eid, "Stages.json"), Stage, summary, "event", required=False, check=entries_whole
            ),
        )

    def prepare(self, base: BaseDocuments) -> bool:
        """Take the event, its zone and rounds from the documents. False (and an error) without an event."""
        event_doc = base.event
        if not event_doc.items:
            if event_doc.items is not None:
                self.summary.error("event", f"{event_doc.path} holds no event", "events", self.event_id)
            else:
                self.unavailable("event", event_doc)
            return False
        self.event = event_doc.items[0]
        if self.event.id is None:
            self.event.id = self.event_id
        self.zone = mapping.event_zone(self.event, self.ctx.zone)
        self.rounds = {r.id: r for r in base.rounds.items or [] if r.id}
        self.rounds_known = base.rounds.items is not None
        names.learn_event(self.summary.names, self.event, base.pilots.items or [], self.rounds.values())
        return True

    def learn_known(
        self,
        base: BaseDocuments,
        existing_pilots: Mapping[str, str] | None = None,
        existing_channels: Mapping[str, str] | None = None,
    ) -> None:
        """What relations may point at: records PocketBase has plus those the documents bring."""
        rid = record_id(self.event_id)
        if existing_pilots is None:
            existing_pilots = self.sink.existing_hashes("pilots")
        if existing_channels is None:
            existing_channels = self.sink.existing_hashes("channels")
        stages, rounds = base.stages.items, base.rounds.items
        self.race_context = state.context_digest(
            str(self.zone),
            self.event.event_type if self.event is not None else None,
            [d.sha256 if d.available else None for d in (base.rounds, base.pilots, base.channels)],
        )
        self.known = Known(
            pilots=frozenset(existing_pilots) | _ids(base.pilots.items),
            channels=frozenset(existing_channels) | _ids(base.channels.items),
            stages=_ids(stages)
            if stages is not None
            else frozenset(self.sink.existing_hashes("stages", f'event = "{rid}"')),
            rounds=_ids(rounds)
            if rounds is not None
            else frozenset(self.sink.existing_hashes("rounds", f'event = "{rid}"')),
        )

    def apply_base(self, base: BaseDocuments) -> bool:
        """Write the base scope's changes. False when ``Event.json`` is unavailable (channels and pilots still are)."""
        summary, eid = self.summary, self.event_id
        existing_channels = self.sink.existing_hashes("channels")
        existing_pilots = self.sink.existing_hashes("pilots")
        rid = record_id(eid)
        self._apply_global(state.CHANNELS_SCOPE, base.channels, existing_channels, mapping.channel)
        self._apply_global(state.PILOTS_SCOPE, base.pilots, existing_pilots, mapping.pilot)

        if not self.prepare(base):
            return False
        assert self.event is not None
        self.learn_known(base, existing_pilots, existing_channels)
        changes = ScopeChanges("event")
        channels = mapping.channels_by_id(base.channels.items)
        stages, rounds = base.stages, base.rounds
        event = self.event
        try:
            event_record = mapping.event(event, self.zone, self.known, channels)
            stage_records = _present(mapping.stage(s, eid) for s in stages.items or [])
            round_records = _present(mapping.round_(r, eid, self.zone, self.known) for r in rounds.items or [])
            roster = _present(mapping.roster_pilot_channel(pc, eid, self.known) for pc in event.pilot_channels)
        except Exception as exc:  # a value the mapping cannot handle fails the scope, never the run
            summary.error("event", f"{_unmappable(exc)}; nothing in this scope was changed", "events", eid)
            return False
        edits = self.edits_after(state.EVENT_SCOPE)
        existing_event = self.sink.existing_hashes("events", f'id = "{rid}"', RELATIONS["events"], edits)
        # The event record holds what it derives from Channels.json: without it, a stored event stays as it is.
        wanted_event = _present([event_record]) if channels is not None or not existing_event else []
        plan_collection(changes, summary, "events", wanted_event, existing_event, delete_stale=False)
        if stages.items is not None:
            existing_stages = self.sink.existing_hashes("stages", f'event = "{rid}"', RELATIONS["stages"], edits)
            plan_collection(changes, summary, "stages", stage_records, existing_stages, delete_stale=True)
        elif not stages.empty:
            self.unavailable("event", stages)
        if rounds.items is not None:
            existing_rounds = self.sink.existing_hashes("rounds", f'event = "{rid}"', RELATIONS["rounds"], edits)
            plan_collection(changes, summary, "rounds", round_records, existing_rounds, delete_stale=True)
        else:
            self.unavailable("event", rounds)
        existing_roster = self.sink.existing_hashes(
            "pilotChannels", f'event = "{rid}" && race = ""', RELATIONS["pilotChannels"], edits
        )
        plan_collection(changes, summary, "pilotChannels", roster, existing_roster, delete_stale=True)
        self.submit(changes)
        if wanted_event and rounds.available and (stages.available or stages.empty):
            scope_records = {"events": wanted_event, "rounds": round_records, "pilotChannels": roster}
            if stages.available:
                scope_records["stages"] = stage_records
            self.completed(state.EVENT_SCOPE, scope_records, base.event, rounds, stages, base.channels)
        elif changes:
            self.touched.add(state.EVENT_SCOPE)
        self.existing_races = self.list_existing_races()
        return True

    def list_existing_races(self) -> dict[str, str]:
        """``id -> syncHash`` of the event's race records in PocketBase (:data:`~fpvsync.pb.sink.EDITED` when edited
        behind fpvsync's back)."""
        rid = record_id(self.event_id)
        races = self.sink.existing_grouped("races", f'event = "{rid}"', "id", RELATIONS["races"], self.race_edits())
        return {race_id: hashes[race_id] for race_id, hashes in races.items()}

    def edits_after(self, scope: str) -> str:
        """The PocketBase time after which a change to a record of ``scope`` was made behind fpvsync's back ("":
        never stored; nothing counts as edited). Not for pilots and channels: several events share them (see
        :meth:`_apply_global`), and one event's write would look like an edit to the other."""
        before = self.stored.get(scope)
        return before.edits_after if before is not None else ""

    def race_edits(self) -> dict[str, str]:
        """:meth:`edits_after` of every stored race scope, by race record id."""
        edits: dict[str, str] = {}
        for scope, stored in self.stored.items():
            race_id = state.race_of(scope)
            if race_id is not None and stored.edits_after:
                edits[record_id(race_id)] = stored.edits_after
        return edits

    def _apply_global(
        self,
        collection: str,
        loaded: Loaded[M],
        existing: Mapping[str, str],
        mapper: Callable[[M], Record | None],
    ) -> None:
        """Channels and pilots: global, so records are created and updated but never deleted.

        Owner rule (several events share them): missing records are always created, but existing ones are updated
        only when this event's own document produces something else than when it was last applied. Two events
        holding different copies of a pilot therefore write it once each time their copy changes, never back and
        forth on every pass."""
        if loaded.items is None:
            self.unavailable(collection, loaded)
            return
        changes = ScopeChanges(collection)
        records = _present(mapper(item) for item in loaded.items)
        before = self.stored.get(collection)
        if before is not None and before.complete and before.fingerprint == state.fingerprint({collection: records}):
            # Unchanged here since last applied: another event may have written its own copy; only restore gaps.
            existing = {**existing, **{r.id: r.sync_hash for r in records if r.id in existing}}
        plan_collection(changes, self.summary, collection, records, existing, delete_stale=False)
        self.submit(changes)
        self.completed(collection, {collection: records}, loaded)

    def unavailable(self, scope: str, document: Loaded[Any]) -> None:
        self.summary.error(scope, f"{document.path} unavailable: {document.problem}; nothing in this scope was changed")

    # -- races ----------------------------------------------------------------------------------------------------

    def race_ids(self) -> list[str]:
        assert self.event is not None
        seen: dict[str, None] = {}
        for race_id in self.event.races:
            seen.setdefault(race_id, None)
        return list(seen)

    def load_children(
        self,
        collections: Iterable[str],
        race_ids: Iterable[str] | None = None,
        *,
        record_ids: Iterable[str] | None = None,
    ) -> Future[None]:
        """List existing race children, grouped by race, in the background: the whole event's, or some races'
        (by source id, or by record id). Collections are listed side by side: PocketBase answers several requests
        at once, and the largest listing (detections) no longer waits for the others."""
        rid = record_id(self.event_id)
        if race_ids is None and record_ids is None:
            filters = [f'event = "{rid}" && race != ""']
        else:
            ids = sorted({record_id(r) for r in race_ids or []} | set(record_ids or []))
            filters = [" || ".join(f'race = "{i}"' for i in ids[n : n + 50]) for n in range(0, len(ids), 50)]

        edits = self.race_edits()
        names = tuple(collections)

        def list_one(collection: str) -> None:
            grouped = self.children.setdefault(collection, {})
            for filter_ in filters:
                grouped.update(self.sink.existing_grouped(collection, filter_, "race", RELATIONS[collection], edits))

        def work() -> None:
            with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="fpvsync-list") as pool:
                for listed in [pool.submit(list_one, name) for name in names]:
                    listed.result()

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpvsync-list")
        future = executor.submit(work)
        executor.shutdown(wait=False)
        return future

    def fetch_race(
        self,
        race_id: str,
        *,
        children: bool,
        results: bool,
        map_records: bool = True,
        race_doc: Loaded[Race] | None = None,
    ) -> RaceWork:
        """Fetch and parse one race (``race_doc``: its Race.json, already loaded), and map it unless
        ``map_records`` is False (runs on the fetch worker)."""
        scope = f"race {race_id}"
        if race_doc is None:
            race_doc = self.load_race_document(race_id, children=children)
        work = RaceWork(race_id, race_doc, None, children=children)
        if race_doc.items is None:
            return work
        if not race_doc.items:
            work.deleted = True
            return work
        race = race_doc.items[0]
        if race.id and race.id.lower() != race_id:
            own = race.id.lower()
            if self.event is not None and own in {r.lower() for r in self.event.races}:
                # The same race in two folders: the folder named after it wins, deterministically.
                self.summary.warn(
                    scope,
                    f"the race in folder {race_id} is race {own}, which has its own folder: "
                    f"folder {own} is mirrored, folder {race_id} is left out",
                    "races",
                    race_id,
                )
                work.duplicate_of = own
                work.deleted = True
                return work
            self.summary.warn(
                scope,
                f"Race.json in folder {race_id} names race {own}; it is mirrored as {race_id}, its folder",
                "races",
                race_id,
            )
        race.id = race_id  # the folder (what Event.json lists and URLs name) is the race's identity
        names.learn_race(self.summary.names, race, self.rounds.get(race.round) if race.round else None)
        work.ended = race.end is not None
        if results:
            work.result = self.load_result_document(race_id, race)
        if map_records:
            self.map_race(work)
        return work

    def load_result_document(self, race_id: str, race: Race) -> Loaded[Result]:
        """The race's ``Result.json`` (``race``: its parsed ``Race.json``, for passes that know better than to ask)."""
        path = race_path(self.event_id, race_id, "Result.json")
        return load(self.client, path, Result, self.summary, f"race {race_id}", required=False, check=entries_whole)

    def load_race_document(self, race_id: str, *, children: bool) -> Loaded[Race]:
        path = race_path(self.event_id, race_id, "Race.json")
        check = race_whole if children else objects_only  # without children, only the race record is written
        return load(self.client, path, Race, self.summary, f"race {race_id}", required=False, check=check)

    def mapped(self, work: RaceWork) -> RaceWork:
        """``work`` (fetched by :meth:`fetch_race` with ``map_records=False``), mapped into records."""
        if not work.deleted:
            self.map_race(work)
        return work

    def map_race(self, work: RaceWork) -> None:
        """Map a fetched race's documents into records (needs :attr:`known`, :attr:`zone` and the rounds).

        A value the mapping cannot handle makes the race unavailable: its scope fails, never the run."""
        if not work.race.items:
            return
        try:
            self._map_race(work)
        except Exception as exc:
            work.records.clear()
            work.race = Loaded(work.race.path, None, problem=_unmappable(exc))

    def _map_race(self, work: RaceWork) -> None:
        assert work.race.items
        race = work.race.items[0]
        round_model = self.rounds.get(race.round) if race.round else None
        default_type = self.event.event_type if self.event is not None else None
        rounds = self.rounds if self.rounds_known else None
        game = self.event.game_type_name if self.event is not None else None
        work.records["races"] = _present(
            [
                mapping.race(
                    race,
                    self.event_id,
                    self.zone,
                    self.known,
                    round_model,
                    default_type,
                    rounds=rounds,
                    game_type_name=game,
                )
            ]
        )
        if work.children:
            kind = mapping.race_type(race, rounds, round_model, default_type)
            work.records.update(mapping.race_children(race, self.event_id, self.zone, self.known, kind))
        if work.result is not None:
            if work.result.items is not None:
                work.records["results"] = _present(
                    mapping.result(r, self.event_id, work.race_id, self.known) for r in work.result.items
                )
            elif not work.ended and work.result.empty:
                work.records["results"] = []  # not ended (or reset): it has no results

    def report_unavailable_race(self, work: RaceWork, *, synced_before: bool) -> None:
        """An unusable Race.json changes nothing. It is an error, unless the race was never synced and the file is
        simply missing (Event.json lists race folders, which can exist before their Race.json): then a warning."""
        if synced_before or not work.race.empty:
            self.summary.error(
                f"race {work.race_id}",
                f"{work.race.path} unavailable: {work.race.problem}; nothing in this race was changed",
                "races",
                work.race_id,
            )
        else:
            self.summary.warn(
                f"race {work.race_id}", "listed in Event.json but it has no Race.json yet", "races", work.race_id
            )

    def apply_race(self, work: RaceWork, *, children: bool) -> None:
        """Plan and queue one race's writes against what PocketBase holds for it."""
        scope = f"race {work.race_id}"
        key = state.race_scope(work.race_id)
        rid = record_id(work.race_id)
        changes = ScopeChanges(scope)
        existing_children = {c: self.children.get(c, {}).get(rid, {}) for c in RACE_CHILDREN}
        if work.race.items is None:
            self.report_unavailable_race(work, synced_before=rid in self.existing_races)
            return
        if work.deleted:
            if work.children or not self.children_unknown(existing_children):
                self.delete_race(changes, work.race_id, existing_children)
                self.submit(changes)
                self.completed(key, {}, work.race)
            else:  # a partial command cannot list this race's children: the live mirror deletes them
                self.delete_race(changes, work.race_id, {})
                self.submit(changes)
                self.touched.add(key)
            return
        existing_race = {rid: self.existing_races[rid]} if rid in self.existing_races else {}
        # A race record is named after its round: without Rounds.json, a stored race record stays as it is (and the
        # scope is not complete, so that the live mirror maps it again once Rounds.json is back).
        keep_race = not self.rounds_known and bool(existing_race)
        wanted_race = [] if keep_race else work.records["races"]
        plan_collection(changes, self.summary, "races", wanted_race, existing_race, delete_stale=False)
        if children:
            for collection in ("pilotChannels", "detections", "laps", "gamePoints"):
                if collection == "gamePoints" and work.race.items and work.race.items[0].game_points is None:
                    # Builds before early 2025 have no game points: the key's absence is not "none".
                    plan_collection(changes, self.summary, collection, [], {}, delete_stale=False)
                    continue
                if collection == "laps" and keep_race:
                    # A lap's withinTarget depends on the race's type (its round's): stored laps stay as they are.
                    stored = existing_children[collection]
                    fresh = [r for r in work.records[collection] if r.id not in stored]
                    plan_collection(changes, self.summary, collection, fresh, {}, delete_stale=False)
                    continue
                plan_collection(
                    changes,
                    self.summary,
                    collection,
                    work.records[collection],
                    existing_children[collection],
                    delete_stale=True,
                )
        if "results" in work.records:
            plan_collection(
                changes,
                self.summary,
                "results",
                work.records["results"],
                existing_children["results"],
                delete_stale=True,
            )
        elif work.result is not None and work.result.items is None and not work.result.empty:
            self.unavailable(scope, work.result)
        self.submit(changes)
        if children and not keep_race and self.results_known(work):
            self.completed(key, self.managed_records(work), work.race, work.result)
        elif changes or self._input_changed(key, work.race):
            self.touched.add(key)  # written (or known changed) only in part: not "in sync" until mirrored whole

    @staticmethod
    def results_known(work: RaceWork) -> bool:
        """Whether the race's results are told (an ended race without a Result.json leaves them as they are)."""
        return "results" in work.records or (work.result is not None and work.result.empty)

    @staticmethod
    def managed_records(work: RaceWork) -> dict[str, list[Record]]:
        """The records of every collection a whole race scope manages (what ``full`` writes for the race)."""
        if work.deleted:
            return {}
        managed: dict[str, list[Record]] = {
            c: work.records[c] for c in ("races", "pilotChannels", "detections", "laps") if c in work.records
        }
        if "gamePoints" in work.records and not (work.race.items and work.race.items[0].game_points is None):
            managed["gamePoints"] = work.records["gamePoints"]
        if "results" in work.records:
            managed["results"] = work.records["results"]
        return managed

    def children_unknown(self, existing_children: Mapping[str, Mapping[str, str]]) -> bool:
        return any(c not in self.children for c in existing_children)

    def _input_changed(self, scope: str, document: Loaded[Any]) -> bool:
        before = self.stored.get(scope)
        return before is not None and before.inputs.get(document.path) != document.sha256

    def delete_race(self, changes: ScopeChanges, race_id: str, existing_children: dict[str, dict[str, str]]) -> None:
        """Delete a race and, explicitly, its children (so the summary counts them)."""
        for collection, existing in existing_children.items():
            delete_all(changes, collection, existing)
        rid = record_id(race_id)
        if rid in self.existing_races:
            delete_all(changes, "races", [rid])

    def stale_races(self, listed: Iterable[str]) -> list[str]:
        """Record ids of the races PocketBase has for this event that Event.json no longer lists."""
        wanted = {record_id(r) for r in listed}
        return sorted(set(self.existing_races) - wanted)

    def delete_stale_races(self, stale: Iterable[str]) -> None:
        """Delete those races (by record id) and, explicitly, their listed children."""
        for rid in stale:
            changes = ScopeChanges(f"race {rid}")
            for collection in RACE_CHILDREN:
                delete_all(changes, collection, self.children.get(collection, {}).get(rid, {}))
            delete_all(changes, "races", [rid])
            self.submit(changes)

    def forget_unlisted(self, listed: Iterable[str]) -> None:
        """Forget the state of races Event.json no longer lists."""
        wanted = set(listed)
        for scope in self.stored:
            race_id = state.race_of(scope)
            if race_id is not None and race_id not in wanted:
                self.forgotten.add(scope)

    def sync_races(
        self, race_ids: list[str], *, children: bool, results: bool, stale: bool, listing: Future[None] | None = None
    ) -> None:
        """Converge these races; ``listing``: the event's race children, already being listed (else listed here)."""
        if listing is None:
            listing = self.load_children(RACE_CHILDREN if children else ("results",) if results else ())
        self.ctx.progress.start("races", len(race_ids))
        # Two workers: one fetches (one request at a time to the laptop, as before), the other maps what it
        # fetched, so that the mapping's CPU no longer delays the next request.
        with responsive_threads():
            fetched = prefetch(
                (self.fetch_race(r, children=children, results=results, map_records=False) for r in race_ids),
                depth=16,
            )
            works = prefetch((self.mapped(work) for work in fetched), depth=16)
            try:
                listing.result()
                for work in works:
                    self.apply_race(work, children=children)
                    self.ctx.progress.advance(1)
            finally:
                works.close()
                fetched.close()
        if stale:
            self.delete_stale_races(self.stale_races(race_ids))
            self.forget_unlisted(race_ids)

    def load_rollover_results(self) -> Loaded[Result]:
        path = event_path(self.event_id, "Results.json")
        return load(self.client, path, Result, self.summary, "results", required=False, check=entries_whole)

    def sync_rollover_results(self, doc: Loaded[Result] | None = None) -> None:
        """``Results.json``: the round roll-over results (no race). Usually missing: then nothing changes."""
        scope = "results"
        doc = doc if doc is not None else self.load_rollover_results()
        if doc.items is None:
            if not doc.empty:
                self.unavailable(scope, doc)
            return
        rid = record_id(self.event_id)
        changes = ScopeChanges(scope)
        records = _present(mapping.result(r, self.event_id, None, self.known) for r in doc.items)
        plan_collection(
            changes,
            self.summary,
            "results",
            records,
            self.sink.existing_hashes(
                "results", f'event = "{rid}" && race = ""', RELATIONS["results"], self.edits_after(state.RESULTS_SCOPE)
            ),
            delete_stale=True,
        )
        self.submit(changes)
        self.completed(state.RESULTS_SCOPE, {"results": records}, doc)


def _state_scope(summary_scope: str) -> str:
    """The state scope of a summary's error scope (``"race {id}"`` -> ``"race/{id}"``)."""
    if summary_scope.startswith("race "):
        return state.race_scope(summary_scope[len("race ") :])
    return summary_scope


def _unmappable(exc: Exception) -> str:
    return f"could not be mapped ({type(exc).__name__}: {str(exc)[:200]})"


def _present(records: Iterable[Record | None]) -> list[Record]:
    return [r for r in records if r is not None]


def _ids(items: Sequence[TracksideModel] | None) -> frozenset[str]:
    """The record ids of a document's objects."""
    return frozenset(record_id(i.id) for i in items or [] if i.id)


# -- the operations ---------------------------------------------------------------------------------------------


def snapshot(ctx: SyncContext, event_id: str | None = None) -> SyncSummary:
    """Event, stages, rounds, pilots, channels, roster, and every race record (no laps)."""
    run = EventRun(ctx, "snapshot", event_id)

    def body() -> None:
        if run.sync_base():
            run.sync_races(run.race_ids(), children=False, results=False, stale=True)

    return run.run(body)


def race(ctx: SyncContext, event_id: str, race_id: str) -> SyncSummary:
    """One race with its laps, detections, game points, pilot channels and ``Result.json``."""
    run = EventRun(ctx, "race", event_id)
    wanted = checked_guid(race_id, "race id")

    def body() -> None:
        if run.sync_base():
            run.sync_races([wanted], children=True, results=True, stale=False)

    return run.run(body)


def results(ctx: SyncContext, event_id: str | None = None) -> SyncSummary:
    """``Results.json`` plus every race's ``Result.json``."""
    run = EventRun(ctx, "results", event_id)

    def body() -> None:
        if run.sync_base():
            run.sync_rollover_results()
            run.sync_races(run.race_ids(), children=False, results=True, stale=False)

    return run.run(body)


def full(ctx: SyncContext, event_id: str | None = None) -> SyncSummary:
    """Everything of the event."""
    run = EventRun(ctx, "full", event_id)

    def body() -> None:
        # What PocketBase holds of the event's races is listed while the base scope is fetched and converged (the
        # base scope never writes race children).
        listing = run.load_children(RACE_CHILDREN)
        try:
            base = run.sync_base()
        except Exception:
            wait([listing])  # not left using the sink past the run (Ctrl-C alone does not wait for it)
            raise
        if base:
            run.sync_races(run.race_ids(), children=True, results=True, stale=True, listing=listing)
            run.sync_rollover_results()
        else:
            wait([listing])  # unused, but not left running past the run (its failure, if any, changes nothing)

    return run.run(body)
