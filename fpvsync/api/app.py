"""The HTTP surface of ``fpvsync serve``: the routes, what each answers, and how that is documented.

The routes check the caller and claim the event; the :class:`~fpvsync.api.service.Service` does the work. The
``responses`` tables here are what ``/openapi.json`` promises for each status, and what the schemathesis tests
hold the answers to.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from fpvsync import __version__, engine
from fpvsync.api.auth import TOKEN_CACHE_SECONDS, NotSuperuser
from fpvsync.api.errors import ApiError, error_response, install_error_handlers
from fpvsync.api.runs import LIVE_MIRROR_WAIT, MAX_RUNS, Command, Run
from fpvsync.api.schemas import (
    EXAMPLE_GUID,
    GUID_PATTERN,
    RUN_ID_PATTERN,
    ErrorBody,
    Health,
    RunAccepted,
    RunStatus,
    RunSummary,
    ValidationErrorBody,
)
from fpvsync.api.service import POLL_HOLDER, Operation, Service
from fpvsync.config import Settings
from fpvsync.errors import SinkUnreachable

#: The whole API logs as ``fpvsync.api`` (``fpvsync serve`` prints the logger's name on each line).
logger = logging.getLogger("fpvsync.api")

_superuser_header = APIKeyHeader(
    name="Authorization",
    scheme_name="PocketBaseSuperuser",
    description="A PocketBase superuser token: the raw token or `Bearer <token>`.",
    auto_error=False,
)

EventId = Annotated[
    str,
    Path(
        alias="eventId",
        pattern=GUID_PATTERN,
        description="FPVTrackside event id (a GUID).",
        examples=[EXAMPLE_GUID],
    ),
]
RaceId = Annotated[
    str,
    Path(alias="raceId", pattern=GUID_PATTERN, description="FPVTrackside race id (a GUID).", examples=[EXAMPLE_GUID]),
]
RunId = Annotated[str, Path(alias="runId", pattern=RUN_ID_PATTERN, description="A run id, as answered by a trigger.")]

_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "No superuser token, or PocketBase did not accept it."},
    422: {"model": ValidationErrorBody, "description": "A malformed id."},
    503: {
        "model": ErrorBody,
        "description": "PocketBase is unreachable or refuses the service's own credentials (`summary` when a run "
        "got that far).",
    },
}
_TRIGGER_RESPONSES: dict[int | str, dict[str, Any]] = {
    **_AUTH_RESPONSES,
    409: {"model": ErrorBody, "description": "A sync of this event is already running; `runId` names it."},
}
_SYNC_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": RunSummary, "description": "Synced: the engine's summary."},
    207: {"model": RunSummary, "description": "Partly synced: the summary lists the scopes that failed."},
    **_TRIGGER_RESPONSES,
    502: {"model": ErrorBody, "description": "FPVTrackside is unreachable; `summary` says what was done before."},
}


def create_app(
    settings: Settings,
    *,
    max_runs: int = MAX_RUNS,
    token_ttl: float = TOKEN_CACHE_SECONDS,
    poll_interval: float | None = None,
) -> FastAPI:
    """The FastAPI application for ``settings``; ``app.state.service`` is its :class:`Service`.

    ``poll_interval``: also run the live mirror (:class:`PollLoop`) every that many seconds while the app runs.
    Raises ConfigError when ``settings`` has no PocketBase superuser credentials.
    """
    service = Service(settings, max_runs=max_runs, token_ttl=token_ttl, poll_interval=poll_interval)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.open()
        yield
        service.close()

    app = FastAPI(
        title="fpvsync",
        version=__version__,
        summary="Trigger FPVTrackside → PocketBase syncs over HTTP (PocketBase superusers only).",
        lifespan=lifespan,
    )
    app.state.service = service
    install_error_handlers(app)
    app.include_router(_ingest_router(service))

    @app.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Not healthy."}})
    def healthz() -> JSONResponse:
        """Whether FPVTrackside and PocketBase answer (no token needed; no secrets shown)."""
        health = service.health()
        ok = health.trackside.ok and health.pocketbase.ok
        return JSONResponse(health.model_dump(mode="json"), status_code=200 if ok else 503)

    return app


def _ingest_router(service: Service) -> APIRouter:
    def require_superuser(request: Request, authorization: Annotated[str | None, Security(_superuser_header)]) -> None:
        try:
            service.verifier.verify(authorization)
        except NotSuperuser as exc:
            logger.info("refused %s %s: %s", request.method, request.url.path, exc)
            raise ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        except SinkUnreachable as exc:
            raise ApiError(503, service.redact(str(exc))) from None

    router = APIRouter(prefix="/ingest", dependencies=[Depends(require_superuser)], tags=["ingest"])

    def run_now(command: Command, event_id: str, operation: Operation) -> JSONResponse:
        run = Run(command, event_id.lower())
        holder = service.events.claim(run.event, run.id, wait_for_live_mirror=LIVE_MIRROR_WAIT)
        if holder is not None:
            raise _busy(run.event, holder)
        try:
            service.runs.add(run)
            service.execute(run, operation)
        finally:
            service.events.release(run.event, run.id)
        return _answer(run)

    @router.post(
        "/events/{eventId}/snapshot",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync the event, its stages, rounds, pilots, channels, roster and race records (no laps)",
    )
    def snapshot(event_id: EventId) -> JSONResponse:
        return run_now("snapshot", event_id, lambda ctx: engine.snapshot(ctx, event_id))

    @router.post(
        "/events/{eventId}/race/{raceId}",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync one race with its laps, detections, game points, pilot channels and results",
    )
    def race(event_id: EventId, race_id: RaceId) -> JSONResponse:
        return run_now("race", event_id, lambda ctx: engine.race(ctx, event_id, race_id))

    @router.post(
        "/events/{eventId}/results",
        response_model=RunSummary,
        responses=_SYNC_RESPONSES,
        summary="Sync Results.json and every race's Result.json",
    )
    def results(event_id: EventId) -> JSONResponse:
        return run_now("results", event_id, lambda ctx: engine.results(ctx, event_id))

    @router.post(
        "/events/{eventId}/full",
        status_code=202,
        response_model=RunAccepted,
        responses={**_TRIGGER_RESPONSES, 202: {"description": "Started; poll `url` for the outcome."}},
        summary="Backfill everything of the event, in the background",
    )
    def full(event_id: EventId) -> JSONResponse:
        run = Run("full", event_id.lower())
        holder = service.events.claim(run.event, run.id, wait_for_live_mirror=LIVE_MIRROR_WAIT)
        if holder is not None:
            raise _busy(run.event, holder)
        service.runs.add(run)
        try:
            service.start_background(run, lambda ctx: engine.full(ctx, run.event))
        except BaseException:
            service.events.release(run.event, run.id)
            run.fail("could not start the run")
            raise
        body = RunAccepted(runId=run.id, status="running", url=run.url)
        return JSONResponse(body.model_dump(mode="json"), status_code=202, headers={"Location": run.url})

    @router.get(
        "/runs/{runId}",
        response_model=RunStatus,
        responses={**_AUTH_RESPONSES, 404: {"model": ErrorBody, "description": "No such run (or forgotten)."}},
        summary="A run's status, and its summary once it is done",
    )
    def get_run(run_id: RunId) -> JSONResponse:
        run = service.runs.get(run_id)
        if run is None:
            raise ApiError(404, f"no run {run_id} (this service keeps the last {service.runs.limit} runs)")
        return JSONResponse(run.to_dict())

    return router


def _busy(event_id: str, holder: str | None) -> ApiError:
    if holder == POLL_HOLDER:
        return ApiError(409, f"a sync of event {event_id} is already running in this service (a live-mirror pass)")
    return ApiError(409, f"a sync of event {event_id} is already running in this service", run_id=holder)


def _answer(run: Run) -> JSONResponse:
    """200 or 207 with the summary; 502/503 when FPVTrackside or PocketBase stopped the run."""
    summary = run.summary
    if run.status == "failed":
        return error_response(run.failure_status or 500, run.error or "the run failed", run_id=run.id, summary=summary)
    assert summary is not None
    return JSONResponse({**summary.to_dict(), "runId": run.id}, status_code=200 if run.status == "succeeded" else 207)
