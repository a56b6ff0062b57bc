"""Helpers for tests that run fpvsync as a separate process, as a shell or a service manager would."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Container
from typing import Any

import httpx


def wait_for_http(
    url: str,
    process: subprocess.Popen[Any],
    *,
    ready: Container[int] | None = None,
    diagnose: Callable[[], str] = str,
    timeout: float = 30,
) -> httpx.Response:
    """The first answer from ``url`` (with a status in ``ready``, when given), asking every 0.1 s.

    Fails if ``process`` ends first (with ``diagnose()`` in the message: its log, or its piped stderr), or after
    ``timeout`` seconds. The bound is generous on purpose: this checks that the server starts, not how fast.
    """
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"the process ended ({process.returncode}) before {url} answered: {diagnose()}"
        with contextlib.suppress(httpx.TransportError):
            answer = httpx.get(url, timeout=2)
            if ready is None or answer.status_code in ready:
                return answer
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout:g} s"
        time.sleep(0.1)


def stop(process: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, str]:
    """Send ``sig`` (unless the process has ended) and wait for the end, killing it after ``timeout`` seconds.

    Returns the exit status and what the process wrote to its stderr, when that is a pipe (else ``""``).
    """
    if process.poll() is None:
        process.send_signal(sig)
    try:
        _, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=timeout)
    text = err.decode(errors="replace") if isinstance(err, bytes) else err or ""
    return process.returncode, text
