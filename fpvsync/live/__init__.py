"""Following a running race: FPVTrackside's push notifications (the doorbell), the fast tier that re-reads the
running race without push, and targeted syncs that touch only what a notification names.

Modules, one job each: :mod:`~fpvsync.live.notifications` (parsing, pure), :mod:`~fpvsync.live.receiver` (HTTP),
:mod:`~fpvsync.live.workqueue` (coalescing), :mod:`~fpvsync.live.races` (naming races),
:mod:`~fpvsync.live.targeted` (the engine adapter), :mod:`~fpvsync.live.mirror` (the worker and the fast tier),
:mod:`~fpvsync.live.runner` (wiring for the commands). Races are played live for demos, tests and the benchmark by
:mod:`fpvsync.trackside.simulator`.
"""
