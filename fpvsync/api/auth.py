"""Who may trigger a sync: PocketBase superusers, as the configured PocketBase itself judges their token.

fpvsync keeps no users or keys of its own. A token is accepted only when PocketBase answers a superuser-only read
with it, so a forged token and an ordinary auth-collection user's token are both refused there. Accepted tokens
are remembered for :data:`TOKEN_CACHE_SECONDS` (by their SHA-256, never in clear) so that a burst of triggers
costs one round trip.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Final

import httpx

from fpvsync.api.errors import http_reason, public_url
from fpvsync.errors import SinkUnreachable

#: Seconds an accepted superuser token is trusted without asking PocketBase again.
TOKEN_CACHE_SECONDS: Final = 30.0
#: Seconds a health probe or a token check may take.
PROBE_TIMEOUT: Final = 3.0
#: What a PocketBase token can look like (a JWT); anything else is refused without asking PocketBase.
_TOKEN: Final = re.compile(r"^[A-Za-z0-9._~+/=-]{1,4096}$")
_CACHED_TOKENS: Final = 1024


class NotSuperuser(Exception):
    """The caller did not present a PocketBase superuser token."""


class TokenVerifier:
    """Checks that a token is a superuser's, against the configured PocketBase, remembering successes briefly.

    ``GET /api/collections`` is superuser-only in PocketBase 0.23+: 200 for a superuser, 403 for any other auth
    record, 401 for a token PocketBase did not sign. Only successes are cached, by the token's SHA-256.
    """

    def __init__(
        self,
        pb_url: str,
        *,
        ttl: float = TOKEN_CACHE_SECONDS,
        timeout: float = PROBE_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = pb_url.rstrip("/")
        self.ttl = ttl
        self._clock = clock
        self._cache: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=False)
        #: Round trips made to PocketBase (tests check the cache with it).
        self.checks_sent = 0

    def verify(self, header: str | None) -> None:
        """Return if ``header`` carries a superuser token; raise NotSuperuser, or SinkUnreachable."""
        token = _token_from_header(header)
        key = hashlib.sha256(token.encode()).hexdigest()
        now = self._clock()
        with self._lock:
            expiry = self._cache.get(key)
            if expiry is not None and expiry > now:
                return
        self.checks_sent += 1
        try:
            answer = self._http.get(
                "/api/collections",
                params={"perPage": 1, "skipTotal": 1, "fields": "id"},
                headers={"Authorization": token},
            )
        except httpx.HTTPError as exc:
            raise SinkUnreachable(
                f"PocketBase at {public_url(self.url)} did not answer the token check: {http_reason(exc)}"
            ) from exc
        if answer.status_code in (400, 401, 403):
            raise NotSuperuser("PocketBase did not accept this token as a superuser's")
        if answer.status_code != 200:
            raise SinkUnreachable(
                f"PocketBase at {public_url(self.url)} answered HTTP {answer.status_code} to the token check"
            )
        with self._lock:
            self._cache[key] = now + self.ttl
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHED_TOKENS:
                self._cache.popitem(last=False)

    def close(self) -> None:
        self._http.close()


def _token_from_header(header: str | None) -> str:
    if header is None or not header.strip():
        raise NotSuperuser("missing Authorization header: send a PocketBase superuser token (or Bearer <token>)")
    token = header.strip()
    scheme, _, rest = token.partition(" ")
    if scheme.lower() == "bearer":
        token = rest.strip()
    if not _TOKEN.match(token):
        raise NotSuperuser("the Authorization header does not hold a PocketBase token")
    return token
