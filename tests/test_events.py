"""``fpvsync events``: the open event and every mirrored event, from a real replay server and PocketBase."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.sync_helpers import read, run_cli

NOBODY = "http://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture
def two_events(tmp_path: Path) -> tuple[GeneratedEvent, GeneratedEvent]:
    root = tmp_path / "trackside"
    opened = generate_event(root, EventSpec(seed=5, pilots=4, rounds=1, name="Sunday Cup"))
    mirrored = generate_event(root, EventSpec(seed=6, pilots=4, rounds=1, name="Club Night"))
    return opened, mirrored


@pytest.fixture
def replay(two_events: tuple[GeneratedEvent, GeneratedEvent]) -> Iterator[ReplayServer]:
    with ReplayServer(two_events[0].root, current_event=two_events[0].event_id) as server:
        yield server


def test_events_lists_the_open_event_first_then_the_mirrored_ones_without_credentials(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    opened, mirrored = two_events
    assert run_cli(["snapshot", mirrored.event_id, "--json"], pb, replay.url).exit_code == 0
    source_races = len(read(opened.event_dir() / "Event.json")[0]["Races"])

    result = run_cli(["events", "--json", "--pb-url", pb.url, "--trackside", replay.url], None)
    assert result.exit_code == 0, result.stderr
    document = result.json
    assert document["ok"] is True
    assert document["openEvent"] == opened.event_id
    listed = [(e["eventId"], e["name"], e["open"], e["mirrored"]) for e in document["events"]]
    assert listed == [
        (opened.event_id, "Sunday Cup", True, False),
        (mirrored.event_id, "Club Night", False, True),
    ]
    assert document["events"][0]["races"] == source_races
    assert document["events"][1]["races"] == len(pb.records("races")) > 0
    assert all(e["start"].endswith("Z") for e in document["events"])

    assert run_cli(["snapshot", "--json"], pb, replay.url).exit_code == 0  # mirror the open event too
    document = run_cli(["events", "--json", "--pb-url", pb.url, "--trackside", replay.url], None).json
    assert [(e["eventId"], e["open"], e["mirrored"]) for e in document["events"]] == [
        (opened.event_id, True, True),
        (mirrored.event_id, False, True),
    ]

    text = run_cli(["events", "--pb-url", pb.url, "--trackside", replay.url], None)
    assert text.exit_code == 0
    assert "Sunday Cup" in text.stdout and "Club Night" in text.stdout and "open" in text.stdout


def test_events_still_lists_what_one_server_says_when_the_other_does_not_answer(
    pb: RunningPocketBase, two_events: tuple[GeneratedEvent, GeneratedEvent], replay: ReplayServer
) -> None:
    opened, mirrored = two_events
    assert run_cli(["snapshot", mirrored.event_id, "--json"], pb, replay.url).exit_code == 0

    no_trackside = run_cli(["events", "--json", "--pb-url", pb.url, "--trackside", NOBODY], None)
    assert no_trackside.exit_code == 3
    document = no_trackside.json
    assert document["ok"] is False and document["trackside"]["ok"] is False and document["trackside"]["error"]
    assert document["openEvent"] is None
    assert [e["eventId"] for e in document["events"]] == [mirrored.event_id]

    no_pb = run_cli(["events", "--json", "--pb-url", NOBODY, "--trackside", replay.url], None)
    assert no_pb.exit_code == 3
    document = no_pb.json
    assert document["pocketbase"]["ok"] is False and "did not answer" in document["pocketbase"]["error"]
    assert [(e["eventId"], e["mirrored"]) for e in document["events"]] == [(opened.event_id, False)]

    text = run_cli(["events", "--pb-url", NOBODY, "--trackside", replay.url], None)
    assert text.exit_code == 3
    assert "did not answer" in text.stderr and "Traceback" not in text.stderr + text.stdout


def test_events_refuses_a_url_that_is_not_http() -> None:
    result = run_cli(["events", "--pb-url", "ftp://example"], None)
    assert result.exit_code == 2
    assert "pb-url" in result.stderr


def test_event_names_that_look_like_markup_are_printed_as_they_are(pb: RunningPocketBase, tmp_path: Path) -> None:
    """FPVTrackside takes any text as an event name; the terminal output shows it, never reads it as styling."""
    name = "[/b]A[i]\\[u]"  # short enough for one line of an 80-column table
    event = generate_event(tmp_path / "trackside", EventSpec(seed=7, pilots=4, rounds=1, name=name))
    with ReplayServer(event.root, current_event=event.event_id) as server:
        assert run_cli(["snapshot", event.event_id, "--json"], pb, server.url).exit_code == 0
        listed = run_cli(["events", "--pb-url", pb.url, "--trackside", server.url], None)
    assert listed.exit_code == 0, listed.stderr
    assert name in listed.stdout, listed.stdout

    planned = run_cli(["purge", event.event_id, "--dry-run"], pb)
    assert planned.exit_code == 0, planned.stderr
    assert name in planned.stderr, planned.stderr
