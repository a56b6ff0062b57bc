"""Wiring for the commands: a live mirror of one event, with a doorbell when asked. Usage::

with live_mirror(ctx, event_id, policy, listen=("127.0.0.1", 8765), options=LiveOptions()) as live:
    ...  # the poll loop runs here; live.receiver.url is the NotificationURL to give FPVTrackside
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fpvsync.engine.poll import PollPolicy
from fpvsync.engine.sources import checked_guid
from fpvsync.engine.sync import SyncContext
from fpvsync.errors import FpvsyncError
from fpvsync.live.mirror import LiveMirror, LiveOptions
from fpvsync.live.races import EventRaces
from fpvsync.live.receiver import NotificationReceiver
from fpvsync.live.targeted import EngineSync
from fpvsync.summary import SyncSummary

__all__ = ["Live", "live_mirror"]


@dataclass
class Live:
    #: ``None`` when the event could not be told at start (FPVTrackside down, no event open): passes still run.
    mirror: LiveMirror | None
    receiver: NotificationReceiver | None
    problem: str | None = None


@contextlib.contextmanager
def live_mirror(
    ctx: SyncContext,
    event_id: str | None,
    policy: PollPolicy,
    *,
    listen: tuple[str, int] | None,
    options: LiveOptions,
    on_sync: Callable[[SyncSummary], None] | None = None,
) -> Iterator[Live]:
    """Start the live mirror (and the doorbell on ``listen``); stop both on exit.

    ``event_id`` None means the event FPVTrackside has open at start; when it cannot be told, :attr:`Live.mirror`
    is ``None`` and :attr:`Live.problem` says why. Raises :class:`OSError` when ``listen`` cannot be bound.
    """
    try:
        event = checked_guid(event_id) if event_id else checked_guid(ctx.client.current_event())
    except FpvsyncError as exc:
        yield Live(None, None, f"no live mirror: {exc}")
        return
    sync = EngineSync(ctx, event, policy)
    mirror = LiveMirror(sync, EventRaces(ctx.client, ctx.sink, event), options, on_sync)
    sync.more_waiting = lambda: mirror.queue.pending() > 0
    receiver = NotificationReceiver(*listen, on_body=mirror.ring) if listen else None
    if receiver is not None:
        receiver.start()
    mirror.start()
    try:
        yield Live(mirror, receiver)
    finally:
        if receiver is not None:
            receiver.stop()
        mirror.stop()
