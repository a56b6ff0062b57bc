"""The HTTP trigger API: real PocketBase, a real replay server over a generated event, the app served by uvicorn in
a thread (and one real ``fpvsync serve`` process).

Starlette's TestClient is not used: with httpx (rather than httpx2) it raises a deprecation warning on import, which
this suite treats as an error.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from fpvsync.api import RunRegistry, RunSummary, Service, create_app
from fpvsync.config import Settings
from fpvsync.ids import record_id
from fpvsync.pb.local import free_port
from fpvsync.summary import COLLECTIONS
from fpvsync.trackside.generator import GeneratedEvent
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase, start_pocketbase
from tests.process_helpers import stop, wait_for_http
from tests.sync_helpers import assert_summary_shape, event_records, expected_counts, read, run_cli

OTHER_GUID = "0b9f6a1e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"


pytestmark = pytest.mark.event_spec(seed=11, pilots=8, rounds=3)


def settings_for(pb: RunningPocketBase, trackside_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "trackside_url": trackside_url,
        "pb_url": pb.url,
        "pb_email": pb.email,
        "pb_password": pb.password,
        "trackside_attempts": 2,
        **overrides,
    }
    return Settings(**values)


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` served by uvicorn on a free loopback port in a thread, and a client for it."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def app(pb: RunningPocketBase, replay: ReplayServer) -> FastAPI:
    return create_app(settings_for(pb, replay.url))


@pytest.fixture
def api(app: FastAPI) -> Iterator[httpx.Client]:
    with serving(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def service_of(app: FastAPI) -> Service:
    service = app.state.service
    assert isinstance(service, Service)
    return service


def synced_records(pb: RunningPocketBase) -> dict[str, int]:
    return {name: len(pb.records(name)) for name in (*COLLECTIONS, "syncRuns", "syncScopes")}


def user_token(pb: RunningPocketBase) -> str:
    """The token of an ordinary user of PocketBase's default ``users`` auth collection."""
    with pb.admin() as admin:
        created = admin.post(
            "/api/collections/users/records",
            json={"email": "racer@fpvsync.test", "password": "racer-password-1", "passwordConfirm": "racer-password-1"},
        )
        assert created.status_code == 200, created.text
    answer = httpx.post(
        f"{pb.url}/api/collections/users/auth-with-password",
        json={"identity": "racer@fpvsync.test", "password": "racer-password-1"},
    )
    answer.raise_for_status()
    return str(answer.json()["token"])


