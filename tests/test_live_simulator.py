"""The live race simulator against the replay server: the race file grows as recorded, ``/current`` follows the
running race, and the notifications FPVTrackside would send go out in order, in both formats."""

from __future__ import annotations

import threading

import pytest

from fpvsync.live.notifications import parse_notification
from fpvsync.live.receiver import NotificationReceiver
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent
from fpvsync.trackside.models import parse_date
from fpvsync.trackside.replay import ReplayServer
from fpvsync.trackside.simulator import RaceSimulator, SimulatorOptions
from tests.sync_helpers import read

pytestmark = pytest.mark.event_spec(seed=11)


@pytest.mark.parametrize("notify_format", ["extension", "legacy"])
def test_a_played_race_grows_as_recorded_and_is_announced_in_order(event: GeneratedEvent, notify_format: str) -> None:
    race_id = event.finished_race_ids[0]
    recorded = read(event.race_file(race_id))[0]
    result_before = event.result_file(race_id).read_bytes()
    bodies: list[bytes] = []
    seen_current: set[str | None] = set()
    detections_seen: list[int] = []
    with (
        ReplayServer(event.root, current_event=event.event_id) as replay,
        NotificationReceiver("127.0.0.1", 0, on_body=bodies.append) as receiver,
        TracksideClient(replay.url, backoff=0.01) as client,
    ):
        options = SimulatorOptions(
            speed=60.0,
            notify=receiver.url,
            notify_format="extension" if notify_format == "extension" else "legacy",
            on_detection=lambda race, detection: detections_seen.append(1),
        )
        simulator = RaceSimulator(event.root, event.event_id, options)
        assert race_id in simulator.recorded_races()
        player = threading.Thread(target=simulator.play_race, args=(race_id, threading.Event()))
        player.start()
        while player.is_alive():
            seen_current.add(client.current_race())
        player.join()
        simulator.close()
        final = read(event.race_file(race_id))[0]

    assert race_id in seen_current  # /current named the race while it ran
    assert len(final["Detections"]) == len(recorded["Detections"]) == len(detections_seen)
    assert len(final["Laps"]) == len(recorded["Laps"])
    start, end = parse_date(final["Start"]), parse_date(final["End"])
    assert start is not None and end is not None and end > start
    assert event.result_file(race_id).read_bytes() == result_before

    notes = [parse_notification(body) for body in bodies]
    assert {note.format for note in notes} == {notify_format}
    kinds = [note.kind for note in notes]
    detection_kind = "DetectionExt" if notify_format == "extension" else "DetectionDetails"
    assert kinds.count(detection_kind) == len(recorded["Detections"])
    if notify_format == "extension":
        assert kinds[:3] == ["RaceLoaded", "RacePreStart", "RaceStart"]
        assert kinds[-2:] == ["RaceEnd", "RaceResult"]
        seqs = [note.seq or 0 for note in notes]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    else:
        assert kinds[:3] == ["PilotRaceState", "RaceState", "RaceState"]
        assert [note.state for note in notes[1:3]] == ["armed", "running"]
        assert notes[-1].state == "ended"


def test_a_stopped_race_is_left_as_recorded(event: GeneratedEvent) -> None:
    race_id = event.finished_race_ids[1]
    before = read(event.race_file(race_id))
    stop = threading.Event()
    simulator = RaceSimulator(event.root, event.event_id, SimulatorOptions(speed=1.0))
    timer = threading.Timer(0.8, stop.set)
    timer.start()
    simulator.play_race(race_id, stop)
    timer.join()
    assert read(event.race_file(race_id)) == before
    assert event.result_file(race_id).exists()
