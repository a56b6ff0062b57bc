"""Fixtures for the FPVTrackside source tests: the hand-written sample event and a replay server over it.

A test module takes them by name, at module level, so that its ``replay`` wins over the generated event's one in
``tests/conftest.py``::

    sample_event, replay = conftest_source.sample_event, conftest_source.replay
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fpvsync.trackside.replay import ReplayServer
from tests.source_fixtures import SampleEvent, write_sample_event


@pytest.fixture
def sample_event(tmp_path: Path) -> SampleEvent:
    """The hand-written sample event, in ``tmp_path / "source"``."""
    return write_sample_event(tmp_path / "source")


@pytest.fixture
def replay(sample_event: SampleEvent) -> Iterator[ReplayServer]:
    """A replay server over :func:`sample_event`, on a free loopback port."""
    with ReplayServer(sample_event.root) as server:
        yield server
