"""Shared fixtures: a real PocketBase server with fpvsync's migrations, started on a free loopback port; a generated
FPVTrackside event in a folder of the test's own, served by the replay server; an in-process mirror between them.

A module (or test) picks its event with a marker, ``pytestmark = pytest.mark.event_spec(seed=11, rounds=3)`` (the
fields of :class:`~fpvsync.trackside.generator.EventSpec`); a folder's conftest sets its default by overriding
the ``default_event_spec`` fixture; without either, :data:`DEFAULT_EVENT_SPEC`.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from fpvsync.pb.local import LocalPocketBase
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.sync_helpers import Mirror

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

    def expired_token(self, email: str | None = None, password: str | None = None) -> str:
        """A real superuser token (of the tests' superuser, or of ``email``) that PocketBase signed and that has
        expired: an impersonation with a 1 s lifetime, returned once PocketBase refuses it."""
        login = httpx.post(
            f"{self.url}/api/collections/_superusers/auth-with-password",
            json={"identity": email or self.email, "password": password or self.password},
        )
        login.raise_for_status()
        answer = httpx.post(
            f"{self.url}/api/collections/_superusers/impersonate/{login.json()['record']['id']}",
            json={"duration": 1},
            headers={"Authorization": login.json()["token"]},
        )
        answer.raise_for_status()
        token = str(answer.json()["token"])
        deadline = time.monotonic() + 10
        while httpx.get(f"{self.url}/api/collections", headers={"Authorization": token}).status_code == 200:
            assert time.monotonic() < deadline, "the 1 s token was still accepted after 10 s"
            time.sleep(0.1)
        return token

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


def start_pocketbase(directory: Path) -> LocalPocketBase:
    """A started PocketBase with fpvsync's migrations and the tests' superuser, its data in ``directory``."""
    server = LocalPocketBase(directory)
    server.upsert_superuser(SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
    server.start()
    return server


@pytest.fixture(scope="session")
def shared_pb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPocketBase]:
    """One PocketBase for the whole session: tests using it must work on their own events."""
    server = start_pocketbase(tmp_path_factory.mktemp("pb_shared"))
    yield RunningPocketBase(server)
    server.stop()


@pytest.fixture
def pb(tmp_path: Path) -> Iterator[RunningPocketBase]:
    """A fresh, empty PocketBase for one test (it starts in well under a second)."""
    server = start_pocketbase(tmp_path / "pb_data")
    yield RunningPocketBase(server)
    server.stop()


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPocketBase]:
    """A second PocketBase, for the fresh ``full`` a mirror is compared with; whoever uses it empties it first
    (:func:`tests.convergence.assert_converged` does), so one serves the whole session."""
    server = start_pocketbase(tmp_path_factory.mktemp("pb_oracle"))
    yield RunningPocketBase(server)
    server.stop()


#: ``generated(spec, folder)``: see the fixture.
PlaceEvent = Callable[[EventSpec, Path], GeneratedEvent]

#: The event of tests that name none: 16 pilots, 4 rounds, a running race, deleted, missing and invalid races.
DEFAULT_EVENT_SPEC = EventSpec(seed=5)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "event_spec(**fields): the EventSpec the `event` fixture generates")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> PlaceEvent:
    """``generated(spec, folder)``: the event ``spec`` describes, written under ``folder`` (which must not exist).

    Each spec is generated once per session and copied after (the generator is deterministic); the copy's files
    are new, so tests may change them freely."""
    templates: dict[EventSpec, GeneratedEvent] = {}

    def place(spec: EventSpec, folder: Path) -> GeneratedEvent:
        if spec not in templates:
            templates[spec] = generate_event(tmp_path_factory.mktemp("event_template") / "trackside", spec)
        template = templates[spec]
        shutil.copytree(template.root, folder, copy_function=shutil.copy)
        return dataclasses.replace(copy.deepcopy(template), root=folder)

    return place


@pytest.fixture
def default_event_spec() -> EventSpec:
    """The event of a folder's tests that name none (a folder's conftest overrides this)."""
    return DEFAULT_EVENT_SPEC


@pytest.fixture
def event_spec(request: pytest.FixtureRequest, default_event_spec: EventSpec) -> EventSpec:
    marker = request.node.get_closest_marker("event_spec")
    return default_event_spec if marker is None else EventSpec(**marker.kwargs)


@pytest.fixture
def event(tmp_path: Path, event_spec: EventSpec, generated: PlaceEvent) -> GeneratedEvent:
    """A generated event in this test's own ``trackside`` folder."""
    return generated(event_spec, tmp_path / "trackside")


@pytest.fixture
def replay(event: GeneratedEvent) -> Iterator[ReplayServer]:
    """The replay server over ``event``'s folder, with ``event`` as FPVTrackside's current event."""
    with ReplayServer(event.root, current_event=event.event_id) as server:
        yield server


@pytest.fixture
def mirror(pb: RunningPocketBase, replay: ReplayServer) -> Iterator[Mirror]:
    """An in-process mirror from ``replay`` into ``pb``."""
    m = Mirror(pb, replay.url)
    yield m
    m.close()
