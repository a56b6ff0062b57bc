"""The mirror's invariant, one regression per way it used to break: each sequence ends with the default ``poll``
passes the invariant allows, then PocketBase must equal a fresh ``full`` of the same source into an empty
PocketBase, record for record, and one more pass must write nothing."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest

from fpvsync import engine
from fpvsync.engine.poll import NEXT_RACES_EVERY_PASS, PollPolicy
from fpvsync.ids import record_id
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.convergence import assert_converged, converge, dump
from tests.sync_helpers import Mirror, read, run_cli

pytestmark = pytest.mark.event_spec(seed=11, pilots=8, rounds=3)


def _races(event: GeneratedEvent) -> int:
    return len(read(event.event_dir() / "Event.json")[0]["Races"])


def _settle(mirror: Mirror, replay: ReplayServer, event: GeneratedEvent, oracle: RunningPocketBase) -> None:
    converge(mirror, event.event_id, _races(event))
    assert_converged(mirror, oracle, replay.url, event.event_id)


def _finished_race(event: GeneratedEvent) -> str:
    return next(r for r in event.finished_race_ids if read(event.race_file(r))[0]["Laps"])


def test_partial_commands_on_an_empty_pocketbase_do_not_mark_races_done(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    assert run_cli(["results", event.event_id, "--json"], pb, replay.url).exit_code == 0
    assert run_cli(["snapshot", event.event_id, "--json"], pb, replay.url).exit_code == 0
    _settle(mirror, replay, event, oracle)


def test_an_edit_hidden_by_snapshot_still_arrives(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    race_id = _finished_race(event)
    race = read(event.race_file(race_id))
    race[0]["Detections"][0]["Peak"] = 4321
    race[0]["Laps"][0]["LengthSeconds"] = 12.5
    write_json(event.race_file(race_id), race)
    assert engine.snapshot(mirror.ctx, event.event_id).exit_code == 0
    first = mirror.poll(event.event_id)
    assert first.written >= 2  # re-read at once: snapshot left the race marked as not mirrored whole
    _settle(mirror, replay, event, oracle)


@pytest.mark.parametrize("what", ["race", "event", "lap"])
def test_records_an_admin_deletes_are_restored(
    pb: RunningPocketBase,
    event: GeneratedEvent,
    replay: ReplayServer,
    mirror: Mirror,
    oracle: RunningPocketBase,
    what: str,
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    race_id = _finished_race(event)
    target = {
        "race": ("races", record_id(race_id)),
        "event": ("events", record_id(event.event_id)),
        "lap": ("laps", record_id(read(event.race_file(race_id))[0]["Laps"][0]["ID"])),
    }[what]
    with pb.admin() as client:
        client.delete(f"/api/collections/{target[0]}/records/{target[1]}").raise_for_status()
    _settle(mirror, replay, event, oracle)


def _admin_edits(pb: RunningPocketBase, event: GeneratedEvent, race_id: str) -> dict[str, tuple[str, str, object]]:
    """Edit, as a superuser in the dashboard would, a lap's length, a race's name and its round's name (fields that
    are not relations: the records' syncHash stays as it was). Returns ``what -> (collection, id, edited value)``."""
    race = read(event.race_file(race_id))[0]
    edits = {
        "lap": ("laps", record_id(race["Laps"][0]["ID"]), {"lengthSeconds": 99.25}),
        "race": ("races", record_id(race_id), {"name": "Renamed by an admin"}),
        "round": ("rounds", record_id(race["Round"]), {"name": "Round renamed by an admin"}),
    }
    with pb.admin() as client:
        for collection, rid, body in edits.values():
            client.patch(f"/api/collections/{collection}/records/{rid}", json=body).raise_for_status()
    return {what: (c, rid, next(iter(body.values()))) for what, (c, rid, body) in edits.items()}


def _fields(pb: RunningPocketBase, collection: str, rid: str) -> list[object]:
    return list(pb.records(collection, f'id = "{rid}"')[0].values())