def wait_for_run(client: httpx.Client, url: str, token: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get(url, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        if document["status"] != "running":
            return document
        assert time.monotonic() < deadline, f"run still running after {timeout}s"
        time.sleep(0.05)


def without_timing(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in ("durationSeconds", "runId")}


# -- who may trigger ------------------------------------------------------------------------------------------------


def test_missing_forged_and_non_superuser_tokens_get_401_and_trigger_nothing(
    pb: RunningPocketBase,
    shared_pb: RunningPocketBase,
    event: GeneratedEvent,
    replay: ReplayServer,
    api: httpx.Client,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    racer = user_token(pb)
    elsewhere = shared_pb.token()  # a real superuser token, signed by another PocketBase
    eid, race_id = event.event_id, event.finished_race_ids[0]
    routes = [
        ("POST", f"/ingest/events/{eid}/snapshot"),
        ("POST", f"/ingest/events/{eid}/race/{race_id}"),
        ("POST", f"/ingest/events/{eid}/results"),
        ("POST", f"/ingest/events/{eid}/full"),
        ("GET", f"/ingest/runs/{'0' * 32}"),
        ("POST", "/ingest/events/not-a-guid/snapshot"),  # authentication comes before validation
    ]
    headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "forged"},
        bearer("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": racer},
        bearer(racer),
        bearer(elsewhere),
    ]
    for method, path in routes:
        for header in headers:
            answer = api.request(method, path, headers=header)
            assert answer.status_code == 401, (method, path, header, answer.text)
            body = answer.json()
            assert set(body) == {"error"} and body["error"]
            assert answer.headers["WWW-Authenticate"] == "Bearer"

    assert replay.requests_served == 0
    assert all(n == 0 for n in synced_records(pb).values()), synced_records(pb)
    assert racer not in caplog.text and elsewhere not in caplog.text


def test_the_service_writes_with_its_own_credentials_not_the_callers(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    """A valid caller token does not stand in for the service's credentials: refused ones answer 503."""
    wrong = settings_for(pb, replay.url, pb_password="not-the-password-9")
    with serving(create_app(wrong)) as client:
        answer = client.post(f"/ingest/events/{event.event_id}/snapshot", headers=bearer(pb.token()))
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert "refused the superuser credentials" in body["error"]
    assert body["summary"]["ok"] is False and body["runId"]
    assert "not-the-password-9" not in answer.text and pb.token() not in answer.text
    assert replay.requests_served == 0
    assert all(n == 0 for n in synced_records(pb).values())


def test_accepted_tokens_are_cached_briefly(pb: RunningPocketBase, replay: ReplayServer) -> None:
    unknown = f"/ingest/runs/{'a' * 32}"
    app = create_app(settings_for(pb, replay.url))
    with serving(app) as client:
        verifier = service_of(app).verifier
        for header in ({"Authorization": pb.token()}, bearer(pb.token()), bearer(pb.token())):
            answer = client.get(unknown, headers=header)
            assert answer.status_code == 404 and "no run" in answer.json()["error"]
        assert verifier.checks_sent == 1
        for _ in range(2):
            assert client.get(unknown, headers=bearer("forged")).status_code == 401
        assert verifier.checks_sent == 3  # refusals are not cached
    app = create_app(settings_for(pb, replay.url), token_ttl=0)
    with serving(app) as client:
        for _ in range(2):
            assert client.get(unknown, headers=bearer(pb.token())).status_code == 404
        assert service_of(app).verifier.checks_sent == 2


# -- what a superuser gets ------------------------------------------------------------------------------------------


@pytest.fixture
def second_pb(tmp_path: Path) -> Iterator[RunningPocketBase]:
    server = start_pocketbase(tmp_path / "pb_second")
    yield RunningPocketBase(server)
    server.stop()


def test_snapshot_answers_the_same_summary_as_the_cli(
    pb: RunningPocketBase, second_pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, api: httpx.Client
) -> None:
    answer = api.post(f"/ingest/events/{event.event_id.upper()}/snapshot", headers=bearer(pb.token()))
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert_summary_shape(document)
    RunSummary.model_validate(document)
    assert document["ok"] is True and document["command"] == "snapshot" and document["event"] == event.event_id

    cli = run_cli(["snapshot", event.event_id, "--json"], second_pb, replay.url)
    assert cli.exit_code == 0, cli.stdout + cli.stderr
    assert without_timing(document) == without_timing(cli.json)
    assert document["collections"]["races"]["created"] == expected_counts(event)["races"]

    eid = record_id(event.event_id)
    assert len(pb.records("races", f'event = "{eid}"')) == expected_counts(event)["races"]
    assert pb.records("laps") == []
    runs = pb.records("syncRuns")
    assert [(r["command"], r["eventId"]) for r in runs] == [("snapshot", event.event_id)]

    status = api.get(f"/ingest/runs/{document['runId']}", headers=bearer(pb.token()))
    assert status.status_code == 200
    assert status.json()["status"] == "succeeded"
    assert status.json()["summary"] == {k: v for k, v in document.items() if k != "runId"}


def test_half_written_race_answers_207_with_the_race_error(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, api: httpx.Client
) -> None:
    race_id = event.finished_race_ids[0]
    path = f"/ingest/events/{event.event_id}/race/{race_id}"
    first = api.post(path, headers=bearer(pb.token()))
    assert first.status_code == 200, first.text
    laps = len(read(event.race_file(race_id))[0]["Laps"])
    assert first.json()["collections"]["laps"]["created"] == laps

    event.race_file(race_id).write_bytes(b'[{"Laps": [')
    answer = api.post(path, headers=bearer(pb.token()))
    assert answer.status_code == 207, answer.text
    document = answer.json()
    assert_summary_shape(document)
    assert document["ok"] is False
    errors = [e for e in document["errors"] if e["scope"] == f"race {race_id}"]
    assert errors and "unavailable" in errors[0]["message"]
    assert sum(c["deleted"] for c in document["collections"].values()) == 0
    assert len(pb.records("laps", f'race = "{record_id(race_id)}"')) == laps

    status = api.get(f"/ingest/runs/{document['runId']}", headers=bearer(pb.token())).json()
    assert status["status"] == "partial" and status["summary"]["errors"] == document["errors"]


def test_full_runs_in_the_background_and_a_busy_event_answers_409(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, api: httpx.Client
) -> None:
    token = pb.token()
    eid = event.event_id
    replay.latency = 0.03  # long enough for the full run to be still running at the next request
    started = api.post(f"/ingest/events/{eid}/full", headers=bearer(token))
    assert started.status_code == 202, started.text
    body = started.json()
    assert body == {"runId": body["runId"], "status": "running", "url": f"/ingest/runs/{body['runId']}"}
    assert started.headers["Location"] == body["url"]

    for path in (
        f"/ingest/events/{eid}/snapshot",
        f"/ingest/events/{eid}/full",
        f"/ingest/events/{eid.upper()}/results",
    ):
        busy = api.post(path, headers=bearer(token))
        assert busy.status_code == 409, busy.text
        assert busy.json()["runId"] == body["runId"] and "already running" in busy.json()["error"]
    assert api.get(body["url"], headers=bearer(token)).json()["status"] == "running"
    replay.latency = 0

    done = wait_for_run(api, body["url"], token)
    assert done["status"] == "succeeded", done
    assert done["command"] == "full" and done["event"] == eid and done["finishedAt"] >= done["startedAt"]
    summary = done["summary"]
    assert_summary_shape(summary)
    expected = expected_counts(event)
    assert {name: summary["collections"][name]["created"] for name in expected} == expected

    # The event is free again; another event was never blocked.
    again = api.post(f"/ingest/events/{eid}/snapshot", headers=bearer(token))
    assert again.status_code == 200, again.text


def test_a_claimed_event_answers_409_for_every_trigger(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, app: FastAPI, api: httpx.Client
) -> None:
    service = service_of(app)
    eid = event.event_id
    assert service.events.claim(eid, "held-by-the-test") is None
    try:
        for path in ("snapshot", f"race/{event.finished_race_ids[0]}", "results", "full"):
            answer = api.post(f"/ingest/events/{eid}/{path}", headers=bearer(pb.token()))
            assert answer.status_code == 409, answer.text
            assert answer.json()["runId"] == "held-by-the-test"
    finally:
        service.events.release(eid, "held-by-the-test")
    assert replay.requests_served == 0
    assert api.post(f"/ingest/events/{eid}/results", headers=bearer(pb.token())).status_code == 200


# -- bad input and unreachable servers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/ingest/events/not-a-guid/snapshot", "eventId"),
        (f"/ingest/events/{OTHER_GUID}x/results", "eventId"),
        (f"/ingest/events/{OTHER_GUID[:-1]}/full", "eventId"),
        ("/ingest/events/%20" + OTHER_GUID + "/snapshot", "eventId"),
        (f"/ingest/events/{OTHER_GUID}/race/12", "raceId"),
        (f"/ingest/events/{OTHER_GUID}/race/{'g' * 8}-0000-0000-0000-000000000000", "raceId"),
        ("/ingest/runs/not-a-run", "runId"),
    ],
)
def test_malformed_ids_answer_422_and_reach_nothing(
    shared_pb: RunningPocketBase, replay: ReplayServer, path: str, name: str
) -> None:
    method = "GET" if path.startswith("/ingest/runs/") else "POST"
    with serving(create_app(settings_for(shared_pb, replay.url))) as client:
        answer = client.request(method, path, headers=bearer(shared_pb.token()))
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["error"].startswith(f"{name} ") and "is not a" in body["error"]
    assert body["detail"][0]["loc"] == ["path", name]
    assert replay.requests_served == 0


