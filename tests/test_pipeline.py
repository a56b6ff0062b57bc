from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from fpvsync.engine.pipeline import SWITCH_INTERVAL, prefetch, responsive_threads


def test_responsive_threads_lowers_the_switch_interval_and_restores_it_after_the_last_user() -> None:
    before = sys.getswitchinterval()
    with responsive_threads():
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL)
        with responsive_threads():
            assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL)
        assert sys.getswitchinterval() == min(before, SWITCH_INTERVAL)  # still one user
    assert sys.getswitchinterval() == before


def test_chained_prefetches_keep_order_and_surface_a_first_stage_failure_at_the_consumer() -> None:
    def source() -> Iterator[int]:
        yield from range(50)
        raise RuntimeError("source went away")

    first = prefetch(source(), depth=4)
    second = prefetch((n * 2 for n in first), depth=4)
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="source went away"):
        seen.extend(second)
    assert seen == [n * 2 for n in range(50)]
    second.close()
    first.close()
