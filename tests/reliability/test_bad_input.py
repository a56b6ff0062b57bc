"""Bad input from FPVTrackside: every case ends in a clear per-scope error or a stored value, never in a crash of
the run, and never in a partial write of a scope: a scope whose document is unusable changes nothing.

One PocketBase and one mirrored event serve the whole module. Each case rewrites one or two files, runs the sync
the user would (``race`` for a race's files, ``full`` for the event's), checks the outcome, then puts the files
back and checks that the next run converges to the source again. :data:`CASES` is the list of bad inputs tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from fpvsync import engine
from fpvsync.pb.sink import PocketBaseSink
from fpvsync.summary import SyncSummary
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.generator import EventSpec, GeneratedEvent, generate_event
from fpvsync.trackside.replay import ReplayServer
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, RunningPocketBase, start_pocketbase
from tests.reliability.invariants import (
    assert_converged,
    assert_nothing_lost,
    changes,
    cli,
    read,
    snapshot,
    stored,
    stored_ids,
)

MB = 1024 * 1024


@dataclass
class Mirrored:
    """The module's PocketBase, event, replay server and an in-process client and sink."""

    pb: RunningPocketBase
    event: GeneratedEvent
    replay: ReplayServer
    client: TracksideClient
    sink: PocketBaseSink

    @property
    def race_id(self) -> str:
        """The race the race-level cases damage: finished, with results, in the current file format."""
        return next(r for r in self.event.finished_race_ids if r not in self.event.legacy_shape_race_ids)

    def run(self, op: Literal["race", "full"]) -> SyncSummary:
        ctx = engine.SyncContext(self.client, self.sink)
        if op == "race":
            return engine.race(ctx, self.event.event_id, self.race_id)
        return engine.full(ctx, self.event.event_id)

    def one(self, collection: str, source_id: str) -> dict[str, Any]:
        found = self.pb.records(collection, f'sourceId = "{source_id}"')
        assert len(found) == 1, (collection, source_id, found)
        return found[0]


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirrored]:
    root = tmp_path_factory.mktemp("bad_input")
    server = start_pocketbase(root / "pb")
    event = generate_event(root / "trackside", EventSpec(seed=4, pilots=8, rounds=3))
    try:
        with (
            ReplayServer(event.root, current_event=event.event_id) as replay,
            TracksideClient(replay.url, backoff=0.01, attempts=2) as client,
            PocketBaseSink(server.url, email=SUPERUSER_EMAIL, password=SUPERUSER_PASSWORD) as sink,
        ):
            sink.authenticate()
            state = Mirrored(RunningPocketBase(server), event, replay, client, sink)
            assert state.run("full").exit_code == 0
            assert_converged(state.pb, event)
            yield state
    finally:
        server.stop()


# -- building bad files ----------------------------------------------------------------------------------------------

Files = dict[Path, bytes]


def dump(data: Any, *, ascii_only: bool = True) -> bytes:
    """JSON as a program might write it; ``ascii_only`` escapes non-ASCII (lone surrogates become ``\\ud800``)."""
    return json.dumps(data, ensure_ascii=ascii_only, indent=2).encode("utf-8")


def race_file(e: GeneratedEvent, m: Mirrored) -> Path:
    return e.race_file(m.race_id)


def race_edit(edit: Callable[[dict[str, Any]], Any]) -> Callable[[GeneratedEvent, Mirrored], Files]:
    """Race.json with ``edit`` applied to its race object."""

    def mutate(e: GeneratedEvent, m: Mirrored) -> Files:
        document = read(race_file(e, m))
        edit(document[0])
        return {race_file(e, m): dump(document)}

    return mutate


def race_bytes(body: bytes | Callable[[bytes], bytes]) -> Callable[[GeneratedEvent, Mirrored], Files]:
    def mutate(e: GeneratedEvent, m: Mirrored) -> Files:
        path = race_file(e, m)
        return {path: body(path.read_bytes()) if callable(body) else body}

    return mutate


