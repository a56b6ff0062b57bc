"""The live mirror: ``poll`` syncs only the documents that changed since they were last applied.

One pass:

1. reads the stored content hashes of the event's documents (one PocketBase request);
2. fetches the event-level documents and the races that are *due* (below), hashing every body;
3. stops there when no hash differs: an idle pass writes nothing to PocketBase;
4. otherwise takes the event's lock (so overlapping passes never write at the same time), converges only the
   changed scopes, and stores the new hashes after the writes succeeded.

Which races are due (adaptive cadence), so that a pass over a 500-race event costs about what a 10-race one does:

- the running race (``/current`` on builds that have it, else races started and not ended) — every pass;
- races never synced (new, or listed without a file yet) and races whose documents changed within
  ``recent_seconds`` — every pass;
- every other (finished, settled) race — ``settled_per_pass`` of them per pass, in rotation, so each is re-read
  every ``ceil(settled / settled_per_pass)`` passes (the race director can still edit an old race).

A pass records itself in ``syncRuns`` when it wrote something or failed, and otherwise at most every
``heartbeat_seconds`` so that admins can see the mirror is alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fpvsync.engine.pipeline import prefetch
from fpvsync.engine.sources import Loaded, race_path
from fpvsync.engine.sync import RACE_CHILDREN, EventRun, RaceWork, SkipRun, SyncContext
from fpvsync.errors import AuthError
from fpvsync.event_state import RaceHint
from fpvsync.ids import record_id
from fpvsync.pb import bookkeeping
from fpvsync.pb.lock import Held, Lock, try_lock
from fpvsync.summary import SyncSummary


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


def lock_name(event_id: str) -> str:
    return f"poll:{event_id}"


class PollRun(EventRun):
    """One live-mirror pass over one event."""

    def __init__(
        self,
        ctx: SyncContext,
        event_id: str | None,
        policy: PollPolicy,
        now: float | None = None,
        leftovers: list[Leftover] | None = None,
    ) -> None:
        super().__init__(ctx, "poll", event_id)
        self.policy = policy
        self.now = time.time() if now is None else now
        self.states: dict[str, tuple[str, str]] = {}
        self.lock: Lock | None = None
        #: Locks earlier passes of this loop could not release (PocketBase went away): released before locking.
        self.leftovers = leftovers if leftovers is not None else []

    # -- the pass -------------------------------------------------------------------------------------------------

    def body(self) -> None:
        self.states = bookkeeping.load_document_states(self.sink, self.event_id)
        self.stored_hashes = {path: sha for path, (sha, _) in self.states.items()}
        base = self.load_base()
        base_changed = [d for d in base.all() if d.sha256 is not None and self._differs(d)]
        if not self.prepare(base):
            return
        due = self.due_races()
        rollover = self.load_rollover_results()
        rollover_changed = rollover.sha256 is not None and self._differs(rollover)
        changed_races: list[RaceWork] = []
        fetches = (self.fetch_race(r, children=True, results=True, map_records=False) for r in due)
        for work in prefetch(fetches, depth=8):
            if work.race.items is None:
                self.report_unavailable_race(work, synced_before=work.race.path in self.states)
            elif self._race_changed(work):
                changed_races.append(work)
        if not (base_changed or rollover_changed or changed_races):
            return

        self.take_lock()
        rid = record_id(self.event_id)
        listed = self.race_ids()
        if base_changed:
            self.apply_base(base)
        else:
            self.learn_known(base)
            self.existing_races = self.sink.existing_hashes("races", f'event = "{rid}"')
        stale = self.stale_races(listed) if base_changed else []
        race_ids = [w.race_id for w in changed_races]
        self.load_children(RACE_CHILDREN, race_ids).result()
        for work in changed_races:
            self.map_race(work)
            self.apply_race(work, children=True)
        if stale:
            self.load_children(RACE_CHILDREN, record_ids=stale).result()
            self.delete_stale_races(stale)
        if rollover_changed:
            self.sync_rollover_results(rollover)

    def due_races(self) -> list[str]:
        """The races to re-read in this pass, in event order (see the module docstring)."""
        listed = self.race_ids()
        every_pass: set[str] = set()
        current = self.client.current_race()
        if current:
            every_pass.add(current)
            self.race_hint = RaceHint(race_id=current)
        rid = record_id(self.event_id)
        for record in self.sink.list_records("races", f'event = "{rid}" && start != "" && end = ""', "sourceId"):
            every_pass.add(str(record["sourceId"]))
        recent_after = _pb_time(self.now - self.policy.recent_seconds)
        for race_id in listed:
            state = self.states.get(race_path(self.event_id, race_id, "Race.json"))
            if state is None or state[1] >= recent_after:
                every_pass.add(race_id)
        settled = sorted(r for r in listed if r not in every_pass)
        picked: set[str] = set()
        if settled and self.policy.settled_per_pass > 0:
            per_pass = min(self.policy.settled_per_pass, len(settled))
            slot = int(self.now // max(self.policy.interval, 1e-3))
            start = (slot * per_pass) % len(settled)
            picked = {settled[(start + i) % len(settled)] for i in range(per_pass)}
        ordered = [r for r in listed if r in every_pass or r in picked]
        extra = sorted(every_pass - set(listed))  # e.g. /current naming a race Event.json does not list yet
        return ordered + extra

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
        if self.summary.written or self.hashes_saved or self.summary.errors or self.summary.unreachable:
            return True
        try:
            last = bookkeeping.recent_runs(self.sink, self.event_id, 1)
        except Exception:
            return False
        newest = str(last[0].get("startedAt", "")) if last else ""
        return newest < _pb_time(self.now - self.policy.heartbeat_seconds)

    # -- helpers --------------------------------------------------------------------------------------------------

    def _differs(self, document: Loaded[Any]) -> bool:
        return self.states.get(document.path, ("", ""))[0] != document.sha256

    def _race_changed(self, work: RaceWork) -> bool:
        if self._differs(work.race):
            return True
        if work.result is None:
            return False
        if work.result.sha256 is not None:
            return self._differs(work.result)
        # No Result.json now: a change only if one was applied before and the race is not ended (it was reset).
        return work.result.path in self.states and not work.ended


def _pb_time(epoch: float) -> str:
    return bookkeeping.pb_datetime(datetime.fromtimestamp(epoch, UTC))


def poll(
    ctx: SyncContext,
    event_id: str | None = None,
    policy: PollPolicy | None = None,
    leftovers: list[Leftover] | None = None,
) -> SyncSummary:
    """One live-mirror pass. ``event_id`` None follows FPVTrackside's current event. ``leftovers`` carries the locks
    a pass could not release to the next pass of the same loop (:func:`watch`)."""
    run = PollRun(ctx, event_id, policy or PollPolicy(), leftovers=leftovers)
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


__all__ = ["PollPolicy", "WatchReport", "lock_name", "poll", "watch"]
