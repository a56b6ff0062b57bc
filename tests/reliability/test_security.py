"""Hostile callers: nobody but a superuser writes to any collection, bookkeeping is unreadable to everyone else,
credentials never appear in output or in run records, servers listen on loopback by default, and ``fpvsync
serve`` refuses every ``/ingest`` call without a genuine superuser token."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer

from fpvsync.cli import app
from fpvsync.pb.local import LocalPocketBase, free_port
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase, start_pocketbase
from tests.process_helpers import stop, wait_for_http
from tests.reliability.invariants import cli

BOOKKEEPING = ("syncRuns", "syncScopes", "syncLocks")
PLACEHOLDER_ID = "aaaaaaaaaaaaaaa"


@dataclass
class Site:
    """A PocketBase holding a mirrored event, a normal (non-superuser) user, and the replay server."""

    pb: RunningPocketBase
    event: GeneratedEvent
    replay: ReplayServer
    user_token: str
    victim_id: str  # another user's record: what a normal user must not be able to touch

    def admin_get(self, path: str, **params: Any) -> Any:
        with self.pb.admin() as admin:
            answer = admin.get(path, params=params)
            answer.raise_for_status()
            return answer.json()

    def collections(self) -> list[dict[str, Any]]:
        return list(self.admin_get("/api/collections", perPage=500)["items"])

    def state(self) -> dict[str, dict[str, str]]:
        """``id -> updated`` (or the whole record when it has no ``updated``) of every record of every collection
        but ``_authOrigins``, where PocketBase notes each superuser login (the service's own, say)."""
        found = {}
        for collection in self.collections():
            if collection["name"] == "_authOrigins":
                continue
            items = self.admin_get(f"/api/collections/{collection['name']}/records", perPage=1000)["items"]
            found[collection["name"]] = {
                str(r.get("id")): str(r.get("updated") or json.dumps(r, sort_keys=True)) for r in items
            }
        return found


def _login(url: str, collection: str, identity: str, password: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{url}/api/collections/{collection}/auth-with-password", json={"identity": identity, "password": password}
    )
    answer.raise_for_status()
    return dict(answer.json())


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("security")
    server = start_pocketbase(root / "pb")
    pb = RunningPocketBase(server)
    event = generate_event(root / "trackside", EventSpec(seed=4, pilots=8, rounds=3))
    try:
        with ReplayServer(event.root, current_event=event.event_id) as replay:
            assert cli(["full", event.event_id, "--json"], pb, replay.url).exit_code == 0
            with pb.admin() as admin:
                admin.post("/api/collections/syncLocks/records", json={"name": "test:held", "holder": "test"})
                ids = []
                for email in ("fan@example.test", "victim@example.test"):
                    body = {"email": email, "password": "fan-password-1", "passwordConfirm": "fan-password-1"}
                    created = admin.post("/api/collections/users/records", json=body)
                    created.raise_for_status()
                    ids.append(str(created.json()["id"]))
            token = str(_login(pb.url, "users", "fan@example.test", "fan-password-1")["token"])
            yield Site(pb, event, replay, token, ids[1])
    finally:
        server.stop()


def _headers(site: Site, actor: str) -> dict[str, str]:
    return {} if actor == "guest" else {"Authorization": site.user_token}


# -- no public write -------------------------------------------------------------------------------------------------

#: PocketBase's default ``users`` collection lets anyone sign up (createRule ""): not closed by fpvsync's
#: migrations, see test_users_sign_up_is_closed.
SIGN_UP = "users"


@pytest.mark.parametrize("actor", ["guest", "user"])
def test_no_write_on_any_collection_by_guests_or_normal_users(site: Site, actor: str) -> None:
    """Every collection PocketBase has (system ones included), every verb: refused, and nothing changed."""
    before = site.state()
    collections = site.collections()
    assert {"laps", "results", *BOOKKEEPING} <= {c["name"] for c in collections}
    refused: list[str] = []
    allowed: list[str] = []
    with httpx.Client(base_url=site.pb.url, headers=_headers(site, actor), timeout=10) as client:
        for collection in collections:
            name = collection["name"]
            base = f"/api/collections/{name}/records"
            existing = site.admin_get(f"/api/collections/{name}/records", perPage=1)["items"]
            target = site.victim_id if name == "users" else str(existing[0]["id"]) if existing else PLACEHOLDER_ID
            body = {"source": "attacker", "sourceId": "x", "name": "x", "email": "x@attacker.test"}
            body |= {"password": "attacker-pass-1", "passwordConfirm": "attacker-pass-1", "command": "x"}
            attempts = [("update", client.patch(f"{base}/{target}", json=body))]
            attempts.append(("delete", client.delete(f"{base}/{target}")))
            if name != SIGN_UP:
                attempts.append(("create", client.post(base, json=body)))
            for verb, answer in attempts:
                (refused if 400 <= answer.status_code < 500 else allowed).append(f"{verb} {name}: {answer.status_code}")
    assert allowed == []
    assert len(refused) == 3 * len(collections) - 1
    assert site.state() == before


def _private(name: str) -> bool:
    """System collections, bookkeeping (``sync`` prefix) and accounts: not for the public."""
    return name.startswith(("_", "sync")) or name in ("documentHashes", SIGN_UP)


@pytest.mark.parametrize("actor", ["guest", "user"])
def test_reads_of_every_collection_show_the_public_data_only(site: Site, actor: str) -> None:
    """List and view on every collection: race data is public; nobody sees another account's or fpvsync's own
    records, or anything of PocketBase's system collections that is not their own."""
    user = _login(site.pb.url, "users", "fan@example.test", "fan-password-1")["record"]["id"] if actor == "user" else ""
    public: list[str] = []
    with httpx.Client(base_url=site.pb.url, headers=_headers(site, actor), timeout=10) as client:
        for collection in site.collections():
            name = collection["name"]
            every = site.admin_get(f"/api/collections/{name}/records", perPage=1000)["items"]
            listing = client.get(f"/api/collections/{name}/records", params={"perPage": 1000})
            shown = listing.json().get("items", []) if listing.status_code == 200 else []
            if not _private(name):
                assert listing.status_code == 200 and len(shown) == len(every), name
                public.append(name)
                continue
            for record in shown:  # a user's own account (and PocketBase's notes about it), nothing else
                assert user and user in (record.get("id"), record.get("recordRef")), (name, record)
            for record in every:
                if user and user in (record.get("id"), record.get("recordRef")):
                    continue
                view = client.get(f"/api/collections/{name}/records/{record['id']}")
                assert 400 <= view.status_code < 500, (name, view.status_code)
    assert {"events", "races", "laps", "pilots", "results"} <= set(public)


def test_users_sign_up_is_closed(site: Site) -> None:
    body = {"email": "stranger@attacker.test", "password": "attacker-pass-1", "passwordConfirm": "attacker-pass-1"}
    answer = httpx.post(f"{site.pb.url}/api/collections/users/records", json=body)
    if answer.status_code == 200:  # keep the module's PocketBase as it was
        with site.pb.admin() as admin:
            admin.delete(f"/api/collections/users/records/{answer.json()['id']}").raise_for_status()
    assert 400 <= answer.status_code < 500


@pytest.mark.parametrize("actor", ["guest", "user"])
def test_bookkeeping_is_unreadable_and_sync_hashes_hidden(site: Site, actor: str) -> None:
    with httpx.Client(base_url=site.pb.url, headers=_headers(site, actor), timeout=10) as client:
        for name in BOOKKEEPING:
            records = site.admin_get(f"/api/collections/{name}/records")["items"]
            assert records, name  # there is something to hide
            listing = client.get(f"/api/collections/{name}/records")
            assert 400 <= listing.status_code < 500, (name, listing.status_code)
            assert "items" not in listing.json()
            view = client.get(f"/api/collections/{name}/records/{records[0]['id']}")
            assert 400 <= view.status_code < 500, (name, view.status_code)
        laps = client.get("/api/collections/laps/records", params={"perPage": 5})
        assert laps.status_code == 200 and laps.json()["items"]  # racing data is public ...
        assert all("syncHash" not in lap for lap in laps.json()["items"])  # ... fpvsync's hashes are not


# -- secrets ---------------------------------------------------------------------------------------------------------


def _forged_token(claims: dict[str, Any]) -> str:
    """A well-formed HS256 JWT with superuser-looking claims, signed with a key PocketBase does not have."""

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = part(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + part(json.dumps(claims).encode())
    signature = hmac.new(secrets.token_bytes(32), head.encode(), hashlib.sha256).digest()
    return head + "." + part(signature)


def test_credentials_never_appear_in_output_or_run_records(site: Site) -> None:
    email, password = "secret-keeper@fpvsync.test", "Pw-" + secrets.token_hex(12)
    site.pb.server.upsert_superuser(email, password)
    token = str(_login(site.pb.url, "_superusers", email, password)["token"])
    expired = site.pb.expired_token(email, password)
    wrong, url_secret = "Wrong-" + secrets.token_hex(12), "Url-" + secrets.token_hex(12)
    secret_values = [password, token, expired, wrong, url_secret]
    eid = site.event.event_id
    closed = f"http://127.0.0.1:{free_port()}"
    with_password = {"FPVSYNC_PB_EMAIL": email, "FPVSYNC_PB_PASSWORD": password}
    with_token = {"FPVSYNC_PB_EMAIL": "", "FPVSYNC_PB_PASSWORD": "", "FPVSYNC_PB_TOKEN": token}
    pilots_file = site.event.event_dir() / "Pilots.json"
    runs: list[tuple[list[str], dict[str, str], int]] = [
        (["full", eid, "--json"], with_password, 0),
        (["snapshot", eid], with_password, 0),
        (["full", eid, "--json", "--dry-run"], with_password, 0),
        (["poll", eid, "--json"], with_password, 0),
        (["poll", eid, "--watch", "--for", "0.3", "--interval", "0.1", "--json"], with_password, 0),
        (["status", eid, "--json"], with_password, 0),
        (["status", eid], with_password, 0),
        (["full", eid, "--json"], with_token, 0),
        (["full", eid, "--json"], {**with_password, "FPVSYNC_PB_PASSWORD": wrong}, 3),
        (["full", eid], {**with_password, "FPVSYNC_PB_PASSWORD": wrong}, 3),
        (["full", eid, "--json"], {**with_token, "FPVSYNC_PB_TOKEN": expired}, 3),
        (["full", eid, "--json"], {**with_token, "FPVSYNC_PB_TOKEN": "eyJ" + wrong}, 3),
        (["full", eid, "--json", "--pb-url", closed], with_password, 3),
        (["full", eid, "--json", "--trackside", closed.replace("//", f"//fpv:{url_secret}@")], with_password, 3),
        (["status", eid, "--trackside", closed.replace("//", f"//fpv:{url_secret}@")], with_password, 3),
        (["race", eid, "not-a-guid", "--json"], with_password, 2),
        (["full", eid, "--json"], {**with_password, "FPVSYNC_TRACKSIDE_URL": "ftp://x"}, 2),
    ]
    outputs = []
    original = pilots_file.read_bytes()
    try:
        for args, env, code in runs:
            result = cli(args, None, site.replay.url, FPVSYNC_PB_URL=site.pb.url, **env)
            assert result.exit_code == code, (args, result.stdout, result.stderr)
            outputs.append(result.stdout + result.stderr)
        # A run with a record PocketBase refuses: its error message is printed and stored.
        pilots = json.loads(original)
        pilots[0]["Name"] = "x" * 6000
        pilots_file.write_bytes(json.dumps(pilots).encode())
        failing = cli(["full", eid, "--json"], None, site.replay.url, FPVSYNC_PB_URL=site.pb.url, **with_password)
        assert failing.exit_code == 1
        outputs.append(failing.stdout + failing.stderr)
    finally:
        pilots_file.write_bytes(original)
    stored_runs = json.dumps(site.admin_get("/api/collections/syncRuns/records", perPage=1000)["items"])
    assert len(outputs) == len(runs) + 1
    for secret in secret_values:
        assert not any(secret in output for output in outputs), secret
        assert secret not in stored_runs
    assert cli(["full", eid, "--json"], site.pb, site.replay.url).exit_code == 0


# -- loopback by default ---------------------------------------------------------------------------------------------


def _option_default(command: Any, name: str) -> Any:
    return next(p.default for p in command.params if p.name == name)


def test_servers_listen_on_loopback_by_default(tmp_path: Path) -> None:
    commands: dict[str, Any] = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert _option_default(commands["replay"], "host") == "127.0.0.1"
    assert str(_option_default(commands["pb"].commands["serve"], "http")).startswith("127.0.0.1:")
    assert LocalPocketBase(tmp_path).host == "127.0.0.1"
    server = ReplayServer(tmp_path)
    assert server.host == "127.0.0.1"
    with server:
        assert server.url.startswith("http://127.0.0.1:")
    if "serve" not in commands:
        pytest.skip("fpvsync serve does not exist yet")
    assert _option_default(commands["serve"], "host") == "127.0.0.1"


# -- fpvsync serve: only superusers --------------------------------------------------------------------------------


@contextlib.contextmanager
def _serving(site: Site) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "FPVSYNC_PB_URL": site.pb.url,
        "FPVSYNC_PB_EMAIL": site.pb.email,
        "FPVSYNC_PB_PASSWORD": site.pb.password,
        "FPVSYNC_TRACKSIDE_URL": site.replay.url,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "fpvsync", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"  # the default host
    try:
        wait_for_http(f"{url}/healthz", process, ready=(200, 503), diagnose=lambda: process.communicate()[1])
        yield url
    finally:
        stop(process, timeout=15)


@pytest.mark.skipif(importlib.util.find_spec("fpvsync.api") is None, reason="fpvsync.api does not exist yet")
def test_serve_refuses_missing_forged_and_non_superuser_tokens(site: Site) -> None:
    expired = site.pb.expired_token()
    superuser = _login(site.pb.url, "_superusers", site.pb.email, site.pb.password)
    forged = _forged_token(
        {
            "id": superuser["record"]["id"],
            "collectionId": superuser["record"]["collectionId"],
            "type": "auth",
            "refreshable": True,
            "exp": int(time.time()) + 3600,
        }
    )
    refused_headers: list[dict[str, str]] = [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "x" * 5000},
        {"Authorization": forged},
        {"Authorization": f"Bearer {forged}"},
        {"Authorization": site.user_token},
        {"Authorization": f"Bearer {site.user_token}"},
        {"Authorization": expired},
    ]
    race_id = site.event.finished_race_ids[0]
    before = site.state()
    with _serving(site) as url, httpx.Client(base_url=url, timeout=30) as client:
        spec = client.get("/openapi.json").json()
        routes = [
            (method.upper(), path)
            for path, operations in spec["paths"].items()
            if path.startswith("/ingest")
            for method in operations
        ]
        assert len(routes) >= 5, routes
        tried = 0
        for method, template in routes:
            path = template.format(eventId=site.event.event_id, raceId=race_id, runId="0" * 32)
            for headers in refused_headers:
                answer = client.request(method, path, headers=headers)
                assert answer.status_code == 401, (method, path, headers, answer.status_code, answer.text[:200])
                tried += 1
        assert tried == len(routes) * len(refused_headers)
        assert site.state() == before  # no run was started, nothing was written
        accepted = client.post(
            f"/ingest/events/{site.event.event_id}/snapshot", headers={"Authorization": superuser["token"]}
        )
        assert accepted.status_code == 200, accepted.text[:300]
