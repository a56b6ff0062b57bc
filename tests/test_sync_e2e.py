"""End to end: the real CLI, a real replay server over a generated event, and a real PocketBase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fpvsync import engine
from fpvsync.ids import record_id
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent, write_json
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import (
    assert_summary_shape,
    event_records,
    expected_counts,
    read,
    run_cli,
    utc_text,
)

pytestmark = pytest.mark.event_spec(seed=3)


def full(pb: RunningPocketBase, replay: ReplayServer, *args: str) -> dict[str, Any]:
    result = run_cli(["full", *args, "--json"], pb, replay.url)
    document = result.json
    assert_summary_shape(document)
    return {"exit": result.exit_code, **document}


def totals(document: dict[str, Any], what: str) -> int:
    return sum(counts[what] for counts in document["collections"].values())


def test_full_mirrors_every_record_with_utc_dates_and_resolving_relations(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    summary = full(pb, replay)  # EVENT omitted: FPVTrackside's current event
    assert summary["exit"] == 0, summary["errors"]
    assert summary["ok"] is True
    assert summary["event"] == event.event_id

    eid = record_id(event.event_id)
    expected = expected_counts(event)
    stored = {name: event_records(pb, name, eid) for name in expected}
    assert {name: len(records) for name, records in stored.items()} == expected
    for name, count in expected.items():
        assert summary["collections"][name]["created"] == count, name

    # Dates are UTC, converted with the event's TimeZone.
    event_obj = read(event.event_dir() / "Event.json")[0]
    races = {r["sourceId"]: r for r in stored["races"]}
    finished = next(r for r in (read(event.race_file(i))[0] for i in event.race_ids[:3]) if r["Valid"])
    assert races[finished["ID"]]["start"] == utc_text(finished["Start"], event_obj["TimeZone"])
    running = races[event.running_race_id or ""]
    assert running["start"] and running["end"] == ""

    # Invalid race and deleted round are kept, marked invalid; the deleted race and the missing one are absent.
    assert races[event.invalid_race_id or ""]["valid"] is False
    assert any(r["valid"] is False for r in stored["rounds"])
    assert event.deleted_race_id not in races and event.missing_race_id not in races

    # A lap's pilot is its detection's pilot; every relation resolves to a stored record.
    detections = {d["id"]: d for d in stored["detections"]}
    for lap in stored["laps"]:
        assert lap["pilot"] == detections[lap["detection"]]["pilot"] != ""
    pilots = {p["id"] for p in stored["pilots"]}
    rounds = {r["id"] for r in stored["rounds"]}
    assert all(r["round"] in rounds for r in stored["races"])
    assert all(d["pilot"] in pilots for d in stored["detections"])
    assert all(r["pilot"] in pilots for r in stored["results"])
    assert sum(1 for r in stored["results"] if r["race"] == "") == len(read(event.event_dir() / "Results.json"))

    # The missing race is a warning, not an error.
    assert any(w["sourceId"] == event.missing_race_id for w in summary.get("warnings", []))

    # Each run is recorded for admins.
    runs = pb.records("syncRuns")
    assert [r["command"] for r in runs] == ["full"]
    assert runs[0]["ok"] is True and runs[0]["eventId"] == event.event_id
    assert runs[0]["event"] == record_id(event.event_id)


def test_second_full_writes_nothing(pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer) -> None:
    assert full(pb, replay, event.event_id)["exit"] == 0
    before = {name: event_records(pb, name, record_id(event.event_id)) for name in expected_counts(event)}

    again = full(pb, replay, event.event_id)
    assert again["exit"] == 0
    assert totals(again, "created") == totals(again, "updated") == totals(again, "deleted") == 0
    assert totals(again, "unchanged") == sum(expected_counts(event).values())
    after = {name: event_records(pb, name, record_id(event.event_id)) for name in before}
    for name in before:
        assert sorted((r["id"], r["updated"]) for r in after[name]) == sorted(
            (r["id"], r["updated"]) for r in before[name]
        ), name


def _race_with_results(event: GeneratedEvent) -> str:
    for race_id in event.race_ids:
        if event.result_file(race_id).exists() and read(event.race_file(race_id))[0]["Valid"]:
            return race_id
    raise AssertionError("no finished race")


def test_race_reports_exactly_the_changes_made_at_the_source(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    assert full(pb, replay, event.event_id)["exit"] == 0
    race_id = _race_with_results(event)
    race_file, result_file = event.race_file(race_id), event.result_file(race_id)
    race = read(race_file)
    detection = next(d for d in race[0]["Detections"] if d["Valid"] and d["IsLapEnd"])
    detection["Valid"] = False
    detection["ValidityType"] = "ManualOverride"
    removed_lap = race[0]["Laps"].pop()
    write_json(race_file, race)
    results = read(result_file)
    results[0]["Points"] += 5
    write_json(result_file, results)

    answer = run_cli(["race", event.event_id, race_id, "--json"], pb, replay.url)
    assert answer.exit_code == 0, answer.stdout
    collections = answer.json["collections"]
    changed = {
        (name, what): n
        for name, counts in collections.items()
        for what, n in counts.items()
        if what in ("created", "updated", "deleted", "failed") and n
    }
    # The removed lap's detection stays, but its display name loses the lap's length.
    renamed = ({removed_lap["Detection"]} & {d["ID"] for d in race[0]["Detections"]}) - {detection["ID"]}
    assert changed == {
        ("detections", "updated"): 1 + len(renamed),
        ("laps", "updated"): 1,  # the lap of that detection: its `valid` flag
        ("laps", "deleted"): 1,
        ("results", "updated"): 1,
    }

    stored = pb.records("detections", f'sourceId = "{detection["ID"]}"')
    assert stored[0]["valid"] is False and stored[0]["validityType"] == "ManualOverride"
    assert pb.records("laps", f'sourceId = "{removed_lap["ID"]}"') == []
    points = pb.records("results", f'sourceId = "{results[0]["ID"]}"')[0]["points"]
    assert points == results[0]["Points"]


@pytest.mark.parametrize("body", [b"", b'[{"Laps": [{"ID": "x", "Len', b"<html><body>index</body></html>"])
def test_unavailable_race_file_deletes_nothing_and_exits_1(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, body: bytes
) -> None:
    assert full(pb, replay, event.event_id)["exit"] == 0
    race_id = _race_with_results(event)
    rid = record_id(race_id)
    before = {c: len(pb.records(c, f'race = "{rid}"')) for c in ("detections", "laps", "results", "pilotChannels")}
    event.race_file(race_id).write_bytes(body)

    answer = run_cli(["race", event.event_id, race_id, "--json"], pb, replay.url)
    assert answer.exit_code == 1
    document = answer.json
    assert_summary_shape(document)
    assert document["ok"] is False
    assert any(e["scope"] == f"race {race_id}" and "unavailable" in e["message"] for e in document["errors"])
    assert totals(document, "deleted") == 0
    after = {c: len(pb.records(c, f'race = "{rid}"')) for c in before}
    assert after == before
    assert len(pb.records("races", f'id = "{rid}"')) == 1


def test_empty_list_deletes_the_race_and_everything_under_it(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    assert full(pb, replay, event.event_id)["exit"] == 0
    race_id = _race_with_results(event)
    rid = record_id(race_id)
    children = {c: len(pb.records(c, f'race = "{rid}"')) for c in ("detections", "laps", "results", "pilotChannels")}
    assert all(children.values())
    write_json(event.race_file(race_id), [])

    document = full(pb, replay, event.event_id)
    assert document["exit"] == 0
    assert document["collections"]["races"]["deleted"] == 1
    for collection, count in children.items():
        assert document["collections"][collection]["deleted"] == count, collection
        assert pb.records(collection, f'race = "{rid}"') == []
    assert pb.records("races", f'id = "{rid}"') == []


def test_pocketbase_stopped_mid_full_then_rerun_converges(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    class KillAfter:
        """A progress collector that crashes PocketBase after a few races have been written."""

        def __init__(self) -> None:
            self.done = 0

        def start(self, description: str, total: int) -> None:
            pass

        def advance(self, n: int = 1) -> None:
            self.done += n
            if self.done == 4:
                pb.server.stop(kill=True)

        def stop(self) -> None:
            pass

    with (
        TracksideClient(replay.url) as client,
        PocketBaseSink(pb.url, email=pb.email, password=pb.password, batch_size=50) as sink,
    ):
        sink.authenticate()
        summary = engine.full(engine.SyncContext(client, sink, progress=KillAfter()), event.event_id)
    assert summary.exit_code == 3
    assert summary.unreachable

    pb.server.start()
    document = full(pb, replay, event.event_id)
    assert document["exit"] == 0, document["errors"]
    eid = record_id(event.event_id)
    expected = expected_counts(event)
    stored = {name: event_records(pb, name, eid) for name in expected}
    assert {name: len(records) for name, records in stored.items()} == expected
    for name, records in stored.items():
        assert len({r["sourceId"] for r in records}) == len(records), name


def test_dry_run_reports_but_writes_nothing(pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer) -> None:
    document = full(pb, replay, event.event_id, "--dry-run")
    assert document["exit"] == 0
    assert document["collections"]["laps"]["created"] == expected_counts(event)["laps"]
    assert pb.records("laps") == [] and pb.records("syncRuns") == []


def test_snapshot_writes_races_without_laps_and_results_fills_results(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    snap = run_cli(["snapshot", event.event_id, "--json"], pb, replay.url)
    assert snap.exit_code == 0, snap.stdout
    expected = expected_counts(event)
    assert snap.json["collections"]["races"]["created"] == expected["races"]
    assert pb.records("laps") == [] and pb.records("detections") == []

    res = run_cli(["results", event.event_id, "--json"], pb, replay.url)
    assert res.exit_code == 0, res.stdout
    assert res.json["collections"]["results"]["created"] == expected["results"]
    assert pb.records("laps") == []


def test_human_output_is_a_table_and_errors_are_one_line(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    ok = run_cli(["snapshot", event.event_id], pb, replay.url)
    assert ok.exit_code == 0
    assert "races" in ok.stdout and "created" in ok.stdout

    bad = run_cli(["snapshot", "not-a-guid"], pb, replay.url)
    assert bad.exit_code == 2
    assert "not a GUID" in bad.stderr and "Traceback" not in bad.stderr + bad.stdout


@pytest.mark.parametrize(
    ("case", "code"),
    [("no-credentials", 2), ("wrong-password", 3), ("pocketbase-down", 3), ("trackside-down", 3), ("bad-url", 2)],
)
def test_exit_codes(
    case: str, code: int, shared_pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, tmp_path: Path
) -> None:
    from fpvsync.pb.local import free_port

    closed = f"http://127.0.0.1:{free_port()}"
    args = ["snapshot", event.event_id, "--json"]
    if case == "no-credentials":
        result = run_cli(args, None, replay.url)
    elif case == "wrong-password":
        wrong = type("P", (), {"url": shared_pb.url, "email": shared_pb.email, "password": "wrong-password-1"})()
        result = run_cli(args, wrong, replay.url)
        assert "wrong-password-1" not in result.stdout + result.stderr
    elif case == "pocketbase-down":
        result = run_cli([*args, "--pb-url", closed], shared_pb, replay.url)
    elif case == "trackside-down":
        result = run_cli([*args, "--trackside", closed], shared_pb, replay.url)
    else:
        result = run_cli([*args, "--trackside", "ftp://nowhere"], shared_pb, replay.url)
    assert result.exit_code == code, result.stdout + result.stderr
    if case == "trackside-down":
        document = json.loads(result.stdout)
        assert_summary_shape(document)
        assert document["ok"] is False
    else:
        assert "Traceback" not in result.stderr
