"""Write a realistic FPVTrackside event folder (see :mod:`fpvsync.trackside.generator`).

usage: python scripts/generate_event.py DIR [--seed N] [--pilots N] [--rounds N] [--laps N] [--legacy]

The first line printed is the event id; record counts follow.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fpvsync.trackside.generator import EventSpec, generate_event


def main(argv: list[str] | None = None) -> int:
    defaults = EventSpec()
    parser = argparse.ArgumentParser(description="Generate an FPVTrackside data folder (replay directory).")
    parser.add_argument("dir", type=Path, help="root directory (gets httpfiles/ and events/{eventId}/)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--pilots", type=int, default=defaults.pilots)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--laps", type=int, default=defaults.laps, help="target laps")
    parser.add_argument("--pilots-per-race", type=int, default=defaults.pilots_per_race)
    parser.add_argument("--legacy", action="store_true", help="write the old schema generation")
    args = parser.parse_args(argv)

    spec = EventSpec(
        seed=args.seed,
        pilots=args.pilots,
        rounds=args.rounds,
        laps=args.laps,
        pilots_per_race=args.pilots_per_race,
        legacy=args.legacy,
    )
    started = time.perf_counter()
    try:
        event = generate_event(args.dir, spec)
    except ValueError as error:
        parser.error(str(error))
    elapsed = time.perf_counter() - started

    print(event.event_id)
    for kind, count in event.counts.items():
        print(f"  {kind:<24} {count:>8}")
    records = sum(event.counts[k] for k in ("detections", "laps", "results"))
    print(f"  {'detections+laps+results':<24} {records:>8}")
    print(f"written to {event.event_dir()} in {elapsed:.2f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
