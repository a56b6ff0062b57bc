"""Fault injection against real servers on loopback: FPVTrackside (the replay server) and PocketBase stopped,
killed, slow, serving half-written files, and the superuser token expiring, during one-shot syncs and the
``poll --watch`` loop. After each fault the next run (or the running loop itself) converges to exactly the
source's state (:func:`~tests.reliability.invariants.assert_converged`), and the run that failed lost nothing
(:func:`~tests.reliability.invariants.assert_nothing_lost`)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from fpvsync import engine
from fpvsync.engine.poll import PollPolicy, WatchReport, watch
from fpvsync.summary import SyncSummary
from fpvsync.trackside.generator import GeneratedEvent, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.reliability.conftest import BATCH_SIZE
from tests.reliability.invariants import (
    AfterRaces,
    assert_converged,
    assert_nothing_lost,
    cli,
    read,
    stored_ids,
)
from tests.sync_helpers import Mirror


def change_source(event: GeneratedEvent) -> None:
    """Edits a race director makes, spread over the event: a race deleted, a lap removed, a result and a pilot
    changed, a pass invalidated in a late race."""
    finished = event.finished_race_ids
    write_json(event.race_file(finished[2]), [])
    race = read(event.race_file(finished[0]))
    race[0]["Laps"].pop()
    write_json(event.race_file(finished[0]), race)
    results = read(event.result_file(finished[1]))
    results[0]["Points"] += 3
    write_json(event.result_file(finished[1]), results)
    pilots_file = event.event_dir() / "Pilots.json"
    pilots = read(pilots_file)
    pilots[0]["Name"] = "Renamed during the fault"
    write_json(pilots_file, pilots)
    late = read(event.race_file(finished[-1]))
    late[0]["Detections"][0]["Valid"] = not late[0]["Detections"][0]["Valid"]
    write_json(event.race_file(finished[-1]), late)


def synced(pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror) -> dict[str, set[str]]:
    """Mirror the event, check it, change the source, and return what PocketBase held before the change."""
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    assert_converged(pb, event)
    before = stored_ids(pb)
    change_source(event)
    return before


def converge_with_cli(pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer) -> None:
    result = cli(["full", event.event_id, "--json"], pb, replay.url)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_converged(pb, event)


# -- FPVTrackside stopped and restarted ----------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["after 4 races are written", "at the 6th Race.json request"])
def test_trackside_stopped_mid_full_then_restarted_on_the_same_port(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, when: str
) -> None:
    before = synced(pb, event, mirror)
    port = replay.port
    stopper: list[threading.Thread] = []
    progress = None
    if when.startswith("after"):
        progress = AfterRaces(4, replay.stop)
    else:
        requests: list[str] = []

        def on_request(path: str) -> None:
            if path.endswith("/Race.json"):
                requests.append(path)
                if len(requests) == 6:  # a handler cannot stop its own server: another thread does
                    stopper.append(threading.Thread(target=replay.stop))
                    stopper[0].start()

        replay.on_request = on_request

    summary = engine.full(mirror.reporting(progress), event.event_id)
    for thread in stopper:
        thread.join(10)
    replay.on_request = None
    assert summary.exit_code == 3, summary.errors
    assert summary.unreachable and "FPVTrackside" in summary.unreachable
    assert_nothing_lost(before, pb, event)

    replay.start()
    assert replay.port == port
    converge_with_cli(pb, event, replay)


# -- PocketBase killed ---------------------------------------------------------------------------------------------


def test_pocketbase_killed_mid_batch_then_restarted(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    mirror.sink.batch_size = 500  # a batch that takes PocketBase a while to commit
    forward = mirror.sink.client.before_send
    assert forward is not None
    killers: list[threading.Timer] = []

    def before_send(path: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if path == "/api/batch" and not killers:  # SIGKILL while the first batch is in flight
            killers.append(threading.Timer(0.03, pb.server.stop, kwargs={"kill": True}))
            killers[0].start()
        return forward(path, config)

    mirror.sink.client.before_send = before_send
    summary = engine.full(mirror.ctx, event.event_id)
    killers[0].join(10)
    assert summary.exit_code == 3, summary.errors
    assert summary.unreachable and "PocketBase" in summary.unreachable

    pb.server.start()
    # Each batch is one transaction: the one in flight was rolled back whole (here: usually the first, so nothing
    # at all), what PocketBase kept is a subset of the source, and nothing is orphaned.
    kept = stored_ids(pb)
    assert sum(len(ids) for ids in kept.values()) % 500 == 0, {name: len(ids) for name, ids in kept.items()}
    empty: dict[str, set[str]] = {name: set() for name in kept}
    assert_nothing_lost(empty, pb, event)
    converge_with_cli(pb, event, replay)


# -- half-written files --------------------------------------------------------------------------------------------


def test_half_written_race_file_is_read_again_within_the_run(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    """FPVTrackside rewrites files in place: the first read gets half the file, the retry the complete one."""
    synced(pb, event, mirror)
    race_file = event.race_file(event.finished_race_ids[0])
    complete = race_file.read_bytes()
    served: list[str] = []

    def on_request(path: str) -> None:
        if path.endswith(f"{event.finished_race_ids[0]}/Race.json"):
            served.append(path)
            race_file.write_bytes(complete[: len(complete) // 2] if len(served) == 1 else complete)

    replay.on_request = on_request
    summary = engine.full(mirror.ctx, event.event_id)
    replay.on_request = None
    assert len(served) == 2
    assert summary.exit_code == 0, summary.errors
    assert_converged(pb, event)


@pytest.mark.parametrize("document", ["Event.json", "Race.json", "Result.json"])
def test_half_written_file_for_a_whole_run_changes_nothing_then_converges(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, document: str
) -> None:
    before = synced(pb, event, mirror)
    race_id = event.finished_race_ids[2]  # change_source deleted it ([]): a half-written file must not
    paths = {
        "Event.json": event.event_dir() / "Event.json",
        "Race.json": event.race_file(race_id),
        "Result.json": event.result_file(event.finished_race_ids[1]),
    }
    target = paths[document]
    complete = target.read_bytes()
    target.write_bytes(complete[: max(1, len(complete) // 3)])
    summary = engine.full(mirror.ctx, event.event_id)
    target.write_bytes(complete)
    assert summary.exit_code == 1
    assert any("unavailable" in error.message for error in summary.errors), summary.errors
    assert_nothing_lost(before, pb, event)
    if document == "Race.json":
        assert race_id in stored_ids(pb)["races"]  # not deleted from a file that did not parse
    converge_with_cli(pb, event, replay)


# -- slow FPVTrackside ---------------------------------------------------------------------------------------------


def test_answers_slower_than_the_timeout_stop_the_run_cleanly(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    before = synced(pb, event, mirror)
    replay.latency = 0.5
    slow = Mirror(pb, replay.url, batch_size=BATCH_SIZE, timeout=0.2, attempts=2)
    try:
        started = time.monotonic()
        summary = engine.full(slow.ctx, event.event_id)
        elapsed = time.monotonic() - started
    finally:
        slow.close()
    assert summary.exit_code == 3
    assert summary.unreachable and "timed out" in summary.unreachable
    assert elapsed < 5, elapsed
    assert_nothing_lost(before, pb, event)

    # The CLI the same way, with its settings from the environment.
    result = cli(
        ["full", event.event_id, "--json"],
        pb,
        replay.url,
        FPVSYNC_TRACKSIDE_TIMEOUT="0.2",
        FPVSYNC_TRACKSIDE_ATTEMPTS="2",
    )
    assert result.exit_code == 3
    assert result.json["ok"] is False
    assert_nothing_lost(before, pb, event)

    replay.latency = 0.0
    converge_with_cli(pb, event, replay)


# -- the superuser token expiring ----------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["garbage", "expired"])
def test_token_replaced_mid_run_is_renewed_and_the_run_continues(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, token: str
) -> None:
    bad = "garbage-not-a-token" if token == "garbage" else pb.expired_token()
    synced(pb, event, mirror)
    progress = AfterRaces(3, lambda: mirror.sink.client.auth_store.save(bad, None))
    summary = engine.full(mirror.reporting(progress), event.event_id)
    assert progress.fired
    assert summary.exit_code == 0, summary.errors
    assert mirror.sink.client.auth_store.token != bad
    assert_converged(pb, event)


def test_token_expired_before_a_run_does_not_make_unchanged_records_look_changed(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    """With an expired token PocketBase answers reads as to a guest, hiding ``syncHash``: a run must not take
    every record for changed (and rewrite them all)."""
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    mirror.sink.client.auth_store.save(pb.expired_token(), None)
    again = engine.full(mirror.ctx, event.event_id)
    assert again.exit_code == 0, again.errors
    assert again.written == 0, again.to_dict()["collections"]
    assert_converged(pb, event)


# -- the live mirror: poll --watch rides out outages without a restart ---------------------------------------------


class Watching:
    """``watch`` on a thread (as ``fpvsync poll --watch`` runs it), with what it reported."""

    def __init__(self, mirror: Mirror, event_id: str) -> None:
        self.passes: list[SyncSummary] = []
        self.outages: list[str] = []
        self.recoveries: list[str] = []
        self.failure: BaseException | None = None
        self.stop = threading.Event()
        report = WatchReport(self.passes.append, self.outages.append, self.recoveries.append)
        policy = PollPolicy(interval=0.05, lock_wait=0.2)

        def run() -> None:
            try:
                watch(mirror.ctx, event_id, policy, report, self.stop, duration=120, max_backoff=0.2)
            except BaseException as exc:  # reported by close()
                self.failure = exc

        self.thread = threading.Thread(target=run, name="watch")
        self.thread.start()

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, f"waited {timeout}s for {what}; last pass: {self.last()}"
            time.sleep(0.05)

    def last(self) -> str:
        return str(self.passes[-1].to_dict()) if self.passes else "none"

    def close(self) -> None:
        self.stop.set()
        self.thread.join(30)
        assert not self.thread.is_alive()
        assert self.failure is None, self.failure


def converged(pb: RunningPocketBase, event: GeneratedEvent) -> bool:
    try:
        assert_converged(pb, event)
    except AssertionError:
        return False
    return True


def watch_through(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror, outage: Callable[[], None], back: Callable[[], None]
) -> Watching:
    """Run the loop until it mirrors the event, cause ``outage`` and change the source while it lasts, end it with
    ``back``, and wait for the same loop to mirror the changed source."""
    watching = Watching(mirror, event.event_id)
    try:
        watching.wait_for(lambda: bool(watching.passes) and converged(pb, event), "the first mirror")
        outage()
        watching.wait_for(lambda: bool(watching.outages), "the outage to be noticed")
        change_source(event)
        time.sleep(0.3)  # a few failed passes with backoff
        back()
        watching.wait_for(lambda: bool(watching.recoveries), "the recovery")
        watching.wait_for(lambda: converged(pb, event), "the changes to be mirrored")
    finally:
        watching.close()
    assert len(watching.outages) == 1 and len(watching.recoveries) == 1
    return watching


def test_watch_recovers_when_trackside_comes_back_without_a_restart(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    watching = watch_through(pb, event, mirror, replay.stop, replay.start)
    assert "FPVTrackside" in watching.outages[0]


def test_watch_recovers_when_pocketbase_comes_back_without_a_restart(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    watching = watch_through(pb, event, mirror, lambda: pb.server.stop(kill=True), pb.server.start)
    assert "PocketBase" in watching.outages[0]


def test_watch_recovers_when_pocketbase_dies_while_a_pass_holds_the_lock(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    """PocketBase killed in the middle of a pass's writes: the pass could not release its poll lock. The same loop
    must not then skip its own event for the lock's whole lease."""
    forward = mirror.sink.client.before_send
    assert forward is not None
    armed = threading.Event()

    def before_send(path: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if path == "/api/batch" and armed.is_set():
            armed.clear()
            pb.server.stop(kill=True)
        return forward(path, config)

    mirror.sink.client.before_send = before_send

    def outage() -> None:
        change_source(event)  # the next pass writes, holding the lock, and PocketBase dies under it
        armed.set()

    watching = watch_through(pb, event, mirror, outage, pb.server.start)
    assert not [p.skipped for p in watching.passes if p.skipped]
