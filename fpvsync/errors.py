"""The errors fpvsync raises, and whether trying again can help.

::

    FpvsyncError
    ├── ConfigError                  bad option or environment value            (exit 2)
    ├── TransientError               trying again later may succeed
    │   ├── SourceUnreachable        FPVTrackside did not answer                (exit 3)
    │   ├── DocumentUnavailable      empty body, HTML, or unparseable JSON      (scope fails, exit 1)
    │   └── SinkUnreachable          PocketBase did not answer                  (exit 3)
    └── TerminalError                trying again will not help
        ├── AuthError                PocketBase refused the credentials         (exit 3)
        └── SinkRejected             PocketBase refused a write (4xx)           (record fails, exit 1)

Lower-level exceptions (httpx, the PocketBase SDK) are translated into these at the module that calls the
library, raised ``from`` the original. Only :mod:`fpvsync.cli` and :mod:`fpvsync.api` turn them into exit codes
or HTTP statuses.
"""

from __future__ import annotations


class FpvsyncError(Exception):
    """Base of every error fpvsync raises on purpose."""


class ConfigError(FpvsyncError):
    """An option or environment variable is missing or invalid."""


class TransientError(FpvsyncError):
    """A failure that may go away if the same work is tried again later."""


class TerminalError(FpvsyncError):
    """A failure that repeating the same work will not fix."""


class SourceUnreachable(TransientError):
    """FPVTrackside could not be reached (connection refused, timeout, 5xx) after retries."""


class DocumentUnavailable(TransientError):
    """A document was not usable: empty body, the HTML fallback page, or JSON that does not parse.

    FPVTrackside answers 200 in all those cases. They mean "not available now", never "empty":
    nothing is deleted because of them.
    """

    def __init__(self, path: str, reason: str, *, empty: bool = False) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
        #: True when the body was empty: FPVTrackside's answer for a file that does not exist (or is being written).
        self.empty = empty


class SinkUnreachable(TransientError):
    """PocketBase could not be reached."""


class AuthError(TerminalError):
    """PocketBase refused the configured superuser credentials or token."""


class SinkRejected(TerminalError):
    """PocketBase rejected a write with a 4xx answer."""

    def __init__(self, message: str, status: int = 400, data: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.data = data
