"""Typed request and response bodies of HTTP API v1; the OpenAPI document is generated from them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BatchOut",
    "BulkIn",
    "BulkOut",
    "EmbedIn",
    "EmbedOut",
    "ErrorOut",
    "EventsIn",
    "FilterIn",
    "HealthOut",
    "IngestOut",
    "JobOut",
    "JobsPage",
    "KillOut",
    "StatsOut",
]


class ErrorOut(BaseModel):
    error: str
    status: int


class EventsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[Any] = Field(
        description=(
            "Events: objects with job_id, type (scheduled queued started heartbeat progress "
            "retrying succeeded failed killed cancelled kill_requested), at (RFC 3339 or Unix "
            "seconds) and optional event_id, attempt, name, queue, batch, resources, labels, args, "
            "worker, progress, error, result, keep. Each is validated on its own: an invalid one "
            "is listed in `rejected` with its index and the rest are stored."
        )
    )


class Rejection(BaseModel):
    index: int
    error: str


class IngestOut(BaseModel):
    accepted: int
    rejected: list[Rejection]
    control: dict[str, dict[str, bool]] = Field(
        description="The batch's jobs that have a pending kill request: {job_id: {kill_requested: true}}"
    )


class AttemptOut(BaseModel):
    number: int
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    end: str | None
    worker: str | None
    error: dict[str, str] | None
    run: float | None


class JobOut(BaseModel):
    id: str
    name: str | None
    queue: str
    batch: str | None
    state: str
    attempt: int
    created_at: float
    updated_at: float
    queued_at: float | None
    started_at: float | None
    finished_at: float | None
    heartbeat_at: float | None
    kill_requested_at: float | None
    scheduled_at: float | None
    lost_at: float | None
    wait: float | None
    run: float | None
    worker: str | None
    args: Any
    result: Any
    error: dict[str, str] | None
    progress: dict[str, int] | None
    labels: dict[str, str]
    resources: list[str]
    keep: float | None
    attempts: list[AttemptOut]
    timestamps: dict[str, float]


class JobsPage(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None


class SummaryOut(BaseModel):
    count: int
    min: float | None
    avg: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None


class StatsOut(BaseModel):
    count: int
    counts: dict[str, int]
    run: SummaryOut
    wait: SummaryOut
    source: str = Field(description='"rollup" (maintained aggregates) or "exact" (from rows)')


class BatchOut(BaseModel):
    id: str
    total: int
    counts: dict[str, int]
    runtime: float
    wall_time: float | None
    queue_time: float | None
    first_queued_at: float | None
    first_started_at: float | None
    last_finished_at: float | None
    finished: bool


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield item


class FilterIn(BaseModel):
    """Strict: JSON types as the schema says (`false` is not a time, `"yes"` not a boolean)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    state: list[str] | str | None = None
    name: list[str] | str | None = None
    queue: list[str] | str | None = None
    batch: str | None = None
    resource: str | None = None
    labels: dict[str, str] | None = None
    since: str | float | None = None
    until: str | float | None = None

    @field_validator("state", "name", "queue", "batch", "resource", "labels", "since", "until")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        """Text a database can compare: PostgreSQL refuses NUL, and no driver can encode a lone
        surrogate (a `\\ud800` escape in the JSON), so both are the caller's error, not the store's."""
        for text in _strings(value):
            if "\x00" in text:
                raise ValueError("must not contain NUL characters")
            if not text.isascii():
                try:
                    text.encode()
                except UnicodeEncodeError:
                    raise ValueError("must be valid Unicode text (no lone surrogates)") from None
        return value


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    filter: FilterIn = Field(default_factory=FilterIn)
    dry_run: bool = True
    all: bool = Field(False, description="Required to act on every job when the filter is empty")


class BulkOut(BaseModel):
    matched: int
    dry_run: bool


class KillOut(BaseModel):
    job: JobOut


class CheckOut(BaseModel):
    name: str = Field(description="store, queues, stalled, workers or periodic")
    level: str = Field(description="healthy, degraded or unhealthy")
    reason: str = Field(description="why, in words")
    details: dict[str, Any] = Field(default_factory=dict, description="the numbers behind it")


class HealthOut(BaseModel):
    level: str = Field(description="healthy, degraded or unhealthy: the worst of the checks")
    status: str = Field(description="the same as level (kept for API v1 clients)")
    checked_at: float = Field(description="when the checks ran, Unix seconds")
    checks: list[CheckOut]


class EmbedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chart: str = Field(description="throughput, failure-rate, load, run-compare, busy, gantt, "
                                   "duration-trend, wait or heatmap")
    params: dict[str, str] = Field(default_factory=dict, description=(
        "The chart's query parameters, e.g. {\"name\": \"reports.send\", \"range\": \"7d\"} or "
        "{\"batch\": \"req-7\", \"highlight\": \"job-3\"}; unknown ones are refused"))
    expires_in: str | float = Field("1d", description="how long the link works: a span such as "
                                                      "\"30d\" or seconds; at most 366d")
    base_url: str | None = Field(None, description=(
        "The server's public URL to put in the link (behind a proxy); default: this request's"))


class EmbedOut(BaseModel):
    url: str = Field(description="the signed link: /embed/<chart>?<params>&expires=&signature=")
    expires: int = Field(description="when the link stops working, Unix seconds")