def test_trackside_down_answers_502_and_the_run_failed(shared_pb: RunningPocketBase) -> None:
    down = f"http://timer:hush-hush@127.0.0.1:{free_port()}"
    settings = settings_for(shared_pb, down, trackside_attempts=1)
    with serving(create_app(settings)) as client:
        answer = client.post(f"/ingest/events/{OTHER_GUID}/snapshot", headers=bearer(shared_pb.token()))
        assert answer.status_code == 502, answer.text
        body = answer.json()
        assert "FPVTrackside" in body["error"] and "did not answer" in body["error"]
        assert body["summary"]["ok"] is False and body["summary"]["event"] == OTHER_GUID
        status = client.get(f"/ingest/runs/{body['runId']}", headers=bearer(shared_pb.token())).json()
        assert status["status"] == "failed" and status["error"] == body["error"]
    for secret in (shared_pb.password, "hush-hush"):
        assert secret not in answer.text


def test_pocketbase_down_answers_503(replay: ReplayServer) -> None:
    down = Settings(trackside_url=replay.url, pb_url=closed_url(), pb_email="x@fpvsync.test", pb_password="secret-pw-1")
    with serving(create_app(down)) as client:
        answer = client.post(f"/ingest/events/{OTHER_GUID}/snapshot", headers=bearer("some.token.value"))
    assert answer.status_code == 503, answer.text
    assert "did not answer the token check" in answer.json()["error"]
    assert replay.requests_served == 0


