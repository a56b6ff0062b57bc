"""The live mirror: ``poll`` converges what changed, and compares with PocketBase so that nothing drifts.

One pass (the rules it follows are those of :mod:`fpvsync.engine.state`):

1. reads the mirror's state (one PocketBase request) and the event-level documents, and compares the event-level
   scopes (channels, pilots, the event, stages, rounds, roster) with PocketBase, every pass;
2. lists the event's race records (one request): the running races, and races deleted behind fpvsync's back;
3. fetches the races that are *due* (below), maps them, and writes those whose records differ from their stored
   fingerprint, are missing, or belong to this pass's rotation slice (compared with PocketBase whatever their
   fingerprint: one list request per collection for the whole slice). Records PocketBase changed after their
   scope's state was stored (an admin's edit, see :mod:`fpvsync.engine.state`) are rewritten when compared;
4. stores the new state after the writes succeeded. A pass that finds nothing to change writes nothing, and takes
   the event's lock (so that overlapping passes never write at the same time) only when it has something to write.

Which races are due (adaptive cadence), so that a pass over a 500-race event costs about what a 10-race one does:

- the running race (``/current`` on builds that have it: the race loaded, from the moment it is cued; else races
  started and not ended, and the next :data:`NEXT_RACES_EVERY_PASS` races to run, in race order, so that a race
  start is seen at once on any build) — every pass;
- races never mirrored whole (new, written only in part, or whose write failed), races whose documents changed
  within ``recent_seconds`` as seen by the live mirror, and races missing from PocketBase — every pass;
- every pass also compares ``settled_per_pass`` races with PocketBase in rotation (so each is compared every
  ``ceil(races / settled_per_pass)`` passes), plus as many of those mapped with an older context than the
  event's (rounds, pilots, channels, zone or mapping changed) while there are such.

A targeted pass (``focus``) reads only some races (and the event documents if asked), for the live tiers; a
:class:`PollMemory` kept across the passes of one process lets an unchanged running race cost one request to
FPVTrackside and none to PocketBase.

A pass records itself in ``syncRuns`` when it wrote something or failed, and otherwise at most every
``heartbeat_seconds`` so that admins can see the mirror is alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Final

from fpvsync.engine import state
from fpvsync.engine.pipeline import prefetch
from fpvsync.engine.plan import RELATIONS, ScopeChanges, record_stamp
from fpvsync.engine.sync import RACE_CHILDREN, EventRun, RaceWork, SkipRun, SyncContext
from fpvsync.errors import AuthError
from fpvsync.event_state import RaceHint
from fpvsync.ids import record_id
from fpvsync.mapping import Known
from fpvsync.pb import bookkeeping
from fpvsync.pb.lock import Held, Lock, try_lock
from fpvsync.pb.sink import EDITED, stamp
from fpvsync.summary import SyncSummary
from fpvsync.trackside.models import Event, Round


@dataclass(frozen=True)
class PollPolicy:
    """How often what is re-read, and how the lock behaves. The defaults suit cron every minute or ``--watch``."""

    #: Races whose documents changed within this many seconds are re-read every pass.
    recent_seconds: float = 300.0
    #: Settled races re-read per pass, in rotation.
    settled_per_pass: int = 5
    #: Seconds between passes (``--watch``), used to rotate through settled races.
    interval: float = 60.0
    #: Seconds a pass waits for another pass of the same event to finish writing before it skips.
    lock_wait: float = 3.0
    #: Seconds after which a lock left behind by a killed process may be taken over (a pass renews its lock while
    #: it writes, so a long pass keeps it).
    lock_lease: float = 60.0
    #: An idle pass is recorded in syncRuns when the last recorded run is older than this.
    heartbeat_seconds: float = 600.0


@dataclass(frozen=True)
class Leftover:
    """A lock a pass could not release, and until when (monotonic) it is still surely ours."""

    lock: Lock
    until: float


#: The next races to run (not started, in race order) that every pass re-reads besides the running one, on builds
#: without ``/current`` (with it, the race loaded is read from the moment it is cued).
NEXT_RACES_EVERY_PASS: Final = 2


def lock_name(event_id: str) -> str:
    return f"poll:{event_id}"


@dataclass(frozen=True)
class PollFocus:
    """A targeted pass: only these races (source GUIDs; none means the running race), plus the event-level
    documents when ``event_documents`` is true. The same fingerprint rules apply; nothing is compared on rotation."""

    races: frozenset[str] = frozenset()
    event_documents: bool = False


@dataclass
class _EventMemory:
    event: Event
    zone: tzinfo | None
    rounds: dict[str, Round]
    rounds_known: bool
    known: Known
    race_context: str
    existing_races: dict[str, str]


@dataclass
class PollMemory:
    """What one process keeps across its passes (``--watch``): a cache, never the truth.

    Passes without a focus always read the state from PocketBase and compare with it, so other writers and
    deletes behind fpvsync's back are still healed; targeted passes trust this memory to skip PocketBase when the
    running race did not change."""

    #: The state as last read or stored by this process.
    states: dict[str, state.ScopeState] | None = None
    #: The race last seen running.
    running: str | None = None
    _event: _EventMemory | None = field(default=None, repr=False)


class PollRun(EventRun):
    """One live-mirror pass over one event."""

    def __init__(
        self,
        ctx: SyncContext,
        event_id: str | None,
        policy: PollPolicy,
        now: float | None = None,
        leftovers: list[Leftover] | None = None,
        *,
        focus: PollFocus | None = None,
        memory: PollMemory | None = None,
    ) -> None:
        super().__init__(ctx, "poll", event_id)
        self.policy = policy
        self.now = time.time() if now is None else now
        self.lock: Lock | None = None
        #: Locks earlier passes of this loop could not release (PocketBase went away): released before locking.
        self.leftovers = leftovers if leftovers is not None else []
        self.focus = focus
        self.memory = memory
        #: Record ids of the event's races PocketBase holds as started and not ended.
        self.running_races: set[str] = set()
        #: Record ids of the next valid races to run (in race order, not started): read every pass, so that a race
        #: start is noticed at once even on builds that do not serve ``/current``.
        self.next_races: set[str] = set()
        #: The settled races this pass compares with PocketBase (see :meth:`rotation_slice`).
        self.slice: list[str] = []

    # -- the pass -------------------------------------------------------------------------------------------------

    def load_state(self) -> dict[str, state.ScopeState]:
        if self.focus is not None and self.memory is not None and self.memory.states is not None:
            return dict(self.memory.states)
        return super().load_state()

    def body(self) -> None:
        if not self._event_level():
            return
        listed = self.race_ids()
        if self.focus is None:
            due, verify = self.due_races(), set(self.slice)
        else:
            due, verify = self._focused_races(), set()
        to_write: list[RaceWork] = []
        for work in prefetch((self._fetch(r) for r in due), depth=8):
            if work is None:
                continue  # unchanged since this process last mirrored it
            if work.race.items is None:
                self.report_unavailable_race(work, synced_before=state.race_scope(work.race_id) in self.stored)
            elif work.race_id in verify or self._differs(work) or not self._edits_known(work):
                to_write.append(work)
            else:
                self._confirm(work)
        self.load_children(RACE_CHILDREN, [w.race_id for w in to_write]).result()
        for work in to_write:
            self.apply_race(work, children=True)
            rid = record_id(work.race_id)
            if work.deleted:
                self.existing_races.pop(rid, None)
            for record in work.records.get("races") or []:
                self.existing_races[rid] = record_stamp(record)
        if self.focus is None:
            stale = self.stale_races(listed)
            if stale:
                self.load_children(RACE_CHILDREN, record_ids=stale).result()
                self.delete_stale_races(stale)
            self.forget_unlisted(listed)
            self.sync_rollover_results(self.load_rollover_results())

    def _event_level(self) -> bool:
        """Converge (or, for a targeted pass, recall) the event-level scopes. False without a usable event."""
        memory = self.memory
        if self.focus is not None and not self.focus.event_documents and memory is not None and memory._event:
            remembered = memory._event
            self.event, self.zone, self.rounds = remembered.event, remembered.zone, remembered.rounds
            self.rounds_known, self.known = remembered.rounds_known, remembered.known
            self.race_context, self.existing_races = remembered.race_context, remembered.existing_races
            return True
        return self.apply_base(self.load_base())

    def list_existing_races(self) -> dict[str, str]:
        """The event's race records (one request), noting which are running; a race record PocketBase changed after
        its scope was last established (an admin's edit) is :data:`~fpvsync.pb.sink.EDITED`."""
        existing: dict[str, str] = {}
        self.running_races = set()
        unstarted: list[tuple[float, float, str]] = []
        round_order = {record_id(r.id): float(r.order or 0) for r in self.rounds.values() if r.id}
        rid = record_id(self.event_id)
        fields = RELATIONS["races"]
        edits = self.race_edits()
        for item in self.sink.list_records(
            "races",
            f'event = "{rid}"',
            ",".join(["syncHash", "start", "end", "updated", "valid", "raceNumber", *fields]),
        ):
            race = str(item["id"])
            edited_after = edits.get(race, "")
            if edited_after and str(item.get("updated") or "") > edited_after:
                existing[race] = EDITED
            else:
                existing[race] = stamp(str(item.get("syncHash") or ""), [item.get(f) for f in fields])
            if item.get("start") and not item.get("end"):
                self.running_races.add(str(item["id"]))
            elif not item.get("start") and item.get("valid"):
                order = round_order.get(str(item.get("round") or ""), 0.0)
                unstarted.append((order, float(item.get("raceNumber") or 0), str(item["id"])))
        self.next_races = {race for _, _, race in sorted(unstarted)[:NEXT_RACES_EVERY_PASS]}
        return existing

    def due_races(self) -> list[str]:
        """The races to re-read in this pass, in event order (see the module docstring)."""
        listed = self.race_ids()
        every_pass = self._every_pass(listed)
        self.slice = self.rotation_slice(listed, every_pass)
        picked = set(self.slice)
        ordered = [r for r in listed if r in every_pass or r in picked]
        extra = sorted(every_pass - set(listed))  # e.g. /current naming a race Event.json does not list yet
        return ordered + extra

    def _every_pass(self, listed: list[str]) -> set[str]:
        every_pass: set[str] = set()
        current = self.client.current_race()
        if current:
            every_pass.add(current)
            self.race_hint = RaceHint(race_id=current)
            if self.memory is not None:
                self.memory.running = current
        # ``/current`` names the race loaded from the moment it is cued, so it is read above when it starts; builds
        # without it leave only the race order to guess from.
        names_loaded = self.client.supports_current() is True
        recent_after = _pb_time(self.now - self.policy.recent_seconds)
        for race_id in listed:
            rid = record_id(race_id)
            stored = self.stored.get(state.race_scope(race_id))
            if (
                stored is None
                or not stored.complete
                or stored.changed_at >= recent_after
                or rid in self.running_races
                or (rid in self.next_races and not names_loaded)
                or (rid not in self.existing_races and stored.fingerprint != _NOTHING)
            ):
                every_pass.add(race_id)
        return every_pass

    def rotation_slice(self, listed: list[str], every_pass: set[str]) -> list[str]:
        """The races this pass compares with PocketBase: the next ``settled_per_pass`` of the rotation, plus as many
        mapped with an older context than the event's (while there are such). The rotation runs over every listed
        race (one re-read every pass anyway costs no extra request), so each is compared within
        ``ceil(races / settled_per_pass)`` passes, whatever else a pass does."""
        ordered = sorted(listed)
        if not ordered or self.policy.settled_per_pass <= 0:
            return []
        per_pass = min(self.policy.settled_per_pass, len(ordered))
        slot = int(self.now // max(self.policy.interval, 1e-3))
        start = (slot * per_pass) % len(ordered)
        window = [ordered[(start + i) % len(ordered)] for i in range(per_pass)]
        older = [
            r
            for r in ordered
            if r not in every_pass
            and r not in window
            and (stored := self.stored.get(state.race_scope(r))) is not None
            and stored.context != self.race_context
        ]
        return window + older[:per_pass]

    def _focused_races(self) -> list[str]:
        assert self.focus is not None
        if self.focus.races:
            return sorted(self.focus.races)
        running = self.memory.running if self.memory is not None else None
        if running is None:
            running = self.client.current_race()
            if running is None:
                running = next((r for r in self.race_ids() if record_id(r) in self.running_races), None)
            if self.memory is not None:
                self.memory.running = running
        return [running] if running else []

    def _fetch(self, race_id: str) -> RaceWork | None:
        """Fetch one due race (on the fetch worker); ``None`` when a targeted pass finds it as last mirrored."""
        race_doc = self.load_race_document(race_id, children=True)
        if self.focus is not None and self.memory is not None and self.memory.states is not None:
            remembered = self.memory.states.get(state.race_scope(race_id))
            if (
                remembered is not None
                and remembered.complete
                and race_doc.sha256 is not None
                and remembered.inputs.get(race_doc.path) == race_doc.sha256
                and remembered.context == self.race_context
            ):
                return None
        return self.fetch_race(race_id, children=True, results=True, race_doc=race_doc)

    def _differs(self, work: RaceWork) -> bool:
        """Whether a fetched race must be written: never mirrored whole, other records, or missing."""
        stored = self.stored.get(state.race_scope(work.race_id))
        if stored is None or not stored.complete or (not self.results_known(work) and not work.deleted):
            return True
        wanted = state.fingerprint(self.managed_records(work))
        if wanted != stored.fingerprint:
            return True
        if work.deleted:
            return False
        # Missing, or changed by PocketBase itself (its round deleted behind fpvsync's back).
        race_records = work.records.get("races") or []
        held = self.existing_races.get(record_id(work.race_id))
        return held is None or any(held != record_stamp(r) for r in race_records)

    def _edits_known(self, work: RaceWork) -> bool:
        """Whether the race's stored state tells since when edits behind fpvsync's back count. A state this process
        stored and kept in its :class:`PollMemory` does not (PocketBase set its ``updated``): such a race is compared
        rather than confirmed, so that storing its state again cannot hide an earlier edit."""
        stored = self.stored.get(state.race_scope(work.race_id))
        return stored is not None and bool(stored.edits_after)

    def _confirm(self, work: RaceWork) -> None:
        """A race whose records are as stored: only its state's context and inputs may move (no record write). Its
        records were not listed, so edits behind fpvsync's back still count from when they last were."""
        self.completed(
            state.race_scope(work.race_id), self.managed_records(work), work.race, work.result, compared=False
        )

    def submit(self, changes: ScopeChanges) -> None:
        if len(changes) and self.lock is None:
            self.take_lock()
        super().submit(changes)

    def before_state_write(self) -> None:
        if self.lock is None:
            self.take_lock()

    def _store_state(self) -> None:
        super()._store_state()
        memory = self.memory
        if memory is None or self.sink.dry_run:
            return
        memory.states = self.stored_after
        if self.event is not None:
            memory._event = _EventMemory(
                self.event,
                self.zone,
                self.rounds,
                self.rounds_known,
                self.known,
                self.race_context,
                self.existing_races,
            )

    def take_lock(self) -> None:
        if self.sink.dry_run:
            return
        for leftover in [x for x in self.leftovers if x.lock.name == lock_name(self.event_id)]:
            # Ours, still within its lease (after it, another process may hold the lock: try_lock takes it over).
            if time.monotonic() < leftover.until:
                Lock(self.sink, leftover.lock.name, leftover.lock.lease).release()
            self.leftovers.remove(leftover)
        acquired = try_lock(
            self.sink, lock_name(self.event_id), lease=self.policy.lock_lease, wait=self.policy.lock_wait
        )
        if isinstance(acquired, Held):
            raise SkipRun(
                f"another poll of event {self.event_id} is writing ({acquired.holder}, since {acquired.acquired_at})"
            )
        self.lock = acquired

    def flush(self, *, final: bool) -> None:
        if self.lock is not None and self._pending:
            self.lock.renew_if_due()
        super().flush(final=final)

    def finished(self) -> None:
        if self.lock is not None:
            try:
                self.lock.release()
            except Exception as exc:  # the lease expires by itself; a failed release must not hide the summary
                self.summary.warn("poll", f"could not release the poll lock (it expires by itself): {exc}")
                self.leftovers.append(Leftover(self.lock, time.monotonic() + self.lock.lease))
            self.lock = None

    def should_record_run(self) -> bool:
        if self.summary.skipped:
            return False
        if self.summary.written or self.state_saved or self.summary.errors or self.summary.unreachable:
            return True
        if self.focus is not None:
            return False  # the heartbeat is the whole passes' (a targeted pass asks PocketBase nothing when idle)
        try:
            last = bookkeeping.recent_runs(self.sink, self.event_id, 1)
        except Exception:
            return False
        newest = str(last[0].get("startedAt", "")) if last else ""
        return newest < _pb_time(self.now - self.policy.heartbeat_seconds)


#: The fingerprint of a scope that holds no records (a deleted race, a left-out copy).
_NOTHING = state.fingerprint({})


def _pb_time(epoch: float) -> str:
    return bookkeeping.pb_datetime(datetime.fromtimestamp(epoch, UTC))


def poll(
    ctx: SyncContext,
    event_id: str | None = None,
    policy: PollPolicy | None = None,
    leftovers: list[Leftover] | None = None,
    *,
    focus: PollFocus | None = None,
    memory: PollMemory | None = None,
) -> SyncSummary:
    """One live-mirror pass. ``event_id`` None follows FPVTrackside's current event. ``leftovers`` carries the locks
    a pass could not release to the next pass of the same loop (:func:`watch`). ``focus`` makes it a targeted pass;
    ``memory`` is what one process keeps across its passes (see :class:`PollMemory`)."""
    run = PollRun(ctx, event_id, policy or PollPolicy(), leftovers=leftovers, focus=focus, memory=memory)
    return run.run(run.body)


@dataclass
class WatchReport:
    """What ``watch`` tells its caller between passes."""

    on_pass: Callable[[SyncSummary], None]
    on_outage: Callable[[str], None]
    on_recovery: Callable[[str], None]


def watch(
    ctx: SyncContext,
    event_id: str | None,
    policy: PollPolicy,
    report: WatchReport,
    stop: threading.Event,
    duration: float | None = None,
    max_backoff: float = 60.0,
) -> SyncSummary | None:
    """Poll every ``policy.interval`` seconds until ``stop`` is set or ``duration`` has passed.

    A pass in progress always finishes (its writes are not cut short). While FPVTrackside or PocketBase is
    unreachable the wait doubles up to ``max_backoff``, with one ``on_outage`` call per outage and one
    ``on_recovery`` when it ends. Configuration errors and refused credentials end the loop (retrying cannot help).
    """
    deadline = None if duration is None else time.monotonic() + duration
    down_since: float | None = None
    failures = 0
    last: SyncSummary | None = None
    leftovers: list[Leftover] = []  # so that PocketBase dying mid-pass does not lock this loop out for a lease
    while not stop.is_set():
        started = time.monotonic()
        summary = poll(ctx, event_id, policy, leftovers)
        last = summary
        if summary.unreachable:
            if summary.refused:
                raise AuthError(summary.unreachable)
            failures += 1
            if down_since is None:
                down_since = time.monotonic()
                report.on_outage(summary.unreachable)
        else:
            if down_since is not None:
                report.on_recovery(f"back after {time.monotonic() - down_since:.0f}s")
                down_since = None
            failures = 0
            report.on_pass(summary)
        wait = policy.interval if failures == 0 else min(max_backoff, policy.interval * 2 ** min(failures, 16))
        wait = max(0.0, wait - (time.monotonic() - started)) if failures == 0 else wait
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = min(wait, remaining)
        if stop.wait(wait):
            break
    return last


__all__ = ["PollFocus", "PollMemory", "PollPolicy", "WatchReport", "lock_name", "poll", "watch"]
