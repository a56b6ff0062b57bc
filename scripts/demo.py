"""`make demo`: a local PocketBase and a replay of a generated event, mirrored with `fpvsync full`, then live:
the event's races are played again in real time and `fpvsync poll --watch --listen` mirrors each lap as the
simulated FPVTrackside rings its doorbell.

Leaves everything running until Ctrl-C so the result can be watched on the live page (opened in a browser when
this machine has a desktop) and browsed in the PocketBase dashboard.
State lives in .fpvsync/demo/ (delete it to start over).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import webbrowser
from pathlib import Path

from fpvsync.cli.pb_commands import load_or_create_superuser, remember_url
from fpvsync.config import Settings
from fpvsync.pb.local import LocalPocketBase, free_port
from fpvsync.trackside.generator import EventSpec, generate_event
from fpvsync.trackside.replay import ReplayServer
from fpvsync.trackside.simulator import RaceSimulator, SimulatorOptions

ROOT = Path(__file__).resolve().parents[1] / ".fpvsync" / "demo"


def port_or_free(preferred: int) -> int:
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


def has_desktop() -> bool:
    """Whether a browser window can open here (not over SSH or in a container, where it would start a text browser)."""
    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class LiveDemo:
    """`fpvsync poll --watch --listen` in a subprocess, rung by the event's races played again in real time."""

    def __init__(self, data: Path, event_id: str, env: dict[str, str]) -> None:
        doorbell = f"127.0.0.1:{free_port()}"
        command = [sys.executable, "-m", "fpvsync", "poll", "--watch", "--interval", "10", "--listen", doorbell]
        self.poller = subprocess.Popen(command, env=env)
        self.stopping = threading.Event()
        options = SimulatorOptions(speed=2.0, notify=f"http://{doorbell}/", notify_format="extension")
        self.simulator = RaceSimulator(data, event_id, options)
        self.player = threading.Thread(target=self.simulator.play, args=(self.stopping,), daemon=True)
        self.player.start()
        print(f"\nLive: replaying the event's races at 2x; laps arrive through the doorbell at {doorbell}")

    def stop(self) -> None:
        self.stopping.set()
        self.player.join(10)
        self.simulator.close()
        self.poller.terminate()
        self.poller.wait(30)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)  # stop both servers on SIGTERM too, not only on Ctrl-C
    data = ROOT / "trackside"
    generated = generate_event(data, EventSpec(seed=7))
    superuser, stored = load_or_create_superuser(Settings(), ROOT / "pb_data")
    pocketbase = LocalPocketBase(ROOT / "pb_data", port=port_or_free(8090))
    pocketbase.upsert_superuser(superuser.email, superuser.password)
    pocketbase.start()
    replay = ReplayServer(data, port=port_or_free(8080), current_event=generated.event_id)
    live: LiveDemo | None = None
    try:
        replay.start()
        print(f"FPVTrackside replay : {replay.url}  (event {generated.event_id})")
        print(f"PocketBase          : {pocketbase.url}")
        print("\n$ fpvsync full\n", flush=True)
        env = {
            **os.environ,
            "FPVSYNC_TRACKSIDE_URL": replay.url,
            "FPVSYNC_PB_URL": pocketbase.url,
            "FPVSYNC_PB_EMAIL": superuser.email,
            "FPVSYNC_PB_PASSWORD": superuser.password,
        }
        code = subprocess.call([sys.executable, "-m", "fpvsync", "full"], env=env)
        print(f"\n`fpvsync full` exited with {code}.")
        print(f"Live page : {pocketbase.url}/")
        live = LiveDemo(data, generated.event_id, env)
        print(f"Dashboard : {pocketbase.url}/_/  (log in as {superuser.email}; password in {stored})")
        print(f"Races API : {pocketbase.url}/api/collections/races/records?sort=start")
        print(f"Laps API  : {pocketbase.url}/api/collections/laps/records?expand=pilot,race&perPage=5")
        if stored is not None:
            remember_url(stored, superuser, pocketbase.url)
            print("\nTo use fpvsync against this demo from another shell, copy these lines:")
            print(f"  export FPVSYNC_TRACKSIDE_URL={replay.url}")
            print(f"  export FPVSYNC_PB_URL={pocketbase.url}")
            print(f"  export FPVSYNC_PB_CREDENTIALS={stored}")
            print("  fpvsync config    # shows what fpvsync will use, and from where")
        print("Both servers keep running. Press Ctrl-C to stop.", flush=True)
        if has_desktop():
            webbrowser.open(f"{pocketbase.url}/")
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the shutdown short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if live is not None:
            live.stop()
        replay.stop()
        pocketbase.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
