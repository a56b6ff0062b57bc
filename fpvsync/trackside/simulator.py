"""A running race, played in real time on a replay directory, the way FPVTrackside writes and announces it.

For each race played, the recorded ``Race.json`` is taken apart and written back step by step:

1. loaded: no start, no detections, no ``Result.json`` (``RaceLoaded`` / legacy ``PilotRaceState``); ``/current``
   names it from now on (:attr:`SimulatorOptions.on_cue`), like FPVTrackside names the race it has loaded;
2. armed (``RacePreStart`` / ``Arm``), then started: ``Start`` is now, so the replay server's ``/current`` names it;
3. every recorded detection at its recorded offset from the start (divided by ``speed``), with the laps it ends:
   the file is first left half-written for a moment (as a reader can catch FPVTrackside's), then written whole;
   then the detection is announced (``DetectionExt`` / ``DetectionDetails``);
4. ended (``End`` set, ``Result.json`` back; ``RaceEnd`` + ``RaceResult`` / ``End``); ``/current`` names no race.

Notifications go out like FPVTrackside sends them: PUT, one at a time and in order, 1.5 s timeout, dropped on
failure. Usage::

    sim = RaceSimulator(Path("data"), event_id, SimulatorOptions(speed=4, notify="http://127.0.0.1:8765/"))
    sim.play(stop)                           # every recorded race, in start order
    sim.play_race(race_id, stop)             # one
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from fpvsync.trackside.generator import format_date
from fpvsync.trackside.models import parse_date

__all__ = ["NotificationSender", "RaceSimulator", "SimulatorOptions"]

logger = logging.getLogger("fpvsync.simulator")

NotifyFormat = Literal["legacy", "extension"]
_SENDER_TIMEOUT: Final = 1.5
_UNSET: Final = "0001/01/01 0:00:00"


@dataclass(frozen=True)
class SimulatorOptions:
    #: How much faster than recorded the races are played.
    speed: float = 1.0
    #: Where to PUT notifications (FPVTrackside's NotificationURL); None sends none.
    notify: str | None = None
    notify_format: NotifyFormat = "legacy"
    #: Seconds between two races (at speed 1).
    gap: float = 5.0
    #: Seconds the file stays half-written before it is written whole (0: never half-written).
    half_written: float = 0.003
    #: Seconds the file is written *after* its detection is announced (FPVTrackside may notify first).
    write_delay: float = 0.0
    #: Called after each detection's file write (race id, detection id), e.g. to time a mirror.
    on_detection: Callable[[str, str], None] | None = None
    #: Called with the race loaded when it is loaded, and with None once it ended: what ``/current`` should name
    #: (e.g. ``lambda race: setattr(replay_server, "current_race", race)``).
    on_cue: Callable[[str | None], None] | None = None


class NotificationSender:
    """One worker thread PUTting JSON bodies in order, like FPVTrackside's notifier (drops on failure)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent = 0
        self.failed = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=200)
        self._http = httpx.Client(timeout=_SENDER_TIMEOUT)
        self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
        self._thread.start()

    def send(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(queue.Full):  # FPVTrackside drops new events when its queue is full
            self._queue.put_nowait(body)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(5.0)
        self._http.close()

    def _run(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self._http.put(self.url, content=json.dumps(body), headers={"Content-Type": "application/json"})
                self.sent += 1
            except httpx.HTTPError as exc:
                self.failed += 1
                logger.debug("notification not delivered: %s", exc)


class RaceSimulator:
    """Plays recorded races of ``event_id`` under ``directory`` (the replay layout) in real time."""

    def __init__(self, directory: Path, event_id: str, options: SimulatorOptions | None = None) -> None:
        self.event_dir = Path(directory) / "events" / event_id
        self.event_id = event_id
        self.options = options or SimulatorOptions()
        self.sender = NotificationSender(self.options.notify) if self.options.notify else None
        self._seq = 0
        event = _read(self.event_dir / "Event.json")
        zone_name = event[0].get("TimeZone") if event else None
        try:
            self.zone = ZoneInfo(zone_name) if isinstance(zone_name, str) and zone_name else None
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = None
        self.rounds = {r.get("ID"): r for r in _read(self.event_dir / "Rounds.json") or []}
        self.pilots = {p.get("ID"): p for p in _read(self.event_dir / "Pilots.json") or []}

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()

    def recorded_races(self) -> list[str]:
        """Races with recorded detections and a start, in start order: the ones that can be played."""
        found = []
        for folder in self.event_dir.iterdir():
            race = (_read(folder / "Race.json") or [None])[0] if folder.is_dir() else None
            if isinstance(race, dict) and race.get("Detections") and parse_date(race.get("Start")):
                found.append((str(race.get("Start")), folder.name))
        return [name for _, name in sorted(found, key=lambda item: (parse_date(item[0]), item[1]))]

    def play(self, stop: threading.Event, races: list[str] | None = None) -> None:
        for n, race_id in enumerate(races if races is not None else self.recorded_races()):
            if n and stop.wait(self.options.gap / self.options.speed):
                return
            self.play_race(race_id, stop)
            if stop.is_set():
                return

    def play_race(self, race_id: str, stop: threading.Event) -> None:
        """Play one race from load to end (returns early, leaving the race as recorded, when ``stop`` is set)."""
        race_file = self.event_dir / race_id / "Race.json"
        result_file = self.event_dir / race_id / "Result.json"
        recorded = _read(race_file)
        if not recorded:
            raise ValueError(f"{race_file} holds no race")
        original: dict[str, Any] = recorded[0]
        result_bytes = result_file.read_bytes() if result_file.exists() else None
        speed = self.options.speed
        start_at = parse_date(original.get("Start"))
        assert start_at is not None
        live = {**original, "Start": _UNSET, "End": _UNSET, "Detections": [], "Laps": []}
        if "GamePoints" in original and isinstance(original["GamePoints"], list):
            live["GamePoints"] = []
        try:
            result_file.unlink(missing_ok=True)
            self._write(race_file, live, half=False)
            self._cue(race_id)
            self._announce("load", original)
            if stop.wait(0.5 / speed):
                return
            self._announce("arm", original)
            if stop.wait(0.5 / speed):
                return
            started = time.monotonic()
            wall_start = self._now()
            live["Start"] = format_date(wall_start)
            self._write(race_file, live, half=False)
            self._announce("start", original)
            laps_by_detection = {lap.get("Detection"): lap for lap in original.get("Laps") or []}
            detections = sorted(original.get("Detections") or [], key=lambda d: _offset(d.get("Time"), start_at))
            for detection in detections:
                offset = _offset(detection.get("Time"), start_at) / speed
                if stop.wait(max(0.0, started + offset - time.monotonic())):
                    return
                moment = wall_start + timedelta(seconds=offset)
                live["Detections"] = [*live["Detections"], {**detection, "Time": format_date(moment)}]
                lap = laps_by_detection.get(detection.get("ID"))
                if lap is not None:
                    live["Laps"] = [*live["Laps"], _shifted_lap(lap, start_at, wall_start, speed)]
                if self.options.write_delay > 0:
                    self._announce("detection", original, detection, offset)
                    if stop.wait(self.options.write_delay):
                        return
                    self._write(race_file, live, half=True)
                else:
                    self._write(race_file, live, half=True)
                    self._announce("detection", original, detection, offset)
                if self.options.on_detection is not None:
                    self.options.on_detection(race_id, str(detection.get("ID")))
            end_offset = _offset(original.get("End"), start_at) / speed
            if stop.wait(max(0.0, started + end_offset - time.monotonic())):
                return
            live["End"] = format_date(wall_start + timedelta(seconds=end_offset))
            self._write(race_file, live, half=False)
            if result_bytes is not None:
                result_file.write_bytes(result_bytes)
            self._cue(None)
            self._announce("end", original)
        finally:
            if stop.is_set():  # leave the folder as it was recorded
                race_file.write_bytes(json.dumps(recorded, indent=2).encode())
                if result_bytes is not None:
                    result_file.write_bytes(result_bytes)
                self._cue(None)

    # -- writing and announcing -------------------------------------------------------------------------------

    def _cue(self, race_id: str | None) -> None:
        if self.options.on_cue is not None:
            self.options.on_cue(race_id)

    def _now(self) -> datetime:
        return datetime.now(self.zone).replace(tzinfo=None) if self.zone else datetime.now()

    def _write(self, path: Path, race: dict[str, Any], *, half: bool) -> None:
        body = json.dumps([race], indent=2).encode()
        if half and self.options.half_written > 0:
            path.write_bytes(body[: len(body) // 2])
            time.sleep(self.options.half_written)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(body)
        tmp.replace(path)

    def _announce(
        self, what: str, race: dict[str, Any], detection: dict[str, Any] | None = None, offset: float = 0.0
    ) -> None:
        if self.sender is None:
            return
        round_ = self.rounds.get(race.get("Round")) or {}
        names = {"round": round_.get("RoundNumber"), "race": race.get("RaceNumber"), "type": round_.get("EventType")}
        if self.options.notify_format == "extension":
            body = self._extension(what, names, detection, offset)
        else:
            body = self._legacy(what, names, race, detection, offset)
        for item in body:
            self.sender.send(item)

    def _extension(
        self, what: str, names: dict[str, Any], detection: dict[str, Any] | None, offset: float
    ) -> list[dict[str, Any]]:
        types = {
            "load": ["RaceLoaded"],
            "arm": ["RacePreStart"],
            "start": ["RaceStart"],
            "detection": ["DetectionExt"],
            "end": ["RaceEnd", "RaceResult"],
        }[what]
        bodies = []
        for kind in types:
            self._seq += 1
            ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z"
            body: dict[str, Any] = {"type": kind, "ts": ts, "seq": self._seq}
            body.update(round=names["round"], race=names["race"], raceType=names["type"])
            if detection is not None:
                body.update(
                    detectionId=detection.get("ID"),
                    pilotName=self._pilot_name(detection),
                    timingSystemIndex=detection.get("TimingSystemIndex"),
                    isLapEnd=detection.get("IsLapEnd"),
                    lapNumber=detection.get("LapNumber"),
                    raceSector=detection.get("RaceSector"),
                    raceTime=round(offset, 3),
                    valid=detection.get("Valid", True),
                    raceFinishedForPilot=False,
                )
            bodies.append(body)
        return bodies

    def _legacy(
        self,
        what: str,
        names: dict[str, Any],
        race: dict[str, Any],
        detection: dict[str, Any] | None,
        offset: float,
    ) -> list[dict[str, Any]]:
        stamp = datetime.now().strftime("%Y/%m/%d %H:%M:%S")
        head = {"DateTime": stamp, "Round": names["round"], "Race": names["race"], "Type": names["type"]}
        if what == "load":
            pilots = [{"Name": self._pilot_name(pc)} for pc in race.get("PilotChannels") or []]
            return [{**head, "Pilots": pilots}]
        if what in ("arm", "start", "end"):
            return [{**head, "State": {"arm": "Arm", "start": "Start", "end": "End"}[what]}]
        assert detection is not None
        return [
            {
                "DateTime": stamp,
                "TimingSystemIndex": detection.get("TimingSystemIndex"),
                "LapNumber": detection.get("LapNumber"),
                "Time": round(offset, 3),
                "IsLapEnd": detection.get("IsLapEnd"),
                "IsRaceEnd": False,
                "PilotName": self._pilot_name(detection),
                "Position": 0,
            }
        ]

    def _pilot_name(self, item: dict[str, Any]) -> str:
        return str((self.pilots.get(item.get("Pilot")) or {}).get("Name") or "")


def _read(path: Path) -> list[Any] | None:
    try:
        data = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def _offset(value: Any, start: datetime) -> float:
    moment = parse_date(value)
    return max(0.0, (moment - start).total_seconds()) if moment is not None else 0.0


def _shifted_lap(lap: dict[str, Any], start: datetime, wall_start: datetime, speed: float) -> dict[str, Any]:
    shifted = dict(lap)
    for key in ("StartTime", "EndTime"):
        moment = parse_date(lap.get(key))
        if moment is not None:
            shifted[key] = format_date(wall_start + timedelta(seconds=(moment - start).total_seconds() / speed))
    return shifted
