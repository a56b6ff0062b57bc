"""PocketBaseSink against a real PocketBase: batched writes, narrowing down refusals, hashes, auth and errors."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fpvsync.config import Settings
from fpvsync.errors import AuthError, ConfigError, SinkRejected, SinkUnreachable
from fpvsync.ids import SOURCE, record_id
from fpvsync.pb.local import free_port
from fpvsync.pb.sink import ATTEMPTS, Delete, PocketBaseSink, Upsert, filter_string
from fpvsync.summary import SyncSummary
from tests.conftest import RunningPocketBase


def sink_for(server: RunningPocketBase, **options: Any) -> PocketBaseSink:
    return PocketBaseSink(server.url, email=server.email, password=server.password, **options)


def unique(prefix: str = "") -> str:
    return f"{prefix}{uuid.uuid4()}"


def channel(source_id: str, number: int = 1, *, exists: bool = False, **fields: Any) -> Upsert:
    body = {"source": SOURCE, "sourceId": source_id, "number": number, "syncHash": f"hash-{number}", **fields}
    return Upsert(
        collection="channels", id=record_id(source_id), body=body, scope="channels", source_id=source_id, exists=exists
    )


def upsert(collection: str, source_id: str, scope: str = "test", **fields: Any) -> Upsert:
    body = {"source": SOURCE, "sourceId": source_id, "syncHash": "h", **fields}
    return Upsert(collection=collection, id=record_id(source_id), body=body, scope=scope, source_id=source_id)


def ids_filter(source_ids: list[str]) -> str:
    return " || ".join(f"id = {filter_string(record_id(s))}" for s in source_ids)


def race_tree(detections: int) -> tuple[str, str, list[Upsert]]:
    """An event, a race in it, a pilot, a channel and ``detections`` detections of that race."""
    event, race, pilot, chan = unique("event-"), unique("race-"), unique("pilot-"), unique("channel-")
    ops = [
        upsert("events", event, name="Sink test"),
        upsert("pilots", pilot, name="Pilot"),
        channel(chan),
        upsert("races", race, event=record_id(event), raceNumber=1),
    ]
    for i in range(detections):
        ops.append(
            upsert(
                "detections",
                f"{race}-d{i}",
                scope=f"race {race}",
                event=record_id(event),
                race=record_id(race),
                pilot=record_id(pilot),
                channel=record_id(chan),
                lapNumber=i,
                time="2025-06-01T10:00:00Z",
            )
        )
    return event, race, ops


def test_create_update_and_unchanged_by_hash(shared_pb: RunningPocketBase) -> None:
    names = [unique("ch-") for _ in range(3)]
    with sink_for(shared_pb) as sink:
        first = SyncSummary("test")
        sink.write([channel(name) for name in names], first)
        assert (first.counts("channels").created, first.counts("channels").updated) == (3, 0)
        stored = sink.existing_hashes("channels", ids_filter(names))
        assert stored == {record_id(name): "hash-1" for name in names}

        # The caller compares hashes: only the changed record is written, as an update.
        second = SyncSummary("test")
        wanted = {record_id(names[0]): "hash-2"}
        changed = [channel(names[0], 2, exists=True)]
        assert all(stored[op.id] != wanted[op.id] for op in changed)
        sink.write(changed, second)
        assert second.counts("channels").updated == 1
        assert second.written == 1
        assert sink.existing_hashes("channels", ids_filter(names))[record_id(names[0])] == "hash-2"
        assert sink.writes_sent == 4

    record = shared_pb.records("channels", f"id = {filter_string(record_id(names[0]))}")[0]
    assert (record["number"], record["sourceId"], record["syncHash"]) == (2, names[0], "hash-2")


def test_existing_hashes_pages_beyond_1000_records(pb: RunningPocketBase) -> None:
    names = [f"paging-{i:05d}" for i in range(2500)]
    with sink_for(pb, batch_size=1000) as sink:
        summary = SyncSummary("test")
        sink.write([channel(name, i) for i, name in enumerate(names)], summary)
        assert summary.counts("channels").created == 2500
        before = sink.requests_sent
        stored = sink.existing_hashes("channels")
        assert sink.requests_sent - before == 3
        assert stored == {record_id(name): f"hash-{i}" for i, name in enumerate(names)}
        # A filter combines with the paging.
        assert len(sink.existing_hashes("channels", 'sourceId ~ "paging-01"')) == 1000
        assert len(sink.existing_hashes("channels", 'sourceId = "nothing"')) == 0


def test_existing_grouped_lists_many_scopes_at_once(shared_pb: RunningPocketBase) -> None:
    event, race, ops = race_tree(3)
    _, _, more = race_tree(0)
    other_race = upsert("races", unique("race-"), event=record_id(event), raceNumber=2)
    with sink_for(shared_pb) as sink:
        sink.write([*ops, *more, other_race], SyncSummary("test"))
        grouped = sink.existing_grouped("races", f"event = {filter_string(record_id(event))}", "event")
        assert grouped == {record_id(event): {record_id(race): "h", other_race.id: "h"}}
        by_race = sink.existing_grouped("detections", f"event = {filter_string(record_id(event))}", "race")
        assert by_race == {record_id(race): {op.id: "h" for op in ops[4:]}}


def test_a_bad_record_fails_alone_and_its_neighbours_are_written(shared_pb: RunningPocketBase) -> None:
    _, race, ops = race_tree(20)
    bad_relation = ops[7]
    bad_relation.body["pilot"] = "aaaaaaaaaaaaaaa"
    too_long = ops[15]
    too_long.body["timingSystemType"] = "x"
    too_long.body["syncHash"] = "y" * 65
    summary = SyncSummary("test")
    with sink_for(shared_pb) as sink:
        sink.write(ops, summary)
    assert summary.counts("detections").created == 18
    assert summary.counts("detections").failed == 2
    assert summary.counts("races").created == 1
    messages = {e.source_id: e for e in summary.errors}
    assert set(messages) == {bad_relation.source_id, too_long.source_id}
    relation_error = messages[bad_relation.source_id]
    assert relation_error.scope == f"race {race}"
    assert relation_error.collection == "detections"
    assert relation_error.message.startswith("pilot: Failed to find all relation records")
    assert "aaaaaaaaaaaaaaa" in relation_error.message
    assert messages[too_long.source_id].message == "syncHash: Must be no more than 64 character(s)"
    written = {r["sourceId"] for r in shared_pb.records("detections", f"race = {filter_string(record_id(race))}")}
    assert written == {op.source_id for op in ops[4:]} - {bad_relation.source_id, too_long.source_id}


def test_many_bad_records_in_one_chunk(shared_pb: RunningPocketBase) -> None:
    _, race, ops = race_tree(60)
    bad = {op.source_id for i, op in enumerate(ops[4:]) if i % 3 == 0 or 30 <= i < 45}
    for op in ops[4:]:
        if op.source_id in bad:
            op.body["race"] = "bbbbbbbbbbbbbbb"
    summary = SyncSummary("test")
    with sink_for(shared_pb, batch_size=100) as sink:
        sink.write(ops, summary)
        # One request per refusal, plus the requests that write what lies between refusals.
        assert sink.requests_sent <= 2 * len(bad) + 2
    assert summary.counts("detections").failed == len(bad)
    assert summary.counts("detections").created == 60 - len(bad)
    assert {e.source_id for e in summary.errors} == bad
    written = {r["sourceId"] for r in shared_pb.records("detections", f"race = {filter_string(record_id(race))}")}
    assert written == {op.source_id for op in ops[4:]} - bad


def test_a_refused_parent_fails_its_children_too(shared_pb: RunningPocketBase) -> None:
    _, _, ops = race_tree(3)
    ops[3].body["sourceId"] = "r" * 201  # the race
    summary = SyncSummary("test")
    with sink_for(shared_pb) as sink:
        sink.write(ops, summary)
    assert summary.counts("races").failed == 1
    assert summary.counts("detections").failed == 3
    assert "sourceId: Must be no more than 200 character(s)" in str(summary.errors[0])


def test_deletes_are_idempotent_and_cascade(shared_pb: RunningPocketBase) -> None:
    event, race, ops = race_tree(5)
    with sink_for(shared_pb) as sink:
        sink.write(ops, SyncSummary("test"))
        race_filter = f"race = {filter_string(record_id(race))}"
        assert len(sink.existing_hashes("detections", race_filter)) == 5

        summary = SyncSummary("test")
        missing = Delete("races", record_id(unique()), scope="cleanup")
        wrong_collection = Delete("noSuchCollection", record_id(unique()), scope="cleanup", source_id="x")
        sink.write(
            [Delete("detections", ops[4].id, "cleanup"), missing, Delete("races", record_id(race), "cleanup")],
            summary,
        )
        assert summary.counts("detections").deleted == 1
        assert summary.counts("races").deleted == 2
        assert summary.ok
        assert sink.existing_hashes("detections", race_filter) == {}  # the race took its detections along
        assert sink.existing_hashes("events", f"id = {filter_string(record_id(event))}") != {}

        again = SyncSummary("test")
        sink.write([Delete("races", record_id(race), "cleanup"), wrong_collection], again)
        assert again.counts("races").deleted == 1
        assert again.counts("noSuchCollection").failed == 1
        assert again.errors[0].source_id == "x"


def test_counters_chunks_and_progress(shared_pb: RunningPocketBase) -> None:
    names = [unique("count-") for _ in range(450)]
    steps: list[int] = []
    with sink_for(shared_pb, batch_size=200) as sink:
        sink.write([channel(name) for name in names], SyncSummary("test"), steps.append)
        assert steps == [200, 200, 50]
        assert sink.writes_sent == 450
        assert sink.requests_sent == 1 + 3  # login, then one request per chunk
        sink.write([], SyncSummary("test"))
        assert sink.requests_sent == 4


def test_dry_run_counts_but_writes_nothing(shared_pb: RunningPocketBase) -> None:
    _, race, ops = race_tree(3)
    summary = SyncSummary("test", dry_run=True)
    steps: list[int] = []
    with sink_for(shared_pb, dry_run=True, batch_size=4) as sink:
        sink.write([*ops, Delete("races", record_id(race), "x")], summary, steps.append)
        assert sink.writes_sent == 0
        assert sink.requests_sent == 1  # the login: credentials are still checked
    assert summary.written == 8
    assert summary.counts("detections").created == 3
    assert summary.counts("races").deleted == 1
    assert steps == [4, 4]
    assert shared_pb.records("races", f"id = {filter_string(record_id(race))}") == []


def test_dry_run_still_checks_credentials(shared_pb: RunningPocketBase) -> None:
    with (
        PocketBaseSink(shared_pb.url, email=shared_pb.email, password="not-the-password", dry_run=True) as sink,
        pytest.raises(AuthError),
    ):
        sink.write([channel(unique())], SyncSummary("test"))


def test_a_garbage_token_is_replaced_by_logging_in_again(shared_pb: RunningPocketBase) -> None:
    with sink_for(shared_pb) as sink:
        sink.authenticate()
        sink.client.auth_store.save("garbage", None)
        summary = SyncSummary("test")
        sink.write([channel(unique())], summary)
        assert summary.counts("channels").created == 1
        assert sink.requests_sent == 4  # login, refused batch, login, batch
        sink.client.auth_store.save("garbage", None)
        assert sink.existing_hashes("channels", 'id = "000000000000000"') == {}


def test_refused_again_after_logging_in_again_is_an_auth_error(pb: RunningPocketBase) -> None:
    with sink_for(pb) as sink:
        sink.authenticate()
        pb.server.upsert_superuser(pb.email, "a-new-password-456")  # invalidates the token and the password
        with pytest.raises(AuthError) as caught:
            sink.write([channel(unique())], SyncSummary("test"))
    assert pb.password not in str(caught.value)
    assert pb.email in str(caught.value)


def test_wrong_password_is_an_auth_error_without_the_password(shared_pb: RunningPocketBase) -> None:
    password = "wrong-password-789"
    with PocketBaseSink(shared_pb.url, email=shared_pb.email, password=password) as sink:
        with pytest.raises(AuthError) as caught:
            sink.authenticate()
        assert sink.requests_sent == 1
    message = str(caught.value)
    assert message == (
        f"PocketBase at {shared_pb.url} refused the superuser credentials for {shared_pb.email} "
        "(check FPVSYNC_PB_EMAIL/FPVSYNC_PB_PASSWORD)"
    )
    assert password not in message


def test_a_bad_token_alone_is_an_auth_error_without_the_token(shared_pb: RunningPocketBase) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2lnbmF0dXJl"
    with PocketBaseSink(shared_pb.url, token=token) as sink, pytest.raises(AuthError) as caught:
        sink.write([channel(unique())], SyncSummary("test"))
    assert "FPVSYNC_PB_TOKEN" in str(caught.value)
    assert token not in str(caught.value)


def test_a_good_token_alone_works(shared_pb: RunningPocketBase) -> None:
    summary = SyncSummary("test")
    with PocketBaseSink(shared_pb.url, token=shared_pb.token()) as sink:
        sink.write([channel(unique())], summary)
    assert summary.counts("channels").created == 1


def test_a_closed_port_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    password = "some-password-123"
    with PocketBaseSink(url, email="a@b.test", password=password, timeout=2) as sink:
        with pytest.raises(SinkUnreachable) as caught:
            sink.authenticate()
        assert sink.requests_sent == 1  # no answer is not retried here: the caller decides
    assert str(caught.value).startswith(f"PocketBase at {url} did not answer: ")
    assert password not in str(caught.value)


def test_missing_credentials_name_the_environment_variables() -> None:
    choices: list[dict[str, Any]] = [{}, {"email": "a@b.test"}, {"password": "password-123"}]
    for options in choices:
        with pytest.raises(ConfigError, match="FPVSYNC_PB_EMAIL and FPVSYNC_PB_PASSWORD, or FPVSYNC_PB_TOKEN"):
            PocketBaseSink("http://127.0.0.1:9", **options)


def test_from_settings(shared_pb: RunningPocketBase) -> None:
    settings = Settings.load({}, pb_url=shared_pb.url + "/", pb_email=shared_pb.email, pb_password=shared_pb.password)
    with PocketBaseSink.from_settings(settings, dry_run=True) as sink:
        assert sink.url == shared_pb.url
        assert sink.dry_run
        sink.authenticate()


class _Unavailable(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": 503, "message": "Down for maintenance.", "data": {}}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def unavailable_server() -> Iterator[str]:
    """An HTTP server answering every POST with 503 (PocketBase behind a proxy during maintenance)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unavailable)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_5xx_is_retried_then_unreachable(unavailable_server: str) -> None:
    with PocketBaseSink(unavailable_server, token="secret-token-value") as sink:
        with pytest.raises(SinkUnreachable, match="failed with 503 after 3 attempts: Down for maintenance") as caught:
            sink.authenticate()
        assert sink.requests_sent == ATTEMPTS
    assert "secret-token-value" not in str(caught.value)