def event_file_edit(name: str, edit: Callable[[list[Any]], Any]) -> Callable[[GeneratedEvent, Mirrored], Files]:
    """An event-level document (``Event.json``, ``Pilots.json``, ...) with ``edit`` applied to its array."""

    def mutate(e: GeneratedEvent, m: Mirrored) -> Files:
        path = e.root / "httpfiles" / name if name == "Channels.json" else e.event_dir() / name
        document = read(path)
        replaced = edit(document)
        return {path: replaced if isinstance(replaced, bytes) else dump(document)}

    return mutate


def result_bytes(body: bytes | Callable[[bytes], bytes]) -> Callable[[GeneratedEvent, Mirrored], Files]:
    def mutate(e: GeneratedEvent, m: Mirrored) -> Files:
        path = e.result_file(m.race_id)
        return {path: body(path.read_bytes()) if callable(body) else body}

    return mutate


def set_key(obj: dict[str, Any], key: str, value: Any) -> None:
    obj[key] = value


def first(items: list[Any], **changes: Any) -> list[Any]:
    """Change the first object of ``items``; returns ``items``."""
    items[0].update(changes)
    return items


def with_unknown_key(raw: bytes, nested: bytes) -> bytes:
    """Race.json whose race gains an unknown key holding ``nested`` (raw JSON text)."""
    return raw.replace(b'"ID":', b'"Junk": ' + nested + b',\r\n  "ID":', 1)