def test_healthz_reports_both_servers_without_secrets(shared_pb: RunningPocketBase, replay: ReplayServer) -> None:
    with serving(create_app(settings_for(shared_pb, replay.url))) as client:
        healthy = client.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json() == {
        "trackside": {"ok": True, "url": replay.url + "/", "error": None},
        "pocketbase": {"ok": True, "url": shared_pb.url + "/api/health", "error": None},
    }

    port = free_port()
    down = Settings(
        trackside_url=f"http://timer:hush-hush@127.0.0.1:{free_port()}",
        pb_url=f"http://127.0.0.1:{port}",
        pb_email="x@fpvsync.test",
        pb_password="secret-pw-1",
        pb_token="secret-token-1",
    )
    with serving(create_app(down)) as client:
        sick = client.get("/healthz")
    assert sick.status_code == 503
    body = sick.json()
    assert body["trackside"]["ok"] is False and body["pocketbase"]["ok"] is False
    assert body["trackside"]["url"].startswith("http://127.0.0.1:") and "did not answer" in body["trackside"]["error"]
    assert body["pocketbase"]["url"] == f"http://127.0.0.1:{port}/api/health"
    for secret in ("hush-hush", "timer:", "secret-pw-1", "secret-token-1"):
        assert secret not in sick.text


def test_openapi_document_describes_ids_auth_and_answers(shared_pb: RunningPocketBase) -> None:
    with serving(create_app(settings_for(shared_pb, closed_url()))) as client:
        document = client.get("/openapi.json").json()
    operation = document["paths"]["/ingest/events/{eventId}/race/{raceId}"]["post"]
    patterns = {p["name"]: p["schema"]["pattern"] for p in operation["parameters"]}
    assert set(patterns) == {"eventId", "raceId"} and all("[0-9a-fA-F]{8}" in p for p in patterns.values())
    assert {"200", "207", "401", "409", "422", "502", "503"} <= set(operation["responses"])
    assert operation["security"] == [{"PocketBaseSuperuser": []}]
    assert document["components"]["securitySchemes"]["PocketBaseSuperuser"]["name"] == "Authorization"
    assert "security" not in document["paths"]["/healthz"]["get"]
    assert set(document["paths"]["/ingest/events/{eventId}/full"]["post"]["responses"]) >= {"202", "409"}


