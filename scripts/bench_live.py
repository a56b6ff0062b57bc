"""The live section of ``scripts/bench.py``: lap → PocketBase latency and the load on the timing laptop while a race
runs, on a 400-race event, for three ways of following it, measured in one run:

    doorbell  `poll --watch --listen` with its defaults (passes every 60 s, no fast tier), rung by the simulated
              FPVTrackside (ExtensionMode)
    tier      `poll --watch` with its defaults, without push: the running race re-read every 0.2 s (passes every 30 s)
    baseline  a plain poller: GET the running race every 200 ms (a fixed rate, like a ticker), upsert all its laps
              and detections

The race is played by :class:`fpvsync.trackside.simulator.RaceSimulator` (each lap's file write is the clock's
zero), which moves ``/current`` as FPVTrackside does: it names the race from the moment it is loaded. A lap's
arrival is when PocketBase's realtime API announces its record (a subscribed front end's view). The laptop's load
is the replay server's requests per second over the race, from the race's load to its end. ``idle_laptop_rps`` is
`poll --watch` with its defaults on the same event when no race is loaded; ``idle_cued_laptop_rps`` (reported, no
target) the same while a race is loaded and waits for its start, as between two races of a race day.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from fpvsync import engine, mapping
from fpvsync.engine.poll import PollPolicy, WatchReport, poll, watch
from fpvsync.errors import SinkUnreachable
from fpvsync.live.mirror import PASS_INTERVAL_WITH_DOORBELL, PASS_INTERVAL_WITH_FAST_TIER, LiveOptions
from fpvsync.live.runner import live_mirror
from fpvsync.pb.local import LocalPocketBase
from fpvsync.pb.realtime import RealtimeSubscription
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent
from fpvsync.trackside.models import Race, parse_list
from fpvsync.trackside.replay import AUTO, ReplayServer
from fpvsync.trackside.simulator import RaceSimulator, SimulatorOptions

Json = dict[str, Any]
#: Seconds after the race's end a lap may still arrive before it counts as missed.
GRACE = 5.0


class LapArrivals:
    """PocketBase's realtime stream of ``laps``: when each lap record was announced as created (monotonic)."""

    def __init__(self, url: str) -> None:
        try:
            self._subscription = RealtimeSubscription(url, ["laps"])
        except SinkUnreachable as error:
            raise SystemExit(str(error)) from error

    @property
    def arrived(self) -> dict[str, float]:
        """Lap GUID (``sourceId``) -> when its record was first announced."""
        return self._subscription.first_announced("laps", field="sourceId")

    def close(self) -> None:
        self._subscription.close()


def _lap_ids_by_detection(event: GeneratedEvent, race_id: str) -> dict[str, str]:
    race = json.loads(event.race_file(race_id).read_bytes())[0]
    return {str(lap["Detection"]): str(lap["ID"]) for lap in race.get("Laps") or []}


def play(
    event: GeneratedEvent, replay: ReplayServer, pb: LocalPocketBase, race_id: str, speed: float, notify: str | None
) -> Json:
    """Play ``race_id`` once; the latency of each lap and the laptop's requests per second meanwhile."""
    laps = _lap_ids_by_detection(event, race_id)
    written: dict[str, float] = {}

    def on_detection(race: str, detection: str) -> None:
        if detection in laps:
            written[laps[detection]] = time.monotonic()

    def on_cue(race: str | None) -> None:
        replay.current_race = race

    options = SimulatorOptions(
        speed=speed, notify=notify, notify_format="extension", on_detection=on_detection, on_cue=on_cue
    )
    simulator = RaceSimulator(event.root, event.event_id, options)
    recorded = event.race_file(race_id).read_bytes()  # played times are compressed by `speed`: restored after
    arrivals = LapArrivals(pb.url)
    requests_before, started = replay.requests_served, time.monotonic()
    by_document = replay.requests_by_document.copy()
    try:
        simulator.play_race(race_id, threading.Event())
        elapsed = time.monotonic() - started
        requests = replay.requests_served - requests_before
        asked = replay.requests_by_document - by_document
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and not set(written) <= set(arrivals.arrived):
            time.sleep(0.05)
    finally:
        simulator.close()
        arrivals.close()
        event.race_file(race_id).write_bytes(recorded)
        replay.current_race = AUTO
    in_order = [(arrivals.arrived[lap] - at) * 1000 for lap, at in written.items() if lap in arrivals.arrived]
    latencies = sorted(in_order)
    return {
        "laps": len(written),
        "missed": len(set(written) - set(arrivals.arrived)),
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(_p95(latencies), 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "laptop_rps": round(requests / elapsed, 2),
        "laptop_requests": dict(asked.most_common()),
        "seconds": round(elapsed, 1),
        "latencies_ms": [round(ms) for ms in in_order],
    }


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]


