"""The doorbell end to end: real HTTP notifications in both formats into a live mirror, against a real PocketBase
and the replay server, with laps appended to the running race the way FPVTrackside writes them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from fpvsync import engine
from fpvsync.engine.poll import PollPolicy, poll
from fpvsync.event_state import RaceHint
from fpvsync.ids import record_id
from fpvsync.live.mirror import LiveOptions
from fpvsync.live.races import current_race
from fpvsync.live.runner import Live, live_mirror
from fpvsync.live.targeted import EngineSync
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read, results_for

NO_FAST_TIER = LiveOptions(fast_interval=0.0)


@pytest.fixture
def ctx(pb: RunningPocketBase, replay: ReplayServer, event: GeneratedEvent) -> Iterator[engine.SyncContext]:
    client = TracksideClient(replay.url, backoff=0.01)
    sink = PocketBaseSink(pb.url, email=pb.email, password=pb.password)
    sink.authenticate()
    context = engine.SyncContext(client, sink)
    assert engine.full(context, event.event_id).exit_code == 0
    yield context
    client.close()
    sink.close()


@pytest.fixture
def live(ctx: engine.SyncContext, event: GeneratedEvent) -> Iterator[Live]:
    with live_mirror(ctx, event.event_id, PollPolicy(), listen=("127.0.0.1", 0), options=NO_FAST_TIER) as running:
        yield running


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` (a generous bound: this checks that it happens, not how fast)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)


def ring(live: Live, payload: object | bytes, method: str = "PUT", path: str = "/") -> httpx.Response:
    assert live.receiver is not None
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    url = live.receiver.url.rstrip("/") + path
    return httpx.request(method, url, content=content, headers={"Content-Type": "application/json"}, timeout=5)


def add_lap(event: GeneratedEvent, race_id: str, n: int) -> str:
    """Append one lap (and its detection) to a race's file; return the lap's id."""
    race_file = event.race_file(race_id)
    race = read(race_file)
    last = race[0]["Detections"][-1]
    detection = {**last, "ID": f"0badc0de-0000-4000-8000-{n:012d}", "LapNumber": last["LapNumber"] + 1}
    detection.update(IsLapEnd=True, TimingSystemIndex=0, Valid=True)
    lap = {**race[0]["Laps"][-1], "ID": f"1adc0de0-0000-4000-8000-{n:012d}", "Detection": detection["ID"]}
    lap["LapNumber"] = detection["LapNumber"]
    race[0]["Detections"].append(detection)
    race[0]["Laps"].append(lap)
    write_json(race_file, race)
    return str(lap["ID"])


def lap_stored(pb: RunningPocketBase, lap_id: str) -> Callable[[], bool]:
    return lambda: bool(pb.records("laps", f'sourceId = "{lap_id}"'))


def race_numbers(event: GeneratedEvent, race_id: str) -> dict[str, Any]:
    """How ExtensionMode names the race: round number, race number, race type (rounds are numbered per type)."""
    race = read(event.race_file(race_id))[0]
    rounds = {r["ID"]: r for r in read(event.event_dir() / "Rounds.json")}
    round_ = rounds[race["Round"]]
    return {"round": round_["RoundNumber"], "race": race["RaceNumber"], "raceType": round_["EventType"]}


LEGACY_DETECTION: dict[str, Any] = {
    "DateTime": "2026/05/03 13:00:12",
    "TimingSystemIndex": 0,
    "LapNumber": 4,
    "ChannelBand": "Raceband",
    "ChannelNumber": 1,
    "Frequency": 5658,
    "Time": 38.42,
    "IsLapEnd": True,
    "IsRaceEnd": False,
    "PilotName": "John Doe",
    "Position": 1,
}


def test_a_legacy_detection_brings_the_running_races_new_lap(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    assert event.running_race_id is not None
    lap_id = add_lap(event, event.running_race_id, 1)
    answer = ring(live, LEGACY_DETECTION)
    assert (answer.status_code, answer.content) == (200, b"")
    wait_until(lap_stored(pb, lap_id), "the lap reached PocketBase")
    stored = pb.records("laps", f'sourceId = "{lap_id}"')[0]
    assert stored["race"] == record_id(event.running_race_id)
    eid = record_id(event.event_id)

    def bumped() -> bool:
        states = pb.records("eventState", f'id = "{eid}"')
        return bool(states) and "laps" in (states[0]["changedCollections"] or [])

    wait_until(bumped, "eventState names the laps written")  # front ends re-read on changeSeq


def test_an_extension_detection_names_its_race_by_round_and_number(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    race_id = event.finished_race_ids[0]  # not the running race: found by its numbers, not by /current
    lap_id = add_lap(event, race_id, 2)
    answer = ring(
        live,
        {"type": "DetectionExt", "ts": "2026-05-03T12:00:00.000Z", "seq": 9, **race_numbers(event, race_id)},
        method="POST",
        path="/any/path",
    )
    assert (answer.status_code, answer.content) == (200, b"")
    wait_until(lap_stored(pb, lap_id), "the lap reached PocketBase")
    assert pb.records("laps", f'sourceId = "{lap_id}"')[0]["race"] == record_id(race_id)


def test_a_notification_that_arrives_before_the_file_changes_still_brings_the_lap(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    assert event.running_race_id is not None
    assert ring(live, LEGACY_DETECTION).status_code == 200
    wait_until(lambda: live.mirror is not None and live.mirror.stats["syncs"] >= 1, "the first re-read")
    lap_id = add_lap(event, event.running_race_id, 3)  # FPVTrackside writes Race.json after notifying
    wait_until(lap_stored(pb, lap_id), "the lap reached PocketBase after re-reads")
    assert live.mirror is not None and live.mirror.stats["retries"] >= 1


def test_duplicated_and_out_of_order_notifications_leave_the_mirror_right(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    assert event.running_race_id is not None
    numbers = race_numbers(event, event.running_race_id)
    lap_ids = [add_lap(event, event.running_race_id, n) for n in (10, 11)]
    for seq in (12, 11, 12, 10, 11):
        note = {"type": "DetectionExt", "seq": seq, **numbers}
        assert ring(live, note).status_code == 200
    for lap_id in lap_ids:
        wait_until(lap_stored(pb, lap_id), "both laps reached PocketBase")
    assert len(pb.records("laps", f'race = "{record_id(event.running_race_id)}"')) == len(
        read(event.race_file(event.running_race_id))[0]["Laps"]
    )


def test_garbage_and_floods_are_answered_at_once_and_never_stop_the_doorbell(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    assert live.receiver is not None and live.mirror is not None
    for garbage in (b"", b"not json", b"\x00\xff", b"[]", b'{"type": 3}', b'{"who": "knows"}'):
        answer = ring(live, garbage)
        assert (answer.status_code, answer.content) == (200, b"")
    assert httpx.get(live.receiver.url, timeout=5).status_code == 405

    answers: list[int] = []

    def flood() -> None:
        with httpx.Client(timeout=5) as client:
            for n in range(300):
                note = {"type": "DetectionExt", "seq": n, "round": 999, "race": n}
                answers.append(client.put(live.receiver.url if live.receiver else "", json=note).status_code)

    threads = [threading.Thread(target=flood) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 900
    wait_until(lambda: live.mirror is not None and live.mirror.stats["garbage"] >= 5, "garbage was read and logged")

    assert event.running_race_id is not None
    lap_id = add_lap(event, event.running_race_id, 20)
    assert ring(live, LEGACY_DETECTION).status_code == 200
    wait_until(lap_stored(pb, lap_id), "the doorbell still works after the flood")


def test_an_unchanged_running_race_costs_one_get_and_no_pocketbase_request(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    race_id = event.running_race_id
    assert race_id is not None
    sync = EngineSync(ctx, event.event_id, PollPolicy())
    sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id))  # learns what PocketBase holds
    lap_id = add_lap(event, race_id, 30)
    outcome = sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id))
    assert race_id in outcome.changed
    assert pb.records("laps", f'sourceId = "{lap_id}"')

    gets, pb_requests = ctx.client.requests_sent, ctx.sink.requests_sent
    idle = sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id))
    assert idle.changed == frozenset() and idle.summary.written == 0
    assert ctx.client.requests_sent - gets == 1
    assert ctx.sink.requests_sent - pb_requests == 0


def test_the_fast_tier_follows_the_running_race_without_notifications(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    assert event.running_race_id is not None
    options = LiveOptions(fast_interval=0.05, current_interval=0.5)
    with live_mirror(ctx, event.event_id, PollPolicy(), listen=None, options=options) as running:
        assert running.receiver is None
        lap_id = add_lap(event, event.running_race_id, 40)
        wait_until(lap_stored(pb, lap_id), "the fast tier brought the lap")


def test_a_pass_writing_the_same_race_in_between_does_not_mislead_what_is_remembered(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    race_id = event.running_race_id
    assert race_id is not None
    sync = EngineSync(ctx, event.event_id, PollPolicy())
    add_lap(event, race_id, 50)
    assert sync.sync(frozenset({race_id}), False, None).summary.errors == []
    add_lap(event, race_id, 51)
    assert poll(ctx, event.event_id).written == 2  # another writer: PocketBase moved behind the memory's back
    add_lap(event, race_id, 52)
    outcome = sync.sync(frozenset({race_id}), False, None)
    assert outcome.summary.errors == []
    assert changed_counts(outcome.summary) == {("detections", "created"): 1, ("laps", "created"): 1}
    file_laps = {lap["ID"] for lap in read(event.race_file(race_id))[0]["Laps"]}
    assert {r["sourceId"] for r in pb.records("laps", f'race = "{record_id(race_id)}"')} == file_laps


def changed_counts(summary: SyncSummary) -> dict[tuple[str, str], int]:
    return {
        (name, what): n
        for name, counts in summary.to_dict()["collections"].items()
        for what, n in counts.items()
        if what in ("created", "updated", "deleted", "failed") and n
    }


def settled(live: Live) -> Callable[[], bool]:
    return lambda: live.mirror is not None and live.mirror.idle()


def test_a_race_armed_is_told_in_event_state_without_asking_the_laptop(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, live: Live
) -> None:
    race_id = event.unstarted_race_ids[0]
    wait_until(settled(live), "the mirror read ahead")
    before = replay.requests_served
    ring(live, {"type": "RacePreStart", "seq": 3, **race_numbers(event, race_id)})
    wait_until(lambda: pb.records("eventState")[0]["raceState"] == "armed", "eventState says armed")
    wait_until(settled(live), "the mirror is idle")
    assert pb.records("eventState")[0]["currentRace"] == record_id(race_id)
    assert replay.requests_served == before  # an armed start writes no file: nothing to read


def test_a_race_loaded_is_read_once_and_not_waited_for(event: GeneratedEvent, replay: ReplayServer, live: Live) -> None:
    """Loading a race may change nothing in its file: one read, no re-reads hoping for a change."""
    race_id = event.unstarted_race_ids[0]
    wait_until(settled(live), "the mirror read ahead")
    before = replay.requests_by_document.copy()
    ring(live, {"type": "RaceLoaded", "seq": 4, **race_numbers(event, race_id), "pilots": []})
    wait_until(lambda: live.mirror is not None and live.mirror.stats["syncs"] >= 1, "the race was read")
    wait_until(settled(live), "the mirror is idle")
    time.sleep(0.3)  # re-reads would come 20, 40, 80... ms apart
    asked = replay.requests_by_document - before
    assert asked["Race.json"] == 1
    assert live.mirror is not None and live.mirror.stats["retries"] == 0


def test_a_race_start_announced_before_its_file_is_saved_is_waited_for(
    pb: RunningPocketBase, event: GeneratedEvent, live: Live
) -> None:
    race_id = event.unstarted_race_ids[0]
    race_file = event.race_file(race_id)
    wait_until(settled(live), "the mirror read ahead")
    ring(live, {"type": "RaceStart", "seq": 5, **race_numbers(event, race_id)})
    wait_until(lambda: live.mirror is not None and live.mirror.stats["retries"] >= 1, "a re-read was queued")
    race = read(race_file)
    race[0]["Start"] = "2026/05/03 14:00:00"
    write_json(race_file, race)  # FPVTrackside saves the race a moment after announcing its start
    wait_until(lambda: bool(pb.records("races", f'sourceId = "{race_id}"')[0]["start"]), "the start is mirrored")


def test_a_running_race_asks_for_its_results_only_once_it_ended(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, ctx: engine.SyncContext
) -> None:
    """FPVTrackside writes ``Result.json`` when a race ends: lap after lap, only ``Race.json`` is read."""
    race_id = event.running_race_id
    assert race_id is not None
    sync = EngineSync(ctx, event.event_id, PollPolicy())
    sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id))
    before = replay.requests_by_document.copy()
    for n in range(3):
        add_lap(event, race_id, 60 + n)
        assert race_id in sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id)).changed
    asked = replay.requests_by_document - before
    assert (asked["Race.json"], asked["Result.json"]) == (3, 0)

    race = read(event.race_file(race_id))
    race[0]["End"] = "2026/05/03 14:09:00"
    write_json(event.race_file(race_id), race)
    event.race_file(race_id).with_name("Result.json").write_bytes(results_for(event, race_id))
    outcome = sync.sync(frozenset({race_id}), False, RaceHint(race_id=race_id))
    assert (outcome.states[race_id], race_id in outcome.results) == ("ended", True)
    assert pb.records("results", f'race = "{record_id(race_id)}"')


def test_without_current_the_tier_follows_the_next_race_until_one_runs(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, ctx: engine.SyncContext
) -> None:
    """Builds older than ``/current``: with no race running, the race to watch for a start is the next one to run
    (FPVTrackside's own rule, ``eventState.nextRace``); once a race runs, that race."""
    replay.current_race = "absent"
    running = event.running_race_id
    assert running is not None
    race = read(event.race_file(running))
    race[0]["End"] = "2026/05/03 14:09:00"
    write_json(event.race_file(running), race)
    assert engine.full(ctx, event.event_id).exit_code == 0
    next_race = pb.records("races", f'id = "{pb.records("eventState")[0]["nextRace"]}"')[0]["sourceId"]
    assert next_race in event.unstarted_race_ids
    assert current_race(ctx.client, ctx.sink, event.event_id) == next_race

    race[0]["End"] = "0001/01/01 0:00:00"
    write_json(event.race_file(running), race)
    assert engine.full(ctx, event.event_id).exit_code == 0
    assert current_race(ctx.client, ctx.sink, event.event_id) == running
