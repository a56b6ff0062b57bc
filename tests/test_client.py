"""The fetch client against a real replay server: unavailable is never empty, retries, politeness.

The cassettes in ``tests/cassettes/`` pin the exact exchanges (request count and order) for FPVTrackside's quirks.
They were recorded against the replay server; to record them again::

    .venv/bin/python -m tests.test_client
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import vcr
from vcr.persisters.filesystem import FilesystemPersister
from vcr.serializers import yamlserializer

from fpvsync import __version__
from fpvsync.config import Settings
from fpvsync.errors import DocumentUnavailable, SourceUnreachable
from fpvsync.trackside.client import ZERO_GUID, Document, TracksideClient, parse_current_event
from fpvsync.trackside.replay import ReplayServer
from tests import conftest_source
from tests.source_fixtures import SampleEvent, free_port, write_sample_event

# The hand-written sample event and its replay server, in place of the generated event tests/conftest.py serves.
sample_event, replay = conftest_source.sample_event, conftest_source.replay

CASSETTES = Path(__file__).parent / "cassettes"
#: Cassettes name this host instead of the replay server's random port.
CASSETTE_BASE = "http://fpvtrackside.test:8080"
FAST = {"backoff": 0.01, "reread_backoff": 0.01, "timeout": 2.0}


def client_for(server: ReplayServer, **options: Any) -> TracksideClient:
    return TracksideClient(server.url, **{**FAST, **options})


# -- documents ---------------------------------------------------------------------------------------------------


def test_fetch_returns_raw_bytes_hash_and_data(replay: ReplayServer, sample_event: SampleEvent) -> None:
    raw = sample_event.event_file("Pilots.json").read_bytes()
    with client_for(replay) as client:
        document = client.fetch(f"/events/{sample_event.event_id}/Pilots.json")
    assert document.path == f"events/{sample_event.event_id}/Pilots.json"
    assert document.body == raw
    assert document.sha256 == hashlib.sha256(raw).hexdigest()
    assert document.data == json.loads(raw)
    assert document.data[1]["Name"] == 'Back\\slash "Q"'
    assert not document.is_empty_list


def test_empty_list_is_a_document_not_unavailable(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with client_for(replay) as client:
        document = client.fetch(f"events/{sample_event.event_id}/{sample_event.deleted_race_id}/Race.json")
        assert document.is_empty_list
        assert document.body == b"[]"
        assert client.requests_sent == 1


def test_empty_body_is_retried_then_unavailable(replay: ReplayServer, sample_event: SampleEvent) -> None:
    path = f"events/{sample_event.event_id}/{sample_event.missing_race_id}/Race.json"
    with client_for(replay, attempts=3) as client:
        with pytest.raises(DocumentUnavailable) as caught:
            client.fetch(path)
        assert client.requests_sent == 3
    assert caught.value.path == path
    assert caught.value.reason == "empty body (file missing or being written)"
    assert caught.value.empty


def test_not_required_empty_body_is_final_at_once(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with client_for(replay, backoff=5.0) as client:
        started = time.monotonic()
        with pytest.raises(DocumentUnavailable, match="empty body") as caught:
            client.fetch(f"events/{sample_event.event_id}/Results.json", required=False)
        assert caught.value.empty
        assert client.requests_sent == 1
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("required", [True, False])
def test_html_is_retried_then_unavailable(replay: ReplayServer, required: bool) -> None:
    with client_for(replay, attempts=3) as client:
        with pytest.raises(DocumentUnavailable) as caught:
            client.fetch("httpfiles/Nope.json", required=required)
        assert client.requests_sent == 3
    assert caught.value.reason == "HTML page instead of JSON"
    assert not caught.value.empty


@pytest.mark.parametrize("required", [True, False])
def test_half_written_file_is_retried_until_complete(
    replay: ReplayServer, sample_event: SampleEvent, required: bool
) -> None:
    target = sample_event.event_file("Rounds.json")
    complete = target.read_bytes()
    target.write_bytes(complete[: len(complete) // 2])
    seen: list[str] = []

    def finish_writing(path: str) -> None:
        seen.append(path)
        if len(seen) == 3:
            target.write_bytes(complete)

    replay.on_request = finish_writing
    with client_for(replay) as client:
        document = client.fetch(f"events/{sample_event.event_id}/Rounds.json", required=required)
        assert client.requests_sent == 3
    assert document.body == complete
    assert document.data == json.loads(complete)


def test_file_rewritten_by_another_thread_is_picked_up(replay: ReplayServer, sample_event: SampleEvent) -> None:
    """Like FPVTrackside rewriting a race file in place while we poll: truncated, then partial, then complete."""
    target = sample_event.race_file(sample_event.running_race_id)
    complete = target.read_bytes()
    target.write_bytes(b"")

    def writer() -> None:
        time.sleep(0.03)
        target.write_bytes(complete[:40])
        time.sleep(0.03)
        target.write_bytes(complete)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with client_for(replay, attempts=8, backoff=0.02) as client:
            document = client.fetch(f"events/{sample_event.event_id}/{sample_event.running_race_id}/Race.json")
    finally:
        thread.join(5)
    assert document.body == complete


def test_a_file_being_written_is_read_again_sooner_than_a_silent_server(
    replay: ReplayServer, sample_event: SampleEvent, caplog: pytest.LogCaptureFixture
) -> None:
    """FPVTrackside rewrites a file within milliseconds: a live lap must not wait as long as for a server that is
    down. Each kind of failure gets its own first pause, doubling (the pauses are logged at debug level)."""
    caplog.set_level(logging.DEBUG, logger="fpvsync.trackside")
    sample_event.event_file("Pilots.json").write_bytes(b'[{"Name": "Half')
    path = f"events/{sample_event.event_id}/Pilots.json"
    with client_for(replay, attempts=3, backoff=0.3, reread_backoff=0.01) as client, pytest.raises(DocumentUnavailable):
        client.fetch(path)
    silent = f"http://127.0.0.1:{free_port()}"
    with (
        TracksideClient(silent, attempts=3, backoff=0.02, reread_backoff=5.0) as client,
        pytest.raises(SourceUnreachable),
    ):
        client.fetch("events/x/Event.json")
    pauses = [r.getMessage().split(" in ", 1)[1].split("s ", 1)[0] for r in caplog.records if "retrying" in r.msg]
    assert pauses == ["0.01", "0.02", "0.02", "0.04"]


def test_permanently_broken_json_is_unavailable_never_empty(replay: ReplayServer, sample_event: SampleEvent) -> None:
    sample_event.event_file("Pilots.json").write_bytes(b'[\r\n  {\r\n    "Name": "Half')
    with client_for(replay, attempts=2) as client, pytest.raises(DocumentUnavailable) as caught:
        client.fetch(f"events/{sample_event.event_id}/Pilots.json")
    assert caught.value.reason.startswith("JSON does not parse: ")
    assert caught.value.reason.endswith("(file half-written?)")
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


def test_byte_order_mark_is_tolerated_and_kept(replay: ReplayServer, sample_event: SampleEvent) -> None:
    sample_event.event_file("Rounds.json").write_bytes(b"\xef\xbb\xbf[]")
    with client_for(replay) as client:
        document = client.fetch(f"events/{sample_event.event_id}/Rounds.json")
    assert document.is_empty_list
    assert document.body == b"\xef\xbb\xbf[]"


def test_document_is_empty_list_only_for_an_empty_array() -> None:
    assert Document.from_body("x", b"[]", []).is_empty_list
    assert not Document.from_body("x", b"{}", {}).is_empty_list
    assert not Document.from_body("x", b"[1]", [1]).is_empty_list


# -- current event and race --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<script>var m = new EventManager("events/abc-123");</script>', "abc-123"),
        ("new EventManager( 'events/abc-123/' )", "abc-123"),
        (
            'new  EventManager(\r\n"events/7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13")',
            "7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13",
        ),
        ("var eventManager = new EventManager();", None),
        ('new EventManager("events/")', None),
        ("<html></html>", None),
    ],
)
def test_parse_current_event(html: str, expected: str | None) -> None:
    assert parse_current_event(html) == expected


def test_current_event_is_scraped_from_the_index_page(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with client_for(replay) as client:
        assert client.current_event() == sample_event.event_id
        replay.current_event = sample_event.other_event_id
        assert client.current_event() == sample_event.other_event_id


def test_current_event_missing_from_the_page_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "events").mkdir()
    with ReplayServer(tmp_path) as server, client_for(server) as client:
        with pytest.raises(DocumentUnavailable, match="names no event"):
            client.current_event()
        assert client.requests_sent == 1


def test_current_race(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with client_for(replay) as client:
        assert client.supports_current() is None
        assert client.current_race() == sample_event.running_race_id
        assert client.supports_current() is True
        replay.current_race = None
        assert client.current_race() is None
        replay.current_race = ZERO_GUID
        assert client.current_race() is None
        assert client.supports_current() is True
        replay.current_race = "absent"
        assert client.current_race() is None
        assert client.supports_current() is False
        assert client.requests_sent == 4  # the HTML answer of an old build is final, not retried


# -- unreachable -------------------------------------------------------------------------------------------------


def test_connection_refused_is_unreachable_after_every_attempt() -> None:
    port = free_port()
    with TracksideClient(f"http://127.0.0.1:{port}", attempts=3, backoff=0.01) as client:
        with pytest.raises(SourceUnreachable) as caught:
            client.fetch("events/x/Event.json")
        assert client.requests_sent == 3
    message = str(caught.value)
    assert message.startswith(f"FPVTrackside at http://127.0.0.1:{port} did not answer: ")
    assert "(3 attempts)" in message
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


def test_recovers_when_the_server_appears_during_retries(sample_event: SampleEvent) -> None:
    port = free_port()
    server = ReplayServer(sample_event.root, port=port)
    with TracksideClient(f"http://127.0.0.1:{port}", attempts=10, backoff=0.02) as client:

        def start_after_two_refusals() -> None:
            # The count goes up as a request starts: at 3, two have surely been refused (the third may not be).
            deadline = time.monotonic() + 5
            while client.requests_sent < 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            server.start()

        starter = threading.Thread(target=start_after_two_refusals)
        starter.start()
        try:
            document = client.fetch(f"events/{sample_event.event_id}/Event.json")
        finally:
            starter.join(5)
            server.stop()
        assert client.requests_sent >= 3
    assert document.body == sample_event.event_file("Event.json").read_bytes()
    assert server.requests_served == 1


def test_answer_slower_than_the_timeout_is_unreachable(replay: ReplayServer, sample_event: SampleEvent) -> None:
    replay.latency = 0.5
    with client_for(replay, timeout=0.1, attempts=2) as client:
        started = time.monotonic()
        with pytest.raises(SourceUnreachable, match="timed out") as caught:
            client.fetch(f"events/{sample_event.event_id}/Event.json")
        assert time.monotonic() - started < 0.45
        assert client.requests_sent == 2
    assert isinstance(caught.value.__cause__, httpx.TimeoutException)


# -- statuses other than 200 (FPVTrackside never sends them; a proxy in front of it might) -------------------


class ScriptedServer:
    """A tiny HTTP server answering a fixed script of (status, body), then repeating the last; records headers."""

    def __init__(self, script: list[tuple[int, bytes]]) -> None:
        self.script = list(script)
        self.headers: list[dict[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner.headers.append({k.lower(): v for k, v in self.headers.items()})
                status, body = owner.script[0] if len(owner.script) == 1 else owner.script.pop(0)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_server_errors_are_retried_then_unreachable() -> None:
    with ScriptedServer([(503, b"busy")]) as server, TracksideClient(server.url, attempts=3, backoff=0.01) as client:
        with pytest.raises(SourceUnreachable, match=r"HTTP 503 Service Unavailable \(3 attempts\)") as caught:
            client.fetch("events/x/Event.json")
        assert client.requests_sent == 3
    assert isinstance(caught.value.__cause__, httpx.HTTPStatusError)


def test_server_error_then_success() -> None:
    script = [(500, b""), (502, b""), (200, b"[1]")]
    with ScriptedServer(script) as server, TracksideClient(server.url, backoff=0.01) as client:
        assert client.fetch("a.json").data == [1]
        assert client.requests_sent == 3


def test_other_statuses_are_unavailable_at_once() -> None:
    with ScriptedServer([(404, b"not found")]) as server, TracksideClient(server.url, backoff=0.01) as client:
        with pytest.raises(DocumentUnavailable, match="HTTP 404"):
            client.fetch("a.json")
        assert client.requests_sent == 1


def test_requests_carry_a_user_agent_and_reuse_one_connection() -> None:
    with ScriptedServer([(200, b"[]")]) as server, TracksideClient(server.url) as client:
        for _ in range(3):
            client.fetch("a.json")
    assert [h["user-agent"] for h in server.headers] == [f"fpvsync/{__version__}"] * 3


def test_from_settings() -> None:
    settings = Settings.load(env={}, trackside_url="http://timing:8080/", trackside_attempts=2)
    with TracksideClient.from_settings(settings) as client:
        assert client.base_url == "http://timing:8080"
        assert client.attempts == 2
        assert client.min_interval == settings.min_request_interval


# -- politeness --------------------------------------------------------------------------------------------------


def test_one_connection_for_many_requests(replay: ReplayServer, sample_event: SampleEvent) -> None:
    with client_for(replay) as client:
        for name in ("Event.json", "Pilots.json", "Rounds.json", "Event.json"):
            client.fetch(f"events/{sample_event.event_id}/{name}")
    assert replay.connections_accepted == 1


def test_never_two_requests_in_flight_from_many_threads(replay: ReplayServer, sample_event: SampleEvent) -> None:
    replay.latency = 0.005
    names = ["Event.json", "Pilots.json", "Rounds.json"]
    expected = {name: sample_event.event_file(name).read_bytes() for name in names}
    failures: list[BaseException] = []
    per_thread = 6

    with client_for(replay, min_interval=0.0) as client:

        def work(offset: int) -> None:
            try:
                for i in range(per_thread):
                    name = names[(offset + i) % len(names)]
                    assert client.fetch(f"events/{sample_event.event_id}/{name}").body == expected[name]
            except BaseException as exc:  # collected, re-raised in the test thread
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert client.requests_sent == 8 * per_thread

    assert not failures
    assert replay.requests_served == 8 * per_thread
    assert replay.max_in_flight == 1
    assert replay.connections_accepted == 1


def test_min_interval_between_requests(replay: ReplayServer, sample_event: SampleEvent) -> None:
    arrivals: list[float] = []
    replay.on_request = lambda path: arrivals.append(time.monotonic())
    with client_for(replay, min_interval=0.05) as client:
        for _ in range(5):
            client.fetch(f"events/{sample_event.event_id}/Event.json")
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(gaps) == 4
    assert min(gaps) >= 0.045


def test_backoff_does_not_block_other_threads(replay: ReplayServer, sample_event: SampleEvent) -> None:
    """A document being retried must not hold the connection while it waits."""
    with client_for(replay, attempts=2, backoff=0.2, reread_backoff=0.2) as client:
        outcomes: list[str] = []

        def fetch_missing() -> None:
            try:
                client.fetch("events/x/Event.json")
            except DocumentUnavailable as exc:
                outcomes.append(exc.reason)

        failing = threading.Thread(target=fetch_missing)
        failing.start()
        time.sleep(0.05)  # the first attempt failed; it is sleeping now
        started = time.monotonic()
        client.fetch(f"events/{sample_event.event_id}/Event.json")
        elapsed = time.monotonic() - started
        failing.join(5)
    assert elapsed < 0.1
    assert outcomes == ["empty body (file missing or being written)"]


# -- cassettes: the exact exchanges --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """One exchange sequence pinned by a cassette: ``run`` talks to FPVTrackside and returns what it saw."""

    name: str
    run: Callable[[TracksideClient], list[str]]
    expected: list[str]
    requests: list[str]
    prepare: Callable[[ReplayServer, SampleEvent], None] = lambda server, sample: None
    attempts: int = 3


def _outcome(call: Callable[[], object]) -> str:
    try:
        value = call()
    except DocumentUnavailable as exc:
        return f"unavailable: {exc.reason}"
    if isinstance(value, Document):
        return f"document: {value.data!r}" if len(value.body) < 60 else f"document: {len(value.data)} items"
    return f"value: {value!r}"


def _missing_files(client: TracksideClient) -> list[str]:
    event = "events/7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13"
    return [
        _outcome(lambda: client.fetch(f"{event}/Results.json", required=False)),
        _outcome(lambda: client.fetch(f"{event}/a1000000-0000-4000-8000-000000000004/Race.json")),
        _outcome(lambda: client.fetch(f"{event}/a1000000-0000-4000-8000-000000000003/Race.json")),
    ]


def _html_fallback(client: TracksideClient) -> list[str]:
    return [
        _outcome(lambda: client.fetch("httpfiles/Nope.json", required=False)),
        _outcome(client.current_race),
        _outcome(client.supports_current),
        _outcome(client.current_event),
    ]


def _half_written(client: TracksideClient) -> list[str]:
    return [_outcome(lambda: client.fetch("events/7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13/Rounds.json"))]


def _prepare_half_written(server: ReplayServer, sample: SampleEvent) -> None:
    target = sample.event_file("Rounds.json")
    complete = target.read_bytes()
    target.write_bytes(complete[:30])
    calls: list[str] = []

    def hook(path: str) -> None:
        calls.append(path)
        if len(calls) == 2:
            target.write_bytes(complete)

    server.on_request = hook


def _prepare_absent_current(server: ReplayServer, sample: SampleEvent) -> None:
    server.current_race = "absent"


EVENT_PATH = "/events/7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13"
SCENARIOS = [
    Scenario(
        name="empty_body",
        run=_missing_files,
        expected=[
            "unavailable: empty body (file missing or being written)",
            "unavailable: empty body (file missing or being written)",
            "document: []",
        ],
        requests=[f"{EVENT_PATH}/Results.json"]
        + [f"{EVENT_PATH}/a1000000-0000-4000-8000-000000000004/Race.json"] * 3
        + [f"{EVENT_PATH}/a1000000-0000-4000-8000-000000000003/Race.json"],
    ),
    Scenario(
        name="html_fallback",
        run=_html_fallback,
        prepare=_prepare_absent_current,
        expected=[
            "unavailable: HTML page instead of JSON",
            "value: None",
            "value: False",
            "value: '7d1c3a52-9f0e-4b7a-8c61-2a5e0f4d9b13'",
        ],
        requests=["/httpfiles/Nope.json"] * 3 + ["/current", "/"],
    ),
    Scenario(
        name="half_written",
        run=_half_written,
        prepare=_prepare_half_written,
        expected=["document: 1 items"],
        requests=[f"{EVENT_PATH}/Rounds.json"] * 2,
    ),
]


def _stable_host(request: Any) -> Any:
    request.uri = CASSETTE_BASE + request.uri[request.uri.index("/", len("http://")) :]
    request.headers["host"] = CASSETTE_BASE.removeprefix("http://")
    return request


def _drop_volatile_headers(response: dict[str, Any]) -> dict[str, Any]:
    headers = response["headers"]
    for name in [n for n in headers if n.lower() in ("date", "server")]:
        del headers[name]
    return response


def cassette_vcr(directory: Path, record_mode: str) -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(directory),
        record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query"],
        before_record_request=_stable_host,
        before_record_response=_drop_volatile_headers,
    )


def record_cassette(scenario: Scenario, directory: Path, workdir: Path) -> list[str]:
    """Record ``scenario`` against a replay server over a fresh sample event (overwrites the cassette)."""
    sample = write_sample_event(workdir)
    with ReplayServer(sample.root) as server:
        scenario.prepare(server, sample)
        with (
            cassette_vcr(directory, "all").use_cassette(f"{scenario.name}.yaml"),
            client_for(server, attempts=scenario.attempts) as client,
        ):
            return scenario.run(client)


def cassette_requests(path: Path) -> list[tuple[str, str, int, Any]]:
    requests, responses = FilesystemPersister.load_cassette(path, serializer=yamlserializer)
    return [
        (request.method, request.uri, response["status"]["code"], response["body"]["string"])
        for request, response in zip(requests, responses, strict=True)
    ]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_cassette_pins_the_exchanges(scenario: Scenario) -> None:
    with (
        cassette_vcr(CASSETTES, "none").use_cassette(f"{scenario.name}.yaml") as cassette,
        TracksideClient(CASSETTE_BASE, attempts=scenario.attempts, backoff=0.001) as client,
    ):
        assert scenario.run(client) == scenario.expected
        assert cassette.all_played
        assert client.requests_sent == len(cassette) == cassette.play_count
    assert [r.uri for r in cassette.requests] == [CASSETTE_BASE + p for p in scenario.requests]
    assert all(r.headers["User-Agent"].startswith("fpvsync/") for r in cassette.requests)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_cassettes_match_the_replay_server(scenario: Scenario, tmp_path: Path) -> None:
    """The committed cassettes still describe what the replay server answers."""
    seen = record_cassette(scenario, tmp_path / "cassettes", tmp_path / "source")
    assert seen == scenario.expected
    fresh = cassette_requests(tmp_path / "cassettes" / f"{scenario.name}.yaml")
    committed = cassette_requests(CASSETTES / f"{scenario.name}.yaml")
    assert fresh == committed


def _record_all() -> None:  # pragma: no cover - maintenance entry point
    import tempfile

    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory() as workdir:
            print(scenario.name, record_cassette(scenario, CASSETTES, Path(workdir)))


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive() and not t.daemon]
        if not extra:
            return
        time.sleep(0.02)
    raise AssertionError(f"threads left running: {extra}")


if __name__ == "__main__":
    _record_all()


def test_messages_never_show_credentials_in_the_url() -> None:
    with TracksideClient("http://director:s3cret-pass@127.0.0.1:9", attempts=1, backoff=0.01) as client:
        assert "s3cret-pass" not in repr(client)
        with pytest.raises(SourceUnreachable) as caught:
            client.fetch("events/x/Event.json")
    assert "s3cret-pass" not in str(caught.value)
    assert "127.0.0.1:9" in str(caught.value)
