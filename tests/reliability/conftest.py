"""Fixtures of the reliability suite: its own generated event, and a mirror that writes in small batches (so that
an outage can fall in the middle of a run's writes)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fpvsync.trackside.generator import EventSpec
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import Mirror

#: Operations per PocketBase batch in this suite.
BATCH_SIZE = 100


@pytest.fixture
def default_event_spec() -> EventSpec:
    return EventSpec(seed=21)


@pytest.fixture
def mirror(pb: RunningPocketBase, replay: ReplayServer) -> Iterator[Mirror]:
    m = Mirror(pb, replay.url, batch_size=BATCH_SIZE)
    yield m
    m.close()
