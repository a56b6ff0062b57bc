"""Screenshots of the live page for the README: ``docs/live-page-*.png`` at desktop and phone widths.

Generates an event, mirrors it into a throwaway PocketBase with the real engine, and photographs the page in the
system's headless Chromium (``apt-get install chromium``)::

    .venv/bin/python scripts/page_screenshots.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from fpvsync import engine
from fpvsync.chromium import CHROMIUM_ARGS, chromium_path
from fpvsync.pb.local import LocalPocketBase, Superuser
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import EventSpec, generate_event
from fpvsync.trackside.replay import ReplayServer

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: (file name, view, viewport width, viewport height)
SHOTS = [
    ("live-page-desktop.png", "now", 1000, 640),
    ("live-page-phone.png", "now", 390, 760),
    ("live-page-leaderboard-phone.png", "standings", 390, 760),
]


def main() -> int:
    chromium = chromium_path()
    if chromium is None:
        print("Chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        event = generate_event(root / "trackside", EventSpec(seed=int(sys.argv[1]) if len(sys.argv) > 1 else 3))
        superuser = Superuser.generate()
        with (
            LocalPocketBase(root / "pb_data") as pocketbase,
            ReplayServer(event.root, current_event=event.event_id) as replay,
        ):
            pocketbase.upsert_superuser(superuser.email, superuser.password)
            client = TracksideClient(replay.url)
            sink = PocketBaseSink(pocketbase.url, email=superuser.email, password=superuser.password)
            engine.full(engine.SyncContext(client, sink), event.event_id)
            client.close()
            sink.close()
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
                for name, view, width, height in SHOTS:
                    page = browser.new_page(viewport={"width": width, "height": height})
                    page.goto(f"{pocketbase.url}/#{view}")
                    page.locator("#connection[data-state=live]").wait_for()
                    page.locator(f"#view-{view} tbody tr").first.wait_for()
                    page.screenshot(path=DOCS / name)
                    page.close()
                    print(DOCS / name)
                browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
