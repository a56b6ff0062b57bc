"""The sync engine: operations over a FPVTrackside client and a PocketBase sink, returning a SyncSummary."""

from fpvsync.engine.poll import PollFocus, PollMemory
from fpvsync.engine.sync import SyncContext, full, race, results, snapshot

__all__ = ["PollFocus", "PollMemory", "SyncContext", "full", "race", "results", "snapshot"]
