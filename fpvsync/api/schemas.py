"""The documents the trigger API answers with, as pydantic models, so that ``/openapi.json`` describes every answer.

The routes build most bodies from the engine's own dictionaries (:meth:`fpvsync.summary.SyncSummary.to_dict`,
:meth:`fpvsync.api.runs.Run.to_dict`) and leave optional keys out rather than null; these models are the contract
those dictionaries keep, and what schemathesis checks the answers against.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, Field

#: Event and race ids: FPVTrackside GUIDs (either case; the engine lower-cases them).
GUID_PATTERN: Final = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RUN_ID_PATTERN: Final = r"^[0-9a-f]{32}$"
EXAMPLE_GUID: Final = "3f1a2b4c-1d2e-4f50-8a6b-7c8d9e0f1a2b"

Status = Literal["running", "succeeded", "partial", "failed"]


class Counts(BaseModel):
    created: int = Field(ge=0)
    updated: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    deleted: int = Field(ge=0)
    failed: int = Field(ge=0)


class SummaryError(BaseModel):
    scope: str = Field(description='Where it happened: "event", "race <raceId>", "source", "pocketbase", ...')
    collection: str | None
    sourceId: str | None
    message: str


class Summary(BaseModel):
    """The engine's summary, as ``fpvsync <command> --json`` prints it."""

    ok: bool
    command: str
    event: str | None
    collections: dict[str, Counts]
    errors: list[SummaryError]
    durationSeconds: float
    warnings: list[SummaryError] | None = Field(default=None, description="Only present when there are some.")
    dryRun: bool | None = Field(default=None, description="Only present (true) for dry runs.")
    skipped: str | None = Field(default=None, description="Only present when the run did not happen.")


class RunSummary(Summary):
    """The engine's summary plus the id of the run (see ``GET /ingest/runs/{runId}``)."""

    runId: str


class ErrorBody(BaseModel):
    """Why the request was refused or the run failed; ``summary`` when the engine got to run."""

    error: str
    runId: str | None = Field(default=None, description="The run this is about (409: the run that is busy).")
    summary: Summary | None = None


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorBody(BaseModel):
    error: str
    detail: list[ValidationProblem]


class RunAccepted(BaseModel):
    runId: str
    status: Literal["running"]
    url: str


class RunStatus(BaseModel):
    runId: str
    command: str
    event: str
    status: Status
    startedAt: datetime
    finishedAt: datetime | None = None
    error: str | None = None
    summary: Summary | None = None


class Reachability(BaseModel):
    ok: bool
    url: str
    error: str | None = None


class Health(BaseModel):
    trackside: Reachability
    pocketbase: Reachability