@pytest.mark.parametrize("then", ["nothing", "snapshot of a source edit"])
def test_records_an_admin_edits_are_restored(
    pb: RunningPocketBase,
    event: GeneratedEvent,
    replay: ReplayServer,
    mirror: Mirror,
    oracle: RunningPocketBase,
    then: str,
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    race_id = _finished_race(event)
    edits = _admin_edits(pb, event, race_id)
    for collection, rid, value in edits.values():
        assert value in _fields(pb, collection, rid)  # the edit is there before the mirror heals it
    if then != "nothing":
        # The race's file changes and `snapshot` rewrites the race record, storing the race's state without
        # comparing its laps: the lap edited before must still be found.
        race = read(event.race_file(race_id))
        race[0]["Detections"][0]["Peak"] = 4321
        write_json(event.race_file(race_id), race)
        assert run_cli(["snapshot", event.event_id, "--json"], pb, replay.url).exit_code == 0
    _settle(mirror, replay, event, oracle)
    for collection, rid, value in edits.values():
        assert value not in _fields(pb, collection, rid)


def test_a_renumbered_round_renames_its_races(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    before = {r["id"]: r["name"] for r in pb.records("races")}
    rounds = read(event.event_dir() / "Rounds.json")
    rounds[0]["RoundNumber"] = 42
    write_json(event.event_dir() / "Rounds.json", rounds)
    _settle(mirror, replay, event, oracle)
    assert {r["id"]: r["name"] for r in pb.records("races")} != before


def test_a_changed_time_zone_moves_every_date(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    event_file = event.event_dir() / "Event.json"
    document = read(event_file)
    document[0]["TimeZone"] = "America/New_York"
    write_json(event_file, document)
    _settle(mirror, replay, event, oracle)


def test_a_pilot_added_after_its_races_resolves_their_relations(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    pilots_file = event.event_dir() / "Pilots.json"
    pilots = read(pilots_file)
    late = pilots[0]
    write_json(pilots_file, pilots[1:])
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    assert any(not lap["pilot"] for lap in pb.records("laps", f'event = "{record_id(event.event_id)}"'))
    write_json(pilots_file, [late, *pilots[1:]])
    _settle(mirror, replay, event, oracle)
    assert all(lap["pilot"] for lap in pb.records("laps", f'event = "{record_id(event.event_id)}"'))


def test_two_events_in_one_pocketbase_go_idle(pb: RunningPocketBase, tmp_path: Path) -> None:
    root = tmp_path / "two"
    first = generate_event(root, EventSpec(seed=21, pilots=8, rounds=2))
    second = generate_event(root, EventSpec(seed=22, pilots=8, rounds=2))
    # Both events list a pilot they disagree about (each holds its own copy).
    for generated, name in ((first, "Ace"), (second, "Bee")):
        pilots_file = generated.event_dir() / "Pilots.json"
        pilots = read(pilots_file)
        pilots[0]["ID"] = "0badc0de-0000-4000-8000-0000000000b1"
        pilots[0]["Name"] = name
        write_json(pilots_file, pilots)
    with ReplayServer(root, current_event=first.event_id) as server:
        mirror = Mirror(pb, server.url)
        try:
            for generated in (first, second):
                assert engine.full(mirror.ctx, generated.event_id).exit_code == 0
            for _ in range(2):
                for generated in (first, second):
                    mirror.poll(generated.event_id)
            runs = len(pb.records("syncRuns"))
            sent = mirror.sink.writes_sent
            for _ in range(3):
                for generated in (first, second):
                    summary = mirror.poll(generated.event_id)
                    assert summary.written == 0, summary.to_dict()
            assert mirror.sink.writes_sent == sent
            assert len(pb.records("syncRuns")) == runs
        finally:
            mirror.close()


def test_a_race_in_two_folders_and_a_race_json_naming_another_id(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror, oracle: RunningPocketBase
) -> None:
    event_file = event.event_dir() / "Event.json"
    document = read(event_file)
    original = _finished_race(event)
    copy, renamed = str(uuid.uuid4()), str(uuid.uuid4())
    shutil.copytree(event.event_dir() / original, event.event_dir() / copy)  # the same race in two folders
    other = next(r for r in event.finished_race_ids if r != original)
    moved = read(event.race_file(other))
    moved[0]["ID"] = renamed  # a Race.json whose ID differs from its folder (and is nobody's folder)
    write_json(event.race_file(other), moved)
    document[0]["Races"] = [*document[0]["Races"], copy]
    write_json(event_file, document)

    summary = engine.full(mirror.ctx, event.event_id)
    warnings = json.dumps(summary.to_dict())
    assert copy in warnings and original in warnings
    assert renamed in warnings and other in warnings
    assert len(pb.records("races", f'id = "{record_id(original)}"')) == 1
    assert pb.records("races", f'id = "{record_id(copy)}"') == []
    assert len(pb.records("laps", f'race = "{record_id(original)}"')) == len(read(event.race_file(original))[0]["Laps"])
    assert len(pb.records("races", f'id = "{record_id(other)}"')) == 1
    _settle(mirror, replay, event, oracle)


def test_races_full_wrote_are_settled_not_recent(pb: RunningPocketBase, tmp_path: Path) -> None:
    big = generate_event(tmp_path / "big", EventSpec(seed=12, pilots=16, rounds=6))
    with ReplayServer(big.root, current_event=big.event_id) as server:
        mirror = Mirror(pb, server.url)
        try:
            assert engine.full(mirror.ctx, big.event_id).exit_code == 0
            policy = PollPolicy()
            before = mirror.client.requests_sent
            summary = mirror.poll(big.event_id, policy)
            reads = mirror.client.requests_sent - before
        finally:
            mirror.close()
    assert summary.written == 0
    # Event documents (5) + Results.json + /current, then Race.json and Result.json of the running race, the next
    # races to run, the one listed without a Race.json, and one rotation slice: not every race of the event.
    assert reads <= 7 + 2 * (2 + NEXT_RACES_EVERY_PASS + policy.settled_per_pass) < _races(big)


def test_status_is_in_sync_only_when_every_race_is_mirrored_whole(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, mirror: Mirror
) -> None:
    assert run_cli(["snapshot", event.event_id, "--json"], pb, replay.url).exit_code == 0
    pending = run_cli(["status", "--json"], pb, replay.url).json["pending"]
    assert any(p.endswith("/Race.json") for p in pending)
    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    assert run_cli(["status", "--json"], pb, replay.url).json["pending"] == []
    rounds = read(event.event_dir() / "Rounds.json")
    rounds[0]["RoundNumber"] = 7
    write_json(event.event_dir() / "Rounds.json", rounds)
    assert f"events/{event.event_id}/Rounds.json" in run_cli(["status", "--json"], pb, replay.url).json["pending"]
    # The rounds are mirrored; the races named after them wait for the rotation (two per pass here).
    mirror.poll(event.event_id, PollPolicy(settled_per_pass=1))
    pending = run_cli(["status", "--json"], pb, replay.url).json["pending"]
    assert pending and all(p.endswith("/Race.json") for p in pending)
    converge(mirror, event.event_id, _races(event))
    assert run_cli(["status", "--json"], pb, replay.url).json["pending"] == []
    assert dump(pb, event.event_id)["races"]


def test_a_new_mapping_version_reverifies_once_then_goes_idle(
    pb: RunningPocketBase,
    event: GeneratedEvent,
    replay: ReplayServer,
    mirror: Mirror,
    oracle: RunningPocketBase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fpvsync.engine import state

    assert engine.full(mirror.ctx, event.event_id).exit_code == 0
    converge(mirror, event.event_id, _races(event))
    monkeypatch.setattr(state, "MAPPING_VERSION", state.MAPPING_VERSION + 1)
    policy = PollPolicy()
    reads: list[int] = []
    for _ in range(-(-_races(event) // policy.settled_per_pass) + 1):
        before = mirror.client.requests_sent
        assert mirror.poll(event.event_id, policy).written == 0  # same records: only the state moves
        reads.append(mirror.client.requests_sent - before)
    # No race became "recent": a pass reads the rotation and as many races of the older context, no more.
    assert max(reads) <= 7 + 2 * (2 + 2 * policy.settled_per_pass)
    stored = state.load(mirror.sink, event.event_id)
    assert all(s.complete for s in stored.values())
    assert len({s.context for s in stored.values() if s.context}) == 1
    assert_converged(mirror, oracle, replay.url, event.event_id)
