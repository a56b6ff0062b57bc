"""Reading FPVTrackside's notifications (both formats, shapes as FPVTrackside sends them) and coalescing work."""

from __future__ import annotations

import json
import threading

import pytest

from fpvsync.event_state import RaceState
from fpvsync.live.mirror import LiveMirror, LiveOptions, TierClock, Work
from fpvsync.live.notifications import NotificationError, RaceRef, parse_notification
from fpvsync.live.receiver import parse_listen
from fpvsync.live.targeted import SyncOutcome
from fpvsync.live.workqueue import CoalescingQueue
from fpvsync.summary import SyncSummary


def body(value: object) -> bytes:
    return json.dumps(value).encode()


LEGACY_DETECTION = {
    "DateTime": "2026/05/03 13:00:12",
    "TimingSystemIndex": 0,
    "LapNumber": 2,
    "ChannelBand": "Raceband",
    "ChannelNumber": 1,
    "Frequency": 5658,
    "ChannelColorR": 255,
    "ChannelColorG": 0,
    "ChannelColorB": 0,
    "Time": 38.42,
    "IsLapEnd": True,
    "IsRaceEnd": False,
    "PilotName": "John Doe",
    "Position": 2,
}


def test_legacy_shapes_are_told_apart_by_their_fields() -> None:
    detection = parse_notification(body(LEGACY_DETECTION))
    assert (detection.format, detection.kind, detection.race, detection.race_changed) == (
        "legacy",
        "DetectionDetails",
        None,  # legacy detections name no race: the current one
        True,
    )
    arm = parse_notification(body({"DateTime": "x", "Round": 3, "Race": 2, "Type": "Race", "State": "Arm"}))
    assert (arm.kind, arm.race, arm.state, arm.event_documents) == ("RaceState", RaceRef(3, 2, "Race"), "armed", False)
    end = parse_notification(body({"DateTime": "x", "Round": 3, "Race": 2, "Type": "Race", "State": "End"}))
    assert (end.state, end.event_documents) == ("ended", True)
    times_up = parse_notification(body({"Round": 1, "Race": 1, "Type": "Race", "State": "Times Up"}))
    assert times_up.race_changed and times_up.state is None
    pilots = parse_notification(body({"Round": 1, "Race": 4, "Type": "Race", "Pilots": [{"Name": "A"}]}))
    assert (pilots.kind, pilots.race) == ("PilotRaceState", RaceRef(1, 4, "Race"))
    assert parse_notification(body({"Name": "A", "CrashedOut": True, "ManuallySet": False})).kind == "PilotCrashedOut"
    assert parse_notification(body({"TimingSystemIndex": 1, "ChannelColorR": 1})).kind == "CaptureDetails"


def test_extension_envelope_names_races_by_round_and_number() -> None:
    detection = parse_notification(
        body({"type": "DetectionExt", "ts": "2026-05-03T12:00:00.000Z", "seq": 99, "round": 3, "race": 2})
    )
    assert (detection.format, detection.race, detection.seq, detection.state) == (
        "extension",
        RaceRef(3, 2),
        99,
        "running",
    )
    result = parse_notification(body({"type": "RaceResult", "seq": 5, "round": 3, "race": 2, "pilots": []}))
    assert result.race_changed and result.event_documents
    next_race = parse_notification(body({"type": "NextRace", "seq": 6, "round": 3, "race": 3, "pilots": []}))
    assert next_race.race is None and next_race.event_documents and not next_race.race_changed
    end_of_schedule = parse_notification(body({"type": "NextRace", "seq": 7, "round": None, "race": None}))
    assert end_of_schedule.race is None
    hello = parse_notification(body({"type": "Hello", "seq": 1, "paths": {}}))
    assert not hello.wants_sync and hello.state is None
    future = parse_notification(body({"type": "SomethingNew", "seq": 8, "round": 1, "race": 1}))
    assert not future.wants_sync  # unknown types are ignored, never an error


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'"text"',
        b'{"unrelated": true}',
        body({"type": 5}),
        body({"type": "DetectionExt", "round": "three", "race": 2}),
        body({"type": "RaceStart", "seq": "1"}),
        body({"Round": 1, "Race": 1, "State": 7}),
        b"[" * 100_000,
        b" " * 2_000_000,
    ],
)
def test_garbage_is_a_notification_error(raw: bytes) -> None:
    with pytest.raises(NotificationError):
        parse_notification(raw)


def test_listen_addresses() -> None:
    assert parse_listen("0.0.0.0:8765") == ("0.0.0.0", 8765)
    assert parse_listen(":8765") == ("127.0.0.1", 8765)
    assert parse_listen("[::1]:8765") == ("::1", 8765)
    for bad in ("8765", "host:", "host:port", "h:70000"):
        with pytest.raises(ValueError, match=r"HOST:PORT|out of range"):
            parse_listen(bad)


