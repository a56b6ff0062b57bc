"""The headless Chromium that the live page's browser tests and the README's screenshot scripts drive.

Playwright cannot download its own browsers on the machines fpvsync is developed and tested on, so it launches
the system's Chromium (Debian: ``apt-get install chromium``) with these arguments. Nothing here imports
Playwright: it is a development dependency only.
"""

from __future__ import annotations

import shutil

#: Headless, no sandbox (containers run as root), and none of the background traffic a desktop browser makes.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """The system Chromium's executable, or ``None`` when none is installed."""
    for candidate in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return None
