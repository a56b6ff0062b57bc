"""The migrations, read back from a real PocketBase: PocketBase silently drops misspelt field types, so only
reading every collection back proves the schema is what fpvsync writes into."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import RunningPocketBase

REL = "relation"
# collection -> field -> type, or (relation, target collection, cascadeDelete, multiple)
# fmt: off
SYNCED: dict[str, dict[str, Any]] = {
    "channels": {
        "number": "number", "band": "text", "shortBand": "text", "channelPrefix": "text",
        "frequency": "number", "displayName": "text", "shortName": "text",
    },
    "pilots": {
        "name": "text", "phonetic": "text", "firstName": "text", "lastName": "text", "sillyName": "text",
        "discordId": "text", "aircraft": "text", "catchPhrase": "text", "bestResult": "text",
        "timingSensitivityPercent": "number", "practicePilot": "bool", "photoPath": "text",
        "velocidroneUid": "text", "videoFlipped": "bool", "videoMirrored": "bool",
    },
    "events": {
        "name": "text", "eventType": "text", "start": "date", "end": "date", "laps": "number", "pbLaps": "number",
        "packLimit": "number", "raceLength": "number", "minStartDelay": "number", "maxStartDelay": "number",
        "primaryTimingSystemLocation": "text", "raceStartIgnoreDetections": "number", "minLapTime": "number",
        "lastOpened": "date", "channels": (REL, "channels", False, True), "channelColors": "json",
        "channelDisplayNames": "json", "removedPilots": (REL, "pilots", False, True), "enabled": "bool",
        "visibleOnline": "bool", "club": "text", "track": "text", "sectors": "json", "pilotsRegistered": "number",
        "flags": "json", "gameTypeName": "text", "timeZone": "text", "locked": "bool", "multiGpRaceFormat": "text",
        "channelInfo": "json",
    },
    "stages": {
        "event": (REL, "events", True, False), "name": "text", "pointSummary": "json", "timeSummary": "json",
        "lapCountAfterRound": "bool", "sheetFormatFilename": "text", "scriptFormatFilename": "text",
        "valid": "bool", "order": "number", "stageType": "text", "standings": "json",
    },
    "rounds": {
        "event": (REL, "events", True, False), "stage": (REL, "stages", False, False), "name": "text",
        "displayName": "text", "roundNumber": "number", "eventType": "text", "valid": "bool", "order": "number",
        "scheduledStart": "date", "handicapped": "bool", "gameTypeName": "text", "roundType": "text",
        "pointSummary": "json", "timeSummary": "json", "lapCountAfterRound": "bool", "sheetFormatFilename": "text",
    },
    "races": {
        "event": (REL, "events", True, False), "round": (REL, "rounds", False, False), "name": "text",
        "raceNumber": "number", "start": "date", "end": "date", "totalPausedTime": "number",
        "targetLaps": "number", "primaryTimingSystemLocation": "text", "valid": "bool",
        "autoAssignNumbers": "bool", "bracket": "text", "roundNumber": "number", "eventType": "text",
    },
    "pilotChannels": {
        "event": (REL, "events", True, False), "race": (REL, "races", True, False),
        "pilot": (REL, "pilots", False, False), "channel": (REL, "channels", False, False),
        "handicapOffset": "number",
    },
    "detections": {
        "event": (REL, "events", True, False), "race": (REL, "races", True, False),
        "pilot": (REL, "pilots", False, False), "channel": (REL, "channels", False, False),
        "timingSystemIndex": "number", "time": "date", "peak": "number", "timingSystemType": "text",
        "lapNumber": "number", "valid": "bool", "validityType": "text", "isLapEnd": "bool", "raceSector": "number",
        "isHoleshot": "bool", "displayName": "text",
    },
    "laps": {
        "event": (REL, "events", True, False), "race": (REL, "races", True, False),
        "detection": (REL, "detections", True, False), "pilot": (REL, "pilots", False, False),
        "lapNumber": "number", "lengthSeconds": "number", "startTime": "date", "endTime": "date",
        "valid": "bool", "isHoleshot": "bool", "withinTarget": "bool",
    },
    "gamePoints": {
        "event": (REL, "events", True, False), "race": (REL, "races", True, False),
        "pilot": (REL, "pilots", False, False), "channel": (REL, "channels", False, False), "valid": "bool",
        "time": "date",
    },
    "results": {
        "event": (REL, "events", True, False), "race": (REL, "races", True, False),
        "round": (REL, "rounds", False, False), "pilot": (REL, "pilots", False, False), "points": "number",
        "position": "number", "valid": "bool", "dnf": "bool", "resultType": "text", "time": "number",
        "lapsFinished": "number",
    },
}
COMMON = {
    "id": "text",
    "source": "text",
    "sourceId": "text",
    "externalId": "number",
    "extra": "json",
    "syncHash": "text",
}
BOOKKEEPING: dict[str, dict[str, Any]] = {
    "syncRuns": {
        "id": "text", "command": "text", "event": "relation", "eventId": "text", "ok": "bool", "exitCode": "number",
        "startedAt": "date", "finishedAt": "date", "durationSeconds": "number", "written": "number",
        "errorCount": "number", "summary": "json",
    },
    "syncScopes": {
        "id": "text", "event": "text", "scope": "text", "fingerprint": "text", "context": "text", "inputs": "json",
        "verifiedAt": "date", "changedAt": "date", "editedAfter": "date",
    },
    "syncLocks": {"id": "text", "name": "text", "holder": "text", "acquiredAt": "date", "expiresAt": "date"},
}
# Read-only views over the synced collections (pb_migrations/1764000100_derived.js, replaced or added by
# 1764000400_fpvtrackside_rules.js): field -> type, or (relation, target collection).
VIEWS: dict[str, dict[str, Any]] = {
    "pilotBests": {
        "id": "text", "event": (REL, "events"), "pilot": (REL, "pilots"), "racesFlown": "number",
        "validLaps": "number", "fastestLap": "number", "fastestLapRace": (REL, "races"),
        "fastestLapRound": (REL, "rounds"), "consecutiveLaps": "number", "fastestConsecutive": "number",
        "fastestConsecutiveRace": (REL, "races"), "fastestConsecutiveRound": (REL, "rounds"),
        "fastestHoleshot": "number", "fastestHoleshotRace": (REL, "races"), "fastestHoleshotRound": (REL, "rounds"),
        "bestRaceTime": "number", "bestRaceTimeRace": (REL, "races"), "bestRaceTimeRound": (REL, "rounds"),
    },
    "leaderboard": {
        "id": "text", "event": (REL, "events"), "round": (REL, "rounds"), "stage": (REL, "stages"),
        "pilot": (REL, "pilots"), "roundOrder": "number", "roundValid": "bool", "position": "number",
        "points": "number", "racePoints": "number", "rolloverPoints": "number", "races": "number", "wins": "number",
        "dnfs": "number", "bestPosition": "number",
    },
    "stageLeaderboard": {
        "id": "text", "event": (REL, "events"), "stage": (REL, "stages"), "pilot": (REL, "pilots"),
        "position": "number", "rounds": "number", "points": "number", "droppedPoints": "number",
        "racePoints": "number", "rolloverPoints": "number", "races": "number", "wins": "number", "dnfs": "number",
        "bestPosition": "number",
    },
    "raceOrder": {
        "id": "text", "event": (REL, "events"), "race": (REL, "races"), "round": (REL, "rounds"), "name": "text",
        "raceNumber": "number", "roundOrder": "number", "valid": "bool", "start": "date", "end": "date",
        "position": "number", "current": "bool", "state": "text", "pilots": "number",
    },
    "pilotSchedule": {
        "id": "text", "event": (REL, "events"), "pilot": (REL, "pilots"), "nextRace": (REL, "races"),
        "round": (REL, "rounds"), "channel": (REL, "channels"), "racesUntil": "number", "position": "number",
    },
}
# fmt: on
FRONT_END_INDEXES = {
    "events": ["(sourceId)"],
    "rounds": ["(event, `order`)"],
    "races": ["(event, round, raceNumber)", "(start)"],
    "laps": ["(race, lapNumber)", "(event, pilot, race, endTime, lapNumber, valid, isHoleshot, lengthSeconds, id)"],
    "pilotChannels": ["(event, pilot)"],
    "detections": ["(race, time)"],
    "results": ["(event, race, position)"],
}


@pytest.fixture(scope="module")
def collections(shared_pb: RunningPocketBase) -> dict[str, dict[str, Any]]:
    with shared_pb.admin() as client:
        answer = client.get("/api/collections", params={"perPage": 200})
        answer.raise_for_status()
        return {c["name"]: c for c in answer.json()["items"]}


def _fields(collection: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in collection["fields"]}


@pytest.mark.parametrize("name", sorted(SYNCED))
def test_synced_collection_fields_types_and_relations(name: str, collections: dict[str, dict[str, Any]]) -> None:
    by_id = {c["id"]: c["name"] for c in collections.values()}
    fields = _fields(collections[name])
    expected = {**COMMON, **SYNCED[name], "created": "autodate", "updated": "autodate"}
    assert set(fields) == set(expected)
    for field_name, spec in expected.items():
        field = fields[field_name]
        if isinstance(spec, tuple):
            _, target, cascade, multiple = spec
            assert field["type"] == "relation", field_name
            assert by_id[field["collectionId"]] == target, field_name
            assert field["cascadeDelete"] is cascade, field_name
            assert (field["maxSelect"] > 1) is multiple, field_name
        else:
            assert field["type"] == spec, field_name
        # A required number or bool rejects 0 and false: only identity fields may be required.
        assert field.get("required", False) is (field_name in {"id", "source", "sourceId"}), field_name
    assert fields["created"]["onUpdate"] is False
    assert fields["updated"]["onUpdate"] is True


@pytest.mark.parametrize("name", sorted(SYNCED))
def test_synced_collection_rules_and_unique_source_index(name: str, collections: dict[str, dict[str, Any]]) -> None:
    collection = collections[name]
    assert (collection["listRule"], collection["viewRule"]) == ("", "")
    assert (collection["createRule"], collection["updateRule"], collection["deleteRule"]) == (None, None, None)
    unique = [i for i in collection["indexes"] if "UNIQUE" in i.upper()]
    assert len(unique) == 1
    assert unique[0].replace("`", "").endswith(f"ON {name} (source, sourceId)")
    for columns in FRONT_END_INDEXES.get(name, []):
        assert any(index.endswith(columns) for index in collection["indexes"]), columns


@pytest.mark.parametrize("name", sorted(BOOKKEEPING))
def test_bookkeeping_collections_are_superuser_only(name: str, collections: dict[str, dict[str, Any]]) -> None:
    collection = collections[name]
    assert set(_fields(collection)) == set(BOOKKEEPING[name]) | {"created", "updated"}
    for rule in ("listRule", "viewRule", "createRule", "updateRule", "deleteRule"):
        assert collection[rule] is None, rule


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_views_fields_and_public_read_only_rules(name: str, collections: dict[str, dict[str, Any]]) -> None:
    by_id = {c["id"]: c["name"] for c in collections.values()}
    collection = collections[name]
    assert collection["type"] == "view"
    assert (collection["listRule"], collection["viewRule"]) == ("", "")
    assert (collection["createRule"], collection["updateRule"], collection["deleteRule"]) == (None, None, None)
    fields = _fields(collection)
    assert set(fields) == set(VIEWS[name])
    for field_name, spec in VIEWS[name].items():
        if isinstance(spec, tuple):
            assert fields[field_name]["type"] == "relation", field_name
            assert by_id[fields[field_name]["collectionId"]] == spec[1], field_name
            assert fields[field_name]["maxSelect"] == 1, field_name
        else:
            assert fields[field_name]["type"] == spec, field_name


def test_guest_reads_views_but_cannot_write_them(shared_pb: RunningPocketBase) -> None:
    with httpx.Client(base_url=shared_pb.url) as guest:
        for name in VIEWS:
            assert guest.get(f"/api/collections/{name}/records", params={"perPage": 1}).status_code == 200, name
            assert guest.post(f"/api/collections/{name}/records", json={}).status_code == 400, name
    with shared_pb.admin() as admin:
        assert admin.post("/api/collections/raceOrder/records", json={"name": "x"}).status_code == 400


def test_batch_api_enabled_with_room_for_large_chunks(shared_pb: RunningPocketBase) -> None:
    with shared_pb.admin() as client:
        batch = client.get("/api/settings").json()["batch"]
    assert batch["enabled"] is True
    assert batch["maxRequests"] >= 500


def test_guest_reads_races_but_cannot_write_or_see_bookkeeping(shared_pb: RunningPocketBase) -> None:
    with httpx.Client(base_url=shared_pb.url) as guest:
        assert guest.get("/api/collections/races/records").status_code == 200
        created = guest.post(
            "/api/collections/races/records", json={"source": "fpvtrackside", "sourceId": "guest-race"}
        )
        assert created.status_code == 403
        for name in BOOKKEEPING:
            assert guest.get(f"/api/collections/{name}/records").status_code == 403
    assert shared_pb.records("races", filter='sourceId = "guest-race"') == []


def test_event_state_is_public_read_superuser_write_one_per_event(
    shared_pb: RunningPocketBase, collections: dict[str, dict[str, Any]]
) -> None:
    by_id = {c["id"]: c["name"] for c in collections.values()}
    collection = collections["eventState"]
    assert (collection["listRule"], collection["viewRule"]) == ("", "")
    assert (collection["createRule"], collection["updateRule"], collection["deleteRule"]) == (None, None, None)
    fields = _fields(collection)
    relations = {"event": ("events", True), "currentRace": ("races", False), "nextRace": ("races", False)}
    for name, (target, cascade) in relations.items():
        assert fields[name]["type"] == "relation", name
        assert by_id[fields[name]["collectionId"]] == target, name
        assert fields[name]["cascadeDelete"] is cascade, name
    expected = {"raceState": "text", "raceStartedAt": "date", "changeSeq": "number", "changedAt": "date"}
    for name, kind in {**expected, "changedCollections": "json"}.items():
        assert fields[name]["type"] == kind, name
    assert any("UNIQUE" in i.upper() and i.endswith("(event)") for i in collection["indexes"])
    with httpx.Client(base_url=shared_pb.url) as guest:
        assert guest.get("/api/collections/eventState/records").status_code == 200
        assert guest.post("/api/collections/eventState/records", json={"raceState": "idle"}).status_code == 403


# What an admin sees first in the dashboard, and what relation columns and pickers show for each target.
LEADING_FIELDS = {
    "channels": ["id", "shortName", "displayName"],
    "pilots": ["id", "name"],
    "events": ["id", "name", "start", "end"],
    "stages": ["id", "name"],
    "rounds": ["id", "displayName", "name", "roundNumber"],
    "races": ["id", "name", "raceNumber", "start", "end"],
    "pilotChannels": ["id", "pilot", "channel", "race", "event"],
    "detections": ["id", "displayName", "lapNumber", "time"],
    "laps": ["id", "lapNumber", "lengthSeconds", "startTime", "endTime"],
    "gamePoints": ["id", "time"],
    "results": ["id", "position", "points", "time"],
}
TRAILING_FIELDS = ["externalId", "created", "updated", "source", "sourceId", "extra", "syncHash"]
PRESENTABLE = {
    "channels": "shortName",
    "pilots": "name",
    "events": "name",
    "stages": "name",
    "rounds": "displayName",
    "races": "name",
    "detections": "displayName",
}


@pytest.mark.parametrize("name", sorted(SYNCED))
def test_dashboard_shows_meaningful_fields_first_and_bookkeeping_last(
    name: str, collections: dict[str, dict[str, Any]]
) -> None:
    order = [f["name"] for f in collections[name]["fields"]]
    lead = LEADING_FIELDS[name]
    assert order[: len(lead)] == lead
    assert order[-len(TRAILING_FIELDS) :] == TRAILING_FIELDS
    relations = [i for i, f in enumerate(collections[name]["fields"]) if f["type"] == "relation"]
    first_tail = order.index("externalId")
    assert all(i < first_tail for i in relations), "relations come before fpvsync's own fields"


@pytest.mark.parametrize("name", sorted(SYNCED))
def test_every_relation_target_has_one_presentable_field(name: str, collections: dict[str, dict[str, Any]]) -> None:
    presentable = [f["name"] for f in collections[name]["fields"] if f.get("presentable")]
    assert presentable == ([PRESENTABLE[name]] if name in PRESENTABLE else [])


def test_relations_of_synced_collections_point_at_presentable_collections(
    collections: dict[str, dict[str, Any]],
) -> None:
    by_id = {c["id"]: c for c in collections.values()}
    for name in SYNCED:
        for field in collections[name]["fields"]:
            if field["type"] == "relation":
                target = by_id[field["collectionId"]]
                assert any(f.get("presentable") for f in target["fields"]), f"{name}.{field['name']}"


def test_sync_runs_link_the_event_record_and_keep_its_guid(collections: dict[str, dict[str, Any]]) -> None:
    by_id = {c["id"]: c["name"] for c in collections.values()}
    runs = _fields(collections["syncRuns"])
    assert runs["event"]["type"] == "relation"
    assert by_id[runs["event"]["collectionId"]] == "events"
    assert runs["event"]["cascadeDelete"] is False  # a purged event's runs stay, readable by eventId
    assert runs["eventId"]["type"] == "text"
    assert [f["name"] for f in collections["syncRuns"]["fields"]][:4] == ["id", "command", "event", "eventId"]


def test_bookkeeping_collections_share_the_sync_prefix(collections: dict[str, dict[str, Any]]) -> None:
    superuser_only = {
        name for name, c in collections.items() if not c.get("system") and c["type"] == "base" and c["listRule"] is None
    }
    assert superuser_only and all(name.startswith("sync") for name in superuser_only), superuser_only