def junk_in_list(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda race: race[key].__setitem__(0, 42)


# -- checks of stored values -----------------------------------------------------------------------------------------


def damaged_race(m: Mirrored) -> Any:
    """The damaged Race.json as it is on disk (numbers kept as text: one has 5,000 digits)."""
    return json.loads(race_file(m.event, m).read_bytes(), parse_int=str, parse_constant=str, parse_float=str)


def detection_of(m: Mirrored, n: int = 0) -> str:
    return str(damaged_race(m)[0]["Detections"][n]["ID"])


def lap_of(m: Mirrored) -> str:
    return str(damaged_race(m)[0]["Laps"][0]["ID"])


def pilot_of(m: Mirrored) -> str:
    return str(read(m.event.event_dir() / "Pilots.json")[0]["ID"])


def check_race_wrong_types(m: Mirrored) -> None:
    race = m.one("races", m.race_id)
    assert race["start"] == "" and race["raceNumber"] == 0 and race["valid"] is False
    assert race["extra"]["Start"] == 42 and race["extra"]["RaceNumber"] == "7" and race["extra"]["Valid"] == {}


def check_date_at_calendar_edge(m: Mirrored) -> None:
    race = m.one("races", m.race_id)
    assert race["start"] == ""  # beyond what a UTC date can hold: stored as unset, the rest of the race synced
    assert len(m.pb.records("detections", f'race = "{race["id"]}"')) > 0


def check_detection_wrong_types(m: Mirrored) -> None:
    detection = m.one("detections", detection_of(m))
    assert detection["time"] == "" and detection["extra"]["Time"] == 42 and detection["extra"]["Valid"] == "yes"


def check_unknown_enums(m: Mirrored) -> None:
    assert m.one("races", m.race_id)["bracket"] == "Quantum"
    detection = m.one("detections", detection_of(m))
    assert detection["validityType"] == "Alien" and detection["timingSystemType"] == "99"


def check_stage_type(m: Mirrored) -> None:
    stage_id = read(m.event.event_dir() / "Stages.json")[0]["ID"]
    assert m.one("stages", stage_id)["stageType"] == "99"


def check_event_type(m: Mirrored) -> None:
    assert m.one("events", m.event.event_id)["eventType"] == "Hyperdrive"


def check_long_name(m: Mirrored) -> None:
    assert m.one("pilots", pilot_of(m))["name"] == "é" * 4000


def check_missing_round(m: Mirrored) -> None:
    race = m.one("races", m.race_id)
    assert race["round"] == "" and race["extra"]["unresolved"]["Round"] == "0badc0de-0000-4000-8000-00000000beef"


def check_missing_pilot(m: Mirrored) -> None:
    detection = m.one("detections", detection_of(m))
    assert detection["pilot"] == ""
    assert detection["extra"]["unresolved"]["Pilot"] == "0badc0de-0000-4000-8000-00000000beef"


def check_duplicate_detection(m: Mirrored) -> None:
    assert m.one("detections", detection_of(m))["peak"] == 4242  # the last one, as FPVTrackside would


def check_duplicate_pilot(m: Mirrored) -> None:
    assert m.one("pilots", pilot_of(m))["name"] == "Second of two"


def check_nan(m: Mirrored) -> None:
    lap = m.one("laps", lap_of(m))
    assert lap["lengthSeconds"] == 0 and lap["extra"]["LengthSeconds"] == "NaN"


def check_overflow(m: Mirrored) -> None:
    first, second = (m.one("detections", detection_of(m, n)) for n in (0, 1))
    assert first["extra"]["Peak"] == "1e400" and second["extra"]["Peak"] == "Infinity"


def check_long_integer(m: Mirrored) -> None:
    assert m.one("detections", detection_of(m))["extra"]["Peak"] == "9" * 5000


def pilot_named(expected: str) -> Callable[[Mirrored], None]:
    def check(m: Mirrored) -> None:
        assert m.one("pilots", pilot_of(m))["name"] == expected

    return check


def check_surrogate_id(m: Mirrored) -> None:
    assert m.one("detections", "\ufffd" + detection_of(m)[1:])


def check_non_guid_races(m: Mirrored) -> None:
    assert {r["sourceId"] for r in m.pb.records("races")} >= {m.race_id}


UNICODE_NAME = "مرحبا Zoë 👩‍👩‍👧 🚁 e\u0301\u0301\u0301 \u202eRTL\u202c \u200b"

# -- the cases -------------------------------------------------------------------------------------------------------

Mutate = Callable[[GeneratedEvent, Mirrored], Files]


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutate
    #: What the user runs: ``race`` for the race's files, ``full`` for the event's.
    op: Literal["race", "full"] = "race"
    #: ``unusable``: exit 1, an error saying so, nothing written at all. ``stored``: exit 0 (warnings allowed) and
    #: the value stored. ``failed``: exit 1, the records PocketBase refuses fail with a short message, the rest stays.
    expect: Literal["unusable", "stored", "failed"] = "unusable"
    #: A fragment of an error (unusable, failed) or warning (stored) the summary must hold.
    says: str = ""
    check: Callable[[Mirrored], None] | None = None


def _race_without(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda race: race.pop(key)


CASES = [
    # Documents that cannot be used: their scope reports an error and nothing changes.
    Case("race: truncated JSON", race_bytes(lambda raw: raw[: len(raw) // 2]), says="does not parse"),
    Case("race: empty body (file being rewritten)", race_bytes(b""), says="empty body"),
    Case("race: HTML instead of JSON", race_bytes(b"<html><body>index</body></html>"), says="HTML"),
    Case("race: an object, not an array", race_bytes(lambda raw: dump(json.loads(raw)[0])), says="expected a JSON"),
    Case("race: null", race_bytes(b"null"), says="got null"),
    Case("race: a number", race_bytes(b"42"), says="got number"),
    Case("race: a string", race_bytes(b'"[]"'), says="got string"),
    Case("race: [42]", race_bytes(b"[42]"), says="not objects"),
    Case("race: [null]", race_bytes(b"[null]"), says="not objects"),
    Case("race: not UTF-8", race_bytes(b'[{"ID": "\xff\xfe\xfa"}]'), says="not UTF-8"),
    Case(
        "race: 5,000-deep nested lists in an unknown field",
        race_bytes(lambda raw: with_unknown_key(raw, b"[" * 5000 + b"]" * 5000)),
        says="nested too deeply",
    ),
    Case("race: Detections is a string", race_edit(lambda r: set_key(r, "Detections", "abc")), says="not a list"),
    Case("race: Laps is null", race_edit(lambda r: set_key(r, "Laps", None)), says="Laps is not a list"),
    Case("race: Detections key missing", race_edit(_race_without("Detections")), says="Detections is missing"),
    Case("race: a detection is 42", race_edit(junk_in_list("Detections")), says="unreadable entries"),
    Case(
        "race: a detection's ID is a number",
        race_edit(lambda r: first(r["Detections"], ID=12345)),
        says="without a readable ID",
    ),
    Case(
        "race: a pilot channel's Pilot is a number",
        race_edit(lambda r: first(r["PilotChannels"], Pilot=7)),
        says="no readable Pilot",
    ),
    Case("race: Result.json is [1]", result_bytes(b"[1]"), says="not objects"),
    Case("race: Result.json truncated", result_bytes(lambda raw: raw[:40]), says="does not parse"),
    Case(
        "event: Event.json truncated",
        event_file_edit("Event.json", lambda d: b'[{"ID": "'),
        "full",
        says="does not parse",
    ),
    Case("event: Event.json is []", event_file_edit("Event.json", lambda d: b"[]"), "full", says="holds no event"),
    Case(
        "event: Races is a string",
        event_file_edit("Event.json", lambda d: first(d, Races="abc")),
        "full",
        says="Races is not a list",
    ),
    Case(
        "event: Races holds 42",
        event_file_edit("Event.json", lambda d: d[0]["Races"].append(42)),
        "full",
        says="Races has unreadable entries",
    ),
    Case(
        "event: Races is null",
        event_file_edit("Event.json", lambda d: first(d, Races=None)),
        "full",
        says="Races is not a list",
    ),
    Case(
        "event: the roster is an object",
        event_file_edit("Event.json", lambda d: first(d, PilotChannels={"a": 1})),
        "full",
        says="PilotChannels is not a list",
    ),
    Case("event: Rounds.json is [1, 2]", event_file_edit("Rounds.json", lambda d: b"[1, 2]"), "full", says="objects"),
    Case(
        "event: a round's ID is a number",
        event_file_edit("Rounds.json", lambda d: first(d, ID=42)),
        "full",
        says="without a readable ID",
    ),
    Case(
        "event: Stages.json is an object",
        event_file_edit("Stages.json", lambda d: dump(d[0])),
        "full",
        says="expected a JSON array",
    ),
    Case("pilots: truncated", event_file_edit("Pilots.json", lambda d: dump(d)[:300]), "full", says="does not parse"),
    Case("channels: HTML page", event_file_edit("Channels.json", lambda d: b"<!DOCTYPE html>"), "full", says="HTML"),
    Case(
        "results: Results.json is [true]",
        event_file_edit("Results.json", lambda d: b"[true]"),
        "full",
        says="not objects",
    ),
    # Values that cannot be read: the record is stored, the raw value kept in extra, with a warning.
    Case(
        "wrong types in a race's known fields",
        race_edit(lambda r: r.update(Start=42, RaceNumber="7", Valid={})),
        expect="stored",
        says="Race.Start",
        check=check_race_wrong_types,
    ),
    Case(
        "wrong types in a detection's known fields",
        race_edit(lambda r: first(r["Detections"], Time=42, LapNumber="x", Valid="yes")),
        expect="stored",
        says="Time",
        check=check_detection_wrong_types,
    ),
    Case(
        "unknown enum values (Bracket, ValidityType, numeric TimingSystemType)",
        race_edit(
            lambda r: (
                r.update(Bracket="Quantum"),
                first(r["Detections"], ValidityType="Alien", TimingSystemType=99),
            )
        ),
        expect="stored",
        check=check_unknown_enums,
    ),
    Case(
        "unknown StageType number",
        event_file_edit("Stages.json", lambda d: first(d, StageType=99)),
        "full",
        expect="stored",
        check=check_stage_type,
    ),
    Case(
        "unknown EventType name",
        event_file_edit("Event.json", lambda d: first(d, EventType="Hyperdrive")),
        "full",
        expect="stored",
        check=check_event_type,
    ),
    Case(
        "a 4,000-character pilot name",
        event_file_edit("Pilots.json", lambda d: first(d, Name="é" * 4000)),
        "full",
        expect="stored",
        check=check_long_name,
    ),
    Case(
        "a race referencing a missing round",
        race_edit(lambda r: set_key(r, "Round", "0badc0de-0000-4000-8000-00000000beef")),
        expect="stored",
        check=check_missing_round,
    ),
    Case(
        "a detection referencing a missing pilot",
        race_edit(lambda r: first(r["Detections"], Pilot="0badc0de-0000-4000-8000-00000000beef")),
        expect="stored",
        check=check_missing_pilot,
    ),
    Case(
        "a detection ID twice in a race file",
        race_edit(lambda r: r["Detections"].append({**r["Detections"][0], "Peak": 4242})),
        expect="stored",
        says="duplicate id",
        check=check_duplicate_detection,
    ),
    Case(
        "a pilot ID twice in Pilots.json",
        event_file_edit("Pilots.json", lambda d: d.append({**d[0], "Name": "Second of two"})),
        "full",
        expect="stored",
        says="duplicate id",
        check=check_duplicate_pilot,
    ),
    Case(
        "a race ID twice in Event.Races",
        event_file_edit("Event.json", lambda d: d[0]["Races"].append(d[0]["Races"][0])),
        "full",
        expect="stored",
    ),
    Case(
        "NaN lap length",
        race_edit(lambda r: first(r["Laps"], LengthSeconds=float("nan"))),
        expect="stored",
        says="LengthSeconds",
        check=check_nan,
    ),
    Case(
        "1e400 and Infinity peaks",
        race_edit(lambda r: (first(r["Detections"], Peak=-1), r["Detections"][1].update(Peak=float("inf")))),
        expect="stored",
        check=check_overflow,
    ),
    Case(
        "a 5,000-digit integer",
        race_edit(lambda r: first(r["Detections"], Peak=-3)),
        expect="stored",
        check=check_long_integer,
    ),
    Case(
        "NUL in a name",
        event_file_edit("Pilots.json", lambda d: first(d, Name="A\u0000B")),
        "full",
        expect="stored",
        check=pilot_named("A\u0000B"),
    ),
    Case(
        "a lone surrogate escape in a name",
        event_file_edit("Pilots.json", lambda d: first(d, Name="A\ud800B")),
        "full",
        expect="stored",
        check=pilot_named("A\ufffdB"),
    ),
    Case(
        "a lone surrogate escape in an ID",
        race_edit(lambda r: first(r["Detections"], ID="\udc00" + r["Detections"][0]["ID"][1:])),
        expect="stored",
        check=check_surrogate_id,
    ),
    Case(
        "RTL, emoji, ZWJ sequences, combining marks, zero-width space (UTF-8)",
        event_file_edit("Pilots.json", lambda d: (first(d, Name=UNICODE_NAME), dump(d, ascii_only=False))[1]),
        "full",
        expect="stored",
        check=pilot_named(UNICODE_NAME),
    ),
    Case(
        "an emoji as an escaped surrogate pair",
        event_file_edit("Pilots.json", lambda d: first(d, Name="\U0001f681")),
        "full",
        expect="stored",
        check=pilot_named("\U0001f681"),
    ),
    Case(
        "a byte-order mark and CRLF line endings",
        race_bytes(lambda raw: b"\xef\xbb\xbf" + raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")),
        expect="stored",
    ),
    # Values PocketBase refuses: that record fails with a short message; the others are written.
    Case(
        "a 1 MB pilot name",
        event_file_edit("Pilots.json", lambda d: first(d, Name="x" * MB)),
        "full",
        expect="failed",
        says="name: Must be no more than 5000 character(s)",
    ),
    Case(
        "a 1 MB unknown field on a detection",
        race_edit(lambda r: first(r["Detections"], Notes="y" * MB)),
        expect="failed",
        says="maximum allowed JSON size",
    ),
    Case(
        "a 300-character detection ID",
        race_edit(lambda r: first(r["Detections"], ID="a" * 300)),
        expect="failed",
        says="sourceId",
    ),
    Case(
        "a year-9999 date in a zone behind UTC (beyond what a datetime holds in UTC)",
        lambda e, m: {
            **event_file_edit("Event.json", lambda d: first(d, TimeZone="America/Adak"))(e, m),
            **race_edit(lambda r: set_key(r, "Start", "9999/12/31 23:59:59.9999999"))(e, m),
        },
        "full",
        expect="stored",
        check=check_date_at_calendar_edge,
    ),
    Case(
        "race IDs that are not GUIDs (a path, junk)",
        event_file_edit("Event.json", lambda d: d[0]["Races"].extend(["../../httpfiles/Channels", "not-a-guid"])),
        "full",
        expect="failed",
        says="HTML",
        check=check_non_guid_races,
    ),
]

# Numbers json.dumps cannot write, put in place of placeholders.
_SPECIAL_NUMBERS = {b'"Peak": -1': b'"Peak": 1e400', b'"Peak": -3': b'"Peak": ' + b"9" * 5000}


def _apply(case: Case, m: Mirrored) -> Files:
    files = case.mutate(m.event, m)
    for path, body in files.items():
        for placeholder, value in _SPECIAL_NUMBERS.items():
            body = body.replace(placeholder, value)
        files[path] = body
    return files


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_fails_its_scope_or_is_stored_never_crashes(mirrored: Mirrored, case: Case) -> None:
    m = mirrored
    records = stored(m.pb)
    before_ids, before = stored_ids(m.pb, records), snapshot(m.pb, records)
    files = _apply(case, m)
    originals = {path: path.read_bytes() for path in files}
    try:
        for path, body in files.items():
            path.write_bytes(body)
        summary = m.run(case.op)
        after = snapshot(m.pb)
        if case.expect == "stored" and case.check is not None:
            case.check(m)
    finally:
        for path, body in originals.items():
            path.write_bytes(body)

    document = summary.to_dict()
    json.dumps(document, ensure_ascii=False).encode("utf-8")  # the summary itself stays printable and storable
    messages = [e["message"] for e in document["errors"]]
    assert all(len(message) < 1000 for message in messages), [message[:200] for message in messages]
    if case.expect == "unusable":
        assert summary.exit_code == 1, document
        assert any(case.says in message for message in messages), messages
        assert changes(before, after) == {}  # the scope (and everything else) is exactly as it was
    elif case.expect == "stored":
        assert summary.exit_code == 0, messages
        warnings = [w["message"] for w in document.get("warnings", [])]
        assert not case.says or any(case.says in w for w in warnings), warnings
    else:
        assert summary.exit_code == 1, document
        assert any(case.says in message for message in messages), messages
        if case.check is not None:
            case.check(m)

    restored = m.run(case.op)
    assert restored.exit_code == 0, restored.errors
    records = stored(m.pb)
    assert_nothing_lost(before_ids, m.pb, m.event, records)
    assert_converged(m.pb, m.event, records=records)


def test_the_cli_survives_a_folder_of_bad_files(mirrored: Mirrored) -> None:
    """Several bad files at once through the real CLI: one JSON summary, one error per bad scope, no traceback."""
    m = mirrored
    race_ids = [r for r in m.event.finished_race_ids if r != m.race_id][:3]
    bodies = [b"[42]", with_unknown_key(m.event.race_file(race_ids[1]).read_bytes(), b"[" * 5000 + b"]" * 5000)]
    bodies.append(m.event.race_file(race_ids[2]).read_bytes()[:100])
    originals = {m.event.race_file(r): m.event.race_file(r).read_bytes() for r in race_ids}
    before = snapshot(m.pb)
    try:
        for path, body in zip(originals, bodies, strict=True):
            path.write_bytes(body)
        result = cli(["full", m.event.event_id, "--json"], m.pb, m.replay.url, FPVSYNC_TRACKSIDE_ATTEMPTS="2")
    finally:
        for path, body in originals.items():
            path.write_bytes(body)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    document = result.json
    assert {e["scope"] for e in document["errors"]} == {f"race {r}" for r in race_ids}
    assert snapshot(m.pb) == before
    assert cli(["full", m.event.event_id, "--json"], m.pb, m.replay.url).exit_code == 0
    assert_converged(m.pb, m.event)
