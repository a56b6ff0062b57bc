"""``eventState``: the record front ends subscribe to. Its rules (pure) and its life against a real PocketBase:
bumped in the run that writes, untouched by idle passes, seen over PocketBase's realtime API."""

from __future__ import annotations

from typing import Any

import pytest

from fpvsync import engine
from fpvsync.engine.poll import poll
from fpvsync.event_state import RaceHint, compute_state, update_event_state
from fpvsync.ids import record_id
from fpvsync.pb.realtime import RealtimeSubscription
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import Mirror, read

R = [record_id(f"00000000-0000-4000-8000-00000000000{n}") for n in range(6)]


def row(n: int, state: str, *, valid: bool = True, start: str = "") -> dict[str, Any]:
    return {"id": R[n], "position": n + 1, "state": state, "valid": valid, "start": start}


def test_current_is_the_running_race_and_next_the_first_unstarted_after_it() -> None:
    order = [row(0, "ended", start="a"), row(1, "running", start="b"), row(2, "unstarted"), row(3, "unstarted")]
    assert compute_state(order) == {
        "currentRace": R[1],
        "nextRace": R[2],
        "raceState": "running",
        "raceStartedAt": "b",
    }


def test_without_a_running_race_current_is_the_next_to_run_and_invalid_races_are_skipped() -> None:
    order = [row(0, "ended", start="a"), row(1, "unstarted", valid=False), row(2, "unstarted"), row(3, "unstarted")]
    state = compute_state(order)
    assert (state["currentRace"], state["nextRace"], state["raceState"], state["raceStartedAt"]) == (
        R[2],
        R[3],
        "idle",
        "",
    )


def test_a_hint_names_the_current_race_and_may_say_armed() -> None:
    order = [row(0, "ended", start="a"), row(1, "unstarted"), row(2, "unstarted")]
    hint = RaceHint(race_id="00000000-0000-4000-8000-000000000000", state=None)
    assert compute_state(order, hint)["currentRace"] == R[0]
    assert compute_state(order, hint)["raceState"] == "ended"
    assert compute_state(order, hint)["nextRace"] == R[1]
    armed = RaceHint(race_id="00000000-0000-4000-8000-000000000001", state="armed")
    assert compute_state(order, armed)["raceState"] == "armed"
    # A file that already says more (the race ended) wins over "armed".
    late = RaceHint(race_id="00000000-0000-4000-8000-000000000000", state="armed")
    assert compute_state(order, late)["raceState"] == "ended"
    # A hint naming a race PocketBase does not have falls back to the documents.
    unknown = RaceHint(race_id="00000000-0000-4000-8000-0000000000ff", state="running")
    assert compute_state(order, unknown)["currentRace"] == R[1]


def test_races_listing_no_pilots_are_never_next() -> None:
    """``RaceLib/RaceManager.cs`` ``GetNextRace``: ``r.Valid && !r.Ended && r.PilotChannels.Any()``, in
    (``Round.Order``, ``RaceOrder``) order: an empty race is skipped, as current and as next."""
    empty = {**row(1, "unstarted"), "pilots": 0}
    order = [row(0, "ended", start="a"), empty, {**row(2, "unstarted"), "pilots": 2}, {**empty, "id": R[3]}]
    order.append({**row(4, "unstarted"), "pilots": 1})
    state = compute_state(order)
    assert (state["currentRace"], state["nextRace"]) == (R[2], R[4])


def test_next_is_the_first_unfinished_race_in_the_whole_order_as_fpvtrackside_shows_it() -> None:
    """``UI/Nodes/EventStatusNode.cs`` shows ``GetNextRace(true, allowCurrent: false)``: valid, not ended, with
    pilots, not the current race, first in race order; a race skipped earlier comes before the later ones."""
    skipped = [row(0, "unstarted"), row(1, "ended", start="a"), row(2, "unstarted"), row(3, "unstarted")]
    loaded = RaceHint(race_id="00000000-0000-4000-8000-000000000002")
    assert (compute_state(skipped, loaded)["currentRace"], compute_state(skipped, loaded)["nextRace"]) == (R[2], R[0])
    # A race that started and has not ended is not finished either.
    left_running = [row(0, "ended", start="a"), row(1, "running", start="b"), row(2, "unstarted")]
    assert compute_state(left_running, loaded)["nextRace"] == R[1]


def test_an_event_without_races_is_idle_with_nothing_current() -> None:
    assert compute_state([]) == {"currentRace": "", "nextRace": "", "raceState": "idle", "raceStartedAt": ""}


# -- against a real PocketBase ------------------------------------------------------------------------------------


pytestmark = pytest.mark.event_spec(seed=11)


@pytest.fixture
def ctx(mirror: Mirror) -> engine.SyncContext:
    return mirror.ctx


def add_lap(event: GeneratedEvent, race_id: str, n: int) -> str:
    """Append one valid finish-line pass and its lap to a race, as FPVTrackside does; return the lap's GUID."""
    race_file = event.race_file(race_id)
    race = read(race_file)
    last = race[0]["Detections"][-1]
    detection = {**last, "ID": f"0badc0de-0000-4000-8000-{n:012d}", "LapNumber": last["LapNumber"] + 1}
    detection["IsLapEnd"], detection["TimingSystemIndex"], detection["Valid"] = True, 0, True
    lap_id = f"0badc0de-0000-4000-9000-{n:012d}"
    lap = {**race[0]["Laps"][-1], "ID": lap_id, "Detection": detection["ID"], "LapNumber": detection["LapNumber"]}
    race[0]["Detections"].append(detection)
    race[0]["Laps"].append(lap)
    write_json(race_file, race)
    return lap_id


