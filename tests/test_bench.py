"""The benchmark script runs end to end on a tiny event and reports every figure (correctness only, no timings)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench.py"
RATIOS = {
    "full_over_ceiling",
    "full_over_naive",
    "noop_writes",
    "noop_over_full",
    "poll_large_over_small",
    "peak_rss_mb",
}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fpvsync_bench_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def test_bench_on_a_tiny_event_reports_every_ratio_and_a_noop_that_writes_nothing(tmp_path: Path) -> None:
    bench = load_script()
    options = bench.Options(
        pilots=8, rounds=2, repeat=1, batch_sizes=(200,), naive_records=40, small_pilots=8, small_rounds=2
    )
    result = bench.bench(options, tmp_path)

    assert set(result["ratios"]) == RATIOS
    assert all(isinstance(value, int | float) for value in result["ratios"].values())
    assert result["ratios"]["noop_writes"] == 0
    assert result["noop"]["recordsUpdated"] == result["noop"]["writesSent"] == 0
    assert result["event"]["records"] > 0 and result["naive"]["records"] == 40
    assert result["poll"]["small"]["writes"] == result["poll"]["large"]["writes"] == 2
    assert 0 < result["ratios"]["peak_rss_mb"] < 1024
    assert {"cpus", "python", "platform"} <= set(result["machine"])
    assert "ratio" in bench.table(result)
    assert result["idle"]["idle_pass_writes"] == 0
    assert result["idle"]["afterSettling"]["tracksideRequests"] <= result["idle"]["requestBound"]