def test_a_key_added_many_times_is_processed_once_and_again_if_added_while_processing() -> None:
    queue: CoalescingQueue[str, int] = CoalescingQueue(merge=lambda a, b: a + b)
    for _ in range(100):
        queue.add("race", 1)
    queue.add("other", 1)
    first = queue.get(timeout=1)
    assert first == ("race", 100)  # one fetch for the whole burst
    queue.add("race", 1)  # arrives while "race" is being processed: not handed out concurrently
    assert queue.get(timeout=1) == ("other", 1)
    assert queue.get(timeout=0.05) is None
    queue.done("race")
    queue.done("other")
    assert queue.get(timeout=1) == ("race", 1)  # then once more
    queue.done("race")
    assert not queue.busy()


def test_the_queue_hands_each_key_to_one_worker_at_a_time() -> None:
    queue: CoalescingQueue[str, int] = CoalescingQueue(merge=max)
    active: set[str] = set()
    overlaps: list[str] = []
    guard = threading.Lock()

    def worker() -> None:
        while (item := queue.get(timeout=0.3)) is not None:
            with guard:
                if item[0] in active:
                    overlaps.append(item[0])
                active.add(item[0])
            with guard:
                active.discard(item[0])
            queue.done(item[0])

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for n in range(2000):
        queue.add(f"k{n % 3}", n)
    for thread in threads:
        thread.join()
    assert overlaps == []
    assert not queue.busy()


@pytest.mark.parametrize(
    ("payload", "reads", "waits_for"),
    [
        ({"type": "RaceLoaded", "round": 1, "race": 2}, True, None),  # its file may not change: read once
        ({"type": "RacePreStart", "round": 1, "race": 2}, False, None),  # armed: nothing is saved
        ({"type": "RaceStart", "round": 1, "race": 2}, True, "running"),
        ({"type": "RaceCancelled", "round": 1, "race": 2}, True, None),  # called off before its start
        ({"type": "RaceEnd", "round": 1, "race": 2}, True, "ended"),
        ({"type": "RaceResult", "round": 1, "race": 2}, True, "results"),
        ({"Round": 1, "Race": 2, "State": "Arm"}, False, None),
        ({"Round": 1, "Race": 2, "State": "Start"}, True, "running"),
        ({"Round": 1, "Race": 2, "State": "End"}, True, "ended"),
        (LEGACY_DETECTION, True, "change"),  # no detection id: any change will do
        ({"type": "DetectionExt", "round": 1, "race": 2}, True, "change"),
        ({"type": "DetectionExt", "round": 1, "race": 2, "detectionId": "A-1"}, True, None),  # waits for a-1
    ],
)
def test_each_notification_waits_only_for_what_it_announces(
    payload: dict[str, object], reads: bool, waits_for: str | None
) -> None:
    note = parse_notification(body(payload))
    assert (note.race_changed, note.expect) == (reads, waits_for)


class LoadedRace:
    """What ``/current`` says, and how often it was asked."""

    def __init__(self) -> None:
        self.race: str | None = None
        self.asked = 0

    def lookup(self, ref: RaceRef) -> str | None:
        return None

    def current(self) -> str | None:
        self.asked += 1
        return self.race


def test_the_fast_tier_reads_a_race_often_only_while_it_runs() -> None:
    """Ten seconds of ticks, 0.2 s apart, in each phase of a race: how often ``/current`` is asked and the race
    read. Nothing loaded: ask every 2 s; loaded, not started: read every 1 s (to see it start), ask every 5 s;
    running: read every 0.2 s; ended: nothing to read, ask every 2 s."""
    finder = LoadedRace()
    mirror = LiveMirror(sync=None, finder=finder, options=LiveOptions())  # type: ignore[arg-type]
    clock = TierClock()
    now = 0.0

    def ten_seconds(state: RaceState | None) -> tuple[int, int]:
        nonlocal now
        asked, reads = finder.asked, 0
        for _ in range(50):
            now += 0.2
            mirror._tick(clock, now)
            if mirror.loaded_race is not None and mirror.loaded_state is None:
                mirror.loaded_state = state  # the worker read the race: its file tells its state
            item = mirror.queue.get(timeout=0)
            if item is not None:
                reads += 1
                mirror.queue.done(item[0])
        return finder.asked - asked, reads

    assert ten_seconds(None) == (5, 0)
    finder.race = "race-1"
    asked, reads = ten_seconds("idle")
    assert asked <= 3 and 10 <= reads <= 11
    mirror.loaded_state = "running"
    assert ten_seconds("running")[1] == 50
    mirror.loaded_state = "ended"
    finder.race = None
    assert ten_seconds(None) == (5, 0)


class UnreadableRace:
    """A sync whose race file cannot be read whole (being written)."""

    def sync(self, races: frozenset[str], event_documents: bool, hint: object) -> SyncOutcome:
        return SyncOutcome(SyncSummary(command="poll"), unavailable=races)

    def warm(self) -> None:
        pass


@pytest.mark.parametrize(("work", "retried"), [(Work(race_changed=True), False), (Work(True, expect="running"), True)])
def test_only_a_read_that_must_show_something_is_repeated(work: Work, retried: bool) -> None:
    """The fast tier's own reads come back on the next tick; a notification's announced start is waited for."""
    mirror = LiveMirror(sync=UnreadableRace(), finder=LoadedRace(), options=LiveOptions(retry_delay=60))
    mirror._process("race:race-1", work)
    assert mirror.stats["retries"] == int(retried)
