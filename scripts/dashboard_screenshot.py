"""Screenshots of the PocketBase dashboard's laps and races lists, for the README (not part of CI).

Mirrors a generated event into a throwaway PocketBase, logs into the dashboard in headless Chromium and saves
``docs/dashboard-laps.png`` and ``docs/dashboard-races.png``. Needs Playwright for Python in the environment
(``pip install -e ".[screenshots]"``) and a Chromium binary (Debian: ``apt-get install chromium``); nothing is
downloaded::

    .venv/bin/python scripts/dashboard_screenshot.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import Page, ViewportSize, sync_playwright

from fpvsync.chromium import CHROMIUM_ARGS, chromium_path
from fpvsync.pb.local import LocalPocketBase
from fpvsync.trackside.generator import EventSpec, generate_event
from fpvsync.trackside.replay import ReplayServer

DOCS = Path(__file__).resolve().parents[1] / "docs"
EMAIL = "admin@fpvsync.example"
PASSWORD = "screenshot-password-1"
VIEWPORT: ViewportSize = {"width": 1600, "height": 600}


def mirror(work: Path) -> LocalPocketBase:
    """A PocketBase holding one generated event, mirrored by the real ``fpvsync full``."""
    event = generate_event(work / "trackside", EventSpec(seed=7, pilots=8, rounds=3))
    pocketbase = LocalPocketBase(work / "pb_data")
    pocketbase.upsert_superuser(EMAIL, PASSWORD)
    pocketbase.start()
    with ReplayServer(event.root, current_event=event.event_id) as replay:
        env = {
            **os.environ,
            "FPVSYNC_TRACKSIDE_URL": replay.url,
            "FPVSYNC_PB_URL": pocketbase.url,
            "FPVSYNC_PB_EMAIL": EMAIL,
            "FPVSYNC_PB_PASSWORD": PASSWORD,
        }
        subprocess.run([sys.executable, "-m", "fpvsync", "full", "--json"], env=env, check=True, capture_output=True)
    return pocketbase


def collection_ids(url: str) -> dict[str, str]:
    token = httpx.post(
        f"{url}/api/collections/_superusers/auth-with-password", json={"identity": EMAIL, "password": PASSWORD}
    ).json()["token"]
    answer = httpx.get(f"{url}/api/collections", params={"perPage": 200}, headers={"Authorization": token})
    return {c["name"]: c["id"] for c in answer.json()["items"]}


def shoot(page: Page, url: str, collection_id: str, sort: str, target: Path) -> None:
    page.goto("about:blank")
    page.goto(f"{url}/_/#/collections?collection={collection_id}&sort={sort}")
    page.wait_for_selector("table tbody tr")
    page.wait_for_timeout(800)  # let the relation previews load
    page.screenshot(path=str(target))
    print(f"{target} ({target.stat().st_size // 1024} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chromium", default=chromium_path(), help="the Chromium binary to drive")
    args = parser.parse_args()
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        pocketbase = mirror(Path(scratch))
        try:
            ids = collection_ids(pocketbase.url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=list(CHROMIUM_ARGS))
                page = browser.new_page(viewport=VIEWPORT)
                page.goto(f"{pocketbase.url}/_/")
                page.fill("input[type=email]", EMAIL)
                page.fill("input[type=password]", PASSWORD)
                page.press("input[type=password]", "Enter")
                page.wait_for_url("**/collections**")
                shoot(page, pocketbase.url, ids["laps"], "%2BstartTime", DOCS / "dashboard-laps.png")
                shoot(page, pocketbase.url, ids["races"], "%2Bstart", DOCS / "dashboard-races.png")
                browser.close()
        finally:
            pocketbase.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
