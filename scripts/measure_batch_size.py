"""Measure PocketBase write throughput per batch size, to choose PocketBaseSink's default.

Writes realistic ``detections`` records (with their event, race, pilot and channel) through
:class:`fpvsync.pb.sink.PocketBaseSink` into a fresh local PocketBase per batch size, first as creates, then as
updates of every record, and prints records per second::

    .venv/bin/python scripts/measure_batch_size.py [--records 10000] [--sizes 50,100,200,500,1000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fpvsync.ids import SOURCE, record_id
from fpvsync.pb.local import LocalPocketBase
from fpvsync.pb.sink import PocketBaseSink, Upsert
from fpvsync.summary import SyncSummary

EMAIL = "measure@fpvsync.test"
PASSWORD = "measure-password-123"
EVENT, RACE, PILOT, CHANNEL = (
    "6f1f3d1e-0000-4000-8000-000000000001",
    "6f1f3d1e-0000-4000-8000-000000000002",
    "6f1f3d1e-0000-4000-8000-000000000003",
    "6f1f3d1e-0000-4000-8000-000000000004",
)


def _hashed(body: dict[str, Any]) -> dict[str, Any]:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return {**body, "syncHash": hashlib.sha256(canonical).hexdigest()}


def parents() -> list[Upsert]:
    def upsert(collection: str, source_id: str, **fields: Any) -> Upsert:
        body = _hashed({"source": SOURCE, "sourceId": source_id, **fields})
        return Upsert(collection, record_id(source_id), body, "measure", source_id)

    return [
        upsert("channels", CHANNEL, number=1, band="Raceband", shortBand="R", frequency=5658, displayName="R1"),
        upsert("pilots", PILOT, name="Pilot One", phonetic="pilot one"),
        upsert("events", EVENT, name="Measure", eventType="Race", start="2025-06-01T09:00:00Z"),
        upsert("races", RACE, event=record_id(EVENT), name="Race 1", raceNumber=1, valid=True),
    ]


def detection(i: int, peak: int, *, exists: bool) -> Upsert:
    source_id = f"6f1f3d1e-1111-4000-8000-{i:012d}"
    when = datetime(2025, 6, 1, 9, 0, tzinfo=UTC) + timedelta(milliseconds=731 * i)
    body = _hashed(
        {
            "source": SOURCE,
            "sourceId": source_id,
            "event": record_id(EVENT),
            "race": record_id(RACE),
            "pilot": record_id(PILOT),
            "channel": record_id(CHANNEL),
            "timingSystemIndex": 0,
            "time": when.isoformat(),
            "peak": peak,
            "timingSystemType": "LapRF",
            "lapNumber": i % 6,
            "valid": True,
            "validityType": "Auto",
            "isLapEnd": True,
            "raceSector": 1,
            "isHoleshot": i % 6 == 0,
            "externalId": 0,
            "extra": {"SectorTime": None},
        }
    )
    return Upsert("detections", record_id(source_id), body, f"race {RACE}", source_id, exists=exists)


def measure(batch_size: int, records: int) -> tuple[float, float]:
    """Records per second for creating, then updating, ``records`` detections."""
    with tempfile.TemporaryDirectory(prefix="fpvsync-measure-") as tmp:
        server = LocalPocketBase(Path(tmp) / "pb_data")
        server.upsert_superuser(EMAIL, PASSWORD)
        server.start()
        try:
            with PocketBaseSink(server.url, email=EMAIL, password=PASSWORD, batch_size=batch_size) as sink:
                sink.write(parents(), SyncSummary("measure"))
                rates = []
                for peak, exists in ((100, False), (200, True)):
                    ops = [detection(i, peak, exists=exists) for i in range(records)]
                    summary = SyncSummary("measure")
                    started = time.perf_counter()
                    sink.write(ops, summary)
                    rates.append(records / (time.perf_counter() - started))
                    if summary.errors or summary.written != records:
                        raise SystemExit(f"unexpected result at batch size {batch_size}: {summary}")
                return rates[0], rates[1]
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sizes", default="50,100,200,500,1000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{args.records} detections per pass, median of {args.repeat} runs (sizes interleaved), records/s")
    runs: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
    for _ in range(args.repeat):
        for size in sizes:
            runs[size].append(measure(size, args.records))
    print(f"{'batch':>6} {'create':>8} {'update':>8}")
    for size in sizes:
        create = statistics.median(r[0] for r in runs[size])
        update = statistics.median(r[1] for r in runs[size])
        print(f"{size:>6} {create:>8.0f} {update:>8.0f}")


if __name__ == "__main__":
    main()
