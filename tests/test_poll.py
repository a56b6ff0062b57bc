"""The live mirror against a real PocketBase and the replay server: what a pass reads, what it writes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from fpvsync import engine
from fpvsync.engine.poll import NEXT_RACES_EVERY_PASS, PollPolicy, PollRun, WatchReport, poll, watch
from fpvsync.ids import record_id
from fpvsync.summary import SyncSummary
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import Mirror, event_records, expected_counts, read


def changed(summary: SyncSummary) -> dict[tuple[str, str], int]:
    return {
        (name, what): n
        for name, counts in summary.to_dict()["collections"].items()
        for what, n in counts.items()
        if what in ("created", "updated", "deleted", "failed") and n
    }


def snapshot_of(pb: RunningPocketBase, event: GeneratedEvent) -> dict[str, list[tuple[str, str]]]:
    eid = record_id(event.event_id)
    return {
        name: sorted((r["id"], r["updated"]) for r in event_records(pb, name, eid))
        for name in [*expected_counts(event), "syncScopes", "syncRuns"]
        if name not in ("syncScopes", "syncRuns")
    } | {name: sorted((r["id"], r["updated"]) for r in pb.records(name)) for name in ("syncScopes", "syncRuns")}


def test_first_pass_mirrors_everything_and_an_idle_pass_writes_nothing(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    first = poll(mirror.ctx, event.event_id)
    assert first.exit_code == 0, first.errors
    eid = record_id(event.event_id)
    assert {n: len(event_records(pb, n, eid)) for n in expected_counts(event)} == expected_counts(event)

    before = snapshot_of(pb, event)
    writes_before = mirror.sink.writes_sent
    idle = poll(mirror.ctx, event.event_id)
    assert idle.exit_code == 0
    assert idle.written == 0
    assert mirror.sink.writes_sent == writes_before
    assert snapshot_of(pb, event) == before  # not even a run record or a hash: nothing was written


def test_a_new_lap_in_the_running_race_writes_only_that_race(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    race_id = event.running_race_id
    assert race_id is not None
    race_file = event.race_file(race_id)
    race = read(race_file)
    last = race[0]["Detections"][-1]
    detection = {**last, "ID": "0badc0de-0000-4000-8000-000000000001", "LapNumber": last["LapNumber"] + 1}
    detection["IsLapEnd"], detection["TimingSystemIndex"], detection["Valid"] = True, 0, True
    lap = {**race[0]["Laps"][-1], "ID": "0badc0de-0000-4000-8000-000000000002", "Detection": detection["ID"]}
    lap["LapNumber"] = detection["LapNumber"]
    race[0]["Detections"].append(detection)
    race[0]["Laps"].append(lap)
    write_json(race_file, race)

    summary = poll(mirror.ctx, event.event_id)
    assert summary.exit_code == 0, summary.errors
    assert changed(summary) == {("detections", "created"): 1, ("laps", "created"): 1}
    stored = pb.records("laps", f'sourceId = "{lap["ID"]}"')
    assert stored[0]["detection"] == record_id(detection["ID"])
    assert stored[0]["race"] == record_id(race_id)


def test_new_race_appears_and_deleted_race_disappears(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    # A new race: a new folder, listed by Event.json (FPVTrackside lists race folders).
    template_id = next(r for r in event.race_ids if event.result_file(r).exists())
    new_id = "0badc0de-0000-4000-8000-0000000000aa"
    race = read(event.race_file(template_id))
    race[0].update(ID=new_id, Detections=[], Laps=[], GamePoints=[], RaceNumber=99)
    (event.event_dir() / new_id).mkdir()
    write_json(event.race_file(new_id), race)
    event_file = event.event_dir() / "Event.json"
    event_obj = read(event_file)
    event_obj[0]["Races"].append(new_id)
    write_json(event_file, event_obj)
    # A deleted race.
    gone_id = template_id
    write_json(event.race_file(gone_id), [])

    # The new race is read at once; the deleted one (a settled race) within one rotation of passes.
    policy = PollPolicy()
    listed = len(event_obj[0]["Races"])
    created = deleted = 0
    clock = time.time()
    for n in range(-(-listed // policy.settled_per_pass) + 1):
        clock += policy.interval
        run = PollRun(mirror.ctx, event.event_id, policy, now=clock)
        summary = run.run(run.body)
        assert summary.exit_code == 0, summary.errors
        counts = summary.to_dict()["collections"].get("races", {})
        if n == 0:
            assert counts["created"] == 1
        created += counts.get("created", 0)
        deleted += counts.get("deleted", 0)
    assert (created, deleted) == (1, 1)
    assert len(pb.records("races", f'id = "{record_id(new_id)}"')) == 1
    assert pb.records("races", f'id = "{record_id(gone_id)}"') == []
    assert pb.records("laps", f'race = "{record_id(gone_id)}"') == []


def test_settled_races_are_reread_in_rotation(pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    policy = PollPolicy(recent_seconds=0, settled_per_pass=3, interval=60)
    listed = read(event.event_dir() / "Event.json")[0]["Races"]
    seen: set[str] = set()
    per_pass: list[int] = []
    start = time.time() + 3600  # every race changed "long ago"
    for n in range(len(listed)):
        run = PollRun(mirror.ctx, event.event_id, policy, now=start + n * 60)
        run.event_id = event.event_id
        run.run(lambda run=run: _collect_due(run, seen, per_pass))
    settled = set(listed) - {event.running_race_id, event.missing_race_id}
    assert settled <= seen
    # Every pass re-reads the running race, the next races to run, the never-synced (missing) race and three
    # settled ones.
    assert max(per_pass) <= 3 + 2 + NEXT_RACES_EVERY_PASS


def _collect_due(run: PollRun, seen: set[str], per_pass: list[int]) -> None:
    assert run.apply_base(run.load_base())
    due = run.due_races()
    per_pass.append(len(due))
    seen.update(due)


def test_poll_follows_the_event_the_race_director_opens(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    other = generate_event(event.root, EventSpec(seed=6, pilots=8, rounds=2))
    summaries: list[SyncSummary] = []
    stop = threading.Event()

    def on_pass(summary: SyncSummary) -> None:
        summaries.append(summary)
        if len(summaries) == 1:
            replay.current_event = other.event_id
        elif summary.event == other.event_id:
            stop.set()

    report = WatchReport(on_pass, lambda _: None, lambda _: None)
    watch(mirror.ctx, None, PollPolicy(interval=0.05), report, stop, duration=60)
    assert summaries[0].event == event.event_id
    assert summaries[-1].event == other.event_id
    for generated in (event, other):
        eid = record_id(generated.event_id)
        assert len(event_records(pb, "races", eid)) == expected_counts(generated)["races"]


def _poll_process(pb: RunningPocketBase, replay: ReplayServer, *args: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "FPVSYNC_PB_URL": pb.url,
        "FPVSYNC_PB_EMAIL": pb.email,
        "FPVSYNC_PB_PASSWORD": pb.password,
        "FPVSYNC_TRACKSIDE_URL": replay.url,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "fpvsync", "poll", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_overlapping_polls_neither_duplicate_nor_lose_records(pb: RunningPocketBase, tmp_path: Path) -> None:
    big = generate_event(tmp_path / "big", EventSpec(seed=8, pilots=32, rounds=8))
    with ReplayServer(big.root, current_event=big.event_id) as server:
        first = _poll_process(pb, server, big.event_id, "--json", "--lock-wait", "0")
        second = _poll_process(pb, server, big.event_id, "--json", "--lock-wait", "0")
        outputs: list[dict[str, Any]] = []
        for process in (first, second):
            out, err = process.communicate(timeout=120)
            assert process.returncode == 0, err
            outputs.append(json.loads(out))
    skipped = [o for o in outputs if o.get("skipped")]
    writers = [o for o in outputs if not o.get("skipped")]
    # Either one pass found the other writing and skipped, or they ran one after the other and the later one
    # found nothing left to create.
    assert skipped or any(sum(c["created"] for c in o["collections"].values()) == 0 for o in writers), outputs
    if skipped:
        assert "another poll" in skipped[0]["skipped"]
    eid = record_id(big.event_id)
    expected = expected_counts(big)
    for name, count in expected.items():
        records = event_records(pb, name, eid)
        assert len(records) == count, name
        assert len({r["sourceId"] for r in records}) == count, name


def test_watch_stops_cleanly_on_sigterm(pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer) -> None:
    process = _poll_process(pb, replay, event.event_id, "--watch", "--interval", "0.2")
    try:
        deadline = time.monotonic() + 60
        while not pb.records("races") and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert len(pb.records("races")) == expected_counts(event)["races"]
    assert pb.records("syncLocks") == []  # the lock was released


def test_poll_cli_exits_3_while_trackside_is_down(pb: RunningPocketBase, tmp_path: Path) -> None:
    from fpvsync.pb.local import free_port
    from tests.sync_helpers import run_cli

    result = run_cli(["poll", "--json", "--trackside", f"http://127.0.0.1:{free_port()}"], pb, None)
    assert result.exit_code == 3
    assert json.loads(result.stdout)["ok"] is False


def test_status_tells_in_sync_then_behind(pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer) -> None:
    from tests.sync_helpers import run_cli

    assert run_cli(["full", event.event_id, "--json"], pb, replay.url).exit_code == 0
    fresh = run_cli(["status", "--json"], pb, replay.url)
    assert fresh.exit_code == 0
    document = fresh.json
    assert document["event"] == event.event_id
    assert document["pending"] == []
    assert document["counts"]["races"] == expected_counts(event)["races"]
    assert document["runs"][0]["command"] == "full"

    pilots_file = event.event_dir() / "Pilots.json"
    pilots = read(pilots_file)
    pilots[0]["Name"] = "Renamed"
    write_json(pilots_file, pilots)
    behind = run_cli(["status", "--json"], pb, replay.url).json
    assert behind["pending"] == [f"events/{event.event_id}/Pilots.json"]
    human = run_cli(["status"], pb, replay.url)
    assert "behind" in human.stdout and "Pilots.json" in human.stdout

    down = run_cli(["status", "--json", "--trackside", "http://127.0.0.1:9"], pb, None)
    assert down.exit_code == 3
    assert down.json["trackside"]["ok"] is False


def test_a_targeted_pass_reads_the_running_race_only_and_remembers_it(
    pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror
) -> None:
    from fpvsync.engine import PollFocus, PollMemory

    memory = PollMemory()
    assert poll(mirror.ctx, event.event_id, memory=memory).exit_code == 0  # a whole pass fills the memory
    running = event.running_race_id
    assert running is not None and memory.running == running

    trackside, pocketbase = mirror.client.requests_sent, mirror.sink.requests_sent
    idle = poll(mirror.ctx, event.event_id, focus=PollFocus(), memory=memory)
    assert idle.exit_code == 0 and idle.written == 0
    assert mirror.client.requests_sent - trackside == 1  # Race.json of the running race, nothing else
    assert mirror.sink.requests_sent == pocketbase

    race_file = event.race_file(running)
    race = read(race_file)
    race[0]["Detections"][0]["Peak"] = 4242
    write_json(race_file, race)
    changed_pass = poll(mirror.ctx, event.event_id, focus=PollFocus(frozenset({running})), memory=memory)
    assert changed(changed_pass) == {("detections", "updated"): 1}
    detection = pb.records("detections", f'sourceId = "{race[0]["Detections"][0]["ID"]}"')[0]
    assert detection["peak"] == 4242


def test_a_race_that_starts_is_read_by_the_next_pass_even_without_current(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    """Builds before ``/current`` tell the running race only through its file: the next races to run (race order,
    not started) are read every pass, so a race start is mirrored at once, not when the rotation reaches it."""
    replay.current_race = "absent"  # an older build: /current answers the HTML page
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0  # its races are settled, not recent
    eid = record_id(event.event_id)
    unstarted = {str(r["id"]): r for r in event_records(pb, "races", eid) if not r["start"] and r["valid"]}
    order = {str(r["id"]): r for r in pb.records("raceOrder", f'event = "{eid}"')}
    first = min(unstarted, key=lambda rid: order[rid]["position"])
    race_id = str(unstarted[first]["sourceId"])
    race = read(event.race_file(race_id))
    race[0]["Start"] = "2025/05/03 12:00:00"
    write_json(event.race_file(race_id), race)

    summary = poll(mirror.ctx, event.event_id, PollPolicy(settled_per_pass=0))  # not by the rotation's luck
    assert summary.exit_code == 0, summary.errors
    assert pb.records("races", f'id = "{first}"')[0]["start"] == "2025-05-03 10:00:00.000Z"  # Europe/Berlin
