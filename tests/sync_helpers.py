"""Helpers for end-to-end sync tests: run the real CLI, hold an in-process mirror, and compute what PocketBase
should hold straight from an FPVTrackside folder with the ``json`` module (independently of fpvsync's models and
mapping)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from fpvsync import engine
from fpvsync.cli import app
from fpvsync.engine.poll import PollPolicy, PollRun
from fpvsync.engine.progress import Progress
from fpvsync.pb.sink import DEFAULT_BATCH_SIZE, PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import GeneratedEvent

if TYPE_CHECKING:  # conftest imports this module: a runtime import would be circular
    from tests.conftest import RunningPocketBase

ZERO = "00000000-0000-0000-0000-000000000000"
COUNT_KEYS = {"created", "updated", "unchanged", "deleted", "failed"}


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        document = json.loads(self.stdout)
        assert isinstance(document, dict)
        return document


def run_cli(args: list[str], pb: RunningPocketBase | None, trackside_url: str | None = None) -> CliResult:
    """Run ``fpvsync ARGS`` in-process with the environment a user would set."""
    env = {"FPVSYNC_PB_EMAIL": "", "FPVSYNC_PB_PASSWORD": "", "FPVSYNC_PB_TOKEN": ""}
    if pb is not None:
        env.update(FPVSYNC_PB_URL=pb.url, FPVSYNC_PB_EMAIL=pb.email, FPVSYNC_PB_PASSWORD=pb.password)
    if trackside_url is not None:
        env["FPVSYNC_TRACKSIDE_URL"] = trackside_url
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


class Mirror:
    """A client and an authenticated sink on one PocketBase, as a user's process holds them, with short retries so
    that outages end fast; tests count what a pass sent through ``sink``."""

    def __init__(
        self,
        pb: RunningPocketBase,
        trackside_url: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        timeout: float = 5.0,
        attempts: int = 4,
    ) -> None:
        self.pb = pb
        self.client = TracksideClient(trackside_url, timeout=timeout, attempts=attempts, backoff=0.01)
        self.sink = PocketBaseSink(pb.url, email=pb.email, password=pb.password, batch_size=batch_size)
        self.sink.authenticate()
        self.ctx = engine.SyncContext(self.client, self.sink)
        #: The clock of :meth:`poll` (seconds): each pass a policy interval after the previous one, as cron runs them.
        self.clock = time.time()

    def reporting(self, progress: Progress | None) -> engine.SyncContext:
        """:attr:`ctx`, reporting to ``progress`` (if any)."""
        return self.ctx if progress is None else dataclasses.replace(self.ctx, progress=progress)

    def poll(self, event_id: str, policy: PollPolicy | None = None) -> SyncSummary:
        """One default ``poll`` pass, on :attr:`clock` (so settled races come round as they would in real time)."""
        policy = policy or PollPolicy()
        self.clock += policy.interval
        run = PollRun(self.ctx, event_id, policy, now=self.clock)
        return run.run(run.body)

    def close(self) -> None:
        self.client.close()
        self.sink.close()


def assert_summary_shape(document: dict[str, Any]) -> None:
    """The documented ``--json`` shape (architecture.md, CLI contract)."""
    assert {"ok", "command", "event", "collections", "errors", "durationSeconds"} <= set(document)
    assert isinstance(document["ok"], bool)
    assert isinstance(document["command"], str)
    assert document["event"] is None or isinstance(document["event"], str)
    assert isinstance(document["durationSeconds"], float | int)
    for counts in document["collections"].values():
        assert set(counts) == COUNT_KEYS
        assert all(isinstance(n, int) and n >= 0 for n in counts.values())
    for error in document["errors"]:
        assert set(error) == {"scope", "collection", "sourceId", "message"}
        assert isinstance(error["message"], str) and error["message"]


def read(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8"))


def races(event: GeneratedEvent) -> Iterator[dict[str, Any]]:
    """Every race object in the event's Race.json files (deleted and missing races have none)."""
    for race_id in event.race_ids:
        path = event.race_file(race_id)
        if path.exists():
            yield from read(path)


def expected_counts(event: GeneratedEvent) -> dict[str, int]:
    """How many records each collection should hold for this event after a `full` sync."""
    event_dir = event.event_dir()
    event_obj = read(event_dir / "Event.json")[0]
    all_races = list(races(event))
    race_results = sum(len(read(event.result_file(r["ID"]))) for r in all_races if event.result_file(r["ID"]).exists())
    rollover = read(event_dir / "Results.json") if (event_dir / "Results.json").exists() else []
    stages = read(event_dir / "Stages.json") if (event_dir / "Stages.json").exists() else []
    return {
        "channels": len(read(event.root / "httpfiles" / "Channels.json")),
        "pilots": len(read(event_dir / "Pilots.json")),
        "events": 1,
        "stages": len(stages),
        "rounds": len(read(event_dir / "Rounds.json")),
        "races": len(all_races),
        "pilotChannels": len(event_obj["PilotChannels"]) + sum(len(r["PilotChannels"]) for r in all_races),
        "detections": sum(len(r["Detections"]) for r in all_races),
        "laps": sum(len(r["Laps"]) for r in all_races),
        "gamePoints": sum(len(r.get("GamePoints") or []) for r in all_races),
        "results": race_results + len(rollover),
    }


def utc_text(local: str, zone: str) -> str:
    """FPVTrackside's ``yyyy/MM/dd H:mm:ss.FFF`` in ``zone`` as PocketBase's UTC text (independent parser)."""
    day, clock = local.split(" ")
    if "." in clock:
        whole, fraction = clock.split(".")
    else:
        whole, fraction = clock, "0"
    hour, minute, second = (int(x) for x in whole.split(":"))
    year, month, dom = (int(x) for x in day.split("/"))
    micro = int((fraction + "000000")[:6])
    moment = datetime(year, month, dom, hour, minute, second, micro, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def event_records(pb: RunningPocketBase, collection: str, event_record_id: str) -> list[dict[str, Any]]:
    if collection in ("channels", "pilots"):
        return pb.records(collection)
    if collection == "events":
        return pb.records(collection, f'id = "{event_record_id}"')
    return pb.records(collection, f'event = "{event_record_id}"')


def results_for(event: GeneratedEvent, race_id: str) -> bytes:
    """A ``Result.json`` for ``race_id``: a finished race's, with the race and result ids of its own."""
    results = read(event.race_file(event.finished_race_ids[0]).with_name("Result.json"))
    for result in results:
        result.update(ID=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{race_id}/{result['ID']}")), Race=race_id)
    return json.dumps(results).encode()