def state_of(pb: RunningPocketBase, event: GeneratedEvent) -> dict[str, Any]:
    records = pb.records("eventState", f'id = "{record_id(event.event_id)}"')
    assert len(records) == 1
    return records[0]


def test_full_creates_the_state_and_a_rerun_without_changes_leaves_it(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    assert engine.full(ctx, event.event_id).exit_code == 0
    first = state_of(pb, event)
    assert first["event"] == record_id(event.event_id)
    assert first["changeSeq"] == 1
    assert "laps" in first["changedCollections"]
    assert event.running_race_id is not None
    assert first["currentRace"] == record_id(event.running_race_id)
    assert first["raceState"] == "running"
    assert first["raceStartedAt"]
    assert first["nextRace"] in {record_id(r) for r in event.unstarted_race_ids}

    assert engine.full(ctx, event.event_id).written == 0
    assert state_of(pb, event) == first  # not even `updated` moved


def test_a_new_lap_bumps_change_seq_once_naming_what_changed(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    assert engine.full(ctx, event.event_id).exit_code == 0
    assert event.running_race_id is not None
    add_lap(event, event.running_race_id, 1)
    assert poll(ctx, event.event_id).exit_code == 0
    after = state_of(pb, event)
    assert after["changeSeq"] == 2
    assert set(after["changedCollections"]) == {"detections", "laps"}


@pytest.mark.parametrize(
    ("written", "hinted", "state"),
    [
        ({"laps", "detections"}, "running", None),  # a lap of the running race: current and next stay
        ({"laps", "detections"}, "running", "running"),
        ({"laps", "detections"}, None, None),
        ({"laps"}, "unstarted", None),  # the race director loaded another race
        ({"laps"}, "running", "armed"),  # a file that says more than a hint wins
        ({"laps", "races"}, None, None),
        ({"pilotChannels"}, None, None),  # a race's pilots decide whether it can be next
        (set(), "unstarted", "armed"),
    ],
)
def test_event_state_after_a_write_is_what_the_race_order_says(
    pb: RunningPocketBase,
    event: GeneratedEvent,
    ctx: engine.SyncContext,
    written: set[str],
    hinted: str | None,
    state: Any,
) -> None:
    """Whatever shortcut a lap takes, the record ends as computed from the whole ``raceOrder`` view (the oracle)."""
    assert engine.full(ctx, event.event_id).exit_code == 0
    assert event.running_race_id is not None
    race = {"running": event.running_race_id, "unstarted": event.unstarted_race_ids[-1], None: None}[hinted]
    hint = RaceHint(race_id=race, state=state) if hinted else None
    before = state_of(pb, event)
    update_event_state(ctx.sink, event.event_id, written, hint)
    after = state_of(pb, event)
    order = pb.records("raceOrder", f'event = "{record_id(event.event_id)}"')
    order.sort(key=lambda r: int(str(r["position"])))
    wanted = compute_state(order, hint)
    assert {k: after[k] for k in wanted} == wanted
    assert after["changeSeq"] == before["changeSeq"] + 1


def test_dry_run_leaves_event_state_alone(pb: RunningPocketBase, event: GeneratedEvent) -> None:
    with ReplayServer(event.root, current_event=event.event_id) as replay:
        client = TracksideClient(replay.url, backoff=0.01)
        sink = PocketBaseSink(pb.url, email=pb.email, password=pb.password, dry_run=True)
        assert engine.full(engine.SyncContext(client, sink), event.event_id).exit_code == 0
        client.close()
        sink.close()
    assert pb.records("eventState") == []


def test_a_subscriber_sees_change_seq_move_with_each_writing_pass_and_nothing_from_idle_ones(
    pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext
) -> None:
    assert engine.full(ctx, event.event_id).exit_code == 0
    assert event.running_race_id is not None
    with RealtimeSubscription(pb.url, ["eventState"]) as subscriber:
        add_lap(event, event.running_race_id, 1)
        assert poll(ctx, event.event_id).written > 0
        first = subscriber.next()
        assert first.action == "update"
        assert first.record["changeSeq"] == 2
        assert "laps" in first.record["changedCollections"]

        for _ in range(3):
            assert poll(ctx, event.event_id).written == 0
        add_lap(event, event.running_race_id, 2)
        assert poll(ctx, event.event_id).written > 0
        # The very next message is this pass's: the idle passes in between sent none.
        assert subscriber.next().record["changeSeq"] == 3
        assert subscriber.messages.empty()


def _full_with_current(pb: RunningPocketBase, event: GeneratedEvent, current_race: str) -> None:
    with (
        ReplayServer(event.root, current_event=event.event_id, current_race=current_race) as replay,
        TracksideClient(replay.url, backoff=0.01) as client,
        PocketBaseSink(pb.url, email=pb.email, password=pb.password) as sink,
    ):
        assert engine.full(engine.SyncContext(client, sink), event.event_id).exit_code == 0


def test_every_command_asks_current_for_the_race_fpvtrackside_has_loaded(
    pb: RunningPocketBase, event: GeneratedEvent
) -> None:
    """Not only poll: a `full` names the race ``/current`` reports (here the last race, loaded but not started,
    while another race's file still says it runs). That running race has not ended, so it is next, as FPVTrackside
    shows it; an old build without ``/current`` falls back to the running race."""
    loaded = event.unstarted_race_ids[-1]
    _full_with_current(pb, event, loaded)
    state = state_of(pb, event)
    running = record_id(event.running_race_id or "")
    assert (state["currentRace"], state["nextRace"], state["raceState"]) == (record_id(loaded), running, "idle")

    add_lap(event, event.running_race_id or "", 1)
    _full_with_current(pb, event, "absent")
    state = state_of(pb, event)
    assert (state["currentRace"], state["raceState"]) == (record_id(event.running_race_id or ""), "running")
