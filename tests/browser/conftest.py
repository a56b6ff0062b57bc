"""Browser fixtures: a real headless Chromium (Debian's ``chromium``) driven by Playwright, pointed at the live page
that a real PocketBase serves from ``pb_public/``, with an event mirrored by the real engine from a replay server.

Playwright cannot download its own browsers here, so it launches the system Chromium; the tests are skipped, with
the reason, only when that is absent (CI installs it: ``.ci/run``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright

from fpvsync import engine
from fpvsync.chromium import CHROMIUM_ARGS, chromium_path
from fpvsync.engine.poll import PollFocus, poll
from fpvsync.trackside.generator import EventSpec, GeneratedEvent
from tests.conftest import RunningPocketBase
from tests.sync_helpers import Mirror

#: Generous on purpose: the suite shares two cores with other work. Latency is measured, not asserted.
WAIT_MS = 30_000

#: Figures the browser tests measured, printed at the end of the run (see pytest_terminal_summary).
MEASURED: dict[str, str] = {}


@pytest.fixture(scope="session")
def playwright_session() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    launched = playwright_session.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
    yield launched
    launched.close()


class PageWatch:
    """A browser tab plus what it logged and asked for: console errors, uncaught exceptions, every request."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def tab(browser: Browser) -> Iterator[PageWatch]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield PageWatch(page)
    context.close()


class LiveEvent:
    """A generated event served by the replay server and mirrored into ``pb`` by the real engine."""

    def __init__(self, pb: RunningPocketBase, event: GeneratedEvent, ctx: engine.SyncContext) -> None:
        self.pb = pb
        self.event = event
        self.ctx = ctx

    def full(self) -> None:
        assert engine.full(self.ctx, self.event.event_id).exit_code == 0

    def poll(self, *races: str) -> int:
        """One live-mirror pass; with ``races`` (source GUIDs), a pass targeted at them (as a notification of a
        race's result triggers): an edit to a settled race is otherwise found within one rotation."""
        focus = PollFocus(races=frozenset(races), event_documents=True) if races else None
        summary = poll(self.ctx, self.event.event_id, focus=focus)
        assert summary.exit_code == 0
        return summary.written

    def one(self, collection: str, record_id: str) -> dict[str, Any]:
        found = self.pb.records(collection, f'id = "{record_id}"')
        assert len(found) == 1, (collection, record_id)
        return found[0]


@pytest.fixture
def default_event_spec() -> EventSpec:
    return EventSpec(seed=11)


@pytest.fixture
def live(pb: RunningPocketBase, event: GeneratedEvent, mirror: Mirror) -> LiveEvent:
    """An event with a running race, served by a replay server but not synced yet (call ``full()``)."""
    return LiveEvent(pb, event, mirror.ctx)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASURED:
        terminalreporter.section("live page measurements")
        for name, value in MEASURED.items():
            terminalreporter.write_line(f"{name}: {value}")
