"""The live commands together, as a race director runs them: `fpvsync replay DIR --live --notify URL` plays a race
and rings `fpvsync poll --watch --listen`, and every lap of the played race ends up in PocketBase."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from fpvsync.ids import record_id
from fpvsync.pb.local import free_port
from fpvsync.trackside.generator import EventSpec, generate_event, write_json
from fpvsync.trackside.models import parse_date
from fpvsync.trackside.replay import ReplayServer
from fpvsync.trackside.simulator import RaceSimulator
from tests.conftest import RunningPocketBase
from tests.process_helpers import stop
from tests.sync_helpers import read, run_cli


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fpvsync", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_replay_live_rings_poll_listen_and_the_laps_arrive(pb: RunningPocketBase, tmp_path: Path) -> None:
    event = generate_event(tmp_path / "trackside", EventSpec(seed=3, pilots=8, rounds=2))
    trackside_port, doorbell_port = free_port(), free_port()
    trackside = f"http://127.0.0.1:{trackside_port}"
    env = {
        **os.environ,
        "FPVSYNC_PB_URL": pb.url,
        "FPVSYNC_PB_EMAIL": pb.email,
        "FPVSYNC_PB_PASSWORD": pb.password,
        "FPVSYNC_TRACKSIDE_URL": trackside,
    }
    replay = _start(["replay", str(event.root), "--port", str(trackside_port), "--event", event.event_id], env)
    poller = None
    try:
        time.sleep(0.5)
        assert run_cli(["full", event.event_id, "--json"], pb, trackside).exit_code == 0
        poller = _start(
            [
                "poll",
                event.event_id,
                "--watch",
                "--interval",
                "30",
                "--listen",
                f"127.0.0.1:{doorbell_port}",
            ],
            env,
        )
        stop(replay)
        first = RaceSimulator(event.root, event.event_id).recorded_races()[0]  # the first race played
        replay = _start(
            [
                "replay",
                str(event.root),
                "--port",
                str(trackside_port),
                "--event",
                event.event_id,
                "--live",
                "--speed",
                "20",
                "--notify",
                f"http://127.0.0.1:{doorbell_port}/",
                "--notify-format",
                "extension",
            ],
            env,
        )
        recorded = read(event.race_file(first))[0]
        race_rid = record_id(first)
        synced_start = pb.records("races", f'id = "{race_rid}"')[0]["start"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            race = pb.records("races", f'id = "{race_rid}"')[0]
            laps = pb.records("laps", f'race = "{race_rid}"')
            if race["start"] != synced_start and race["end"] and len(laps) == len(recorded["Laps"]):
                break
            time.sleep(0.2)
        played = read(event.race_file(first))[0]
        assert parse_date(played["Start"]) != parse_date(recorded["Start"])  # it was played again, now
        stored = {r["sourceId"] for r in pb.records("laps", f'race = "{race_rid}"')}
        assert stored == {lap["ID"] for lap in played["Laps"]}
        assert pb.records("races", f'id = "{race_rid}"')[0]["end"]
    finally:
        replay_code, replay_err = stop(replay)
        poll_code, poll_err = stop(poller) if poller is not None else (0, "")
    assert "Traceback" not in replay_err and "Traceback" not in poll_err
    assert replay_code == 0, replay_err
    assert poll_code == 0, poll_err
    assert "NotificationURL" in poll_err


def test_serve_listen_rings_the_same_doorbell(pb: RunningPocketBase, tmp_path: Path) -> None:
    event = generate_event(tmp_path / "trackside", EventSpec(seed=4, pilots=8, rounds=2))
    api_port, doorbell_port = free_port(), free_port()
    with ReplayServer(event.root, current_event=event.event_id) as replay:
        assert run_cli(["full", event.event_id, "--json"], pb, replay.url).exit_code == 0
        env = {
            **os.environ,
            "FPVSYNC_PB_URL": pb.url,
            "FPVSYNC_PB_EMAIL": pb.email,
            "FPVSYNC_PB_PASSWORD": pb.password,
            "FPVSYNC_TRACKSIDE_URL": replay.url,
        }
        server = _start(["serve", "--port", str(api_port), "--listen", f"127.0.0.1:{doorbell_port}"], env)
        try:
            race_id = event.running_race_id
            assert race_id is not None
            race = read(event.race_file(race_id))
            lap = {**race[0]["Laps"][-1], "ID": "5e4e0000-0000-4000-8000-000000000001"}
            detection = {**race[0]["Detections"][-1], "ID": "5e4e0000-0000-4000-8000-000000000002"}
            lap["Detection"] = detection["ID"]
            race[0]["Detections"].append(detection)
            race[0]["Laps"].append(lap)
            write_json(event.race_file(race_id), race)
            note = {"TimingSystemIndex": 0, "LapNumber": 9, "Time": 50.0, "IsLapEnd": True, "PilotName": "x"}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not pb.records("laps", f'sourceId = "{lap["ID"]}"'):
                with contextlib.suppress(httpx.HTTPError):  # until the doorbell is up
                    httpx.put(f"http://127.0.0.1:{doorbell_port}/", json=note, timeout=2)
                time.sleep(0.5)
            assert pb.records("laps", f'sourceId = "{lap["ID"]}"')
        finally:
            code, err = stop(server)
    assert "Traceback" not in err
    assert code in (0, -signal.SIGTERM), err  # uvicorn re-raises the SIGTERM it caught once it has shut down
