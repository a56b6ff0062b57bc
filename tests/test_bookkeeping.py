"""Document hashes and the sync-run log, stored in PocketBase's superuser-only bookkeeping collections."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import httpx

from fpvsync.pb.bookkeeping import (
    document_hash_id,
    forget_document_hashes,
    load_document_hashes,
    pb_datetime,
    recent_runs,
    record_run,
    save_document_hashes,
)
from fpvsync.pb.sink import PocketBaseSink, filter_string
from fpvsync.summary import SyncSummary
from tests.conftest import RunningPocketBase

PB_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$")


def sink_for(server: RunningPocketBase, *, dry_run: bool = False) -> PocketBaseSink:
    return PocketBaseSink(server.url, email=server.email, password=server.password, dry_run=dry_run)


def test_pb_datetime_is_utc_with_milliseconds() -> None:
    moment = datetime(2025, 6, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert pb_datetime(moment) == "2025-06-01 10:30:05.123Z"


def test_document_hashes_round_trip_per_event(shared_pb: RunningPocketBase) -> None:
    event, other = str(uuid.uuid4()), str(uuid.uuid4())
    paths = {name: f"events/{event}/{name}" for name in ("Event.json", "Pilots.json", "Rounds.json")}
    with sink_for(shared_pb) as sink:
        assert load_document_hashes(sink, event) == {}
        save_document_hashes(sink, event, dict.fromkeys(paths.values(), "a" * 64))
        save_document_hashes(sink, other, {f"events/{other}/Event.json": "b" * 64})
        assert load_document_hashes(sink, event) == dict.fromkeys(paths.values(), "a" * 64)

        save_document_hashes(sink, event, {paths["Pilots.json"]: "c" * 64})
        forget_document_hashes(sink, [paths["Rounds.json"], f"events/{event}/never-stored.json"])
        assert load_document_hashes(sink, event) == {paths["Event.json"]: "a" * 64, paths["Pilots.json"]: "c" * 64}
        assert load_document_hashes(sink, other) == {f"events/{other}/Event.json": "b" * 64}

    stored = shared_pb.records("documentHashes", f"id = {filter_string(document_hash_id(paths['Pilots.json']))}")
    assert stored[0]["event"] == event
    assert PB_DATE.match(str(stored[0]["syncedAt"]))


def test_record_run_is_visible_to_the_superuser_only(shared_pb: RunningPocketBase) -> None:
    event = str(uuid.uuid4())
    summary = SyncSummary("race", event)
    summary.add("laps", "created", 12)
    summary.add("detections", "failed")
    summary.error(f"race {event}", "pilot: Failed to find all relation records", "detections", "d1")
    started = datetime.now(UTC) - timedelta(seconds=2)
    with sink_for(shared_pb) as sink:
        run_id = record_run(sink, summary, started, 1)

    [run] = shared_pb.records("syncRuns", f"id = {filter_string(run_id)}")
    assert run["command"] == "race"
    assert (run["eventId"], run["event"]) == (event, "")  # an event PocketBase does not hold: its GUID only
    assert run["ok"] is False
    assert run["exitCode"] == 1
    assert run["written"] == 12
    assert run["errorCount"] == 1
    assert run["startedAt"] == pb_datetime(started)
    assert PB_DATE.match(str(run["finishedAt"]))
    assert 2 <= float(str(run["durationSeconds"])) < 60
    assert run["summary"] == summary.to_dict()

    guest = httpx.get(f"{shared_pb.url}/api/collections/syncRuns/records/{run_id}")
    assert guest.status_code == 403
    assert httpx.get(f"{shared_pb.url}/api/collections/syncRuns/records").status_code == 403


def test_recent_runs_newest_first(shared_pb: RunningPocketBase) -> None:
    event, other = str(uuid.uuid4()), str(uuid.uuid4())
    start = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    with sink_for(shared_pb) as sink:
        ids = [record_run(sink, SyncSummary("poll", event), start + timedelta(minutes=i), 0) for i in range(4)]
        record_run(sink, SyncSummary("poll", other), start + timedelta(hours=1), 0)
        runs = recent_runs(sink, event, limit=3)
        assert [run["id"] for run in runs] == ids[::-1][:3]
        assert all(run["ok"] is True and run["eventId"] == event for run in runs)
        assert recent_runs(sink, None, limit=1)[0]["startedAt"] >= pb_datetime(start + timedelta(hours=1))


def test_dry_run_keeps_bookkeeping_unchanged(shared_pb: RunningPocketBase) -> None:
    event = str(uuid.uuid4())
    with sink_for(shared_pb, dry_run=True) as sink:
        save_document_hashes(sink, event, {f"events/{event}/Event.json": "d" * 64})
        assert record_run(sink, SyncSummary("full", event), datetime.now(UTC), 0) == ""
        assert sink.writes_sent == 0
        assert load_document_hashes(sink, event) == {}
    assert shared_pb.records("syncRuns", f"eventId = {filter_string(event)}") == []