def test_batch_size_shrinks_to_the_server_limit(pb: RunningPocketBase) -> None:
    with pb.admin() as admin:
        admin.patch("/api/settings", json={"batch": {"enabled": True, "maxRequests": 10}}).raise_for_status()
    summary = SyncSummary("test")
    with sink_for(pb, batch_size=25) as sink:
        sink.write([channel(unique()) for _ in range(45)], summary)
        assert sink.batch_size == 10
    assert summary.counts("channels").created == 45
    assert summary.ok


def test_batch_api_disabled_is_rejected_with_a_hint(pb: RunningPocketBase) -> None:
    with pb.admin() as admin:
        admin.patch("/api/settings", json={"batch": {"enabled": False}}).raise_for_status()
    with sink_for(pb) as sink, pytest.raises(SinkRejected, match="does not allow batch requests"):
        sink.write([channel(unique())], SyncSummary("test"))


def test_send_maps_refusals(shared_pb: RunningPocketBase) -> None:
    with sink_for(shared_pb) as sink:
        with pytest.raises(SinkRejected) as caught:
            sink.send("/api/collections/channels/records/000000000000000", {"method": "GET"})
        assert caught.value.status == 404
        with pytest.raises(SinkRejected, match="sourceId: Cannot be blank") as invalid:
            sink.send("/api/collections/channels/records", {"method": "POST", "body": {"source": "x"}})
        assert invalid.value.status == 400
        config: dict[str, Any] = {"method": "GET", "params": {"perPage": 1}}
        assert sink.send("/api/collections/syncRuns/records", config)["perPage"] == 1
        assert config == {"method": "GET", "params": {"perPage": 1}}  # the caller's config is left alone


