"""`/jobs` (filters in the URL, keyset pages, bulk kill/delete after a dry-run count) and
`/jobs/{id}` (everything about one job, its earlier runs and how busy the server was)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from jobtrail.model import Job, JobFilter
from jobtrail.query import JobQuery, build_filter, kill_job
from jobtrail.states import STATES, TERMINAL
from jobtrail.web.pages import charts
from jobtrail.web.pages.routing import Form, html_errors, read_form, redirect, store_of
from jobtrail.web.pages.session import PageError, check_csrf, require
from jobtrail.web.pages.view import render

__all__ = ["FILTER_KEYS", "filter_params", "router"]

router = APIRouter()
FILTER_KEYS = ("state", "name", "queue", "batch", "resource", "label", "range", "since", "until")
PAGE_SIZE = 50


def filter_params(source: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """The filter fields present in a query string or form, blanks dropped."""
    out: dict[str, list[str]] = {}
    for key in FILTER_KEYS:
        values = [v.strip() for v in source.get(key, []) if v.strip()]
        if values:
            out[key] = values
    return out


def _first(params: Mapping[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def to_filter(params: Mapping[str, list[str]], now: float) -> JobFilter:
    since = _first(params, "since") or _first(params, "range")
    return build_filter(
        state=[s for v in params.get("state", []) for s in v.split(",") if s],
        name=params.get("name", []), queue=params.get("queue", []),
        batch=_first(params, "batch"), resource=_first(params, "resource"),
        labels=params.get("label", []), since=since, until=_first(params, "until"), now=now,
    )


def _multi(request: Request) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


@router.get("/jobs", include_in_schema=False)
@html_errors
def jobs_page(request: Request) -> Response:
    viewer = require(request, "read")
    now = time.time()
    params = filter_params(_multi(request))
    flt = to_filter(params, now)
    cursor = request.query_params.get("cursor") or None
    page = JobQuery(store_of(request), flt).page(limit=PAGE_SIZE, cursor=cursor)
    return render(request, "jobs.html", {
        "viewer": viewer, "now": now, "jobs": page.jobs, "next_cursor": page.next_cursor,
        "params": params, "states": STATES, "cursor": cursor, "filtered": flt != JobFilter(),
        "notice": _notice(request.query_params), "live": cursor is None,
    })


_DONE = {"kill": "flagged for killing", "delete": "deleted"}


def _frozen(params: Mapping[str, list[str]], flt: JobFilter, now: float) -> dict[str, list[str]]:
    """The filter the confirm form sends: its time span as the instants of the dry run ("24h" back
    from then, up to then), so the confirmed action covers the jobs that were counted, not the
    ones a relative span or newer jobs would match a minute later."""
    out = {k: v for k, v in params.items() if k not in ("range", "since", "until")}
    if flt.since is not None:
        out["since"] = [repr(flt.since)]
    out["until"] = [repr(flt.until if flt.until is not None else now)]
    return out


def _notice(query: Mapping[str, str]) -> str | None:
    """The banner after a bulk action, built from its kind and count only: a link cannot make
    the page say anything else (no free text from the URL)."""
    verb, n = _DONE.get(query.get("done") or ""), query.get("n") or ""
    return f"{int(n)} jobs {verb}" if verb and n.isdigit() and len(n) < 10 else None


@router.post("/jobs/bulk", include_in_schema=False)
async def bulk(request: Request) -> Response:
    """Step 1 (no `confirm`): show how many jobs would change. Step 2: change them."""
    form = await read_form(request)
    return await run_in_threadpool(_bulk, request, form)  # the store is synchronous


@html_errors
def _bulk(request: Request, form: Form) -> Response:
    viewer = require(request, "admin")
    check_csrf(request, _first(form, "csrf"))
    if request.app.state.dash.read_only:
        raise PageError(403, "the dashboard is read-only (JOBTRAIL_READ_ONLY)")
    action = _first(form, "action")
    if action not in ("kill", "delete"):
        raise PageError(400, "action must be kill or delete")
    params = filter_params(form)
    now = time.time()
    flt = to_filter(params, now)
    if flt == JobFilter():
        raise PageError(400, "choose at least one filter first; the dashboard never acts on every job")
    query = JobQuery(store_of(request), flt)
    if _first(form, "confirm") != "yes":
        count = query.request_kill(dry_run=True) if action == "kill" else query.delete(dry_run=True)
        return render(request, "confirm.html", {"viewer": viewer, "now": now, "action": action,
                                                "count": count, "params": params,
                                                "frozen": _frozen(params, flt, now)})
    n = query.request_kill(dry_run=False) if action == "kill" else query.delete(dry_run=False)
    pairs = [(k, v) for k, vs in params.items() for v in vs] + [("done", action), ("n", str(n))]
    from urllib.parse import urlencode

    return redirect(request, "/jobs?" + urlencode(pairs))


@router.post("/jobs/{job_id:path}/kill", include_in_schema=False)
async def kill(request: Request, job_id: str) -> Response:
    form = await read_form(request)
    return await run_in_threadpool(_kill, request, job_id, form)


@html_errors
def _kill(request: Request, job_id: str, form: Form) -> Response:
    require(request, "admin")
    check_csrf(request, _first(form, "csrf"))
    if request.app.state.dash.read_only:
        raise PageError(403, "the dashboard is read-only (JOBTRAIL_READ_ONLY)")
    kill_job(store_of(request), job_id)
    from urllib.parse import quote

    return redirect(request, "/jobs/" + quote(job_id, safe=""))


def _pretty(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def bar(job: Job, now: float) -> dict[str, Any] | None:
    """Widths (in %) of the wait and run segments of one job's life, for the page's bar."""
    begin = job.queued_at or job.created_at
    start = job.started_at
    end = job.finished_at or (now if job.state not in TERMINAL else None)
    if end is None:
        return None
    total = max(end - begin, 1e-9)
    wait = (start - begin) if start is not None else (end - begin)
    run = (end - start) if start is not None else 0.0
    return {"wait": max(0.0, wait), "run": max(0.0, run),
            "wait_pct": round(100 * max(0.0, wait) / total, 2), "run_pct": round(100 * run / total, 2)}


@router.get("/jobs/{job_id:path}", include_in_schema=False)
@html_errors
def job_page(request: Request, job_id: str) -> Response:
    viewer = require(request, "read")
    now = time.time()
    store = store_of(request)
    record = store.get(job_id)
    if record is None:
        raise PageError(404, f"no job {job_id!r}")
    job = Job.from_record(record)
    memo: dict[tuple[object, ...], object] = {}
    compare = charts.build("run-compare", store, {"job": job.id}, now, memo)
    busy_chart = charts.build("busy", store, {"job": job.id}, now, memo)
    return render(request, "job.html", {
        "viewer": viewer, "now": now, "job": job, "bar": bar(job, now),
        "args": _pretty(job.args), "result": _pretty(job.result), "compare": compare,
        "busy": busy_chart, "killable": job.state not in TERMINAL,
        "live": job.state not in TERMINAL,
    })
