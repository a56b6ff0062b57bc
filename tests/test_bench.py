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
    "noop_over_fetch",
    "noop_over_floors",
    "poll_large_over_small",
    "peak_rss_mb",
    "live_doorbell_p95_ms",
    "live_doorbell_missed",
    "live_tier_p95_ms",
    "live_tier_interval_ms",
    "live_baseline_p95_ms",
    "live_doorbell_laptop_rps",
    "live_baseline_laptop_rps",
    "idle_laptop_rps",
    "idle_cued_laptop_rps",
    "live_doorbell_over_baseline_p95",
    "live_doorbell_over_baseline_rps",
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
        pilots=8,
        rounds=2,
        repeat=1,
        batch_sizes=(200,),
        naive_records=40,
        small_pilots=8,
        small_rounds=2,
        live_pilots=8,
        live_rounds=2,
        live_speed=10.0,
        live_idle_seconds=1.0,
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
    assert result["ratios"]["live_doorbell_missed"] == 0
    for mode in ("doorbell", "tier", "baseline"):  # every lap of the played race reached PocketBase
        assert result["live"][mode]["laps"] > 0 and result["live"][mode]["missed"] == 0
    assert "ratio" in bench.table(result)
    assert result["idle"]["idle_pass_writes"] == 0
    assert result["idle"]["afterSettling"]["tracksideRequests"] <= result["idle"]["requestBound"]