def test_filter_string_quotes_values(shared_pb: RunningPocketBase) -> None:
    name = unique('quote"d ') + "'"
    with sink_for(shared_pb) as sink:
        sink.write([channel(name)], SyncSummary("test"))
        assert sink.existing_hashes("channels", f"sourceId = {filter_string(name)}") == {record_id(name): "hash-1"}
    with pytest.raises(ValueError, match="backslash"):
        filter_string("a\\b")


def test_guest_cannot_see_sync_hash(shared_pb: RunningPocketBase) -> None:
    name = unique()
    with sink_for(shared_pb) as sink:
        sink.write([channel(name)], SyncSummary("test"))
    answer = httpx.get(f"{shared_pb.url}/api/collections/channels/records/{record_id(name)}")
    assert answer.status_code == 200
    assert "syncHash" not in answer.json()


def test_stale_knowledge_of_what_exists_still_converges(shared_pb: RunningPocketBase) -> None:
    """New records go out as creates and known ones as updates; when that guess is stale (someone else wrote or
    deleted meanwhile), the chunk is re-sent as upserts and every record still ends as asked."""
    existing, missing, fresh, bad = (unique("ch-") for _ in range(4))
    with sink_for(shared_pb) as sink:
        sink.write([channel(existing, 1)], SyncSummary("setup"))
        summary = SyncSummary("test")
        sink.write(
            [
                channel(existing, 2, exists=False),  # believed new, but it exists
                channel(missing, 3, exists=True),  # believed stored, but it is not
                channel(fresh, 4),
                channel(bad, 5, displayName="x" * 6000),  # refused: text over PocketBase's 5,000 characters
            ],
            summary,
        )
        stored = {
            r["sourceId"]: r["number"]
            for r in shared_pb.records("channels", ids_filter([existing, missing, fresh, bad]))
        }
    assert stored == {existing: 2, missing: 3, fresh: 4}
    assert summary.counts("channels").failed == 1
    assert [e.source_id for e in summary.errors] == [bad]
    assert "displayName" in summary.errors[0].message
