"""Run a producer on a worker thread, a bounded number of items ahead of its consumer.

The engine fetches and parses races (CPU on this side, one request at a time to the timing laptop) while the
main thread waits on PocketBase's writes: on two cores, both stay busy.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 8) -> Generator[T, None, None]:
    """Yield ``items``, produced on a worker thread at most ``depth`` items ahead.

    An exception in the producer is re-raised in the consumer at the point it happened. Closing the generator
    (or leaving a ``for`` loop early) stops the producer after the item it is working on.
    """
    buffer: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # forwarded to the consumer, which re-raises it
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name="fpvsync-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item = buffer.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()
