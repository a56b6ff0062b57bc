"""fpvsync: mirror FPVTrackside race timing data into PocketBase."""

__version__ = "0.1.0"
