"""What must hold after every fault: PocketBase mirrors the source exactly, computed from the FPVTrackside folder
with the ``json`` module only (independently of fpvsync's models and mapping).

- :func:`assert_converged`: every collection holds exactly the source's ``sourceId`` s (so the counts match), no
  ``sourceId`` twice, and every relation of every record resolves (no orphaned children);
- :func:`assert_nothing_lost`: a run that failed deleted nothing the source still has;
- :func:`snapshot`: ``id -> updated`` of every synced record, to prove that a failed scope changed nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from fpvsync.cli import app
from fpvsync.summary import COLLECTIONS
from fpvsync.trackside.generator import GeneratedEvent
from tests.conftest import RunningPocketBase
from tests.sync_helpers import CliResult, expected_counts

ZERO = "00000000-0000-0000-0000-000000000000"
#: Relations that must resolve, by collection: field -> (target collection, may be empty).
RELATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "stages": {"event": ("events", False)},
    "rounds": {"event": ("events", False), "stage": ("stages", True)},
    "races": {"event": ("events", False), "round": ("rounds", True)},
    "pilotChannels": {
        "event": ("events", False),
        "race": ("races", True),
        "pilot": ("pilots", True),
        "channel": ("channels", True),
    },
    "detections": {
        "event": ("events", False),
        "race": ("races", False),
        "pilot": ("pilots", True),
        "channel": ("channels", True),
    },
    "laps": {
        "event": ("events", False),
        "race": ("races", False),
        "detection": ("detections", True),
        "pilot": ("pilots", True),
    },
    "gamePoints": {
        "event": ("events", False),
        "race": ("races", False),
        "pilot": ("pilots", True),
        "channel": ("channels", True),
    },
    "results": {
        "event": ("events", False),
        "race": ("races", True),
        "round": ("rounds", True),
        "pilot": ("pilots", True),
    },
}


def read(path: Path) -> Any:
    return json.loads(path.read_bytes().decode("utf-8-sig"))


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {str(item["ID"]).lower() for item in items}


def source_ids(event: GeneratedEvent) -> dict[str, set[str]]:
    """The ``sourceId`` s each collection must hold for ``event``, read from its folder as FPVTrackside serves it."""
    event_dir = event.event_dir()
    event_obj = read(event_dir / "Event.json")[0]
    eid = event.event_id
    races: list[dict[str, Any]] = []
    race_results: list[dict[str, Any]] = []
    for race_id in dict.fromkeys(r.lower() for r in event_obj["Races"]):
        race_file = event_dir / race_id / "Race.json"
        if race_file.exists() and (document := read(race_file)):
            races.append(document[0])
            result_file = event_dir / race_id / "Result.json"
            if result_file.exists():
                race_results.extend(read(result_file))
    optional = {name: event_dir / f"{name}.json" for name in ("Stages", "Results")}
    stages = read(optional["Stages"]) if optional["Stages"].exists() else []
    rollover = read(optional["Results"]) if optional["Results"].exists() else []
    return {
        "channels": _ids(read(event.root / "httpfiles" / "Channels.json")),
        "pilots": _ids(read(event_dir / "Pilots.json")),
        "events": {eid},
        "stages": _ids(stages),
        "rounds": _ids(read(event_dir / "Rounds.json")),
        "races": _ids(races),
        "pilotChannels": {f"{eid}/{pc['Pilot']}".lower() for pc in event_obj["PilotChannels"]}
        | {f"{race['ID']}/{pc['Pilot']}".lower() for race in races for pc in race["PilotChannels"]},
        "detections": {str(d["ID"]).lower() for race in races for d in race["Detections"]},
        "laps": {str(lap["ID"]).lower() for race in races for lap in race["Laps"]},
        "gamePoints": {str(g["ID"]).lower() for race in races for g in race.get("GamePoints") or []},
        "results": _ids(race_results) | _ids(rollover),
    }


def stored(pb: RunningPocketBase) -> dict[str, list[dict[str, Any]]]:
    """Every record of every synced collection (each test's PocketBase holds one event), over one connection."""
    found: dict[str, list[dict[str, Any]]] = {}
    with pb.admin() as admin:
        for name in COLLECTIONS:
            items: list[dict[str, Any]] = []
            while True:
                params: dict[str, str | int] = {"perPage": 1000, "skipTotal": 1, "sort": "id"}
                if items:
                    params["filter"] = f'id > "{items[-1]["id"]}"'
                answer = admin.get(f"/api/collections/{name}/records", params=params)
                answer.raise_for_status()
                page = answer.json()["items"]
                items.extend(page)
                if len(page) < 1000:
                    break
            found[name] = items
    return found


Records = Mapping[str, list[dict[str, Any]]]


def stored_ids(pb: RunningPocketBase, records: Records | None = None) -> dict[str, set[str]]:
    records = stored(pb) if records is None else records
    return {name: {str(r["sourceId"]) for r in items} for name, items in records.items()}


def orphans(records: Records) -> list[str]:
    """Relations that point at nothing (or are empty where they must not be)."""
    ids = {name: {str(r["id"]) for r in items} for name, items in records.items()}
    found = []
    for collection, relations in RELATIONS.items():
        for record in records[collection]:
            for field, (target, optional) in relations.items():
                value = str(record.get(field) or "")
                if (not value and not optional) or (value and value not in ids[target]):
                    found.append(f"{collection} {record['sourceId']}: {field} = {value!r}")
    return found


def assert_converged(
    pb: RunningPocketBase, event: GeneratedEvent, *, counts: bool = True, records: Records | None = None
) -> None:
    """PocketBase holds exactly ``event`` as its folder says now (and, with ``counts``, exactly
    ``expected_counts(event)`` records, for events whose folder layout the generator still describes).
    ``records``: what :func:`stored` returned, when the caller has it already."""
    records = stored(pb) if records is None else records
    want = source_ids(event)
    for name, items in records.items():
        twice = [source_id for source_id, n in Counter(str(r["sourceId"]) for r in items).items() if n > 1]
        assert not twice, f"{name}: duplicate sourceIds {twice[:5]}"
        have = {str(r["sourceId"]) for r in items}
        assert have == want[name], (
            f"{name}: missing {sorted(want[name] - have)[:5]}, extra {sorted(have - want[name])[:5]}"
        )
    if counts:
        assert {name: len(items) for name, items in records.items()} == expected_counts(event)
    assert orphans(records) == []


def assert_nothing_lost(
    before: Mapping[str, set[str]], pb: RunningPocketBase, event: GeneratedEvent, records: Records | None = None
) -> None:
    """Whatever PocketBase held before a failed run and the source still has is still there; nothing else came."""
    records = stored(pb) if records is None else records
    now, want = stored_ids(pb, records), source_ids(event)
    for name, ids in before.items():
        assert (ids & want[name]) <= now[name], f"{name}: lost {sorted((ids & want[name]) - now[name])[:5]}"
        assert now[name] <= want[name] | ids, f"{name}: not in the source {sorted(now[name] - want[name] - ids)[:5]}"
    assert orphans(records) == []


def snapshot(pb: RunningPocketBase, records: Records | None = None) -> dict[str, dict[str, str]]:
    """``id -> updated`` of every synced record: equal snapshots mean nothing was written."""
    records = stored(pb) if records is None else records
    return {name: {str(r["id"]): str(r["updated"]) for r in items} for name, items in records.items()}


def changes(before: Mapping[str, Mapping[str, str]], after: Mapping[str, Mapping[str, str]]) -> dict[str, int]:
    """How many records of each collection were created, updated or deleted between two snapshots."""
    counted = {name: len(set(before[name].items()) ^ set(after.get(name, {}).items())) for name in before}
    return {name: n for name, n in counted.items() if n}


def cli(args: list[str], pb: RunningPocketBase | None, trackside_url: str | None = None, **env: str) -> CliResult:
    """``fpvsync ARGS`` in-process, with the environment a user would set plus ``env`` (``FPVSYNC_...``)."""
    environment = {"FPVSYNC_PB_EMAIL": "", "FPVSYNC_PB_PASSWORD": "", "FPVSYNC_PB_TOKEN": ""}
    if pb is not None:
        environment.update(FPVSYNC_PB_URL=pb.url, FPVSYNC_PB_EMAIL=pb.email, FPVSYNC_PB_PASSWORD=pb.password)
    if trackside_url is not None:
        environment["FPVSYNC_TRACKSIDE_URL"] = trackside_url
    environment.update(env)
    result = CliRunner().invoke(app, args, env=environment, catch_exceptions=False)
    return CliResult(result.exit_code, result.stdout, result.stderr)


class AfterRaces:
    """A progress collector that calls ``action`` once, after ``n`` races of a run have been applied."""

    def __init__(self, n: int, action: Callable[[], None]) -> None:
        self.n = n
        self.action = action
        self.done = 0
        self.fired = False

    def start(self, description: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.fired and self.done >= self.n:
            self.fired = True
            self.action()

    def stop(self) -> None:
        pass


@contextmanager
def rewritten(path: Path, body: bytes) -> Iterator[bytes]:
    """``path`` holds ``body`` inside the block and its original bytes after it; yields the original."""
    original = path.read_bytes()
    path.write_bytes(body)
    try:
        yield original
    finally:
        path.write_bytes(original)
