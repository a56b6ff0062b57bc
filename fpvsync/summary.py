"""What a sync run did: counts per collection and the errors, for people (``str``) and machines (``to_dict``).

One :class:`SyncSummary` is rendered by the CLI, returned by the HTTP API, stored in the ``syncRuns`` collection
and read by the benchmark. Its JSON shape is part of the CLI contract (architecture.md)::

    {"ok": bool, "command": str, "event": str|null,
     "collections": {NAME: {"created", "updated", "unchanged", "deleted", "failed"}},
     "errors": [{"scope", "collection", "sourceId", "message"}], "durationSeconds": float}
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Count = Literal["created", "updated", "unchanged", "deleted", "failed"]

#: Collections in dependency order: parents before children. Writes follow it; deletes go the other way.
COLLECTIONS = (
    "channels",
    "pilots",
    "events",
    "stages",
    "rounds",
    "races",
    "pilotChannels",
    "detections",
    "laps",
    "gamePoints",
    "results",
)


@dataclass
class CollectionCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: int = 0

    @property
    def written(self) -> int:
        """Records PocketBase was asked to change (created, updated or deleted)."""
        return self.created + self.updated + self.deleted


@dataclass(frozen=True)
class SyncError:
    """One thing that went wrong, small enough to show on one line."""

    scope: str
    message: str
    collection: str | None = None
    source_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "scope": self.scope,
            "collection": self.collection,
            "sourceId": self.source_id,
            "message": self.message,
        }

    def __str__(self) -> str:
        where = self.scope
        if self.collection:
            where += f" {self.collection}"
        if self.source_id and self.source_id not in where:
            where += f" {self.source_id}"
        return f"{where}: {self.message}"


@dataclass
class SyncSummary:
    command: str
    event: str | None = None
    collections: dict[str, CollectionCounts] = field(default_factory=dict)
    errors: list[SyncError] = field(default_factory=list)
    duration_seconds: float = 0.0
    dry_run: bool = False
    #: Things worth knowing that are not failures (a race listed but without a file yet, duplicate ids, ...).
    warnings: list[SyncError] = field(default_factory=list)
    #: Set when FPVTrackside or PocketBase stopped answering (or refused the credentials) and the run was cut short.
    unreachable: str | None = None
    #: With ``unreachable``: PocketBase refused the credentials (retrying will not help).
    refused: bool = field(default=False, repr=False)
    #: Set when the run did not happen at all (e.g. another poll held the lock); shown instead of counts.
    skipped: str | None = None
    #: Names of what the run read, by lower-case GUID (races, rounds, pilots, the event), for messages to people
    #: (:mod:`fpvsync.names`); not part of the JSON document.
    names: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self, collection: str) -> CollectionCounts:
        if collection not in self.collections:
            self.collections[collection] = CollectionCounts()
        return self.collections[collection]

    def add(self, collection: str, what: Count, n: int = 1) -> None:
        counts = self.counts(collection)
        setattr(counts, what, getattr(counts, what) + n)

    def error(self, scope: str, message: str, collection: str | None = None, source_id: str | None = None) -> None:
        self.errors.append(SyncError(scope, message, collection, source_id))

    def warn(self, scope: str, message: str, collection: str | None = None, source_id: str | None = None) -> None:
        self.warnings.append(SyncError(scope, message, collection, source_id))

    def merge(self, other: SyncSummary) -> None:
        """Add ``other``'s counts and errors to this summary (durations are not added)."""
        for name, counts in other.collections.items():
            mine = self.counts(name)
            for what, n in asdict(counts).items():
                setattr(mine, what, getattr(mine, what) + n)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.names.update(other.names)

    @property
    def written(self) -> int:
        return sum(c.written for c in self.collections.values())

    @property
    def exit_code(self) -> int:
        """0 success; 1 some scopes or records failed; 3 FPVTrackside or PocketBase unreachable (CLI contract)."""
        if self.unreachable:
            return 3
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, Any]:
        ordered = sorted(
            self.collections.items(),
            key=lambda item: (COLLECTIONS.index(item[0]) if item[0] in COLLECTIONS else len(COLLECTIONS), item[0]),
        )
        document: dict[str, Any] = {
            "ok": self.ok,
            "command": self.command,
            "event": self.event,
            "collections": {name: asdict(counts) for name, counts in ordered},
            "errors": [e.to_dict() for e in self.errors],
            "durationSeconds": round(self.duration_seconds, 3),
        }
        if self.warnings:
            document["warnings"] = [w.to_dict() for w in self.warnings]
        if self.dry_run:
            document["dryRun"] = True
        if self.skipped:
            document["skipped"] = self.skipped
        return document

    def __str__(self) -> str:
        totals = CollectionCounts()
        for counts in self.collections.values():
            for what, n in asdict(counts).items():
                setattr(totals, what, getattr(totals, what) + n)
        head = f"{self.command} {self.event or ''}".strip()
        if self.skipped:
            return f"{head}: skipped ({self.skipped})"
        state = "ok" if self.ok else f"{len(self.errors)} error(s)"
        return (
            f"{head}: {state}; {totals.created} created, {totals.updated} updated, {totals.unchanged} unchanged, "
            f"{totals.deleted} deleted, {totals.failed} failed in {self.duration_seconds:.2f}s"
        )
