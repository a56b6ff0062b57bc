"""Settings from command-line flags and the environment.

This is the only module that reads environment variables. Flags win over the environment, which wins over the
defaults::

    settings = Settings.load(trackside_url="http://timing-laptop:8080")
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fpvsync.errors import ConfigError
from fpvsync.redact import has_userinfo, redact

ENV_PREFIX = "FPVSYNC_"
_URL = re.compile(r"^https?://[^\s/]+(/.*)?$")

#: Accepted ranges of the numeric settings: (lowest, highest, lowest allowed itself). Checked when read.
RANGES: dict[str, tuple[float, float, bool]] = {
    "trackside_timeout": (0.0, 3600.0, False),
    "pb_timeout": (0.0, 3600.0, False),
    "min_request_interval": (0.0, 60.0, True),
    "trackside_attempts": (1, 100, True),
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``env`` (default ``os.environ``) with ``overrides`` (flags; ``None`` = unset)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(ENV_PREFIX + field.name.upper())
            if raw is not None and raw != "":
                values[field.name] = _coerce(field.name, raw, field.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        settings.validate()
        return settings

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
                    f"{_env(name)}={value!r} is out of range: use a number {bound} {low:g} and at most {high:g}"
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


def _coerce(name: str, raw: str, annotation: object) -> object:
    text = str(annotation)
    try:
        if text.startswith("float"):
            return float(raw)
        if text.startswith("int"):
            return int(raw)
    except ValueError:
        kind = "a whole number" if text.startswith("int") else "a number"
        low, high, _ = RANGES.get(name, (0, 0, True))
        raise ConfigError(f"{_env(name)}={raw!r} is not {kind}: use {kind} from {low:g} to {high:g}") from None
    return raw
