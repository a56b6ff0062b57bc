"""Where settings come from: option > environment > .env > config file > pb serve's credential file > default,
as ``fpvsync config`` shows them, secrets masked."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fpvsync.cli import app
from fpvsync.config_sources import NAMES, env_name

SECRET = "s3cret-pw-for-config-test"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory and a platform config directory of our own, and no FPVSYNC_ variable set."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in [*NAMES, "config"]:
        monkeypatch.delenv(env_name(name), raising=False)
    return work


def run(args: list[str], **env: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def settings(*args: str, **env: str) -> dict[str, Any]:
    """``fpvsync [--config PATH] config --json [ARGS]``'s settings."""
    before = list(args[:2]) if args[:1] == ("--config",) else []
    code, out, err = run([*before, "config", "--json", *args[len(before) :]], **env)
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)["settings"]
    return found


def test_each_source_wins_over_the_next(home: Path, tmp_path: Path) -> None:
    (home / "fpvsync.toml").write_text(
        'trackside_url = "http://from-toml:8080"\npb_url = "http://from-toml:8090"\n'
        'timezone = "Europe/Paris"\ntrackside_timeout = 7\npb_timeout = 12.5\n'
    )
    (home / ".env").write_text("FPVSYNC_PB_URL=http://from-dotenv:8090\nFPVSYNC_TIMEZONE=Europe/Rome\n")
    found = settings("--timezone", "Europe/Berlin", FPVSYNC_PB_URL="http://from-env:8090")
    assert found["timezone"] == {"value": "Europe/Berlin", "from": "--timezone"}
    assert found["pbUrl"] == {"value": "http://from-env:8090", "from": "FPVSYNC_PB_URL"}
    assert found["tracksideUrl"] == {"value": "http://from-toml:8080", "from": str(home / "fpvsync.toml")}
    assert found["tracksideTimeout"]["value"] == 7.0
    assert found["pbTimeout"] == {"value": 12.5, "from": str(home / "fpvsync.toml")}
    assert found["tracksideAttempts"] == {"value": 4, "from": "default"}

    without_env = settings()
    assert without_env["pbUrl"] == {"value": "http://from-dotenv:8090", "from": f".env ({home / '.env'})"}
    assert without_env["timezone"]["value"] == "Europe/Rome"


def test_config_file_from_the_platform_dir_or_named_explicitly(home: Path, tmp_path: Path) -> None:
    platform = tmp_path / "xdg" / "fpvsync" / "fpvsync.toml"
    platform.parent.mkdir(parents=True)
    platform.write_text('trackside_url = "http://platform:8080"\n')
    assert settings()["tracksideUrl"] == {"value": "http://platform:8080", "from": str(platform)}
    named = tmp_path / "elsewhere.toml"
    named.write_text('trackside_url = "http://named:8080"\n')
    assert settings("--config", str(named))["tracksideUrl"]["value"] == "http://named:8080"
    assert settings(FPVSYNC_CONFIG=str(named))["tracksideUrl"]["value"] == "http://named:8080"
    code, _, err = run(["--config", str(tmp_path / "missing.toml"), "config"])
    assert code == 2 and "missing.toml does not exist" in err.replace("\n", "")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('pb_pasword = "x"\n', "unknown settings ['pb_pasword']"),
        ("trackside_timeout = nan\n", "trackside_timeout (in "),
        ('trackside_timeout = "soon"\n', "is not a number"),
        ("pb_url = [1]\n", "must be text"),
        ("this is not toml", "cannot be read"),
    ],
)
def test_a_bad_config_file_is_a_usage_error_naming_it(home: Path, content: str, expected: str) -> None:
    (home / "fpvsync.toml").write_text(content)
    code, out, err = run(["config", "--json"])
    assert code == 2, err
    assert expected in err.replace("\n", "") and "fpvsync.toml" in err.replace("\n", "")
    assert json.loads(out)["ok"] is False


def test_secrets_are_masked(home: Path) -> None:
    (home / "fpvsync.toml").write_text(f'pb_token = "{SECRET}-token"\n')
    code, out, err = run(
        ["config", "--trackside", f"http://fpv:{SECRET}@laptop:8080"],
        FPVSYNC_PB_EMAIL="admin@example.com",
        FPVSYNC_PB_PASSWORD=SECRET,
    )
    assert code == 0, err
    assert SECRET not in out + err
    assert "***" in out and "admin@example.com" in out
    code, out, err = run(["config", "--json"], FPVSYNC_PB_PASSWORD=SECRET)
    assert SECRET not in out and json.loads(out)["settings"]["pbPassword"]["value"] == "***"


def _credential_file(directory: Path, url: str) -> Path:
    path = directory / "pb_data" / "fpvsync-superuser.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"email": "generated@localhost.test", "password": SECRET, "url": url}, handle)
    return path


def test_pb_serves_credential_file_is_used_for_its_own_pocketbase_only(home: Path) -> None:
    path = _credential_file(home, "http://127.0.0.1:8090")
    found = settings()
    assert found["pbEmail"] == {"value": "generated@localhost.test", "from": f"credential file {path}"}
    assert found["pbPassword"] == {"value": "***", "from": f"credential file {path}"}
    other = settings(FPVSYNC_PB_URL="http://127.0.0.1:9999")
    assert other["pbEmail"]["value"] is None and other["pbPassword"]["value"] is None
    explicit = settings(FPVSYNC_PB_URL="http://127.0.0.1:9999", FPVSYNC_PB_CREDENTIALS=str(path))
    assert explicit["pbEmail"]["value"] == "generated@localhost.test"
    own = settings(FPVSYNC_PB_EMAIL="me@example.com", FPVSYNC_PB_PASSWORD="my-own-password")
    assert own["pbEmail"] == {"value": "me@example.com", "from": "FPVSYNC_PB_EMAIL"}


def test_version() -> None:
    code, out, _ = run(["--version"])
    assert code == 0 and out.startswith("fpvsync ")