class Passes:
    """`poll --watch` passes every ``interval`` seconds in a thread (as the command runs them); counts those done.
    Entered once the first pass is over: a live mirror is started before the race, not as it begins."""

    def __init__(self, ctx: engine.SyncContext, event_id: str, interval: float) -> None:
        self.done = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        report = WatchReport(self._count, lambda _: self._count(None), lambda _: None)
        policy = PollPolicy(interval=interval)
        self._thread = threading.Thread(target=watch, args=(ctx, event_id, policy, report, self._stop))

    def _count(self, _: object) -> None:
        with self._changed:
            self.done += 1
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` passes are done (False after ``timeout`` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.done >= count, timeout)

    def __enter__(self) -> Passes:
        self._thread.start()
        self.wait_for(1, 120)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Baseline:
    """A plain live poller: every ``interval`` s (a fixed rate), GET the running race and upsert all its laps and
    detections."""

    def __init__(self, replay: ReplayServer, sink: PocketBaseSink, event_id: str, race_id: str, interval: float):
        self.url = f"{replay.url}/events/{event_id}/{race_id}/Race.json"
        self.sink, self.event_id, self.interval = sink, event_id, interval
        self.known = mapping.Known(
            pilots=frozenset(sink.existing_hashes("pilots")), channels=frozenset(sink.existing_hashes("channels"))
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        tick = time.monotonic()
        with httpx.Client(timeout=5) as client:
            while True:
                tick += self.interval
                if self.stop.wait(max(0.0, tick - time.monotonic())):
                    return
                tick = max(tick, time.monotonic() - self.interval)  # a slow upsert skips ticks, never bursts
                with contextlib.suppress(ValueError, httpx.HTTPError):
                    self._mirror(client)

    def _mirror(self, client: httpx.Client) -> None:
        races = parse_list(Race, client.get(self.url).json()).items
        if not races:
            return
        children = mapping.race_children(races[0], self.event_id, None, self.known)
        requests = [
            {"method": "PUT", "url": f"/api/collections/{r.collection}/records", "body": r.body | {"id": r.id}}
            for name in ("detections", "laps")
            for r in children[name]
        ]
        if requests:
            self.sink.send("/api/batch", {"method": "POST", "body": {"requests": requests}})

    def __enter__(self) -> Baseline:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def idle_rps(ctx: engine.SyncContext, replay: ReplayServer, event_id: str, seconds: float, cued: str | None) -> Json:
    """`poll --watch` with its defaults (the fast tier, whole passes every 30 s) while no race runs: none loaded
    (``cued`` None), or ``cued`` loaded and not started. The steady state: counted from the end of the first pass
    (the mirror having read ahead) to the end of the third, or for ``seconds`` if that comes first."""
    replay.current_race = cued
    with (
        Passes(ctx, event_id, PASS_INTERVAL_WITH_FAST_TIER) as passes,
        live_mirror(ctx, event_id, PollPolicy(), listen=None, options=LiveOptions()) as live,
    ):
        while live.mirror is not None and not live.mirror.idle():
            time.sleep(0.05)
        before, started = replay.requests_served, time.monotonic()
        by_document = replay.requests_by_document.copy()
        passes.wait_for(passes.done + 2, seconds)
        elapsed = time.monotonic() - started
        rps = (replay.requests_served - before) / elapsed
        asked = replay.requests_by_document - by_document
    before = replay.requests_served
    poll(ctx, event_id, PollPolicy(interval=2.0))
    per_pass = replay.requests_served - before
    replay.current_race = AUTO
    return {
        "laptop_rps": round(rps, 2),
        "seconds": round(elapsed, 1),
        "requests_per_pass": per_pass,
        "laptop_requests": dict(asked.most_common()),
    }


def _unstarted_race(event: GeneratedEvent) -> str:
    """A race that has not started (to load it, as the operator does before calling the pilots)."""
    for folder in sorted(p for p in event.root.joinpath("events", event.event_id).iterdir() if p.is_dir()):
        races = parse_list(Race, json.loads(folder.joinpath("Race.json").read_bytes() or b"[]")).items
        if races and races[0].start is None and races[0].valid:
            return folder.name
    raise SystemExit("the generated event has no race left to run")


def live_bench(
    event: GeneratedEvent,
    replay: ReplayServer,
    pb: LocalPocketBase,
    sink_for: Callable[[LocalPocketBase], PocketBaseSink],
    log: Callable[[str], None],
    *,
    speed: float = 2.0,
    idle_seconds: float = 90.0,
) -> Json:
    """All live figures on ``event`` (already synced into ``pb`` with ``full``)."""
    simulator = RaceSimulator(event.root, event.event_id)
    race_id = max(simulator.recorded_races(), key=lambda r: len(_lap_ids_by_detection(event, r)))
    simulator.close()
    results: Json = {"race": race_id, "speed": speed}
    with TracksideClient(replay.url) as client, sink_for(pb) as sink:
        ctx = engine.SyncContext(client, sink)
        log("live: idle laptop load")
        results["idle"] = idle_rps(ctx, replay, event.event_id, idle_seconds, None)
        log("live: idle laptop load, a race loaded")
        results["idle_cued"] = idle_rps(ctx, replay, event.event_id, idle_seconds, _unstarted_race(event))

        log("live: doorbell")
        options = LiveOptions(fast_interval=0.0)
        with (
            Passes(ctx, event.event_id, PASS_INTERVAL_WITH_DOORBELL),
            live_mirror(ctx, event.event_id, PollPolicy(), listen=("127.0.0.1", 0), options=options) as live,
        ):
            assert live.receiver is not None
            results["doorbell"] = play(event, replay, pb, race_id, speed, live.receiver.url)

        log("live: fast tier")
        options = LiveOptions()
        with (
            Passes(ctx, event.event_id, PASS_INTERVAL_WITH_FAST_TIER),
            live_mirror(ctx, event.event_id, PollPolicy(), listen=None, options=options),
        ):
            results["tier"] = play(event, replay, pb, race_id, speed, None)
        results["tier"]["interval_ms"] = round(options.fast_interval * 1000)

        log("live: baseline poller")
        with Baseline(replay, sink, event.event_id, race_id, 0.2):
            results["baseline"] = play(event, replay, pb, race_id, speed, None)
    return results


def live_ratios(live: Json) -> Json:
    """The live keys of ``bench.py --json``'s ``ratios``."""
    return {
        "live_doorbell_p95_ms": live["doorbell"]["p95_ms"],
        "live_doorbell_missed": live["doorbell"]["missed"],
        "live_tier_p95_ms": live["tier"]["p95_ms"],
        "live_tier_interval_ms": live["tier"]["interval_ms"],
        "live_baseline_p95_ms": live["baseline"]["p95_ms"],
        "live_doorbell_laptop_rps": live["doorbell"]["laptop_rps"],
        "live_baseline_laptop_rps": live["baseline"]["laptop_rps"],
        "idle_laptop_rps": live["idle"]["laptop_rps"],
        "idle_cued_laptop_rps": live["idle_cued"]["laptop_rps"],
    }


def main() -> None:
    """Only the live section (``bench.py`` runs it with everything else): ``python scripts/bench_live.py``."""
    import sys
    import tempfile

    import bench  # type: ignore[import-not-found]

    from fpvsync.trackside.generator import EventSpec, generate_event

    def log(message: str) -> None:
        print(f"[bench-live] {message}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="fpvsync-bench-live-") as tmp:
        work = Path(tmp)
        event = generate_event(work / "trackside", EventSpec(seed=42, pilots=64, rounds=25))
        with ReplayServer(work / "trackside", current_event=event.event_id) as replay, bench.pocketbase(work) as pb:
            log(f"full of {event.counts['races']} races")
            bench.sync_in_process(engine.full, pb, replay, event.event_id)
            bench.settle(pb, event.event_id)
            live = live_bench(event, replay, pb, bench.sink_for, log)
    print(json.dumps({"live": live, "ratios": live_ratios(live)}, indent=2))


if __name__ == "__main__":
    main()
