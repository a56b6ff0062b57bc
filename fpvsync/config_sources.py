"""Where settings come from, in order of precedence, and which one gave each value.

1. a command-line option (``--pb-url``);
2. the environment (``FPVSYNC_PB_URL``);
3. a ``.env`` file in the working directory (same names);
4. a config file: ``--config PATH`` (or ``FPVSYNC_CONFIG``), else ``fpvsync.toml`` in the working directory, else
   ``fpvsync.toml`` in the platform's config directory (``~/.config/fpvsync`` on Linux), with the settings' names
   in lower case without the prefix (``pb_url = "http://127.0.0.1:8090"``);
5. the credential file ``fpvsync pb serve`` writes, for the superuser's email and password: the one named by
   ``pb_credentials`` (``FPVSYNC_PB_CREDENTIALS``), else ``pb_data/fpvsync-superuser.json`` in the working
   directory when it belongs to the PocketBase at the configured ``pb_url``;
6. the defaults.

pydantic-settings reads the environment, ``.env`` and TOML (one well-kept implementation of their quoting and
parsing rules); this module only orders them and remembers each value's origin for ``fpvsync config``.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from pydantic_settings import BaseSettings, DotEnvSettingsSource, EnvSettingsSource, TomlConfigSettingsSource

from fpvsync.errors import ConfigError

ENV_PREFIX = "FPVSYNC_"
CONFIG_FILE = "fpvsync.toml"
#: The file ``fpvsync pb serve`` keeps its generated superuser in, inside its data directory.
CREDENTIALS_FILE = "fpvsync-superuser.json"
DEFAULT_DATA_DIR = "pb_data"


class _Raw(BaseSettings):
    """Every setting as a source gave it (validation and ranges are :class:`fpvsync.config.Settings`' job)."""

    trackside_url: Any = None
    pb_url: Any = None
    pb_email: Any = None
    pb_password: Any = None
    pb_token: Any = None
    pb_credentials: Any = None
    timezone: Any = None
    trackside_timeout: Any = None
    trackside_attempts: Any = None
    min_request_interval: Any = None
    pb_timeout: Any = None


NAMES: tuple[str, ...] = tuple(_Raw.model_fields)
#: The command-line options that set a setting (the others come from the environment or files only).
OPTIONS = {"trackside_url": "--trackside", "pb_url": "--pb-url", "timezone": "--timezone"}


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The config file to read: ``explicit`` (``--config``), ``FPVSYNC_CONFIG``, or the first that exists of
    ``./fpvsync.toml`` and the platform config directory's."""
    chosen = explicit or env.get(ENV_PREFIX + "CONFIG")
    if chosen:
        path = Path(chosen).expanduser()
        if not path.is_file():
            raise ConfigError(f"the config file {path} does not exist (--config or {ENV_PREFIX}CONFIG)")
        return path
    for candidate in (Path.cwd() / CONFIG_FILE, Path(click.get_app_dir("fpvsync")) / CONFIG_FILE):
        if candidate.is_file():
            return candidate
    return None


def _toml(path: Path) -> dict[str, Any]:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"the config file {path} cannot be read: {exc}") from None
    unknown = sorted(set(document) - set(NAMES))
    if unknown:
        raise ConfigError(f"the config file {path} has unknown settings {unknown}: use {', '.join(NAMES)}")
    return dict(TomlConfigSettingsSource(_Raw, toml_file=path)())


def _environment(env: Mapping[str, str] | None) -> dict[str, Any]:
    if env is None:
        return dict(EnvSettingsSource(_Raw, env_prefix=ENV_PREFIX, case_sensitive=False, env_ignore_empty=True)())
    return {name: env[env_name(name)] for name in NAMES if env.get(env_name(name))}


def _dotenv(path: Path) -> dict[str, Any]:
    source = DotEnvSettingsSource(_Raw, env_file=path, env_prefix=ENV_PREFIX, env_ignore_empty=True)
    return {name: value for name, value in source().items() if name in NAMES}


def read_credentials(path: Path) -> dict[str, str]:
    """``{"email", "password", "url"?}`` from a credential file; :class:`ConfigError` naming it when damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        email, password = data["email"], data["password"]
        if not (isinstance(email, str) and isinstance(password, str) and email and len(password) >= 8):
            raise ValueError("email and password (8 characters or more) must be strings")
        url = data.get("url")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(
            f"the credential file {path} is damaged ({type(exc).__name__}: {exc}); "
            "delete it to generate a new superuser, or set FPVSYNC_PB_EMAIL and FPVSYNC_PB_PASSWORD"
        ) from None
    found = {"email": email, "password": password}
    if isinstance(url, str):
        found["url"] = url
    return found


def gather(
    overrides: Mapping[str, object], env: Mapping[str, str] | None, config: str | None, pb_url_default: str
) -> tuple[dict[str, object], dict[str, str]]:
    """Every setting some source gives, and where each came from (``"--pb-url"``, ``"FPVSYNC_PB_URL"``,
    ``".env (PATH)"``, ``"PATH"`` of the config file, ``"credential file PATH"``).

    ``env`` given (tests, embedding): only it and ``overrides`` are read, no file.
    """
    layers: list[tuple[str, dict[str, Any]]] = [
        ("option", {k: v for k, v in overrides.items() if v is not None}),
    ]
    files = env is None
    environment = os.environ if env is None else env
    layers.append(("environment", _environment(env)))
    if files:
        dotenv = Path.cwd() / ".env"
        if dotenv.is_file():
            layers.append((f".env ({dotenv})", _dotenv(dotenv)))
        path = config_file(config, environment)
        if path is not None:
            layers.append((str(path), _toml(path)))
    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    for label, layer in layers:
        for name, value in layer.items():
            if name in NAMES and name not in values:
                values[name] = value
                origins[name] = _origin(label, name)
    if files and not (values.get("pb_email") or values.get("pb_token")):
        _credential_file(values, origins, pb_url_default)
    return values, origins


def _origin(label: str, name: str) -> str:
    if label == "option":
        return OPTIONS.get(name, name)
    if label == "environment":
        return env_name(name)
    return label


def _credential_file(values: dict[str, object], origins: dict[str, str], pb_url_default: str) -> None:
    """Fill the superuser's email and password from ``pb serve``'s credential file, when it applies."""
    explicit = values.get("pb_credentials")
    if explicit:
        path = Path(str(explicit)).expanduser()
        if not path.is_file():
            raise ConfigError(f"the credential file {path} does not exist ({origins['pb_credentials']})")
    else:
        path = Path.cwd() / DEFAULT_DATA_DIR / CREDENTIALS_FILE
        if not path.is_file():
            return
    stored = read_credentials(path)
    pb_url = str(values.get("pb_url") or pb_url_default).rstrip("/")
    if not explicit and stored.get("url", "").rstrip("/") != pb_url:
        return  # another PocketBase's superuser
    for name, key in (("pb_email", "email"), ("pb_password", "password")):
        if not values.get(name):
            values[name] = stored[key]
            origins[name] = f"credential file {path}"


def masked(name: str, value: object) -> object:
    """``value`` as ``fpvsync config`` shows it: secrets as ``***``."""
    if name in ("pb_password", "pb_token") and value:
        return "***"
    return value
