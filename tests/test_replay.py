"""The replay server answers like FPVTrackside: every answer 200, empty bodies and HTML where FPVTrackside has them."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from fpvsync.trackside.client import parse_current_event
from fpvsync.trackside.replay import ReplayServer
from tests import conftest_source
from tests.source_fixtures import NOT_SET, SampleEvent, dump

# The hand-written sample event and its replay server, in place of the generated event tests/conftest.py serves.
sample_event, replay = conftest_source.sample_event, conftest_source.replay


@contextmanager
def connection(server: ReplayServer) -> Iterator[http.client.HTTPConnection]:
    """A raw HTTP/1.1 connection: sends paths exactly as written (httpx would normalise ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        yield conn
    finally:
        conn.close()


def get(server: ReplayServer, path: str) -> tuple[int, dict[str, str], bytes]:
    with connection(server) as conn:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def page_event(body: bytes) -> str | None:
    return parse_current_event(body.decode("ascii"))


# -- routes ------------------------------------------------------------------------------------------------------


def test_index_page_names_the_event_opened_last(replay: ReplayServer, sample_event: SampleEvent) -> None:
    status, headers, body = get(replay, "/")
    assert status == 200
    assert headers["content-type"] == "text/html"
    assert body.startswith(b"<!DOCTYPE html>")
    assert f'new EventManager("events/{sample_event.event_id}")'.encode() in body


def test_current_event_can_be_forced_and_changed_at_runtime(replay: ReplayServer, sample_event: SampleEvent) -> None:
    replay.current_event = sample_event.other_event_id
    assert page_event(get(replay, "/")[2]) == sample_event.other_event_id
    replay.current_event = None
    assert page_event(get(replay, "/")[2]) == sample_event.event_id


def test_current_event_follows_last_opened_per_request(replay: ReplayServer, sample_event: SampleEvent) -> None:
    other = sample_event.root / "events" / sample_event.other_event_id / "Event.json"
    other.write_bytes(dump([{"LastOpened": "2026/01/02 7:00:00", "Races": []}]))
    assert page_event(get(replay, "/")[2]) == sample_event.other_event_id


def test_current_event_falls_back_to_the_last_folder(tmp_path: Path) -> None:
    for name in ("b-event", "c-event", "a-event"):
        (tmp_path / "events" / name).mkdir(parents=True)
    (tmp_path / "events" / "a-event" / "Event.json").write_bytes(b"[{")  # unreadable: ignored
    with ReplayServer(tmp_path) as server:
        assert page_event(get(server, "/")[2]) == "c-event"


def test_no_event_folder_gives_a_page_without_event(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    with ReplayServer(tmp_path) as server:
        status, _, body = get(server, "/")
    assert status == 200
    assert page_event(body) is None


def test_existing_files_are_served_byte_for_byte(replay: ReplayServer, sample_event: SampleEvent) -> None:
    assert sample_event.files
    for relative in sample_event.files:
        status, headers, body = get(replay, "/" + relative)
        assert status == 200
        assert body == (sample_event.root / relative).read_bytes(), relative
        assert headers["content-type"] == "application/json"
        assert int(headers["content-length"]) == len(body)
        assert "etag" not in headers
        assert "last-modified" not in headers


def test_files_are_read_on_every_request(replay: ReplayServer, sample_event: SampleEvent) -> None:
    target = sample_event.event_file("Rounds.json")
    target.write_bytes(b'[{"Name": "edited"}]')
    assert get(replay, f"/events/{sample_event.event_id}/Rounds.json")[2] == b'[{"Name": "edited"}]'


@pytest.mark.parametrize(
    "relative",
    [
        "Results.json",
        "Stages.json",
        "{missing}/Race.json",
        "{running}/Result.json",
        "ffffffff-0000-4000-8000-000000000000/Race.json",
    ],
)
def test_missing_event_file_is_an_empty_200(replay: ReplayServer, sample_event: SampleEvent, relative: str) -> None:
    relative = relative.format(missing=sample_event.missing_race_id, running=sample_event.running_race_id)
    status, headers, body = get(replay, f"/events/{sample_event.event_id}/{relative}")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == "0"
    assert "content-type" not in headers


def test_missing_event_of_unknown_event_is_an_empty_200(replay: ReplayServer) -> None:
    assert get(replay, "/events/nope/Event.json")[::2] == (200, b"")


@pytest.mark.parametrize("path", ["/current", "/httpfiles/x.json", "/img/logo.png", "/events/", "/events/{event}"])
def test_other_missing_paths_get_the_html_page(replay: ReplayServer, sample_event: SampleEvent, path: str) -> None:
    replay.current_race = "absent"
    status, headers, body = get(replay, path.format(event=sample_event.event_id))
    assert status == 200
    assert headers["content-type"] == "text/html"
    assert page_event(body) == sample_event.event_id


def test_current_auto_names_the_race_started_and_not_ended(replay: ReplayServer, sample_event: SampleEvent) -> None:
    status, headers, body = get(replay, "/current")
    assert status == 200
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"CurrentRace": sample_event.running_race_id}

    race_file = sample_event.race_file(sample_event.running_race_id)
    race = json.loads(race_file.read_bytes())
    race[0]["End"] = "2025/05/03 14:42:00"
    race_file.write_bytes(dump(race))
    assert json.loads(get(replay, "/current")[2]) == {"CurrentRace": None}

    race[0]["Start"], race[0]["End"] = "2025/05/03 14:45:00", NOT_SET
    race_file.write_bytes(dump(race))
    assert json.loads(get(replay, "/current")[2]) == {"CurrentRace": sample_event.running_race_id}


def test_current_explicit_null_and_absent(replay: ReplayServer) -> None:
    replay.current_race = "a-race-id"
    assert json.loads(get(replay, "/current")[2]) == {"CurrentRace": "a-race-id"}
    replay.current_race = None
    assert json.loads(get(replay, "/current")[2]) == {"CurrentRace": None}
    replay.current_race = "absent"
    assert get(replay, "/current")[1]["content-type"] == "text/html"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.json",
        "/events/../../secret.json",
        "/events/%2e%2e/%2e%2e/secret.json",
        "/events/..%2f..%2fsecret.json",
        "/httpfiles/..%5c..%5csecret.json",
        "/%2e%2e/secret.json",
    ],
)
def test_nothing_outside_the_directory_is_served(replay: ReplayServer, sample_event: SampleEvent, path: str) -> None:
    secret = sample_event.root.parent / "secret.json"
    secret.write_bytes(b'{"secret": true}')
    status, headers, body = get(replay, path)
    assert status == 200
    assert b"secret" not in body
    assert headers["content-type"] == "text/html"


