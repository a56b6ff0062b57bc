"""fpvsync's log of sync runs (the superuser-only ``syncRuns`` collection) and PocketBase's date format.

``syncRuns`` keeps one record per run with its summary: ``record_run(sink, summary, started_at, exit_code)``.
The mirror's state (what PocketBase holds, per scope) lives in :mod:`fpvsync.engine.state`.

With a dry-run sink nothing here writes (and :func:`record_run` returns ``""``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from fpvsync.errors import SinkRejected
from fpvsync.ids import record_id
from fpvsync.pb.sink import PocketBaseSink, filter_string
from fpvsync.summary import SyncSummary

__all__ = [
    "SYNC_RUNS",
    "pb_datetime",
    "recent_runs",
    "record_run",
]

SYNC_RUNS: Final = "syncRuns"


def pb_datetime(moment: datetime) -> str:
    """``moment`` as PocketBase stores dates: ``YYYY-MM-DD HH:MM:SS.sssZ`` in UTC (naive means local time)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


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
