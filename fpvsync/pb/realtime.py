"""A guest subscribed to collections over PocketBase's realtime API, as a front end is: what it was told, and when.

PocketBase announces record changes as server-sent events: ``GET /api/realtime`` opens the stream and names the
connection (a ``PB_CONNECT`` event carrying a ``clientId``); ``POST /api/realtime`` with that id sets which
collections the connection hears about; each change then arrives as an event named after the collection, whose
data is ``{"action": "create" | "update" | "delete", "record": {...}}``. ::

    with RealtimeSubscription(pb_url, ["laps"]) as laps:
        ...  # write laps
        first = laps.next()  # the first announcement, in arrival order
        laps.first_announced("laps", field="sourceId")  # sourceId -> time.monotonic() of its first create/update

The constructor returns only once PocketBase has accepted the subscription, so nothing written afterwards is
missed. The stream is read on a daemon thread; :meth:`close` ends it.

The PocketBase SDK has a realtime service, but it cannot serve here: ``subscribe()`` returns before the
subscription is in place (so the first changes can be lost), its stream thread swallows every error, and its
``close()`` leaves the connection and the thread running.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from fpvsync.errors import SinkUnreachable

#: The actions that bring a record into a subscriber's view (a delete takes it out).
ANNOUNCING_ACTIONS = frozenset({"create", "update"})


@dataclass(frozen=True)
class Announcement:
    """One change PocketBase told the subscriber about."""

    collection: str
    #: ``create``, ``update`` or ``delete``.
    action: str
    record: dict[str, Any]
    #: ``time.monotonic()`` when it arrived.
    at: float


class RealtimeSubscription:
    """A live subscription to ``collections`` of the PocketBase at ``url`` (guest access, like a public page).

    Raises :class:`~fpvsync.errors.SinkUnreachable` when PocketBase does not name the connection within
    ``connect_timeout`` seconds or refuses the subscription.
    """

    def __init__(self, url: str, collections: Iterable[str], *, connect_timeout: float = 10.0) -> None:
        self.collections = tuple(collections)
        #: Every announcement, in arrival order; :meth:`next` takes from it.
        self.messages: queue.Queue[Announcement] = queue.Queue()
        self._seen: list[Announcement] = []
        self._lock = threading.Lock()
        self._client = httpx.Client(base_url=url, timeout=httpx.Timeout(30, read=None))
        self._connected = threading.Event()
        self._client_id = ""
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._listen, name="pb-realtime", daemon=True)
        self._thread.start()
        try:
            self._subscribe(connect_timeout)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, connect_timeout: float) -> None:
        if not self._connected.wait(connect_timeout):
            raise SinkUnreachable(f"PocketBase's realtime API sent no PB_CONNECT within {connect_timeout:g} s")
        try:
            answer = self._client.post(
                "/api/realtime", json={"clientId": self._client_id, "subscriptions": list(self.collections)}
            )
        except httpx.HTTPError as error:
            raise SinkUnreachable(f"PocketBase's realtime API: {error}") from error
        if answer.status_code != 204:
            raise SinkUnreachable(f"PocketBase refused the realtime subscription ({answer.status_code})")

    def _listen(self) -> None:
        try:
            with self._client.stream("GET", "/api/realtime") as stream:
                self._socket = stream.extensions["network_stream"].get_extra_info("socket")
                name = ""
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        name = line.partition(":")[2].strip()
                    elif line.startswith("data:"):
                        self._received(name, json.loads(line.partition(":")[2]))
        except (httpx.HTTPError, OSError):
            return  # closed by close()

    def _received(self, name: str, data: dict[str, Any]) -> None:
        if name == "PB_CONNECT":
            self._client_id = str(data["clientId"])
            self._connected.set()
            return
        if name not in self.collections:
            return
        announcement = Announcement(name, str(data.get("action", "")), dict(data.get("record") or {}), time.monotonic())
        with self._lock:
            self._seen.append(announcement)
        self.messages.put(announcement)

    def next(self, timeout: float = 15.0) -> Announcement:
        """The oldest announcement not taken yet, waiting up to ``timeout`` seconds (``TimeoutError`` after)."""
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no realtime announcement within {timeout:g} s") from None

    def first_announced(self, collection: str, field: str = "id") -> dict[str, float]:
        """``record[field] -> time.monotonic()`` of the first create or update of each record of ``collection``."""
        first: dict[str, float] = {}
        with self._lock:
            for seen in self._seen:
                if seen.collection == collection and seen.action in ANNOUNCING_ACTIONS:
                    first.setdefault(str(seen.record.get(field, "")), seen.at)
        return first

    def close(self) -> None:
        """End the stream and its thread (safe to call twice).

        Closing the HTTP client does not wake a thread blocked reading the stream: shutting the socket down does.
        When the stream never opened (the server did not answer), the daemon thread is not waited for: it ends
        with its connection.
        """
        opened = self._socket
        if opened is not None:
            with contextlib.suppress(OSError):
                opened.shutdown(socket.SHUT_RDWR)
        self._client.close()
        if opened is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> RealtimeSubscription:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
