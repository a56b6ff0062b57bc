"""Fixtures of the reliability suite: a generated event served by the replay server, and an in-process mirror."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fpvsync import engine
from fpvsync.engine.progress import NULL_PROGRESS, Progress
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase


@pytest.fixture
def event(tmp_path: Path) -> GeneratedEvent:
    return generate_event(tmp_path / "trackside", EventSpec(seed=21))


@pytest.fixture
def replay(event: GeneratedEvent) -> Iterator[ReplayServer]:
    with ReplayServer(event.root, current_event=event.event_id) as server:
        yield server


class Mirror:
    """A client and a sink as a user's process would hold them, with short retries so that outages end fast."""

    def __init__(self, pb: RunningPocketBase, replay: ReplayServer, **client_options: float) -> None:
        options = {"backoff": 0.01, **client_options}
        self.client = TracksideClient(replay.url, **options)  # type: ignore[arg-type]
        self.sink = PocketBaseSink(pb.url, email=pb.email, password=pb.password, batch_size=100)
        self.sink.authenticate()

    def ctx(self, progress: Progress | None = None) -> engine.SyncContext:
        return engine.SyncContext(self.client, self.sink, progress=progress or NULL_PROGRESS)

    def close(self) -> None:
        self.client.close()
        self.sink.close()


@pytest.fixture
def mirror(pb: RunningPocketBase, replay: ReplayServer) -> Iterator[Mirror]:
    m = Mirror(pb, replay)
    yield m
    m.close()
