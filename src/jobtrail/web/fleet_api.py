"""HTTP API v1 for worker heartbeats and periodic-job declarations (sent by clients, read by the
dashboard and monitoring). Each item of a POST is validated alone: a bad one is rejected with its
index and reason, and the others are stored."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from jobtrail import periodic, workers
from jobtrail.errors import InvalidInput
from jobtrail.web.api import need, store_of
from jobtrail.web.schemas import ErrorOut, Rejection

__all__ = ["router"]

MAX_ITEMS = 1000
router = APIRouter(
    prefix="/api/v1", responses={c: {"model": ErrorOut} for c in (400, 401, 403, 413, 422)}
)


class WorkersIn(BaseModel):
    workers: list[dict[str, Any]] = Field(max_length=MAX_ITEMS)


class PeriodicIn(BaseModel):
    periodic: list[dict[str, Any]] = Field(max_length=MAX_ITEMS)


class AcceptedOut(BaseModel):
    accepted: int
    rejected: list[Rejection]


class WorkerOut(BaseModel):
    id: str
    host: str
    pid: int | None
    queues: list[str]
    state: str
    running: int
    started_at: float
    last_seen: float


class WorkersOut(BaseModel):
    workers: list[WorkerOut]


class PeriodicOut(BaseModel):
    name: str
    state: str = Field(description="ok, never (no success yet, not overdue), late or down")
    level: str
    every: float | None
    cron: str | None
    grace: float
    last_success_at: float | None
    due_at: float
    late_at: float
    down_at: float
    reason: str


class PeriodicListOut(BaseModel):
    periodic: list[PeriodicOut]


def _each(items: list[dict[str, Any]], parse: Callable[[Mapping[str, Any]], dict[str, Any]],
          store: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    rejected, accepted = [], 0
    for index, raw in enumerate(items):
        try:
            value = parse(raw)
        except (InvalidInput, TypeError, ValueError) as exc:
            rejected.append({"index": index, "error": str(exc)})
            continue
        store(value)
        accepted += 1
    return {"accepted": accepted, "rejected": rejected}


def _periodic(raw: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(raw) - {"name", "every", "cron", "grace", "down_after"}
    if unknown:
        raise InvalidInput(f"unknown periodic fields: {', '.join(sorted(unknown))}")
    return periodic.spec(raw.get("name"), every=raw.get("every"), cron=raw.get("cron"),  # type: ignore[arg-type]
                         grace=raw.get("grace"), down_after=raw.get("down_after"))


@router.post("/workers", response_model=AcceptedOut, dependencies=[Depends(need("ingest"))])
def post_workers(request: Request, body: WorkersIn) -> dict[str, Any]:
    """Worker heartbeats; the newest per worker id wins."""
    now = time.time()
    return _each(body.workers, lambda raw: workers.from_json(raw, now), store_of(request).beat_worker)


@router.get("/workers", response_model=WorkersOut, dependencies=[Depends(need("read"))])
def get_workers(request: Request) -> dict[str, Any]:
    return {"workers": store_of(request).workers()}


@router.post("/periodic", response_model=AcceptedOut, dependencies=[Depends(need("ingest"))])
def post_periodic(request: Request, body: PeriodicIn) -> dict[str, Any]:
    """Declare periodic jobs: `{"name", "every" | "cron", "grace"?, "down_after"?}`."""
    return _each(body.periodic, _periodic, store_of(request).declare_periodic)


@router.get("/periodic", response_model=PeriodicListOut, dependencies=[Depends(need("read"))])
def get_periodic(request: Request) -> dict[str, Any]:
    """Every declared periodic job with where it stands now."""
    return {"periodic": [s.to_dict() for s in periodic.statuses(store_of(request))]}
