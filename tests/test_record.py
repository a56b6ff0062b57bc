"""Recording a live FPVTrackside (here: the replay server) into a replay directory, byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fpvsync.errors import ConfigError, DocumentUnavailable, SourceUnreachable
from fpvsync.trackside.client import TracksideClient
from fpvsync.trackside.record import RecordReport, record_event
from fpvsync.trackside.replay import ReplayServer
from tests import conftest_source
from tests.source_fixtures import SampleEvent, dump, free_port, tree

# The hand-written sample event and its replay server, in place of the generated event tests/conftest.py serves.
sample_event, replay = conftest_source.sample_event, conftest_source.replay


def fast_client(url: str) -> TracksideClient:
    return TracksideClient(url, backoff=0.01, attempts=2)


def event_files(root: Path, event_id: str) -> dict[str, bytes]:
    """What a recording of ``event_id`` should hold: the channels and that event's folder."""
    return {
        path: body
        for path, body in tree(root).items()
        if path == "httpfiles/Channels.json" or path.startswith(f"events/{event_id}/")
    }


def record(server: ReplayServer, out: Path, event_id: str | None = None) -> RecordReport:
    with fast_client(server.url) as client:
        return record_event(client, out, event_id)


def test_round_trip_is_byte_identical(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    out = tmp_path / "recorded"
    report = record(replay, out)

    assert report.ok, report.errors
    assert report.event_id == sample_event.event_id
    assert tree(out) == event_files(sample_event.root, sample_event.event_id)
    assert list(report.race_ids) == list(sample_event.race_ids)
    event = f"events/{sample_event.event_id}"
    assert report.missing == [
        f"{event}/Stages.json",
        f"{event}/Results.json",
        f"{event}/{sample_event.running_race_id}/Result.json",
        f"{event}/{sample_event.deleted_race_id}/Result.json",
        f"{event}/{sample_event.missing_race_id}/Race.json",
        f"{event}/{sample_event.missing_race_id}/Result.json",
    ]
    assert (out / event / sample_event.deleted_race_id / "Race.json").read_bytes() == b"[]"
    assert not (out / event / sample_event.missing_race_id).exists()
    assert report.bytes_written == sum(len(body) for body in tree(out).values())
    assert sorted(report.written) == sorted(tree(out))
    assert not list(out.rglob("*.tmp"))


def test_round_trip_through_a_second_replay(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    """A recording replays exactly like its source: recording it again gives the same files."""
    first = tmp_path / "first"
    record(replay, first)
    with ReplayServer(first) as second_server:
        report = record(second_server, tmp_path / "second")
    assert report.ok
    assert tree(tmp_path / "second") == tree(first)


def test_round_trip_of_a_generated_event(tmp_path: Path) -> None:
    generator = pytest.importorskip("fpvsync.trackside.generator")
    generated = generator.generate_event(tmp_path / "source", generator.EventSpec(seed=5, pilots=8, rounds=3))
    with ReplayServer(generated.root, current_event=generated.event_id) as server:
        report = record(server, tmp_path / "recorded")
    assert report.ok, report.errors
    assert tree(tmp_path / "recorded") == event_files(generated.root, generated.event_id)
    event = tmp_path / "recorded" / "events" / generated.event_id
    if generated.missing_race_id:
        assert not (event / generated.missing_race_id / "Race.json").exists()
        assert f"events/{generated.event_id}/{generated.missing_race_id}/Race.json" in report.missing
    if generated.deleted_race_id:
        assert (event / generated.deleted_race_id / "Race.json").read_bytes() == b"[]"


def test_records_a_named_event(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    report = record(replay, tmp_path / "out", sample_event.other_event_id)
    assert report.ok
    assert report.race_ids == []
    assert tree(tmp_path / "out") == event_files(sample_event.root, sample_event.other_event_id)


def test_unavailable_documents_are_errors_and_keep_older_copies(
    replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    record(replay, out)
    rounds = out / "events" / sample_event.event_id / "Rounds.json"
    before = rounds.read_bytes()
    sample_event.event_file("Rounds.json").write_bytes(b'[{"Name": "hal')

    report = record(replay, out)

    path = f"events/{sample_event.event_id}/Rounds.json"
    assert not report.ok
    assert list(report.errors) == [path]
    assert report.errors[path].startswith("JSON does not parse")
    assert path not in report.written
    assert rounds.read_bytes() == before
    assert "unavailable  " + path in report.asstr()
    assert report.asdict()["errors"] == [{"path": path, "message": report.errors[path]}]


def test_missing_documents_remove_stale_copies(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    out = tmp_path / "out"
    record(replay, out)
    result = sample_event.race_file(sample_event.finished_race_id, "Result.json")
    result.unlink()  # the race director reset the race

    report = record(replay, out)

    assert report.ok
    assert tree(out) == event_files(sample_event.root, sample_event.event_id)
    assert f"events/{sample_event.event_id}/{sample_event.finished_race_id}/Result.json" in report.missing


def test_event_json_unavailable_records_no_races(
    replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path
) -> None:
    sample_event.event_file("Event.json").unlink()
    report = record(replay, tmp_path / "out", sample_event.event_id)
    path = f"events/{sample_event.event_id}/Event.json"
    assert report.errors == {path: "empty body (file missing or being written)"}
    assert report.race_ids == []
    assert not any("/a1000000" in p for p in report.written)


def test_unsafe_race_ids_are_never_used_as_paths(
    replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path
) -> None:
    sample_event.event_file("Event.json").write_bytes(
        dump([{"Races": ["../../../escape", "a/b", 7, sample_event.finished_race_id, sample_event.finished_race_id]}])
    )
    out = tmp_path / "deep" / "out"
    report = record(replay, out, sample_event.event_id)
    assert report.race_ids == [sample_event.finished_race_id]
    assert len(report.errors) == 3
    assert all(key.startswith(f"events/{sample_event.event_id}/Event.json#Races[") for key in report.errors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "source"]
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]


def test_unsafe_event_id_is_refused(replay: ReplayServer, tmp_path: Path) -> None:
    with TracksideClient(replay.url) as client, pytest.raises(ConfigError, match="not a plain id"):
        record_event(client, tmp_path / "out", "../x")
    replay.current_event = ".."
    with TracksideClient(replay.url) as client, pytest.raises(DocumentUnavailable, match="not a GUID"):
        record_event(client, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_progress_reports_every_document(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    seen: list[str] = []
    with fast_client(replay.url) as client:
        report = record_event(client, tmp_path / "out", progress=seen.append)
    assert sorted(seen) == sorted(report.written + report.missing + list(report.errors))
    assert seen[0] == "httpfiles/Channels.json"
    assert len(seen) == 6 + 2 * len(sample_event.race_ids)


def test_unreachable_source_raises(tmp_path: Path) -> None:
    with fast_client(f"http://127.0.0.1:{free_port()}") as client, pytest.raises(SourceUnreachable):
        record_event(client, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_report_as_dict_is_json() -> None:
    report = RecordReport(directory=Path("x"), event_id="e", written=["a"], missing=["b"], errors={"c": "why"})
    data = json.loads(json.dumps(report.asdict()))
    assert data["ok"] is False
    assert data["written"] == ["a"]
    assert data["missing"] == ["b"]


# -- CLI ---------------------------------------------------------------------------------------------------------

FAST_ENV = {"FPVSYNC_TRACKSIDE_ATTEMPTS": "2", "FPVSYNC_TRACKSIDE_URL": None}


def run_cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    from fpvsync.cli import app

    result = CliRunner().invoke(app, list(args), env={**FAST_ENV, **(env or {})})
    return result.exit_code, " ".join(result.stderr.split())


def test_cli_record(replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path) -> None:
    code, stderr = run_cli("record", str(tmp_path / "out"), "--trackside", replay.url)
    assert code == 0, stderr
    assert f"Recorded event {sample_event.event_id}" in stderr
    assert "8 files written" in stderr
    assert "6 missing, 0 unavailable" in stderr
    assert tree(tmp_path / "out") == event_files(sample_event.root, sample_event.event_id)


def test_cli_record_reads_the_url_from_the_environment(
    replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path
) -> None:
    code, stderr = run_cli(
        "record", str(tmp_path / "out"), sample_event.other_event_id, env={"FPVSYNC_TRACKSIDE_URL": replay.url}
    )
    assert code == 0, stderr
    assert f"Recorded event {sample_event.other_event_id}" in stderr


def test_cli_record_exit_1_when_documents_are_unavailable(
    replay: ReplayServer, sample_event: SampleEvent, tmp_path: Path
) -> None:
    sample_event.event_file("Pilots.json").write_bytes(b"<html>oops</html>")
    code, stderr = run_cli("record", str(tmp_path / "out"), "--trackside", replay.url)
    assert code == 1
    assert "1 unavailable" in stderr
    assert "Pilots.json: HTML page instead of JSON" in stderr
    assert "Traceback" not in stderr


def test_cli_record_exit_1_when_no_event_is_open(tmp_path: Path) -> None:
    (tmp_path / "empty" / "events").mkdir(parents=True)
    with ReplayServer(tmp_path / "empty") as server:
        code, stderr = run_cli("record", str(tmp_path / "out"), "--trackside", server.url)
    assert code == 1
    assert "error: /: the index page names no event" in stderr


def test_cli_record_exit_3_when_unreachable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, stderr = run_cli("record", str(tmp_path / "out"), "--trackside", url)
    assert code == 3
    assert f"error: FPVTrackside at {url} did not answer" in stderr
    assert "hint:" in stderr
    assert "Traceback" not in stderr


def test_cli_record_exit_2_on_a_bad_url(tmp_path: Path) -> None:
    code, stderr = run_cli("record", str(tmp_path / "out"), "--trackside", "timing-laptop:8080")
    assert code == 2
    assert "is not an http(s) URL" in stderr


def test_cli_record_exit_2_on_a_bad_event_id(replay: ReplayServer, tmp_path: Path) -> None:
    code, stderr = run_cli("record", str(tmp_path / "out"), "../../etc", "--trackside", replay.url)
    assert code == 2
    assert "is not a plain id" in stderr
