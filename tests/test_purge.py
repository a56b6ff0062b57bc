"""``fpvsync purge``: one event's mirror goes, nothing else does, and a later sync brings it back whole.

Two generated events share part of the pilot pool and all channels, in one replay folder and one PocketBase.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fpvsync.errors import SinkUnreachable
from fpvsync.ids import record_id
from fpvsync.pb.lock import Lock, try_lock
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.purge import STATE_COLLECTION, plan, purge
from fpvsync.summary import COLLECTIONS
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import assert_summary_shape, run_cli

EVENT_COLLECTIONS = [c for c in COLLECTIONS if c not in ("channels", "pilots", "events")]


@pytest.fixture
def two_events(tmp_path: Path) -> tuple[GeneratedEvent, GeneratedEvent]:
    root = tmp_path / "trackside"
    big = generate_event(root, EventSpec(seed=3, pilots=12, rounds=2))
    small = generate_event(root, EventSpec(seed=11, pilots=4, rounds=1, name="Club Night"))
    return big, small


@pytest.fixture
def replay(two_events: tuple[GeneratedEvent, GeneratedEvent]) -> Iterator[ReplayServer]:
    with ReplayServer(two_events[0].root, current_event=two_events[0].event_id) as server:
        yield server


def mirror_of(pb: RunningPocketBase, event_id: str) -> dict[str, dict[str, Any]]:
    """Every record of the event's own collections, by collection and id (everything PocketBase returns)."""
    eid = record_id(event_id)
    found = {c: {str(r["id"]): r for r in pb.records(c, f'event = "{eid}"')} for c in EVENT_COLLECTIONS}
    found["events"] = {str(r["id"]): r for r in pb.records("events", f'id = "{eid}"')}
    found["eventState"] = {str(r["id"]): r for r in pb.records("eventState", f'event = "{eid}"')}
    return found


