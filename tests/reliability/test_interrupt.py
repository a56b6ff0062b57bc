"""Ctrl-C during ``fpvsync full``: one line saying how far it got, the run recorded as interrupted, and a rerun
that converges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fpvsync.trackside.generator import EventSpec, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import RunningPocketBase
from tests.reliability.invariants import assert_converged, cli


def test_ctrl_c_during_full_says_how_far_it_got_and_a_rerun_finishes(pb: RunningPocketBase, tmp_path: Path) -> None:
    event = generate_event(tmp_path / "trackside", EventSpec(seed=8, pilots=16, rounds=6))
    with ReplayServer(event.root, current_event=event.event_id, latency=0.03) as replay:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("FPVSYNC_")},
            "FPVSYNC_TRACKSIDE_URL": replay.url,
            "FPVSYNC_PB_URL": pb.url,
            "FPVSYNC_PB_EMAIL": pb.email,
            "FPVSYNC_PB_PASSWORD": pb.password,
        }
        race_reads = 0

        def interrupt_mid_run(path: str) -> None:
            """Ctrl-C while the 10th race is being fetched: surely in the middle of the race loop, however fast."""
            nonlocal race_reads
            if path.endswith("/Race.json"):
                race_reads += 1
                if race_reads == 10:
                    process.send_signal(signal.SIGINT)

        replay.on_request = interrupt_mid_run
        process = subprocess.Popen(
            [sys.executable, "-m", "fpvsync", "full", event.event_id],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = process.communicate(timeout=60)
        replay.on_request = None
        assert process.returncode == 130, (out, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in err, err
        message = lines[0].removeprefix("error: ")
        assert message.startswith("interrupted after ") and message.endswith(" races; rerun to finish"), message
        done, total = (int(n) for n in message.removeprefix("interrupted after ").split(" races")[0].split(" of "))
        assert 0 <= done < total
        runs = pb.records("syncRuns", f'eventId = "{event.event_id}"')
        assert [(r["command"], r["exitCode"], r["ok"]) for r in runs] == [("full", 130, False)]
        assert message in str(runs[0]["summary"])

        rerun = cli(["full", event.event_id], pb, replay.url)
        assert rerun.exit_code == 0, rerun.stderr
        assert_converged(pb, event)
