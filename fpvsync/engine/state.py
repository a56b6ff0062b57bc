"""The mirror's state: what fpvsync knows PocketBase holds, one ``syncScopes`` record per (event, scope).

**The invariant.** After any sequence of fpvsync commands, source edits, crashes and admin edits or deletes in
PocketBase, at most ``ceil(settled races / settled_per_pass) + 1`` default ``poll`` passes leave PocketBase equal,
record for record, to a ``full`` of the same source into an empty PocketBase; then passes write nothing. (Edits of
the shared pilots and channels aside: see the owner rule below.)

How each rule here upholds it (docs/state.md tells the same for people):

- **A fingerprint is a digest of the records a scope must hold**, computed from the mapped records themselves:
  every record id and ``syncHash`` of every collection the scope manages, plus :data:`MAPPING_VERSION`. Whatever
  the records depend on (Race.json, Result.json, the race's round, the event type, which pilots and channels
  resolve, the time zone) is inside the record bodies, so no input can change without the fingerprint changing.
  A stored fingerprint therefore means "PocketBase holds exactly what these inputs produce".
- **Stored only after the writes succeeded, only for whole scopes.** A command that writes part of a scope
  (``snapshot`` writes race records without children, ``results`` only results) never stores a fingerprint; it
  clears the stored one instead (:data:`DIRTY`), so the live mirror treats the scope as never synced. A scope
  with a failed write is cleared the same way. A crash between the writes and the state write leaves the old
  fingerprint, which no longer matches what the source produces: the next read of the scope writes again.
- **PocketBase is compared, not trusted.** Every pass compares the event-level scopes with PocketBase, lists the
  event's race records (a race deleted behind fpvsync's back, or its event, is re-read at once), and compares the
  children of the settled races of its rotation slice: one list request per collection for the whole slice.
  Within one rotation every scope has been compared with PocketBase.
- **Edits behind fpvsync's back** (an admin changes a lap's length in the dashboard; its ``syncHash`` stays) are
  told by PocketBase's own clock: a record whose ``updated`` is later than the ``updated`` of its scope's state was
  changed by someone else, and counts as unknown (rewritten when compared). So the state of a scope is stored
  again after every run that wrote its records, even with the same fingerprint (``restamp`` of :func:`save`), and a
  state stored without comparing its records keeps the time of the last comparison (:attr:`ScopeState.edited_after`).
  The listings carry one more field (``updated``), never one more request.
- **Context.** Each race scope remembers the digest of what it was mapped with (:func:`context_digest`: rounds,
  pilots, channels, event type, zone, mapping version). Races whose context is older than the event's are compared
  on top of the rotation, and ``status`` counts them as pending: a round renumbered, a zone changed, a late pilot, or a
  new fpvsync mapping reaches every race within one rotation, and then the mirror is idle again.
- **Global records (pilots, channels) have one owner rule that cannot flap:** an event creates the global records
  it lists that PocketBase lacks, but updates them only when its own document for them changed since it last
  applied it. Two events with different copies of a pilot each write once when their copy changes, never back and
  forth. Edits behind fpvsync's back are therefore not looked for in them (one event's write would look like an
  edit to the other, and the two would flap); deleted ones are created again.
- **Recency** (``changedAt``) is moved only by the live mirror, and only when a scope's source documents changed:
  races written by ``full`` are settled at once, and a new mapping version re-verifies without making every race
  "recent".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from fpvsync.errors import SinkRejected
from fpvsync.ids import record_id
from fpvsync.mapping import Record
from fpvsync.pb.bookkeeping import pb_datetime
from fpvsync.pb.sink import Delete, PocketBaseSink, Upsert, filter_string
from fpvsync.summary import SyncSummary

__all__ = [
    "CHANNELS_SCOPE",
    "DIRTY",
    "EVENT_SCOPE",
    "MAPPING_VERSION",
    "PILOTS_SCOPE",
    "RESULTS_SCOPE",
    "SYNC_SCOPES",
    "ScopeState",
    "changed",
    "context_digest",
    "fingerprint",
    "forget",
    "load",
    "race_of",
    "race_scope",
    "save",
    "scope_id",
]

SYNC_SCOPES: Final = "syncScopes"
#: Bump whenever the mapping produces different records for the same documents: every scope re-verifies once.
MAPPING_VERSION: Final = 1
#: The fingerprint of a scope only partly written: it is mirrored again as if never synced.
DIRTY: Final = ""
EVENT_SCOPE: Final = "event"
PILOTS_SCOPE: Final = "pilots"
CHANNELS_SCOPE: Final = "channels"
RESULTS_SCOPE: Final = "results"
_RACE_PREFIX: Final = "race/"
#: ``source`` of :func:`fpvsync.ids.record_id` for state ids (kept apart from FPVTrackside's GUIDs).
_STATE_SOURCE: Final = "scope"


def race_scope(race_id: str) -> str:
    return f"{_RACE_PREFIX}{race_id}"


def race_of(scope: str) -> str | None:
    """The race id of a race scope, else ``None``."""
    return scope[len(_RACE_PREFIX) :] if scope.startswith(_RACE_PREFIX) else None


def scope_id(event_id: str, scope: str) -> str:
    """The id of the ``syncScopes`` record of ``scope`` in ``event_id``."""
    return record_id(f"{event_id}/{scope}", source=_STATE_SOURCE)


@dataclass(frozen=True)
class ScopeState:
    """What fpvsync knows about one scope of one event."""

    scope: str
    fingerprint: str = DIRTY
    context: str = ""
    inputs: Mapping[str, str] = field(default_factory=dict)
    verified_at: str = ""
    changed_at: str = ""
    #: PocketBase's ``updated`` of the stored state (read, never written: PocketBase's own clock).
    updated: str = ""
    #: Stored when the state is written without comparing the scope's records with PocketBase: the time after
    #: which a record change counts as made behind fpvsync's back. Empty: :attr:`updated`.
    edited_after: str = ""

    @property
    def edits_after(self) -> str:
        """The PocketBase time after which a change to one of the scope's records is an edit behind fpvsync's back
        ("": unknown, e.g. a state this process stored and has not read back; nothing counts as edited)."""
        return self.edited_after or self.updated

    @property
    def complete(self) -> bool:
        """PocketBase held exactly what the scope's inputs produced when this was stored."""
        return self.fingerprint != DIRTY

    def same(self, other: ScopeState | None) -> bool:
        """Whether storing ``self`` over ``other`` would change anything but the dates."""
        return other is not None and (self.fingerprint, self.context, dict(self.inputs), self.edited_after) == (
            other.fingerprint,
            other.context,
            dict(other.inputs),
            other.edited_after,
        )

    def dirty(self) -> ScopeState:
        return replace(self, fingerprint=DIRTY)


