"""HTTP API v1 (SPEC §5). Route functions are sync (`def`), so FastAPI runs the synchronous store
in its threadpool and the event loop never blocks on the database."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from jobtrail.errors import InvalidInput, NotFound
from jobtrail.health import HealthSettings, check
from jobtrail.ingest import ingest
from jobtrail.metrics import CONTENT_TYPE, JobCollector, render
from jobtrail.model import Job, JobFilter
from jobtrail.query import JobQuery, batch_summary, build_filter
from jobtrail.query import kill_job as query_kill_job
from jobtrail.store.base import Store
from jobtrail.web.errors import ApiError
from jobtrail.web.responses import JsonResponse
from jobtrail.web.schemas import (
    BatchOut,
    BulkIn,
    BulkOut,
    ErrorOut,
    EventsIn,
    HealthOut,
    IngestOut,
    JobOut,
    JobsPage,
    KillOut,
    StatsOut,
)

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503)
}
router = APIRouter(prefix="/api/v1", responses=_ERRORS)
Many = Annotated[list[str], Query()]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def need(scope: str) -> Callable[[Request], None]:
    """A dependency that admits requests whose bearer token has `scope` (or no tokens are set)."""

    def check(request: Request) -> None:
        tokens = request.app.state.tokens
        if not tokens.enabled:
            return
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token.strip():
            raise ApiError(401, "missing bearer token (Authorization: Bearer <token>)")
        scopes = tokens.scopes(token.strip())
        if scopes is None:
            raise ApiError(401, "invalid token")
        if scope not in scopes:
            raise ApiError(403, f"this token lacks the {scope!r} scope")
        request.state.scopes = scopes  # routes that allow more to some scopes look here

    check.__name__ = f"need_{scope}"
    return check


def _flat(values: list[str]) -> list[str]:
    out = [v.strip() for value in values for v in value.split(",") if v.strip()]
    for v in out:
        if "\x00" in v:
            raise InvalidInput("filter values must not contain NUL characters")
    return out


def filters(
    state: Many = [],  # noqa: B006 - FastAPI copies defaults per request
    name: Many = [],  # noqa: B006
    queue: Many = [],  # noqa: B006
    batch: str | None = None,
    resource: str | None = None,
    label: Annotated[list[str], Query(description="key:value or key=value; repeatable")] = [],  # noqa: B006
    since: Annotated[str | None, Query(description="RFC 3339, Unix seconds, or a span like 7d")] = None,
    until: str | None = None,
) -> JobFilter:
    for value in (batch, resource, since, until, *label):
        if value is not None and "\x00" in value:
            raise InvalidInput("filter values must not contain NUL characters")
    # An empty value means "no filter", as for batch= or since=: a form's blank field, not an error.
    labels = [item for item in label if item.strip()]
    return build_filter(state=_flat(state), name=_flat(name), queue=_flat(queue), batch=batch,
                        resource=resource, labels=labels, since=since, until=until)


_ADMIN_ONLY = {"kill_requested": "kill_requested needs a token with the admin scope (or use "
                                  "POST /api/v1/jobs/{job_id}/kill with one)"}
"""Event types an ingest-only token may not send: a kill request is an operation, not a report."""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


@router.post(
    "/events",
    response_model=IngestOut,
    dependencies=[Depends(need("ingest"))],
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": EventsIn.model_json_schema()}}}},
)
async def post_events(request: Request, response: Response) -> dict[str, Any]:
    """Record a batch of events; invalid ones are rejected by index, the rest stored."""
    with request.app.state.balancer.handling() as shed:
        if shed:  # this worker is busy with another sender: see web/balance.py
            response.headers["Connection"] = "close"
        return await _ingest_body(request)


async def _ingest_body(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    if not _is_json(request.headers.get("content-type", "")):
        # Also what keeps other sites' pages out: a browser sends JSON only after a preflight.
        raise ApiError(415, "send the events as JSON (Content-Type: application/json)")
    body = await request.body()  # its size is capped by web.guards.BodyLimit
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"malformed JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise ApiError(422, 'body must be {"events": [...]}')
    if set(payload) - {"events"}:
        raise ApiError(422, f"unknown field(s): {', '.join(sorted(set(payload) - {'events'}))}")
    events = payload["events"]
    if len(events) > settings.max_events:
        raise ApiError(413, f"{len(events)} events in one request; the limit is {settings.max_events}")
    scopes = getattr(request.state, "scopes", None)  # None: a server without tokens
    refuse = _ADMIN_ONLY if scopes is not None and "admin" not in scopes else None
    async with request.app.state.ingest_gate:
        result = await run_in_threadpool(ingest, store_of(request), events, None, refuse)
    return result.as_dict()


@router.get("/jobs", response_model=JobsPage, dependencies=[Depends(need("read"))])
def list_jobs(
    request: Request,
    flt: Annotated[JobFilter, Depends(filters)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Jobs newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = JobQuery(store_of(request), flt).page(limit=limit, cursor=cursor)
    return {"jobs": [j.as_dict() for j in page.jobs], "next_cursor": page.next_cursor}


@router.get("/batches/{batch_id:path}", response_model=BatchOut, dependencies=[Depends(need("read"))])
def get_batch(request: Request, batch_id: str) -> dict[str, Any]:
    return batch_summary(store_of(request), batch_id).as_dict()


@router.get("/stats", response_model=StatsOut, dependencies=[Depends(need("read"))])
def get_stats(
    request: Request,
    flt: Annotated[JobFilter, Depends(filters)],
    by: Annotated[str, Query(pattern="^(state|name|queue)$")] = "state",
    exact: bool = False,
) -> dict[str, Any]:
    """Counts of matching jobs per `by`, and run/wait statistics (and where they came from)."""
    query = JobQuery(store_of(request), flt)
    counts = query.counts(by)
    stats = query.stats(exact=exact)
    return {"count": sum(counts.values()), "counts": counts, **stats.as_dict()}


@router.post("/jobs/{job_id:path}/kill", response_model=KillOut, dependencies=[Depends(need("admin"))])
def kill_job(request: Request, job_id: str) -> dict[str, Any]:
    """Flag one job for killing; the job learns it on its next heartbeat."""
    return {"job": query_kill_job(store_of(request), job_id).as_dict()}


def _bulk_filter(body: BulkIn) -> JobFilter:
    f = body.filter
    flt = build_filter(state=f.state, name=f.name, queue=f.queue, batch=f.batch, resource=f.resource,
                       labels=f.labels, since=f.since, until=f.until)
    if flt == JobFilter() and not body.all:
        raise InvalidInput('an empty filter matches every job; send "all": true to mean that')
    return flt


@router.post("/jobs/kill", response_model=BulkOut, dependencies=[Depends(need("admin"))])
def bulk_kill(request: Request, body: BulkIn) -> dict[str, Any]:
    """Flag every matching unfinished job; `dry_run` (the default) only counts them."""
    n = JobQuery(store_of(request), _bulk_filter(body)).request_kill(dry_run=body.dry_run)
    return {"matched": n, "dry_run": body.dry_run}


@router.post("/jobs/delete", response_model=BulkOut, dependencies=[Depends(need("admin"))])
def bulk_delete(request: Request, body: BulkIn) -> dict[str, Any]:
    """Delete every matching job's row (statistics keep them); `dry_run` only counts."""
    n = JobQuery(store_of(request), _bulk_filter(body)).delete(dry_run=body.dry_run)
    return {"matched": n, "dry_run": body.dry_run}


