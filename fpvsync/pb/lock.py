"""A lease lock in PocketBase, so that overlapping live-mirror passes of one event never write at the same time.

Acquiring creates the ``syncLocks`` record whose id is computed from the lock's name: PocketBase's primary key
makes that atomic, across processes and machines. A lock carries an expiry, so one left behind by a killed
process is taken over once it has expired::

    lock = try_lock(sink, "poll:" + event_id, lease=120, wait=3)
    if lock is None:
        ...  # another pass is writing: skip this one
    try:
        ...
    finally:
        lock.release()

Two processes that find the same expired lock at the same instant could both take it over; their writes are
idempotent upserts of computed ids, so the worst outcome is work done twice, never duplicates.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fpvsync.errors import SinkRejected
from fpvsync.ids import record_id
from fpvsync.pb.bookkeeping import pb_datetime
from fpvsync.pb.sink import PocketBaseSink

SYNC_LOCKS = "syncLocks"


def _lock_id(name: str) -> str:
    return record_id(name, source="lock")


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Held:
    """Who holds a lock, as read back when it could not be acquired."""

    holder: str
    acquired_at: str
    expires_at: str


class Lock:
    """A held lock. :meth:`release` deletes it; :meth:`renew` pushes its expiry forward."""

    def __init__(self, sink: PocketBaseSink, name: str, lease: float) -> None:
        self.sink = sink
        self.name = name
        self.lease = lease
        self.id = _lock_id(name)
        self.released = False
        self.renewed = time.monotonic()

    def renew_if_due(self) -> None:
        """Renew once half the lease has passed: a long pass keeps its lock, a crashed one loses it soon."""
        if time.monotonic() - self.renewed > self.lease / 2:
            self.renew()

    def renew(self) -> None:
        self.renewed = time.monotonic()
        expires = datetime.now(UTC) + timedelta(seconds=self.lease)
        self.sink.send(
            f"/api/collections/{SYNC_LOCKS}/records/{self.id}",
            {"method": "PATCH", "params": {"fields": "id"}, "body": {"expiresAt": pb_datetime(expires)}},
        )

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        try:
            self.sink.send(f"/api/collections/{SYNC_LOCKS}/records/{self.id}", {"method": "DELETE"})
        except SinkRejected as exc:
            if exc.status != 404:
                raise


def try_lock(sink: PocketBaseSink, name: str, *, lease: float, wait: float) -> Lock | Held:
    """Acquire ``name`` within ``wait`` seconds, or say who holds it."""
    deadline = time.monotonic() + wait
    while True:
        now = datetime.now(UTC)
        body = {
            "id": _lock_id(name),
            "name": name,
            "holder": _holder(),
            "acquiredAt": pb_datetime(now),
            "expiresAt": pb_datetime(now + timedelta(seconds=lease)),
        }
        try:
            sink.send(
                f"/api/collections/{SYNC_LOCKS}/records", {"method": "POST", "params": {"fields": "id"}, "body": body}
            )
            return Lock(sink, name, lease)
        except SinkRejected as exc:
            if exc.status != 400:
                raise
        held = _read(sink, name)
        if held is None:
            continue  # released in between: try again at once
        if held.expires_at and held.expires_at < pb_datetime(datetime.now(UTC)):
            _force_release(sink, name)
            continue
        if time.monotonic() >= deadline:
            return held
        # Short waits: a live sync waiting for a pass's writes should follow them closely (two requests a try).
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def _read(sink: PocketBaseSink, name: str) -> Held | None:
    try:
        record = sink.send(f"/api/collections/{SYNC_LOCKS}/records/{_lock_id(name)}", {"method": "GET"})
    except SinkRejected as exc:
        if exc.status == 404:
            return None
        raise
    return Held(str(record.get("holder", "")), str(record.get("acquiredAt", "")), str(record.get("expiresAt", "")))


def _force_release(sink: PocketBaseSink, name: str) -> None:
    try:
        sink.send(f"/api/collections/{SYNC_LOCKS}/records/{_lock_id(name)}", {"method": "DELETE"})
    except SinkRejected as exc:
        if exc.status != 404:
            raise