def test_symlink_leaving_the_directory_is_not_followed(replay: ReplayServer, sample_event: SampleEvent) -> None:
    secret = sample_event.root.parent / "secret.json"
    secret.write_bytes(b'{"secret": true}')
    link = sample_event.event_file("Stages.json")
    link.symlink_to(secret)
    assert get(replay, f"/events/{sample_event.event_id}/Stages.json")[::2] == (200, b"")


# -- connection behaviour ----------------------------------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with connection(replay) as conn:
        sockets = set()
        for path in ("/", f"/events/{sample_event.event_id}/Event.json", "/events/x/missing.json", "/nope"):
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert response.status == 200
            assert response.version == 11
            assert not response.will_close
            sockets.add(id(conn.sock))
    assert len(sockets) == 1
    assert replay.connections_accepted == 1
    assert replay.requests_served == 4


def test_latency_delays_answers_and_in_flight_is_measured(replay: ReplayServer) -> None:
    replay.latency = 0.15
    started = time.monotonic()
    threads = [threading.Thread(target=get, args=(replay, "/")) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    elapsed = time.monotonic() - started
    assert 0.15 <= elapsed < 1.0  # concurrent, not serialised
    assert replay.max_in_flight == 3
    assert replay.requests_served == 3


def test_stop_closes_keep_alive_connections_and_is_quick(sample_event: SampleEvent) -> None:
    server = ReplayServer(sample_event.root, latency=5.0)
    server.start()
    with connection(server) as conn:
        waiting = threading.Thread(target=lambda: _swallow(conn))
        waiting.start()
        time.sleep(0.1)  # the request is now waiting out its latency
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.5
        waiting.join(5)
        assert not waiting.is_alive()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{server.port}/", timeout=1)


def _swallow(conn: http.client.HTTPConnection) -> None:
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except (OSError, http.client.HTTPException):
        pass


def test_url_requires_a_started_server(sample_event: SampleEvent) -> None:
    server = ReplayServer(sample_event.root)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", server.url)
    server.stop()  # idempotent


# -- CLI ---------------------------------------------------------------------------------------------------------


class StderrReader:
    """Collects a subprocess's stderr in a thread, so tests can wait (bounded) for a line."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stderr is not None
        self.process = process
        self.stream = process.stderr
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        for raw in self.stream:
            self.lines.append(raw.decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, "".join(self.lines))
            if match:
                return match
            if self.process.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} on stderr within {timeout} s; got {''.join(self.lines)!r}")


def test_cli_replay_serves_until_interrupted(sample_event: SampleEvent) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "fpvsync", "replay", str(sample_event.root), "--port", "0", "--latency", "0.01"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    reader = StderrReader(process)
    try:
        match = reader.wait_for(r"(http://127\.0\.0\.1:\d+)[\s\S]*current event: (\S+)", timeout=15)
        url, event = match.group(1), match.group(2)
        assert event == sample_event.event_id
        answer = httpx.get(f"{url}/events/{event}/Event.json", timeout=5)
        assert answer.content == sample_event.event_file("Event.json").read_bytes()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        reader.thread.join(5)
        assert "Stopped after 1 requests" in "".join(reader.lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        reader.thread.join(5)
        reader.stream.close()


def test_cli_replay_needs_an_events_folder(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fpvsync", "replay", str(tmp_path), "--port", "0"],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert b"has no events/ folder" in b" ".join(result.stderr.split())
    assert b"Traceback" not in result.stderr