def content(mirror: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """``collection -> id -> syncHash``: what was mirrored, without timestamps."""
    return {
        c: {i: str(r.get("syncHash", "")) for i, r in records.items()}
        for c, records in mirror.items()
        if c != "eventState"
    }


def ids(pb: RunningPocketBase, collection: str) -> set[str]:
    return {str(r["id"]) for r in pb.records(collection)}


def referenced_pilots(mirror: dict[str, dict[str, Any]]) -> set[str]:
    """Pilots the event's records refer to (its roster, races, results and removed pilots)."""
    found = {str(p) for event in mirror["events"].values() for p in event["removedPilots"]}
    for collection in ("pilotChannels", "detections", "laps", "gamePoints", "results"):
        found |= {str(r["pilot"]) for r in mirror[collection].values() if r["pilot"]}
    return found


def test_purge_removes_one_event_keeps_shared_pilots_and_a_poll_mirrors_it_again(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    big, small = two_events
    for event in (big, small):
        assert run_cli(["full", event.event_id, "--json"], pb, replay.url).exit_code == 0
    before_big, before_small = mirror_of(pb, big.event_id), mirror_of(pb, small.event_id)
    pilots_before, channels_before = ids(pb, "pilots"), ids(pb, "channels")
    shared = referenced_pilots(before_big) & referenced_pilots(before_small)
    only_big = referenced_pilots(before_big) - referenced_pilots(before_small)
    assert shared and only_big, "the generated events must share some pilots and not others"
    assert pb.records(STATE_COLLECTION, f'event = "{big.event_id}"')

    dry = run_cli(["purge", big.event_id, "--dry-run", "--json"], pb)
    assert dry.exit_code == 0, dry.stderr
    assert dry.json["dryRun"] is True
    assert dry.json["collections"]["laps"]["deleted"] == len(before_big["laps"])
    unconfirmed = run_cli(["purge", big.event_id, "--json"], pb)
    assert unconfirmed.exit_code == 2
    assert unconfirmed.json["ok"] is False and unconfirmed.json["exitCode"] == 2  # one JSON document, even so
    assert "--yes" in unconfirmed.stderr
    assert content(mirror_of(pb, big.event_id)) == content(before_big)

    result = run_cli(["purge", big.event_id, "--yes", "--json"], pb)
    assert result.exit_code == 0, result.stderr
    document = result.json
    assert_summary_shape(document)
    assert (document["command"], document["event"], document["ok"]) == ("purge", big.event_id, True)
    for collection in EVENT_COLLECTIONS:
        assert document["collections"].get(collection, {}).get("deleted", 0) == len(before_big[collection])
    assert document["collections"]["events"]["deleted"] == 1
    assert document["collections"]["pilots"] == {
        "created": 0,
        "updated": 0,
        "unchanged": len(shared),
        "deleted": len(only_big),
        "failed": 0,
    }

    # Only that event went: its records, state, lock and eventState; the other event is untouched, to the timestamp.
    assert all(not records for records in mirror_of(pb, big.event_id).values())
    assert pb.records(STATE_COLLECTION, f'event = "{big.event_id}"') == []
    assert pb.records("syncLocks", f'name = "poll:{big.event_id}"') == []
    assert mirror_of(pb, small.event_id) == before_small
    assert pb.records(STATE_COLLECTION, f'event = "{small.event_id}"')
    assert ids(pb, "pilots") == pilots_before - only_big
    assert shared <= ids(pb, "pilots")
    assert ids(pb, "channels") == channels_before  # the other event still mirrors Channels.json

    # Runs stay as history, readable by the event's GUID; the purge is one of them.
    runs = pb.records("syncRuns", f'eventId = "{big.event_id}"')
    assert sorted(str(r["command"]) for r in runs) == ["full", "purge"]
    assert all(r["event"] == "" for r in runs)

    # A later poll mirrors the event again from scratch, record for record.
    polled = run_cli(["poll", big.event_id, "--json"], pb, replay.url)
    assert polled.exit_code == 0, polled.stdout
    assert content(mirror_of(pb, big.event_id)) == content(before_big)
    assert ids(pb, "pilots") == pilots_before
    assert mirror_of(pb, small.event_id) == before_small


def test_purging_the_last_event_takes_channels_and_pilots_and_full_restores_them(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    big, small = two_events
    assert run_cli(["full", small.event_id, "--json"], pb, replay.url).exit_code == 0
    before = mirror_of(pb, small.event_id)
    pilots, channels = ids(pb, "pilots"), ids(pb, "channels")

    unknown = run_cli(["purge", big.event_id, "--yes", "--json"], pb)  # never mirrored: nothing to do
    assert unknown.exit_code == 0
    assert all(c["deleted"] == 0 for c in unknown.json["collections"].values())
    assert mirror_of(pb, small.event_id) == before

    with PocketBaseSink(pb.url, email=pb.email, password=pb.password) as sink:
        lock = try_lock(sink, f"poll:{small.event_id}", lease=60, wait=0)
        assert isinstance(lock, Lock)
        busy = run_cli(["purge", small.event_id, "--yes", "--json"], pb)  # a poll of the event is writing
        lock.release()
    assert busy.exit_code == 1
    assert busy.json["ok"] is False and "writing" in busy.json["errors"][0]["message"]
    assert mirror_of(pb, small.event_id) == before

    result = run_cli(["purge", small.event_id.upper(), "--yes"], pb)
    assert result.exit_code == 0, result.stderr
    for collection in COLLECTIONS:
        assert pb.records(collection) == [], collection
    assert pb.records("eventState") == []

    assert run_cli(["full", small.event_id, "--json"], pb, replay.url).exit_code == 0
    assert content(mirror_of(pb, small.event_id)) == content(before)
    assert (ids(pb, "pilots"), ids(pb, "channels")) == (pilots, channels)


def test_purge_refuses_what_is_not_an_event_id(pb: RunningPocketBase) -> None:
    result = run_cli(["purge", "not-a-guid", "--yes"], pb)
    assert result.exit_code == 2
    assert "GUID" in result.stderr


class _LostAfterFirstBatch(PocketBaseSink):
    """A sink whose connection to PocketBase drops after its first batch was committed (as a cable pulled mid-purge)."""

    batches = 0

    def _send_batch(self, ops: list[Any]) -> list[Any]:
        self.batches += 1
        if self.batches > 1:
            raise SinkUnreachable("connection lost")
        return super()._send_batch(ops)


def test_an_interrupted_purge_leaves_nothing_a_poll_cannot_restore(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    big, _ = two_events
    assert run_cli(["full", big.event_id, "--json"], pb, replay.url).exit_code == 0
    before = content(mirror_of(pb, big.event_id))

    sink = _LostAfterFirstBatch(pb.url, email=pb.email, password=pb.password, batch_size=20)
    with sink, pytest.raises(SinkUnreachable):
        purge(sink, plan(sink, big.event_id))
    assert content(mirror_of(pb, big.event_id)) != before, "the first batch of deletes was committed"
    assert pb.records("syncLocks", f'name = "poll:{big.event_id}"') == [], "the purge released its lock"

    polled = run_cli(["poll", big.event_id, "--json"], pb, replay.url)
    assert polled.exit_code == 0, polled.stdout
    assert content(mirror_of(pb, big.event_id)) == before


def test_pilots_and_channels_another_event_took_up_after_the_plan_stay(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    """Between the plan shown and the answer "yes", another event's first sync may start using them."""
    big, small = two_events
    assert run_cli(["full", big.event_id, "--json"], pb, replay.url).exit_code == 0
    with PocketBaseSink(pb.url, email=pb.email, password=pb.password) as sink:
        shown = plan(sink, big.event_id)
        assert shown.deletes["channels"], "the only mirrored event's purge takes the channels"
        assert run_cli(["full", small.event_id, "--json"], pb, replay.url).exit_code == 0
        before_small = mirror_of(pb, small.event_id)
        summary = purge(sink, shown)

    assert summary.exit_code == 0
    assert all(not records for records in mirror_of(pb, big.event_id).values())
    assert mirror_of(pb, small.event_id) == before_small
    assert referenced_pilots(before_small) <= ids(pb, "pilots")
    assert ids(pb, "channels") >= {str(r["channel"]) for r in before_small["pilotChannels"].values()}
