"""The mirror's state and the sync-run log, stored in PocketBase's superuser-only bookkeeping collections."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta, timezone

import httpx

from fpvsync.engine import state
from fpvsync.engine.state import ScopeState
from fpvsync.pb.bookkeeping import pb_datetime, recent_runs, record_run
from fpvsync.pb.sink import PocketBaseSink, filter_string
from fpvsync.summary import SyncSummary
from tests.conftest import RunningPocketBase

PB_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$")


def sink_for(server: RunningPocketBase, *, dry_run: bool = False) -> PocketBaseSink:
    return PocketBaseSink(server.url, email=server.email, password=server.password, dry_run=dry_run)


def test_pb_datetime_is_utc_with_milliseconds() -> None:
    moment = datetime(2025, 6, 1, 12, 30, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert pb_datetime(moment) == "2025-06-01 10:30:05.123Z"


def test_scope_state_round_trips_per_event_and_writes_only_what_changed(shared_pb: RunningPocketBase) -> None:
    event, other = str(uuid.uuid4()), str(uuid.uuid4())
    race = state.race_scope(str(uuid.uuid4()))
    path = f"events/{event}/Event.json"
    first = [
        ScopeState(state.EVENT_SCOPE, "a" * 64, "c" * 64, {path: "d" * 64}),
        ScopeState(race, "b" * 64, "c" * 64, {}),
    ]
    with sink_for(shared_pb) as sink:
        assert state.load(sink, event) == {}
        assert state.save(sink, event, first, {}) == 2
        assert state.save(sink, other, [ScopeState(state.EVENT_SCOPE, "e" * 64)], {}) == 1
        stored = state.load(sink, event)
        assert {s.scope: (s.fingerprint, s.context, dict(s.inputs)) for s in stored.values()} == {
            state.EVENT_SCOPE: ("a" * 64, "c" * 64, {path: "d" * 64}),
            race: ("b" * 64, "c" * 64, {}),
        }
        assert state.save(sink, event, first, stored) == 0  # nothing new: nothing written
        assert state.save(sink, event, [stored[race].dirty()], stored) == 1
        state.forget(sink, event, [state.EVENT_SCOPE, "never-stored"])
        again = state.load(sink, event)
        assert set(again) == {race} and not again[race].complete
        assert set(state.load(sink, other)) == {state.EVENT_SCOPE}

    row = shared_pb.records("syncScopes", f"id = {filter_string(state.scope_id(event, race))}")[0]
    assert row["event"] == event and row["scope"] == race
    assert PB_DATE.match(str(row["verifiedAt"]))


def test_fingerprint_covers_ids_hashes_collections_and_mapping_version() -> None:
    from fpvsync.mapping import Record

    lap = Record("laps", "0badc0de-0000-4000-8000-000000000001", {"syncHash": "x"})
    same = state.fingerprint({"laps": [lap], "detections": []})
    assert same == state.fingerprint({"detections": [], "laps": [lap]})
    assert same != state.fingerprint({"laps": [lap]})  # a collection managed (even empty) is part of it
    other = Record("laps", lap.source_id, {"syncHash": "y"})
    assert same != state.fingerprint({"laps": [other], "detections": []})
    assert state.context_digest("Europe/Paris") != state.context_digest("UTC")


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
        state.save(sink, event, [ScopeState(state.EVENT_SCOPE, "d" * 64)], {})
        assert record_run(sink, SyncSummary("full", event), datetime.now(UTC), 0) == ""
        assert sink.writes_sent == 0
        assert state.load(sink, event) == {}
    assert shared_pb.records("syncRuns", f"eventId = {filter_string(event)}") == []
