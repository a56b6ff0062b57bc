"""Fuzzing the reading path: arbitrary bytes and arbitrary JSON through the client's decoder, the models, the
engine's whole-document checks and the mapping. Nothing may raise (but ``DocumentUnavailable`` for a body that is
not a usable document), every record body must be strict JSON that encodes as UTF-8 (what PocketBase accepts),
and every id and relation must fit PocketBase's id pattern.

The budget is ``FPVSYNC_FUZZ_EXAMPLES`` examples in total across the fuzz tests (default 200, for CI); for a long
run::

    FPVSYNC_FUZZ_EXAMPLES=5000 .venv/bin/pytest tests/reliability/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpvsync import mapping
from fpvsync.engine.sources import entries_whole, event_whole, objects_only, race_whole
from fpvsync.errors import DocumentUnavailable
from fpvsync.ids import record_id
from fpvsync.mapping import Known, Record
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.models import (
    Channel,
    Detection,
    Event,
    GamePoint,
    Lap,
    Pilot,
    PilotChannel,
    Race,
    RacePilotChannel,
    Result,
    Round,
    Stage,
    TracksideModel,
    parse_list,
)
from tests.strategies import json_keys, json_scalars

#: Examples across all fuzz tests; split below by weight.
BUDGET = int(os.environ.get("FPVSYNC_FUZZ_EXAMPLES", "200"))
ID = re.compile(r"^[a-z0-9]{15}$")
EVENT_ID = "5a1e7d1c-63b5-4a6e-bb22-7a3f3c9d2e11"
GUIDS = [EVENT_ID, "00000009-0000-0000-0000-000000000000", "0badc0de-0000-4000-8000-000000000001"]
RELATIONS = ("event", "race", "round", "stage", "pilot", "channel", "detection")


def budget(weight: float) -> settings:
    return settings(
        max_examples=max(1, int(BUDGET * weight)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# -- values: JSON's, plus what breaks naive code -----------------------------------------------------------------------

nasty_strings = (
    st.sampled_from(
        [
            "\u0000",
            "A\u0000B",
            "\u202eRTL\u202c",
            "e\u0301\u0301",
            "👩\u200d👩\u200d👧",
            "\ufeff",
            "x" * 6000,
            "2025/01/30 16:00:57.85",
            "9999/12/31 23:59:59.9999999",
            "0002/01/01 0:00:00",
            "NaN",
            "-00:00:01.5",
            "10675199.02:48:05.4775807",
            *GUIDS,
            GUIDS[2].upper(),
        ]
    )
    | st.characters(categories=["Cs"])  # lone surrogates: json.dumps escapes them as \ud800
    | st.text(max_size=8)
)
numbers = st.sampled_from([10**400, -(10**300), 2**64, float("nan"), float("inf"), -0.0, 1e308])
values = st.recursive(
    json_scalars | nasty_strings | numbers,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(nasty_strings, children, max_size=4),
    max_leaves=12,
)


def shaped(model: type[TracksideModel]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of ``model``'s keys holding arbitrary values (objects for nested models), plus
    unknown keys."""
    nested: dict[str, type[TracksideModel]] = {}
    if model is Race:
        nested = {"Detections": Detection, "Laps": Lap, "GamePoints": GamePoint, "PilotChannels": RacePilotChannel}
    elif model is Event:
        nested = {"PilotChannels": PilotChannel}
    known = {}
    for key in json_keys(model):
        strategy: st.SearchStrategy[Any] = values
        if key in nested:
            strategy = strategy | st.lists(shaped(nested[key]) | values, max_size=3)
        known[key] = strategy
    return st.builds(
        lambda unknown, keys: {**unknown, **keys},
        st.dictionaries(nasty_strings, values, max_size=2),
        st.fixed_dictionaries({}, optional=known),
    )


# -- the reading path --------------------------------------------------------------------------------------------------


@dataclass
class Served:
    body: bytes = b"[]"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Served, TracksideClient]]:
    """A client whose every answer is ``Served.body`` (an in-memory transport: the decoder is the real one)."""
    holder = Served()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=holder.body))
    with TracksideClient("http://trackside.test", attempts=1, transport=transport) as client:
        yield holder, client


