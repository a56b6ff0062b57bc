"""Shared fixtures: a real PocketBase server with fpvsync's migrations, started on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from fpvsync.pb.local import LocalPocketBase

SUPERUSER_EMAIL = "tests@fpvsync.test"
SUPERUSER_PASSWORD = "tests-password-123"


class RunningPocketBase:
    """A started :class:`LocalPocketBase` plus what tests need to talk to it."""

    def __init__(self, server: LocalPocketBase) -> None:
        self.server = server
        self.email = SUPERUSER_EMAIL
        self.password = SUPERUSER_PASSWORD
        self._token: str | None = None

    @property
    def url(self) -> str:
        return self.server.url

    def token(self) -> str:
        if self._token is None:
            answer = httpx.post(
                f"{self.url}/api/collections/_superusers/auth-with-password",
                json={"identity": self.email, "password": self.password},
            )
            answer.raise_for_status()
            self._token = str(answer.json()["token"])
        return self._token

    def admin(self) -> httpx.Client:
        """An HTTP client authenticated as the superuser (close it, or use it in a ``with``)."""
        return httpx.Client(base_url=self.url, headers={"Authorization": self.token()}, timeout=30)

    def records(self, collection: str, filter: str = "") -> list[dict[str, object]]:
        """Every record of ``collection`` (optionally filtered), read as the superuser."""
        items: list[dict[str, object]] = []
        with self.admin() as client:
            page = 1
            while True:
                answer = client.get(
                    f"/api/collections/{collection}/records",
                    params={"page": page, "perPage": 1000, "filter": filter, "skipTotal": 1},
                )
                answer.raise_for_status()
                batch = answer.json()["items"]
                items.extend(batch)
                if len(batch) < 1000:
                    return items
                page += 1


def _start(directory: Path) -> LocalPocketBase:
    server = LocalPocketBase(directory)
    server.upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
    server.start()
    return server


@pytest.fixture(scope="session")
def shared_pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPocketBase]:
    """One PocketBase for the whole session: tests using it must work on their own events."""
    server = _start(tmp_path_factory.mktemp("pb_shared"))
    yield RunningPocketBase(server)
    server.stop()


@pytest.fixture
def pb(tmp_path: Path) -> Iterator[RunningPocketBase]:
    """A fresh, empty PocketBase for one test (it starts in well under a second)."""
    server = _start(tmp_path / "pb_data")
    yield RunningPocketBase(server)
    server.stop()
