"""Turning desired records and existing hashes into the writes that make PocketBase converge.

A *scope* (the event, one race, the roll-over results, the global channels) is compared against what PocketBase
holds for it: new records are created, records whose ``syncHash`` differs are updated, records with the same hash
are counted unchanged and not written, and records PocketBase has but the source no longer has are deleted
(children before parents). Pilots and channels are global: an event sync never deletes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from fpvsync.mapping import Record
from fpvsync.pb.sink import Delete, Upsert, stamp
from fpvsync.summary import COLLECTIONS, SyncSummary

Operation = Upsert | Delete

#: The relation fields of each collection. PocketBase empties a relation by itself when its target is deleted (in
#: the dashboard, say) without touching ``syncHash``: existing records are compared on these fields too.
RELATIONS: dict[str, tuple[str, ...]] = {
    "events": ("channels", "removedPilots"),
    "stages": ("event",),
    "rounds": ("event", "stage"),
    "races": ("event", "round"),
    "pilotChannels": ("event", "race", "pilot", "channel"),
    "detections": ("event", "race", "pilot", "channel"),
    "laps": ("event", "race", "detection", "pilot"),
    "gamePoints": ("event", "race", "pilot", "channel"),
    "results": ("event", "race", "round", "pilot"),
}


def record_stamp(record: Record) -> str:
    """What :meth:`~fpvsync.pb.sink.PocketBaseSink.existing_hashes` returns for ``record`` when PocketBase holds it
    as fpvsync wrote it (with ``also=RELATIONS[collection]``)."""
    fields = RELATIONS.get(record.collection, ())
    return stamp(record.sync_hash, [record.body.get(name) for name in fields]) if fields else record.sync_hash


@dataclass
class ScopeChanges:
    """The writes one scope needs: deletes (children first) are applied before upserts (parents first)."""

    scope: str
    deletes: list[Delete] = field(default_factory=list)
    upserts: list[Upsert] = field(default_factory=list)

    def operations(self) -> list[Operation]:
        order = {name: i for i, name in enumerate(COLLECTIONS)}
        deletes = sorted(self.deletes, key=lambda d: -order.get(d.collection, len(order)))
        upserts = sorted(self.upserts, key=lambda u: order.get(u.collection, len(order)))
        return [*deletes, *upserts]

    def __len__(self) -> int:
        return len(self.deletes) + len(self.upserts)


def plan_collection(
    changes: ScopeChanges,
    summary: SyncSummary,
    collection: str,
    desired: Iterable[Record],
    existing: Mapping[str, str],
    *,
    delete_stale: bool,
) -> None:
    """Add to ``changes`` what makes ``collection`` hold ``desired`` within this scope.

    ``existing`` maps the ids PocketBase has in this scope to their ``syncHash`` (with the relation fields of
    :data:`RELATIONS`, see :func:`record_stamp`). Duplicate source ids in
    ``desired`` (a source file listing the same GUID twice) keep the last one, as FPVTrackside itself would.
    """
    wanted: dict[str, Record] = {}
    for record in desired:
        if record.id in wanted:
            summary.warn(
                changes.scope, f"duplicate id {record.source_id} in the source; the last one is kept", collection
            )
        wanted[record.id] = record
    unchanged = 0
    for record_id, record in wanted.items():
        stored = existing.get(record_id)
        if stored is not None and stored == record_stamp(record):
            unchanged += 1
            continue
        changes.upserts.append(
            Upsert(
                collection=collection,
                id=record_id,
                body=record.body,
                scope=changes.scope,
                source_id=record.source_id,
                exists=stored is not None,
            )
        )
    summary.add(collection, "unchanged", unchanged)  # counted once: a no-op run compares every record
    if delete_stale:
        for record_id in existing.keys() - wanted.keys():
            changes.deletes.append(Delete(collection=collection, id=record_id, scope=changes.scope))


def delete_all(changes: ScopeChanges, collection: str, existing: Iterable[str]) -> None:
    """Delete every listed record of ``collection`` (a scope the source deleted, e.g. ``Race.json`` = ``[]``)."""
    for record_id in existing:
        changes.deletes.append(Delete(collection=collection, id=record_id, scope=changes.scope))
