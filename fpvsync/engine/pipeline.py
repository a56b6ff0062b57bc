"""Run a producer on a worker thread, a bounded number of items ahead of its consumer.

The engine fetches and parses races (CPU on this side, one request at a time to the timing laptop) while the
main thread waits on PocketBase's writes: on two cores, both stay busy.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

#: How often a thread holding the GIL hands it over while :func:`responsive_threads` is in force (seconds).
SWITCH_INTERVAL = 0.001

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Channel:
    """The items between the worker and the consumer. The worker holds this, never the :class:`Prefetch`, so that
    dropping an abandoned iterator stops the worker."""

    def __init__(self, limit: int) -> None:
        self.items: deque[object] = deque()
        self.changed = threading.Condition()
        self.limit = limit
        self.stopped = False

    def put(self, item: object) -> bool:
        with self.changed:
            while len(self.items) >= self.limit and not self.stopped:
                self.changed.wait()
            if self.stopped:
                return False
            self.items.append(item)
            self.changed.notify_all()
            return True

    def get(self, limit: int) -> object:
        with self.changed:
            self.limit = limit
            while not self.items:
                self.changed.wait()
            item = self.items.popleft()
            self.changed.notify_all()
            return item

    def stop(self) -> None:
        with self.changed:
            self.stopped = True
            self.changed.notify_all()


def _produce(items: Iterable[object], channel: _Channel) -> None:
    try:
        for item in items:
            if not channel.put(item):
                return
    except BaseException as exc:  # forwarded to the consumer, which re-raises it
        channel.put(_Failure(exc))
        return
    channel.put(_DONE)


class Prefetch(Iterator[T], Generic[T]):
    """The items of a producer running on a worker thread (see :func:`prefetch`)."""

    def __init__(self, items: Iterable[T], depth: int, lead: int) -> None:
        self._depth = max(1, depth)
        self._channel = _Channel(max(self._depth, lead))
        self._finished = False
        self._worker = threading.Thread(
            target=_produce, args=(items, self._channel), name="fpvsync-prefetch", daemon=True
        )
        self._worker.start()

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        item = self._channel.get(self._depth)
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop the producer after the item it is working on, and wait for it."""
        self._finished = True
        self._channel.stop()
        if self._worker is not threading.current_thread():
            self._worker.join()

    def __del__(self) -> None:
        self._channel.stop()


def prefetch(items: Iterable[T], depth: int = 8, lead: int = 256) -> Prefetch[T]:
    """Iterate ``items``, produced on a worker thread at most ``depth`` items ahead.

    The worker starts at once. Until the consumer takes its first item it may run up to ``lead`` items ahead, so
    that the time a caller spends preparing (say, listing what PocketBase holds) is spent fetching too; from then
    on it stays at most ``depth`` ahead. An exception in the producer is re-raised in the consumer at the point it
    happened. :meth:`Prefetch.close` (or dropping the iterator) stops the producer after the item it is working on.
    """
    return Prefetch(items, depth, lead)


_responsive_lock = threading.Lock()
_responsive_users = 0
_interval_before = 0.0


@contextlib.contextmanager
def responsive_threads() -> Iterator[None]:
    """Let a thread whose request has just been answered get back to work sooner while others compute.

    A thread waking from I/O waits for the GIL until the computing thread hands it over, up to Python's switch
    interval (5 ms by default). The fetch worker wakes several times per request, so while the mapping worker and
    the PocketBase listings computed, every request to the laptop cost milliseconds more than its own time.
    Nested and concurrent uses share one setting; the interval in force before the first is restored after the
    last."""
    global _responsive_users, _interval_before
    with _responsive_lock:
        if _responsive_users == 0:
            _interval_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_interval_before, SWITCH_INTERVAL))
        _responsive_users += 1
    try:
        yield
    finally:
        with _responsive_lock:
            _responsive_users -= 1
            if _responsive_users == 0:
                sys.setswitchinterval(_interval_before)
