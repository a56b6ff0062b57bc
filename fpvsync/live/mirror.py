"""The live mirror's worker: turns notifications and the fast tier's ticks into targeted syncs, one at a time.

::

    receiver ──body──▶ inbox (bounded) ──parse──▶ CoalescingQueue ──one worker──▶ TargetedSync ──▶ PocketBase
    fast tier (every 0.2 s while a race runs) ──────────┘

- A notification names a race (round + race number, resolved through :class:`~fpvsync.live.races.RaceIndex`) or
  means the race FPVTrackside has loaded (legacy detections). Race end, results and the next race also re-read the
  event-level documents.
- Work is keyed by what it reads, so a burst of detections for one race costs one sync in flight plus one queued.
- FPVTrackside may write ``Race.json`` a moment after it notifies: when the race's file does not show yet what the
  notification announced (its detection, its start or end) or cannot be read whole, the key is re-queued after 20,
  40, 80... ms, :attr:`LiveOptions.retries` times. Notifications that announce nothing (a race loaded or armed) are
  read once.
- The fast tier follows the race FPVTrackside has loaded (``/current``, which names it from the moment it is cued):
  every :attr:`LiveOptions.fast_interval` seconds while it runs (0 turns the tier off), every
  :attr:`LiveOptions.cued_interval` seconds before it starts (so its start is seen), not at all once it ended.
  ``/current`` itself is asked every :attr:`LiveOptions.current_interval` seconds while no race is followed and
  every :attr:`LiveOptions.recheck_interval` seconds while one is (the race's own file tells its start and end).

Everything here is a hint to look: what is written comes from the documents, so a lost, duplicated, early or
out-of-order notification cannot leave the mirror wrong, only later.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, Protocol

from fpvsync.errors import FpvsyncError
from fpvsync.event_state import RaceHint, RaceState
from fpvsync.live.notifications import Expect, Notification, NotificationError, RaceRef, parse_notification
from fpvsync.live.targeted import SyncOutcome, TargetedSync
from fpvsync.live.workqueue import CoalescingQueue
from fpvsync.summary import SyncSummary

__all__ = ["LiveMirror", "LiveOptions", "RaceFinder", "Work"]

logger = logging.getLogger("fpvsync.live")

#: Queue keys besides ``race:<guid>`` and ``ref:<round>.<race>``.
CURRENT: Final = "current"
EVENT: Final = "event"


#: Seconds between whole passes of ``poll --watch`` (the event documents and the settled rotation), by live mode:
#: the fast tier already follows the running race, and with a doorbell the passes only catch what notifications
#: missed, so both keep the timing laptop's load low (a pass reads about 20 documents on any event size).
PASS_INTERVAL_PLAIN: Final = 2.0
PASS_INTERVAL_WITH_FAST_TIER: Final = 30.0
PASS_INTERVAL_WITH_DOORBELL: Final = 60.0


@dataclass(frozen=True)
class LiveOptions:
    #: Seconds between re-reads of the running race without push (0: no fast tier).
    fast_interval: float = 0.2
    #: Seconds between re-reads of the loaded race before it starts (the fast tier takes over at its start).
    cued_interval: float = 1.0
    #: Seconds between asking FPVTrackside which race is loaded while the fast tier follows none.
    current_interval: float = 2.0
    #: Seconds between asking it again while the fast tier follows one (the operator may load another).
    recheck_interval: float = 5.0
    #: Re-reads of a notified race whose documents have not changed yet.
    retries: int = 6
    #: First pause before such a re-read (doubling each time).
    retry_delay: float = 0.02
    #: Notifications waiting to be read; beyond it new ones are dropped (a flood).
    inbox_size: int = 1000


@dataclass(frozen=True)
class Work:
    """What to do for one key (merged when the key is added again before it runs)."""

    race_changed: bool = False
    event_documents: bool = False
    state: RaceState | None = None
    #: What the race's file must show (a notification said it would): re-read until it does.
    expect: Expect | None = None
    #: Detections the race's file must hold (ExtensionMode names them): re-read until it does.
    detections: frozenset[str] = frozenset()
    attempt: int = 0

    def merge(self, other: Work) -> Work:
        return Work(
            race_changed=self.race_changed or other.race_changed,
            event_documents=self.event_documents or other.event_documents,
            state=other.state or self.state,
            expect=max(self.expect, other.expect, key=_EXPECT_RANK.__getitem__),
            detections=self.detections | other.detections,
            attempt=min(self.attempt, other.attempt),
        )

    @property
    def awaits(self) -> bool:
        """Whether a read must show something, or else be repeated."""
        return self.expect is not None or bool(self.detections)


#: A merged work waits for the most: results (the race ended, too), the end (it started, too), the start, a change.
_EXPECT_RANK: Final[dict[Expect | None, int]] = {None: 0, "change": 1, "running": 2, "ended": 3, "results": 4}


@dataclass
class TierClock:
    """When the fast tier last asked which race is loaded, and last queued a re-read of it (monotonic)."""

    asked_at: float = float("-inf")
    read_at: float = float("-inf")


class RaceFinder(Protocol):
    """How the mirror names races (:class:`fpvsync.live.races.EventRaces`)."""

    def lookup(self, ref: RaceRef) -> str | None: ...

    def current(self) -> str | None: ...


class LiveMirror:
    """Runs the inbox reader, the sync worker and the fast tier in daemon threads. ``start()``/``stop()``."""

    def __init__(
        self,
        sync: TargetedSync,
        finder: RaceFinder,
        options: LiveOptions | None = None,
        on_sync: Callable[[SyncSummary], None] | None = None,
    ) -> None:
        self.sync = sync
        #: Told about every targeted sync that wrote something or failed.
        self.on_sync = on_sync
        self.finder = finder
        self.options = options or LiveOptions()
        self.queue: CoalescingQueue[str, Work] = CoalescingQueue(Work.merge)
        self.inbox: queue.Queue[bytes] = queue.Queue(maxsize=self.options.inbox_size)
        #: The race FPVTrackside has loaded, as last told or asked, and its state as last read (None: not read yet).
        self.loaded_race: str | None = None
        self.loaded_state: RaceState | None = None
        #: Counters for logs, tests and the benchmark.
        self.stats = {"received": 0, "dropped": 0, "garbage": 0, "ignored": 0, "syncs": 0, "retries": 0}
        self._stop = threading.Event()
        #: Set once the worker has read ahead (or failed to): until then the mirror is not idle.
        self._warmed = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_drop_log = float("-inf")
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> None:
        targets = [(self._read_inbox, "doorbell-inbox"), (self._work, "live-sync")]
        if self.options.fast_interval > 0:
            targets.append((self._fast_tier, "live-fast-tier"))
        for target, name in targets:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop after the sync in progress (its writes are never cut short)."""
        self._stop.set()
        self.queue.close()
        for thread in self._threads:
            thread.join(30.0)
        self._threads.clear()

    def idle(self) -> bool:
        """Read ahead, nothing waiting in the inbox or the queue, and no sync running (tests and the benchmark wait
        on it)."""
        return self._warmed.is_set() and self.inbox.empty() and not self.queue.busy()

    # -- input ----------------------------------------------------------------------------------------------------

    def ring(self, body: bytes) -> None:
        """Take one notification body (called by the receiver after it answered). Never blocks."""
        try:
            self.inbox.put_nowait(body)
        except queue.Full:
            with self._lock:
                self.stats["dropped"] += 1
                now = time.monotonic()
                if now - self._last_drop_log >= 5.0:
                    self._last_drop_log = now
                    logger.warning("doorbell: %d notifications dropped (flood)", self.stats["dropped"])

    def _read_inbox(self) -> None:
        while not self._stop.is_set():
            try:
                body = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            self.stats["received"] += 1
            try:
                note = parse_notification(body)
            except NotificationError as exc:
                self.stats["garbage"] += 1
                logger.warning("doorbell: ignored a body that is not an FPVTrackside notification: %s", exc)
                continue
            self.notify(note)

    def notify(self, note: Notification) -> None:
        """Queue the work a parsed notification asks for."""
        if not note.wants_sync and note.state is None:
            self.stats["ignored"] += 1
            logger.debug("doorbell: %s %s needs no sync", note.format, note.kind)
            return
        detections = frozenset({note.detection_id}) if note.detection_id else frozenset()
        work = Work(note.race_changed, note.event_documents, note.state, note.expect, detections)
        if note.race is not None:
            self.queue.add(f"ref:{note.race.round}.{note.race.race}.{note.race.race_type or ''}", work)
        elif note.race_changed or note.state is not None:
            self.queue.add(CURRENT, work)
        else:
            self.queue.add(EVENT, work)

    # -- the fast tier --------------------------------------------------------------------------------------------

    def _fast_tier(self) -> None:
        clock = TierClock()
        while not self._stop.wait(self.options.fast_interval):
            try:
                self._tick(clock, time.monotonic())
            except Exception:  # a bug here must not end the live mirror
                logger.exception("fast tier: tick failed")

    def _tick(self, clock: TierClock, now: float) -> None:
        """Ask which race is loaded when due, and queue a re-read of it when due (see the module docstring)."""
        options = self.options
        following = self.loaded_race is not None and self.loaded_state != "ended"
        if now - clock.asked_at >= (options.recheck_interval if following else options.current_interval):
            clock.asked_at = now
            try:
                race = self.finder.current()
            except FpvsyncError as exc:
                logger.debug("fast tier: could not tell the loaded race: %s", exc)
                return
            self._loaded(race)
        race, race_state = self.loaded_race, self.loaded_state
        if race is None or race_state == "ended":
            return
        every = options.cued_interval if race_state in ("idle", "armed") else options.fast_interval
        if now - clock.read_at >= every - options.fast_interval / 2:
            clock.read_at = now
            self.queue.add(f"race:{race}", Work(race_changed=True))

    def _loaded(self, race: str | None) -> None:
        """FPVTrackside has ``race`` loaded (told or asked): its state is unknown until read, unless it is the same."""
        with self._lock:
            if race != self.loaded_race:
                self.loaded_race, self.loaded_state = race, None

    # -- the worker -----------------------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            self.sync.warm()
        except Exception as exc:  # the first sync reads it all then
            logger.warning("live mirror: could not read ahead: %s", exc)
        finally:
            self._warmed.set()
        while not self._stop.is_set():
            item = self.queue.get(timeout=0.2)
            if item is None:
                continue
            key, work = item
            try:
                self._process(key, work)
            except Exception:  # a bug in one sync must not end the live mirror
                logger.exception("live mirror: sync of %s failed", key)
            finally:
                self.queue.done(key)

    def _process(self, key: str, work: Work) -> None:
        race = self._resolve(key)
        if race is not None and (key.startswith("ref:") or key == CURRENT):
            self._loaded(race)
        races = frozenset({race}) if race is not None and work.race_changed else frozenset()
        hint = RaceHint(race_id=race, state=work.state) if race is not None and key != EVENT else None
        if not races and not work.event_documents and hint is None:
            return
        outcome = self.sync.sync(races, work.event_documents, hint)
        self.stats["syncs"] += 1
        summary = outcome.summary
        with self._lock:
            if race is not None and race == self.loaded_race:
                if race in outcome.states:
                    self.loaded_state = outcome.states[race]
                elif race in outcome.unavailable and self.loaded_state is None:
                    self.loaded_state = "idle"  # no readable file yet (say, not this event's): no need to hurry
        if self.on_sync is not None and (summary.written or summary.errors):
            self.on_sync(summary)
        if outcome.summary.unreachable:
            logger.warning("live mirror: %s", outcome.summary.unreachable)
            return
        if race is None or not races or not work.awaits or self._satisfied(race, work, outcome):
            return  # the fast tier's own reads and notifications announcing nothing are not repeated
        if work.attempt < self.options.retries:
            self._retry(f"race:{race}", replace(work, event_documents=False, attempt=work.attempt + 1))
        else:
            logger.info("live mirror: race %s does not show what FPVTrackside announced (it may have already)", race)

    @staticmethod
    def _satisfied(race: str, work: Work, outcome: SyncOutcome) -> bool:
        """Whether the read saw what the notification announced: its detections, the race's start, end or results,
        or (legacy detections) any change. A read finding no change may also mean an earlier read already had it:
        the retries are bounded."""
        if race in outcome.unavailable:
            return False
        if not work.detections <= outcome.detections.get(race, frozenset()):
            return False
        seen = outcome.states.get(race)
        if work.expect == "running" and seen not in ("running", "ended"):
            return False
        if work.expect == "ended" and seen != "ended":
            return False
        if work.expect == "results" and race not in outcome.results:
            return False
        return work.expect != "change" or race in outcome.changed

    def _resolve(self, key: str) -> str | None:
        if key.startswith("race:"):
            return key.removeprefix("race:")
        if key == EVENT:
            return None
        if key.startswith("ref:"):
            round_text, race_text, race_type = key.removeprefix("ref:").split(".", 2)
            found = self.finder.lookup(RaceRef(int(round_text), int(race_text), race_type or None))
            if found is not None:
                return found
        if key == CURRENT and self.loaded_race is not None:
            return self.loaded_race
        try:
            return self.finder.current()
        except FpvsyncError as exc:
            logger.warning("live mirror: could not tell the current race: %s", exc)
            return None

    def _retry(self, key: str, work: Work) -> None:
        """Queue ``key`` again after a doubling pause (the file may be written a moment after the notification)."""
        self.stats["retries"] += 1
        delay = self.options.retry_delay * 2 ** (work.attempt - 1)
        timer = threading.Timer(delay, self.queue.add, (key, work))
        timer.daemon = True
        timer.start()
