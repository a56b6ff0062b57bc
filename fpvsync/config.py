"""Settings from command-line flags, the environment, ``.env``, a config file and ``pb serve``'s credential file.

This and :mod:`fpvsync.config_sources` (which says where each source is and which wins) are the only modules that
read environment variables or config files. Every value is checked here, when read::

    settings = Settings.load(trackside_url="http://timing-laptop:8080")
    settings.origins["pb_url"]   # "FPVSYNC_PB_URL", "--pb-url", "/home/me/fpvsync.toml", ... ("default" if unset)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fpvsync import config_sources
from fpvsync.errors import ConfigError
from fpvsync.redact import has_userinfo, redact

ENV_PREFIX = config_sources.ENV_PREFIX
#: The config file named by ``fpvsync --config PATH`` (set once per command line by the CLI).
CONFIG_PATH: str | None = None
_URL = re.compile(r"^https?://[^\s/]+(/.*)?$")

#: Accepted ranges of the numeric settings: (lowest, highest, lowest allowed itself). Checked when read.
RANGES: dict[str, tuple[float, float, bool]] = {
    "trackside_timeout": (0.0, 3600.0, False),
    "pb_timeout": (0.0, 3600.0, False),
    "min_request_interval": (0.0, 60.0, True),
    "trackside_attempts": (1, 100, True),
}


def _flag(name: str) -> str:
    return config_sources.OPTIONS[name]


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


@dataclass(frozen=True)
class Settings:
    """Everything a sync run needs to know about where to read and where to write."""

    trackside_url: str = "http://localhost:8080"
    pb_url: str = "http://127.0.0.1:8090"
    pb_email: str | None = None
    pb_password: str | None = None
    pb_token: str | None = None
    timezone: str | None = None
    #: Seconds to wait for FPVTrackside before a request counts as failed.
    trackside_timeout: float = 5.0
    #: Attempts per FPVTrackside document before giving up (connection errors, 5xx, unusable bodies).
    trackside_attempts: int = 4
    #: Minimum seconds between two requests to the timing laptop.
    min_request_interval: float = 0.002
    #: Seconds to wait for PocketBase before a request counts as failed.
    pb_timeout: float = 30.0
    #: A credential file written by ``fpvsync pb serve`` to take the superuser's email and password from.
    pb_credentials: str | None = None
    #: Where each setting came from (see :mod:`fpvsync.config_sources`); settings not listed are defaults. Set by
    #: :meth:`load` on the instance (not a field: it is not a setting).
    origins: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, *, config: str | None = None, **overrides: object) -> Settings:
        """Build settings from ``overrides`` (flags; ``None`` = unset), the environment, ``.env``, the config file
        and the credential file, in that order of precedence.

        With an explicit ``env`` mapping only it and ``overrides`` are read (no file): tests and embedding.
        """
        raw, origins = config_sources.gather(overrides, env, config or CONFIG_PATH, cls.pb_url)
        kinds = {f.name: f.type for f in fields(cls)}
        values = {name: _coerce(name, value, kinds[name], origins) for name, value in raw.items()}
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        object.__setattr__(settings, "origins", origins)
        settings.validate()
        return settings

    def origin(self, name: str) -> str:
        """Where setting ``name`` came from: an option, a variable, a file, or ``"default"``."""
        return self.origins.get(name, "default")

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the setting and what it accepts, for values that cannot work."""
        for name in ("trackside_url", "pb_url"):
            value = getattr(self, name)
            if not _URL.match(value):
                raise ConfigError(
                    f"{_flag(name)} {redact(value)!r} is not an http(s) URL (set {_flag(name)} or {_env(name)})"
                )
        if has_userinfo(self.pb_url):
            raise ConfigError(
                f"{_flag('pb_url')} {redact(self.pb_url)!r} carries a user or password: PocketBase would take it "
                f"for Basic auth instead of the superuser token; remove it and set FPVSYNC_PB_EMAIL and "
                f"FPVSYNC_PB_PASSWORD (or FPVSYNC_PB_TOKEN) instead"
            )
        if self.timezone is not None:
            self.zone()
        for name, (low, high, inclusive) in RANGES.items():
            value = getattr(self, name)
            if not (math.isfinite(value) and (value >= low if inclusive else value > low) and value <= high):
                bound = "at least" if inclusive else "greater than"
                raise ConfigError(
                    f"{_label(name, self.origins)}={value!r} is out of range: "
                    f"use a number {bound} {low:g} and at most {high:g}"
                )

    def zone(self) -> ZoneInfo | None:
        """The configured IANA zone, or ``None`` when not configured."""
        if self.timezone is None:
            return None
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(
                f"unknown time zone {self.timezone!r}: use an IANA name such as Europe/Berlin "
                f"(--timezone or {ENV_PREFIX}TIMEZONE)"
            ) from exc

    @property
    def trackside_base(self) -> str:
        return self.trackside_url.rstrip("/")

    @property
    def pb_base(self) -> str:
        return self.pb_url.rstrip("/")

    def has_pb_credentials(self) -> bool:
        return bool(self.pb_token or (self.pb_email and self.pb_password))

    def __repr__(self) -> str:  # never show secrets
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for secret in ("pb_password", "pb_token"):
            if shown[secret]:
                shown[secret] = "***"
        inner = ", ".join(f"{k}={v!r}" for k, v in shown.items())
        return f"Settings({inner})"


def _label(name: str, origins: Mapping[str, str]) -> str:
    """How a message names setting ``name``: the variable or option it came from, or its key in a file."""
    origin = origins.get(name)
    if origin is None or origin.startswith(("--", ENV_PREFIX)):
        return origin or _env(name)
    return f"{name} (in {origin})"


def _coerce(name: str, raw: object, annotation: object, origins: Mapping[str, str]) -> object:
    text = str(annotation)
    if not text.startswith(("float", "int")):
        if not isinstance(raw, str):
            raise ConfigError(f"{_label(name, origins)}={raw!r} must be text")
        return raw
    kind = "a whole number" if text.startswith("int") else "a number"
    try:
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise ValueError(raw)
        if text.startswith("float"):
            return float(raw)
        if isinstance(raw, float):
            raise ValueError(raw)
        return int(raw)
    except ValueError:
        low, high, _ = RANGES.get(name, (0, 0, True))
        raise ConfigError(
            f"{_label(name, origins)}={raw!r} is not {kind}: use {kind} from {low:g} to {high:g}"
        ) from None
