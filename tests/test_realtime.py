"""The realtime subscriber against a real PocketBase: what a guest watching a collection is told, in order."""

from __future__ import annotations

import socket

import pytest

from fpvsync.errors import SinkUnreachable
from fpvsync.pb.realtime import RealtimeSubscription
from tests.conftest import RunningPocketBase


def test_a_subscriber_is_told_of_each_change_to_its_collections_only(pb: RunningPocketBase) -> None:
    with RealtimeSubscription(pb.url, ["pilots"]) as pilots, pb.admin() as admin:
        created = admin.post("/api/collections/pilots/records", json={"name": "Ana", "source": "s", "sourceId": "a"})
        assert created.status_code == 200, created.text
        pilot = created.json()["id"]
        assert admin.patch(f"/api/collections/pilots/records/{pilot}", json={"name": "Ana B"}).status_code == 200
        channel = {"source": "s", "sourceId": "c", "band": "R", "number": 1, "frequency": 5658}
        assert admin.post("/api/collections/channels/records", json=channel).status_code == 200
        assert admin.delete(f"/api/collections/pilots/records/{pilot}").status_code == 204

        told = [pilots.next() for _ in range(3)]
        assert [(a.collection, a.action, a.record["id"]) for a in told] == [
            ("pilots", "create", pilot),
            ("pilots", "update", pilot),
            ("pilots", "delete", pilot),
        ]
        assert told[1].record["name"] == "Ana B"
        assert told[0].at <= told[1].at <= told[2].at
        assert pilots.first_announced("pilots", field="sourceId") == {"a": told[0].at}
        assert pilots.first_announced("channels") == {}
        assert pilots.messages.empty()  # the channel was not announced: not subscribed
        with pytest.raises(TimeoutError):
            pilots.next(timeout=0.2)


def test_a_server_that_never_opens_the_stream_is_unreachable() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(SinkUnreachable, match="PB_CONNECT"):
            RealtimeSubscription(url, ["laps"], connect_timeout=0.5)
