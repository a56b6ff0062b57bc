"""fpvsync's own state in PocketBase: document hashes and the log of sync runs (superuser-only collections).

``documentHashes`` remembers the SHA-256 of each FPVTrackside document as last synced, so that ``poll`` skips
documents that did not change. Save hashes only **after** the writes they describe succeeded: a hash saved early
would hide a change that never reached PocketBase. ``syncRuns`` keeps one record per run with its summary::

    stored = load_document_hashes(sink, event_id)
    ...  # fetch, skip documents whose hash equals stored[path], sync the others
    save_document_hashes(sink, event_id, {doc.path: doc.sha256 for doc in synced})
    record_run(sink, summary, started_at, exit_code)

With a dry-run sink nothing here writes (and :func:`record_run` returns ``""``).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from fpvsync.errors import SinkRejected
from fpvsync.ids import record_id
from fpvsync.pb.sink import Delete, PocketBaseSink, Upsert, filter_string
from fpvsync.summary import SyncSummary

__all__ = [
    "DOCUMENT_HASHES",
    "SYNC_RUNS",
    "document_hash_id",
    "forget_document_hashes",
    "load_document_hashes",
    "load_document_states",
    "pb_datetime",
    "recent_runs",
    "record_run",
    "save_document_hashes",
]

DOCUMENT_HASHES: Final = "documentHashes"
SYNC_RUNS: Final = "syncRuns"
#: ``source`` of :func:`fpvsync.ids.record_id` for document-hash ids (kept apart from FPVTrackside's GUIDs).
DOCUMENT_SOURCE: Final = "document"


def document_hash_id(path: str) -> str:
    """The id of the ``documentHashes`` record for ``path``."""
    return record_id(path, source=DOCUMENT_SOURCE)


def pb_datetime(moment: datetime) -> str:
    """``moment`` as PocketBase stores dates: ``YYYY-MM-DD HH:MM:SS.sssZ`` in UTC (naive means local time)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def load_document_hashes(sink: PocketBaseSink, event_id: str) -> dict[str, str]:
    """``path -> sha256`` of every document stored for ``event_id``."""
    return {
        str(item["path"]): str(item.get("sha256") or "")
        for item in sink.list_records(DOCUMENT_HASHES, f"event = {filter_string(event_id)}", "path,sha256")
    }


def load_document_states(sink: PocketBaseSink, event_id: str) -> dict[str, tuple[str, str]]:
    """``path -> (sha256, syncedAt)`` of every document stored for ``event_id`` (``syncedAt``: when it last changed)."""
    return {
        str(item["path"]): (str(item.get("sha256") or ""), str(item.get("syncedAt") or ""))
        for item in sink.list_records(DOCUMENT_HASHES, f"event = {filter_string(event_id)}", "path,sha256,syncedAt")
    }


def save_document_hashes(
    sink: PocketBaseSink, event_id: str, hashes: Mapping[str, str], stored: Container[str] = ()
) -> None:
    """Store ``path -> sha256`` for ``event_id`` (pass only the changed ones: every entry is written).

    ``stored`` holds the paths that already have a record, so they are updated rather than created.
    """
    synced_at = pb_datetime(datetime.now(UTC))
    _write(
        sink,
        [
            Upsert(
                collection=DOCUMENT_HASHES,
                id=document_hash_id(path),
                body={"path": path, "event": event_id, "sha256": sha256, "syncedAt": synced_at},
                scope=f"event {event_id}",
                source_id=path,
                exists=path in stored,
            )
            for path, sha256 in hashes.items()
        ],
    )


def forget_document_hashes(sink: PocketBaseSink, paths: Iterable[str]) -> None:
    """Delete the stored hashes of ``paths`` (those never stored are fine)."""
    _write(
        sink,
        [
            Delete(collection=DOCUMENT_HASHES, id=document_hash_id(path), scope="document hashes", source_id=path)
            for path in paths
        ],
    )


def _write(sink: PocketBaseSink, operations: list[Upsert | Delete]) -> None:
    summary = SyncSummary("bookkeeping")
    sink.write(operations, summary)
    if summary.errors:
        first = summary.errors[0]
        more = f" (and {len(summary.errors) - 1} more)" if len(summary.errors) > 1 else ""
        raise SinkRejected(f"could not store {first.collection} for {first.source_id}: {first.message}{more}")


def record_run(sink: PocketBaseSink, summary: SyncSummary, started_at: datetime, exit_code: int) -> str:
    """Log a finished run in ``syncRuns`` and return the new record's id (``""`` with a dry-run sink).

    ``eventId`` keeps the event's GUID; ``event`` links the event's record when PocketBase has it (a run of an event
    that was never mirrored, or was purged since, keeps only ``eventId``).
    """
    if sink.dry_run:
        return ""
    finished_at = datetime.now(UTC)
    body = {
        "command": summary.command,
        "eventId": summary.event or "",
        "event": record_id(summary.event) if summary.event else "",
        "ok": summary.ok and exit_code == 0,
        "exitCode": exit_code,
        "startedAt": pb_datetime(started_at),
        "finishedAt": pb_datetime(finished_at),
        "durationSeconds": round((finished_at - started_at.astimezone(UTC)).total_seconds(), 3),
        "written": summary.written,
        "errorCount": len(summary.errors),
        "summary": summary.to_dict(),
    }
    try:
        answer = sink.send(
            f"/api/collections/{SYNC_RUNS}/records", {"method": "POST", "params": {"fields": "id"}, "body": body}
        )
    except SinkRejected:
        if not body["event"]:
            raise
        # The event's record does not exist (never mirrored, or purged): keep the GUID only.
        answer = sink.send(
            f"/api/collections/{SYNC_RUNS}/records",
            {"method": "POST", "params": {"fields": "id"}, "body": {**body, "event": ""}},
        )
    return str(answer["id"])


def recent_runs(sink: PocketBaseSink, event_id: str | None, limit: int = 10) -> list[dict[str, Any]]:
    """The latest ``limit`` runs (of ``event_id``, or of any event with ``None``), newest first."""
    params: dict[str, Any] = {"perPage": max(1, min(limit, 1000)), "skipTotal": 1, "sort": "-startedAt,-created"}
    if event_id is not None:
        params["filter"] = f"eventId = {filter_string(event_id)}"
    answer = sink.send(f"/api/collections/{SYNC_RUNS}/records", {"method": "GET", "params": params})
    items: list[dict[str, Any]] = answer["items"]
    return items[:limit]