def fingerprint(records: Mapping[str, Iterable[Record]]) -> str:
    """The digest of the records a scope must hold: per managed collection, every id and ``syncHash``.

    ``records`` names every collection the scope manages, even those it wants empty (an empty list), so that a
    scope managing fewer collections (a race of a build without game points) has its own digest.
    """
    digest = hashlib.sha256(f"v{MAPPING_VERSION}".encode())
    for collection in sorted(records):
        digest.update(f"\n#{collection}".encode())
        for rid, sync_hash in sorted((r.id, r.sync_hash) for r in records[collection]):
            digest.update(f"\n{rid} {sync_hash}".encode())
    return digest.hexdigest()


def context_digest(*parts: object) -> str:
    """The digest of what records were mapped with (documents' hashes, zone, event type, known ids)."""
    return hashlib.sha256(json.dumps([MAPPING_VERSION, *parts], sort_keys=True, default=str).encode()).hexdigest()


def load(sink: PocketBaseSink, event_id: str) -> dict[str, ScopeState]:
    """``scope -> state`` of every scope stored for ``event_id`` (one request per 1000 scopes)."""
    states: dict[str, ScopeState] = {}
    for item in sink.list_records(
        SYNC_SCOPES,
        f"event = {filter_string(event_id)}",
        "scope,fingerprint,context,inputs,verifiedAt,changedAt,editedAfter,updated",
    ):
        inputs = item.get("inputs")
        states[str(item["scope"])] = ScopeState(
            scope=str(item["scope"]),
            fingerprint=str(item.get("fingerprint") or ""),
            context=str(item.get("context") or ""),
            inputs={str(k): str(v) for k, v in inputs.items()} if isinstance(inputs, dict) else {},
            verified_at=str(item.get("verifiedAt") or ""),
            changed_at=str(item.get("changedAt") or ""),
            updated=str(item.get("updated") or ""),
            edited_after=str(item.get("editedAfter") or ""),
        )
    return states


def changed(
    states: Iterable[ScopeState], stored: Mapping[str, ScopeState], restamp: Collection[str] = ()
) -> list[ScopeState]:
    """Those of ``states`` that differ from what is ``stored`` (storing the others would write nothing new), and
    those in ``restamp``: scopes whose records this run wrote, whose state must be stored again so that its
    ``updated`` follows those writes (else the records would look edited behind fpvsync's back forever)."""
    result = []
    for state in states:
        before = stored.get(state.scope)
        if before is None or not state.same(before) or state.changed_at != before.changed_at or state.scope in restamp:
            result.append(state)
    return result


def save(
    sink: PocketBaseSink,
    event_id: str,
    states: Iterable[ScopeState],
    stored: Mapping[str, ScopeState],
    restamp: Collection[str] = (),
) -> int:
    """Store ``states`` (only those that differ from ``stored``, and those in ``restamp``, see :func:`changed`);
    returns how many were written."""
    now = pb_datetime(datetime.now(UTC))
    operations: list[Upsert | Delete] = []
    for state in changed(states, stored, restamp):
        before = stored.get(state.scope)
        operations.append(
            Upsert(
                collection=SYNC_SCOPES,
                id=scope_id(event_id, state.scope),
                body={
                    "event": event_id,
                    "scope": state.scope,
                    "fingerprint": state.fingerprint,
                    "context": state.context,
                    "inputs": dict(state.inputs),
                    "verifiedAt": now,
                    "changedAt": state.changed_at,
                    "editedAfter": state.edited_after,
                },
                scope=f"event {event_id}",
                source_id=state.scope,
                exists=before is not None,
            )
        )
    _write(sink, operations)
    return len(operations)


def forget(sink: PocketBaseSink, event_id: str, scopes: Iterable[str]) -> int:
    """Delete the state of ``scopes`` (those never stored are fine); returns how many were asked."""
    operations: list[Upsert | Delete] = [
        Delete(collection=SYNC_SCOPES, id=scope_id(event_id, scope), scope="sync scopes", source_id=scope)
        for scope in scopes
    ]
    _write(sink, operations)
    return len(operations)


def _write(sink: PocketBaseSink, operations: list[Upsert | Delete]) -> None:
    if not operations:
        return
    summary = SyncSummary("bookkeeping")
    sink.write(operations, summary)
    if summary.errors:
        first = summary.errors[0]
        more = f" (and {len(summary.errors) - 1} more)" if len(summary.errors) > 1 else ""
        raise SinkRejected(f"could not store {first.collection} for {first.source_id}: {first.message}{more}")
