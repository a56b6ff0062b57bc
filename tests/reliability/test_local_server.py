"""The local PocketBase that ``fpvsync pb serve`` and ``make demo`` run: the superuser password never on a command
line, any password accepted, the data private to the user, a busy port reported as such."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import httpx
import pytest

from fpvsync.pb import local
from fpvsync.pb.local import LocalPocketBase
from tests.conftest import RunningPocketBase
from tests.reliability.invariants import cli

DASH_PASSWORD = "-v3ry-s3cret-dash"


@pytest.fixture
def argv_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every command line the PocketBase binary is started with, one JSON list per line (a wrapper script
    in front of the real binary)."""
    log = tmp_path / "argv.log"
    wrapper = tmp_path / "pocketbase-wrapper"
    real = local.pocketbase_binary()
    wrapper.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f: f.write(json.dumps(sys.argv) + '\\n')\n"
        f"os.execv({str(real)!r}, [{str(real)!r}, *sys.argv[1:]])\n"
    )
    wrapper.chmod(0o700)
    monkeypatch.setattr(local, "pocketbase_binary", lambda: wrapper)
    return log


def test_superuser_password_is_never_in_argv_and_may_start_with_a_dash(tmp_path: Path, argv_log: Path) -> None:
    server = LocalPocketBase(tmp_path / "pb_data")
    server.upsert_superuser("admin@example.com", DASH_PASSWORD)
    server.start()
    try:
        answer = httpx.post(
            f"{server.url}/api/collections/_superusers/auth-with-password",
            json={"identity": "admin@example.com", "password": DASH_PASSWORD},
        )
        assert answer.status_code == 200, answer.text
        server.upsert_superuser("admin@example.com", DASH_PASSWORD + "-changed")  # while running, too
    finally:
        server.stop()
    command_lines = argv_log.read_text()
    assert command_lines.count("\n") >= 3  # upsert, serve, upsert: the wrapper saw them all
    assert "s3cret" not in command_lines


def test_data_directory_and_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "pb_data"
    with LocalPocketBase(data) as server:
        server.upsert_superuser("admin@example.com", "a-long-password")
    for path in [data, *data.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} has mode {oct(mode)}"


def test_pb_serve_on_a_busy_port_says_so(pb: RunningPocketBase, tmp_path: Path) -> None:
    result = cli(["pb", "serve", "--dir", str(tmp_path / "other"), "--http", f"127.0.0.1:{pb.server.port}"], None)
    assert result.exit_code == 3
    assert f"port {pb.server.port} is in use by another process" in result.stderr
    assert "running" not in result.stderr


def test_pb_serve_with_a_damaged_credential_file_exits_2_naming_it(tmp_path: Path) -> None:
    data = tmp_path / "pb_data"
    data.mkdir()
    (data / "fpvsync-superuser.json").write_text('{"email": "x@y.test", "pass')
    result = cli(["pb", "serve", "--dir", str(data), "--http", f"127.0.0.1:{local.free_port()}"], None)
    assert result.exit_code == 2, result.stderr
    assert "fpvsync-superuser.json is damaged" in result.stderr
    assert "Traceback" not in result.stderr


def test_pb_serve_tightens_an_existing_data_directory_with_a_notice(tmp_path: Path) -> None:
    data = tmp_path / "pb_data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    (data / "fpvsync-superuser.json").write_text(json.dumps({"email": "x@y.test", "password": "short"}))
    os.chmod(data / "fpvsync-superuser.json", 0o644)
    result = cli(["pb", "serve", "--dir", str(data), "--http", f"127.0.0.1:{local.free_port()}"], None)
    assert "readable only by you" in result.stderr
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "fpvsync-superuser.json").stat().st_mode) == 0o600
    assert result.exit_code == 2  # the stored password is too short: named, not a traceback
    assert "damaged" in result.stderr