def test_run_registry_forgets_the_oldest_finished_runs_first() -> None:
    from fpvsync.api import Run
    from fpvsync.summary import SyncSummary

    registry = RunRegistry(limit=2)
    running, finished, newest = Run("full", OTHER_GUID), Run("snapshot", OTHER_GUID), Run("race", OTHER_GUID)
    finished.finish(SyncSummary(command="snapshot"))
    for run in (running, finished, newest):
        registry.add(run)
    assert registry.get(finished.id) is None
    assert registry.get(running.id) is running and registry.get(newest.id) is newest


def wait_until(condition: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_poll_mirrors_the_current_event_and_yields_to_triggers(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    app = create_app(settings_for(pb, replay.url), poll_interval=0.1)
    service = service_of(app)
    mirror = service.poll_loop
    assert mirror is not None
    assert service.events.claim(event.event_id, "trigger-in-progress") is None
    with serving(app):
        wait_until(lambda: mirror.skipped_busy >= 2, what="passes skipped while a trigger holds the event")
        assert mirror.passes == 0 and pb.records("races") == []
        service.events.release(event.event_id, "trigger-in-progress")

        wait_until(lambda: mirror.passes >= 1, what="a live-mirror pass")
        assert mirror.last is not None and mirror.last.ok, mirror.last
        eid = record_id(event.event_id)
        expected = expected_counts(event)
        assert {name: len(event_records(pb, name, eid)) for name in expected} == expected
        passes = mirror.passes
        wait_until(lambda: mirror.passes >= passes + 2, what="idle passes")
        assert mirror.last is not None and mirror.last.written == 0
    assert mirror.stop(0)  # the app's shutdown ended the loop


# -- the command ----------------------------------------------------------------------------------------------------


def test_serve_command_serves_the_api_on_loopback(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "FPVSYNC_PB_EMAIL": pb.email,
        "FPVSYNC_PB_PASSWORD": pb.password,
        "FPVSYNC_PB_TOKEN": "",
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fpvsync",
                "serve",
                "--port",
                str(port),
                "--trackside",
                replay.url,
                "--pb-url",
                pb.url,
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        health = wait_for_http(f"{base}/healthz", process, diagnose=log.read_text)
        assert health.status_code == 200, health.text
        assert httpx.post(f"{base}/ingest/events/{event.event_id}/snapshot", timeout=30).status_code == 401
        answer = httpx.post(f"{base}/ingest/events/{event.event_id}/snapshot", headers=bearer(pb.token()), timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] is True
    finally:
        stop(process, timeout=10)
    output_text = log.read_text()
    assert "/ingest/events/" in output_text  # uvicorn's access log
    assert "fpvsync.api: run " in output_text and "snapshot" in output_text
    for secret in (pb.password, pb.token()):
        assert secret not in output_text
    assert json.loads(answer.text)["event"] == event.event_id


def test_a_short_poll_interval_never_starves_triggers(
    pb: RunningPocketBase, event: GeneratedEvent, replay: ReplayServer
) -> None:
    """A live mirror polling back to back (each pass longer than the interval) still lets every trigger through:
    a trigger waits for the pass in progress, the next pass waits for the trigger."""
    app = create_app(settings_for(pb, replay.url), poll_interval=0.1)
    service = service_of(app)
    mirror = service.poll_loop
    assert mirror is not None
    with serving(app) as client:
        wait_until(lambda: mirror.passes >= 1, what="a first live-mirror pass")
        headers = bearer(pb.token())
        url = f"/ingest/events/{event.event_id}/snapshot"
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: client.post(url, headers=headers, timeout=120), range(8)))
        statuses = [a.status_code for a in answers]
        # Concurrent triggers may still meet each other (409 naming the trigger's run), never the live mirror.
        assert statuses.count(200) >= 1, statuses
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json().get("runId"), answer.text
            else:
                assert answer.status_code == 200, answer.text
        for _ in range(5):  # one trigger at a time, right after each other, while the mirror polls
            assert client.post(url, headers=headers, timeout=120).status_code == 200
    assert mirror.passes >= 1
