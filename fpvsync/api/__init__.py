"""The HTTP trigger API behind ``fpvsync serve``: admins start syncs over HTTP, the engine does the work.

::

    POST /ingest/events/{eventId}/snapshot        run now; 200 ok, 207 partial, 502/503 unreachable, 409 busy
    POST /ingest/events/{eventId}/race/{raceId}   run now (same answers)
    POST /ingest/events/{eventId}/results         run now (same answers)
    POST /ingest/events/{eventId}/full            run in the background; 202 with the run's URL, 409 busy
    GET  /ingest/runs/{runId}                     running | succeeded | partial | failed, and the summary when done
    GET  /healthz                                 FPVTrackside and PocketBase reachability; 200 or 503, no auth

Every ``/ingest`` route needs a PocketBase **superuser** token in ``Authorization`` (the raw token or ``Bearer
<token>``). It is checked against the configured PocketBase with a superuser-only read (``GET /api/collections``):
a forged token and the token of an ordinary auth-collection user are both refused there, and the request is
answered 401 before anything else happens. Accepted tokens are remembered for :data:`TOKEN_CACHE_SECONDS` (by
their SHA-256, never in clear). The syncs themselves write with the service's own credentials (``Settings``),
never with the caller's token.

All runs share one :class:`~fpvsync.trackside.client.TracksideClient`, so the timing laptop still sees at most one
request at a time however many syncs are running. One event is synced by one run at a time (a second request
for a busy event gets 409 at once). Runs are kept in memory, the last :data:`MAX_RUNS` of them; PocketBase's
``syncRuns`` collection holds the durable record.

With ``poll_interval`` (``fpvsync serve --poll``), a :class:`PollLoop` keeps FPVTrackside's current event mirrored
between triggers, claiming the event for each pass as a trigger does.

The modules, each importing only those above it: :mod:`~fpvsync.api.schemas` (the documents answered),
:mod:`~fpvsync.api.errors` (error answers), :mod:`~fpvsync.api.auth` (the superuser check),
:mod:`~fpvsync.api.runs` (runs and event claims), :mod:`~fpvsync.api.service` (the shared state and the live
mirror), :mod:`~fpvsync.api.app` (the routes).

Usage::

    app = create_app(Settings.load())      # uvicorn.run(app, host="127.0.0.1", port=8787)
"""

from fpvsync.api.app import EventId, RaceId, RunId, create_app
from fpvsync.api.auth import PROBE_TIMEOUT, TOKEN_CACHE_SECONDS, NotSuperuser, TokenVerifier
from fpvsync.api.errors import ApiError
from fpvsync.api.runs import MAX_RUNS, Command, EventLocks, Run, RunRegistry, Side
from fpvsync.api.schemas import (
    EXAMPLE_GUID,
    GUID_PATTERN,
    RUN_ID_PATTERN,
    Counts,
    ErrorBody,
    Health,
    Reachability,
    RunAccepted,
    RunStatus,
    RunSummary,
    Status,
    Summary,
    SummaryError,
    ValidationErrorBody,
    ValidationProblem,
)
from fpvsync.api.service import POLL_HOLDER, POLL_MAX_BACKOFF, Operation, PollLoop, Service

__all__ = [
    "EXAMPLE_GUID",
    "GUID_PATTERN",
    "MAX_RUNS",
    "POLL_HOLDER",
    "POLL_MAX_BACKOFF",
    "PROBE_TIMEOUT",
    "RUN_ID_PATTERN",
    "TOKEN_CACHE_SECONDS",
    "ApiError",
    "Command",
    "Counts",
    "ErrorBody",
    "EventId",
    "EventLocks",
    "Health",
    "NotSuperuser",
    "Operation",
    "PollLoop",
    "RaceId",
    "Reachability",
    "Run",
    "RunAccepted",
    "RunId",
    "RunRegistry",
    "RunStatus",
    "RunSummary",
    "Service",
    "Side",
    "Status",
    "Summary",
    "SummaryError",
    "TokenVerifier",
    "ValidationErrorBody",
    "ValidationProblem",
    "create_app",
]
