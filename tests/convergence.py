"""The mirror's invariant as a test oracle: after the bounded number of default ``poll`` passes, PocketBase equals,
record for record, a fresh ``full`` of the same source into an empty PocketBase; then one more pass writes nothing.

- :func:`dump`: every synced record of an event (and the global pilots and channels), minus the bookkeeping fields
  that depend on when and how a record was written (``created``, ``updated``, ``syncHash``);
- :func:`wipe`: empty a PocketBase (synced and bookkeeping collections), so one server can serve many examples;
- :func:`converge`: the default ``poll`` passes, a minute apart as cron runs them;
- :func:`assert_converged`: the invariant itself, against an oracle PocketBase.
"""

from __future__ import annotations

import math
from typing import Any

from fpvsync import engine
from fpvsync.engine.poll import PollPolicy
from fpvsync.ids import record_id
from fpvsync.summary import COLLECTIONS, SyncSummary
from tests.conftest import RunningPocketBase
from tests.sync_helpers import Mirror, event_records

#: Fields that tell when or how a record was written, not what it holds.
BOOKKEEPING_FIELDS = {"created", "updated", "syncHash", "collectionId", "collectionName"}
STATE_COLLECTIONS = ("syncScopes", "syncRuns", "syncLocks")


def dump(pb: RunningPocketBase, event_id: str) -> dict[str, dict[str, dict[str, Any]]]:
    """``collection -> id -> fields`` of everything PocketBase holds for the event (pilots and channels: all)."""
    eid = record_id(event_id)
    return {
        name: {
            str(r["id"]): {k: v for k, v in r.items() if k not in BOOKKEEPING_FIELDS}
            for r in event_records(pb, name, eid)
        }
        for name in COLLECTIONS
    }


def wipe(pb: RunningPocketBase) -> None:
    """Delete every record of every synced and bookkeeping collection (children first)."""
    with pb.admin() as client:
        for name in [*reversed(COLLECTIONS), *STATE_COLLECTIONS]:
            while ids := [str(r["id"]) for r in pb.records(name)][:500]:
                requests = [{"method": "DELETE", "url": f"/api/collections/{name}/records/{i}"} for i in ids]
                answer = client.post("/api/batch", json={"requests": requests})
                if answer.status_code >= 400:  # a cascade removed some already: one at a time
                    for i in ids:
                        client.delete(f"/api/collections/{name}/records/{i}")


def bound(event_races: int, policy: PollPolicy | None = None) -> int:
    """The invariant's number of passes: the settled rotation + 1."""
    policy = policy or PollPolicy()
    return math.ceil(event_races / max(policy.settled_per_pass, 1)) + 1


def converge(mirror: Mirror, event_id: str, races: int) -> list[SyncSummary]:
    return [mirror.poll(event_id) for _ in range(bound(races))]


def assert_converged(mirror: Mirror, oracle: RunningPocketBase, trackside_url: str, event_id: str) -> None:
    """PocketBase equals a fresh ``full`` into ``oracle`` (emptied first), and one more pass writes nothing."""
    wipe(oracle)
    fresh = Mirror(oracle, trackside_url)
    try:
        engine.full(fresh.ctx, event_id)
    finally:
        fresh.close()
    expected, actual = dump(oracle, event_id), dump(mirror.pb, event_id)
    for name in COLLECTIONS:
        missing = expected[name].keys() - actual[name].keys()
        extra = actual[name].keys() - expected[name].keys()
        differing = [i for i in expected[name].keys() & actual[name].keys() if expected[name][i] != actual[name][i]]
        assert not (missing or extra or differing), (
            f"{name}: {len(missing)} missing, {len(extra)} extra, {len(differing)} differ; e.g. "
            + str(next(iter(differing), None) and (expected[name][differing[0]], actual[name][differing[0]]))
        )
    sent = mirror.sink.writes_sent
    idle = mirror.poll(event_id)
    assert idle.written == 0 and mirror.sink.writes_sent == sent, idle.to_dict()
