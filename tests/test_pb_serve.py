"""``fpvsync pb serve``: a real PocketBase with the migrations, a generated superuser stored privately, clean stop."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from fpvsync.pb.local import free_port
from tests.process_helpers import stop, wait_for_http


def test_pb_serve_generates_a_private_superuser_applies_migrations_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "pb_data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FPVSYNC_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "fpvsync", "pb", "serve", "--dir", str(data), "--http", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/api/health", process, ready=(200,))
        stored = data / "fpvsync-superuser.json"
        assert stat.S_IMODE(stored.stat().st_mode) == 0o600
        credentials = json.loads(stored.read_text())
        token = httpx.post(
            f"{url}/api/collections/_superusers/auth-with-password",
            json={"identity": credentials["email"], "password": credentials["password"]},
        ).json()["token"]
        names = {
            c["name"]
            for c in httpx.get(
                f"{url}/api/collections", params={"perPage": 200}, headers={"Authorization": token}
            ).json()["items"]
        }
        assert {"events", "races", "laps", "syncRuns", "pilotBests"} <= names
    finally:
        code, err = stop(process)
    assert code == 0, err
    assert "dashboard" in err and credentials["password"] not in err
    try:
        httpx.get(f"{url}/api/health", timeout=1)
        still_up = True
    except httpx.TransportError:
        still_up = False
    assert not still_up
