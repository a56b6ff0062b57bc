"""Pytest plugin: fixtures for the FPVTrackside source tests (a sample event folder and a replay server over it).

Test modules load it with ``pytest_plugins = ["tests.conftest_source"]``.
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