def encode(document: Any, utf8: bool) -> bytes:
    """JSON text as a program might write it: NaN and Infinity as bare words, UTF-8 or ASCII escapes."""
    if utf8:
        try:
            return json.dumps(document, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: only an escape can carry it
            pass
    return json.dumps(document).encode("ascii")


@dataclass(frozen=True)
class Kind:
    model: type[TracksideModel]
    check: Callable[[list[Any], Any], str | None]
    map: Callable[[Sequence[Any], tzinfo | None, Known], list[Record | None]]


def _race(items: Sequence[Race], zone: tzinfo | None, known: Known) -> list[Record | None]:
    records: list[Record | None] = []
    rounds = {GUIDS[2]: Round.model_validate({"ID": GUIDS[2], "RoundNumber": 3, "EventType": "Race"})}
    for race in items:
        race.id = race.id or GUIDS[1]
        records.append(mapping.race(race, EVENT_ID, zone, known, rounds.get(race.round or ""), "Race"))
        for children in mapping.race_children(race, EVENT_ID, zone, known).values():
            records.extend(children)
    return records


def _event(items: Sequence[Event], zone: tzinfo | None, known: Known) -> list[Record | None]:
    channels = {GUIDS[1]: Channel.model_validate({"ID": GUIDS[1], "Number": 1, "Band": "Raceband", "Frequency": 5658})}
    records: list[Record | None] = []
    for event in items:
        records.append(mapping.event(event, zone, known, channels))
        records.extend(mapping.roster_pilot_channel(pc, EVENT_ID, known) for pc in event.pilot_channels)
    return records


KINDS = {
    "Race.json": Kind(Race, race_whole, _race),
    "Event.json": Kind(Event, event_whole, _event),
    "Rounds.json": Kind(Round, entries_whole, lambda xs, z, k: [mapping.round_(x, EVENT_ID, z, k) for x in xs]),
    "Stages.json": Kind(Stage, entries_whole, lambda xs, z, k: [mapping.stage(x, EVENT_ID) for x in xs]),
    "Result.json": Kind(Result, entries_whole, lambda xs, z, k: [mapping.result(x, EVENT_ID, GUIDS[1], k) for x in xs]),
    "Results.json": Kind(Result, entries_whole, lambda xs, z, k: [mapping.result(x, EVENT_ID, None, k) for x in xs]),
    "Pilots.json": Kind(Pilot, objects_only, lambda xs, z, k: [mapping.pilot(x) for x in xs]),
    "Channels.json": Kind(Channel, objects_only, lambda xs, z, k: [mapping.channel(x) for x in xs]),
}
# UTC and zones ahead of it (Kiritimati by the most there is). Not zones behind UTC, nor None (this machine's, which
# may be behind): a year-9999 date there overflows mapping.utc, see test_mapping_utc_handles_the_extremes_of_the_
# calendar; the engine fails that scope alone (test_bad_input).
ZONES: list[tzinfo | None] = [UTC, ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Europe/Berlin")]
EVERYTHING_KNOWN = Known(*(frozenset(record_id(g) for g in GUIDS),) * 4)


def assert_storable(record: Record) -> None:
    assert ID.match(record.id), record.id
    assert record.body["sourceId"] == record.source_id
    json.dumps(record.body, allow_nan=False, ensure_ascii=False).encode("utf-8")
    for name in RELATIONS:
        value = record.body.get(name)
        assert value is None or value == "" or ID.match(str(value)), (name, value)
    for name in ("channels", "removedPilots"):
        assert all(ID.match(v) for v in record.body.get(name) or []), name


@budget(0.6)
@given(
    name=st.sampled_from(sorted(KINDS)),
    data=st.data(),
    utf8=st.booleans(),
    zone=st.sampled_from(ZONES),
    everything_known=st.booleans(),
)
def test_any_json_document_reads_checks_and_maps_into_storable_records(
    served: tuple[Served, TracksideClient],
    name: str,
    data: st.DataObject,
    utf8: bool,
    zone: Any,
    everything_known: bool,
) -> None:
    holder, client = served
    kind = KINDS[name]
    document = data.draw(st.lists(shaped(kind.model) | values, max_size=3) | values, label="document")
    holder.body = encode(document, utf8)
    try:
        fetched = client.fetch(f"events/{EVENT_ID}/{name}")
        parsed = parse_list(kind.model, fetched.data, name)
    except DocumentUnavailable:
        return
    problem = kind.check(fetched.data, parsed.items) if len(parsed.items) == len(fetched.data) else "skipped"
    assert problem is None or isinstance(problem, str)
    for issue in parsed.issues:
        issue.encode("utf-8")
    for record in kind.map(parsed.items, zone, EVERYTHING_KNOWN if everything_known else Known()):
        if record is not None:
            assert_storable(record)


def damaged(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` cut short, with bytes flipped, spliced into, or buried under nesting: what a half-written or
    corrupted file looks like."""
    size = len(valid)
    cut = st.integers(0, size).map(lambda n: valid[:n])
    flipped = st.tuples(st.integers(0, max(0, size - 1)), st.integers(0, 255)).map(
        lambda p: valid[: p[0]] + bytes([p[1]]) + valid[p[0] + 1 :]
    )
    spliced = st.tuples(st.integers(0, size), st.binary(max_size=16)).map(
        lambda p: valid[: p[0]] + p[1] + valid[p[0] :]
    )
    nested = st.integers(1, 20_000).map(lambda n: b"[" * n + valid + b"]" * n)
    return cut | flipped | spliced | nested | st.binary(max_size=64)


VALID_RACE = json.dumps(
    [{"ID": GUIDS[1], "Detections": [{"ID": GUIDS[2], "Peak": 12}], "Laps": [], "PilotChannels": [], "Start": "x"}]
).encode()


@budget(0.4)
@given(body=damaged(VALID_RACE))
def test_any_bytes_are_a_document_or_unavailable(served: tuple[Served, TracksideClient], body: bytes) -> None:
    holder, client = served
    holder.body = body
    try:
        fetched = client.fetch(f"events/{EVENT_ID}/x/Race.json", required=False)
    except DocumentUnavailable:
        return
    try:
        parsed = parse_list(Race, fetched.data)
    except DocumentUnavailable:
        return
    if len(parsed.items) == len(fetched.data) and race_whole(fetched.data, parsed.items) is None:
        for record in _race(parsed.items, UTC, EVERYTHING_KNOWN):
            if record is not None:
                assert_storable(record)


def test_mapping_utc_handles_the_extremes_of_the_calendar() -> None:
    behind = ZoneInfo("America/Adak")
    assert mapping.utc(datetime(9999, 12, 31, 23, 59, 59), behind) in ("", "9999-12-31 23:59:59.000Z")
    assert mapping.utc(datetime(2, 1, 1), UTC) == "0002-01-01 00:00:00.000Z"