# Ids are the client's own and may hold "/" (sent as %2F, which the server decodes before routing):
# `:path` lets such a job, batch or kill request be reached instead of answering 404. Registered
# after the POST routes under /jobs/, so a wrong method there answers 405 with `Allow: POST`.
@router.get("/jobs/{job_id:path}", response_model=JobOut, dependencies=[Depends(need("read"))])
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    record = store_of(request).get(job_id)
    if record is None:
        raise NotFound(f"no job {job_id!r}")
    return Job.from_record(record).as_dict()


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(request: Request) -> Any:
    """Every health check with its level and reason; 200 when healthy or degraded, 503 when
    unhealthy (for load balancers and probes). Open without a token, like any probe; when tokens
    are configured, reasons and details (job names, queues, hosts) need a `read` token."""
    settings = getattr(request.app.state, "health", None) or HealthSettings.from_env()
    report = check(store_of(request), settings)
    body = report.to_dict()
    if not _may_read(request):
        for item in body["checks"]:
            item["reason"] = f"{item['level']} (a read token shows why)"
            item["details"] = {}
    return JsonResponse(body, status_code=report.http_status)


def _may_read(request: Request) -> bool:
    tokens = request.app.state.tokens
    if not tokens.enabled:
        return True
    kind, _, token = request.headers.get("authorization", "").partition(" ")
    scopes = tokens.scopes(token.strip()) if kind.lower() == "bearer" and token.strip() else None
    return scopes is not None and "read" in scopes


metrics_router = APIRouter()
_collector_lock = threading.Lock()


def _collector(request: Request) -> JobCollector:
    """The app's collector, made on first use with the app's settings."""
    with _collector_lock:
        collector: JobCollector | None = getattr(request.app.state, "metrics_collector", None)
        if collector is None:
            settings = request.app.state.settings
            collector = JobCollector(store_of(request), max_names=settings.metrics_max_names,
                                     worker_stale=4 * settings.heartbeat_interval)
            request.app.state.metrics_collector = collector
        return collector


@metrics_router.get("/metrics", response_class=PlainTextResponse, dependencies=[Depends(need("read"))])
def metrics(request: Request) -> Response:
    """Prometheus text format (SPEC §7), computed from the store at every scrape."""
    return Response(render(_collector(request)), media_type=CONTENT_TYPE)
