"""Typed, read-only views of jobs, batches and statistics, and the filter every query takes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobtrail.states import STATES, attempt_queued_at

__all__ = [
    "Attempt",
    "BatchSummary",
    "Job",
    "JobFilter",
    "Page",
    "RetentionRule",
    "Stats",
    "Summary",
]


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Which jobs a query covers; empty fields match everything. Times are Unix seconds on created_at.

    `created_at` is when the job first became known (usually queued), so "jobs created last week" means
    what users expect even for jobs that ran later.
    """

    states: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    batch: str | None = None
    resource: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    since: float | None = None
    until: float | None = None
    ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [s for s in self.states if s not in STATES]
        if unknown:
            from jobtrail.errors import InvalidInput

            raise InvalidInput(f"unknown state {unknown[0]!r}; states are {', '.join(STATES)}")

    @property
    def rollup_friendly(self) -> bool:
        """True when roll-ups alone can answer: only names, queues and a time span."""
        return not (self.states or self.batch or self.resource or self.labels or self.ids)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("states", "names", "queues", "ids"):
            if getattr(self, key):
                out[key] = list(getattr(self, key))
        for key in ("batch", "resource", "since", "until"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.labels:
            out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True, slots=True)
class Attempt:
    number: int
    queued_at: float | None
    started_at: float | None
    ended_at: float | None
    end: str | None
    worker: str | None
    error: Mapping[str, str] | None

    @property
    def run(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)


@dataclass(frozen=True, slots=True)
class Job:
    """Everything known about one job. `timestamps` maps each state it entered to when it did."""

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
    error: Mapping[str, str] | None
    progress: Mapping[str, int] | None
    labels: Mapping[str, str]
    resources: tuple[str, ...]
    keep: float | None
    attempts: tuple[Attempt, ...]
    timestamps: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> Job:
        attempts = tuple(
            Attempt(
                number=int(k),
                queued_at=attempt_queued_at(r["attempts"], int(k)),
                started_at=a.get("started_at"),
                ended_at=a.get("ended_at"),
                end=a.get("end"),
                worker=a.get("worker"),
                error=a.get("error"),
            )
            for k, a in sorted(r["attempts"].items(), key=lambda kv: int(kv[0]))
        )
        stamps: dict[str, float] = {}
        if r["scheduled_at"] is not None:
            stamps["scheduled"] = r["scheduled_at"]
        if r["queued_at"] is not None:
            stamps["queued"] = r["queued_at"]
        for a in attempts:
            if a.started_at is not None:
                stamps["started"] = a.started_at
            if a.end is not None and a.ended_at is not None:
                stamps[a.end] = a.ended_at
        if r["kill_requested_at"] is not None:
            stamps["kill_requested"] = r["kill_requested_at"]
        if r["state"] == "lost" and r["lost_at"] is not None:
            stamps["lost"] = r["lost_at"]
        return cls(
            id=r["id"],
            name=r["name"],
            queue=r["queue"] or "default",
            batch=r["batch"],
            state=r["state"],
            attempt=r["attempt"],
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            queued_at=r["queued_at"],
            started_at=r["started_at"],
            finished_at=r["finished_at"],
            heartbeat_at=r["heartbeat_at"],
            kill_requested_at=r["kill_requested_at"],
            scheduled_at=r["scheduled_at"],
            lost_at=r["lost_at"],
            wait=r["wait"],
            run=r["run"],
            worker=r["worker"],
            args=r["args"],
            result=r["result"],
            error=r["error"],
            progress=r["progress"],
            labels=dict(r["labels"]),
            resources=tuple(r["resources"]),
            keep=r["keep"],
            attempts=attempts,
            timestamps=dict(sorted(stamps.items(), key=lambda kv: kv[1])),
        )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Job:
        """The inverse of `as_dict` (what a remote `Trail` reads from the HTTP API)."""
        fields = {f: d[f] for f in cls.__dataclass_fields__ if f in d}
        fields["labels"] = dict(d.get("labels") or {})
        fields["resources"] = tuple(d.get("resources") or ())
        fields["timestamps"] = dict(d.get("timestamps") or {})
        fields["attempts"] = tuple(
            Attempt(**{f: a.get(f) for f in Attempt.__dataclass_fields__})
            for a in d.get("attempts") or ()
        )
        return cls(**fields)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (CLI --json, HTTP API)."""
        out = {f: getattr(self, f) for f in self.__dataclass_fields__ if f != "attempts"}
        out["resources"] = list(self.resources)
        out["labels"] = dict(self.labels)
        out["timestamps"] = dict(self.timestamps)
        out["attempts"] = [
            {f: getattr(a, f) for f in a.__dataclass_fields__} | {"run": a.run}
            for a in self.attempts
        ]
        return out


@dataclass(frozen=True, slots=True)
class Page:
    jobs: tuple[Job, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Summary:
    """count, min, avg, max and percentiles of one duration, in seconds (None when empty)."""

    count: int
    min: float | None
    avg: float | None
    max: float | None
    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Summary:
        return cls(int(d.get("count") or 0), d.get("min"), d.get("avg"), d.get("max"), d.get("p50"),
                   d.get("p95"), d.get("p99"))

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


@dataclass(frozen=True, slots=True)
class Stats:
    """Run and wait statistics; `source` says "rollup" (maintained aggregates) or "exact" (rows)."""

    run: Summary
    wait: Summary
    source: str

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stats:
        return cls(Summary.from_dict(d["run"]), Summary.from_dict(d["wait"]), str(d["source"]))

    def as_dict(self) -> dict[str, Any]:
        return {"run": self.run.as_dict(), "wait": self.wait.as_dict(), "source": self.source}


@dataclass(frozen=True, slots=True)
class BatchSummary:
    """A job request: counts per state, summed runtime, wall time and queue time (SPEC §2)."""

    id: str
    total: int
    counts: Mapping[str, int]
    runtime: float
    wall_time: float | None
    queue_time: float | None
    first_queued_at: float | None
    first_started_at: float | None
    last_finished_at: float | None
    finished: bool

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BatchSummary:
        fields = {f: d[f] for f in cls.__dataclass_fields__ if f in d}
        fields["counts"] = dict(d.get("counts") or {})
        return cls(**fields)

    def as_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["counts"] = dict(self.counts)
        return out


@dataclass(frozen=True, slots=True)
class RetentionRule:
    """Keep jobs matching `name` (None: any) in `state` (None: any) for `keep` seconds after they
    finished; `keep` None means forever."""

    name: str | None
    state: str | None
    keep: float | None

    @property
    def specificity(self) -> int:
        return (2 if self.name is not None else 0) + (1 if self.state is not None else 0)
