"""A coalescing work queue in the manner of client-go's ``workqueue``: a key added many times is processed once.

Keys are *dirty* (waiting) or *processing*. Adding a dirty key merges the new value into the waiting one; adding a
key that is being processed marks it dirty again, so it is processed once more after the current run, never twice
at the same time. A burst of lap notifications for one race therefore costs one sync in flight plus one queued::

    queue: CoalescingQueue[str, Target] = CoalescingQueue(merge=Target.merge)
    queue.add("race-guid", target)            # from any thread
    item = queue.get(timeout=0.5)            # worker: (key, value) or None
    if item: try: work(*item) finally: queue.done(item[0])
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["CoalescingQueue"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class CoalescingQueue(Generic[K, V]):
    """Thread-safe; FIFO over keys. ``merge(old, new)`` combines two values added for one key."""

    def __init__(self, merge: Callable[[V, V], V]) -> None:
        self._merge = merge
        self._dirty: OrderedDict[K, V] = OrderedDict()
        self._processing: set[K] = set()
        self._ready: OrderedDict[K, None] = OrderedDict()  # dirty keys not being processed, in arrival order
        self._cond = threading.Condition()
        self._closed = False
        #: Adds that were merged into a waiting key (for logs and tests).
        self.coalesced = 0

    def add(self, key: K, value: V) -> None:
        with self._cond:
            if self._closed:
                return
            if key in self._dirty:
                self._dirty[key] = self._merge(self._dirty[key], value)
                self.coalesced += 1
                return
            self._dirty[key] = value
            if key not in self._processing:
                self._ready[key] = None
                self._cond.notify()

    def get(self, timeout: float | None = None) -> tuple[K, V] | None:
        """The oldest ready key and its value, marked processing; ``None`` on timeout or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._closed, timeout):
                return None
            if self._closed:
                return None
            key, _ = self._ready.popitem(last=False)
            value = self._dirty.pop(key)
            self._processing.add(key)
            return key, value

    def done(self, key: K) -> None:
        """The worker finished ``key``: if it was added meanwhile, it is ready again."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._ready[key] = None
                self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._dirty)

    def busy(self) -> bool:
        """Whether anything waits or is being processed."""
        with self._cond:
            return bool(self._dirty or self._processing)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
