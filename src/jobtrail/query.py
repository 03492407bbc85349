"""Queries and bulk operations over jobs: `trail.jobs(...)` returns a `JobQuery`."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime

from jobtrail.durations import parse_instant
from jobtrail.errors import Conflict, InvalidInput, NotFound
from jobtrail.ingest import ingest
from jobtrail.model import BatchSummary, Job, JobFilter, Page, Stats, Summary
from jobtrail.sketch import quantiles
from jobtrail.states import ACTIVE, TERMINAL
from jobtrail.store.base import Store

__all__ = [
    "JobQuery",
    "Progress",
    "batch_summary",
    "build_filter",
    "decode_cursor",
    "encode_cursor",
    "kill_job",
    "load_series",
]

Progress = Callable[[int], None]
TimeArg = str | float | int | datetime | None
_STEP = 1000  # jobs per transaction in bulk operations


def _tuple(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(",") if v)
    return tuple(value)


def _labels(value: Mapping[str, str] | Sequence[str] | str | None) -> tuple[tuple[str, str], ...]:
    if not value:
        return ()
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), str(v)) for k, v in value.items()))
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        for sep in ("=", ":"):
            if sep in item:
                key, _, val = item.partition(sep)
                out.append((key.strip(), val.strip()))
                break
        else:
            raise InvalidInput(f"label filter {item!r} must be key=value")
    return tuple(sorted(out))


def build_filter(
    *,
    state: str | Sequence[str] | None = None,
    name: str | Sequence[str] | None = None,
    queue: str | Sequence[str] | None = None,
    batch: str | None = None,
    resource: str | None = None,
    labels: Mapping[str, str] | Sequence[str] | str | None = None,
    since: TimeArg = None,
    until: TimeArg = None,
    ids: Sequence[str] | None = None,
    now: float | None = None,
) -> JobFilter:
    """A `JobFilter` from the loose arguments users type ("failed,killed", "7d", "k=v")."""
    now = time.time() if now is None else now
    return JobFilter(
        states=_tuple(state),
        names=_tuple(name) if not isinstance(name, str) else (name,),
        queues=_tuple(queue),
        batch=batch or None,
        resource=resource or None,
        labels=_labels(labels),
        since=None if since is None or since == "" else parse_instant(since, now),
        until=None if until is None or until == "" else parse_instant(until, now),
        ids=tuple(ids or ()),
    )


def encode_cursor(key: tuple[float, str]) -> str:
    raw = json.dumps([key[0], key[1]], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, job_id = json.loads(raw)
        return float(created), str(job_id)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"invalid cursor {cursor!r}") from exc


def _summary(values: list[float]) -> Summary:
    if not values:
        return Summary(0, None, None, None, None, None, None)
    n = len(values)

    def pick(q: float) -> float:
        # numpy's default (linear): interpolate between the ranks either side of q·(n−1).
        position = q * (n - 1)
        i = int(position)
        if i + 1 >= n:
            return values[-1]
        return values[i] + (position - i) * (values[i + 1] - values[i])

    return Summary(n, values[0], sum(values) / n, values[-1], pick(0.5), pick(0.95), pick(0.99))


class JobQuery:
    """A filtered view of jobs. Nothing runs until a method is called; every call reads anew."""

    def __init__(self, store: Store, flt: JobFilter) -> None:
        self.store = store
        self.filter = flt

    def __repr__(self) -> str:
        return f"JobQuery({self.filter.as_dict()})"

    def count(self) -> int:
        return self.store.count(self.filter)

    def counts(self, by: str = "state") -> dict[str, int]:
        if by not in ("state", "name", "queue"):
            raise InvalidInput(f"cannot count by {by!r}: use state, name or queue")
        return self.store.counts(self.filter, by)

    def stats(self, exact: bool = False) -> Stats:
        """Run and wait statistics: from roll-ups when only names, queues and a span are filtered
        (they cover deleted rows too, count every attempt's run, and time each by when it ended),
        else from rows (each job's latest attempt, by when the job was created)."""
        f = self.filter
        if f.rollup_friendly and not exact:
            parts = {}
            for kind in ("run", "wait"):
                buckets, n, total, lo, hi = self.store.rollup_histogram(
                    kind, f.since, f.until, f.names, f.queues
                )
                q = quantiles(buckets, (0.5, 0.95, 0.99), lo, hi)
                parts[kind] = Summary(
                    n, lo, total / n if n else None, hi, q[0.5], q[0.95], q[0.99]
                ) if n else Summary(0, None, None, None, None, None, None)
            return Stats(run=parts["run"], wait=parts["wait"], source="rollup")
        return Stats(
            run=_summary(self.store.durations(f, "run")),
            wait=_summary(self.store.durations(f, "wait")),
            source="exact",
        )

    def page(self, limit: int = 50, cursor: str | None = None) -> Page:
        if not 1 <= limit <= 1000:
            raise InvalidInput("limit must be between 1 and 1000")
        after = decode_cursor(cursor) if cursor else None
        records = self.store.find(self.filter, limit + 1, after)
        more = len(records) > limit
        records = records[:limit]
        nxt = encode_cursor((records[-1]["created_at"], records[-1]["id"])) if more else None
        return Page(jobs=tuple(Job.from_record(r) for r in records), next_cursor=nxt)

    def __iter__(self) -> Iterator[Job]:
        cursor = None
        while True:
            page = self.page(limit=500, cursor=cursor)
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def _keys(self, flt: JobFilter) -> Iterator[list[str]]:
        after = None
        while True:
            keys = self.store.ids(flt, _STEP, after)
            if not keys:
                return
            yield [k[1] for k in keys]
            after = keys[-1]

    def request_kill(self, dry_run: bool = True, progress: Progress | None = None) -> int:
        """Flag every matching unfinished job for killing; returns how many (would) get the flag."""
        wanted = set(self.filter.states or ACTIVE) & (ACTIVE - {"kill_requested"})
        flt = _replace_states(self.filter, tuple(sorted(wanted)))
        if not flt.states:
            return 0
        if dry_run:
            return self.store.count(flt)
        done = 0
        now = time.time()
        for ids in self._keys(flt):
            ingest(self.store, [{"job_id": i, "type": "kill_requested", "at": now} for i in ids])
            done += len(ids)
            if progress:
                progress(len(ids))
        return done

    def delete(self, dry_run: bool = True, progress: Progress | None = None) -> int:
        """Delete every matching job's row (statistics keep them); returns how many (would) go."""
        if dry_run:
            return self.count()
        done = 0
        for ids in self._keys(self.filter):
            n = self.store.delete(ids)
            done += n
            if progress:
                progress(n)
        return done


def kill_job(store: Store, job_id: str, now: float | None = None) -> Job:
    """Flag one unfinished job for killing (a second request keeps the first one's time)."""
    record = store.get(job_id)
    if record is None:
        raise NotFound(f"no job {job_id!r}")
    if record["state"] in TERMINAL:
        raise Conflict(f"job {job_id!r} already {record['state']}; there is nothing to kill")
    now = time.time() if now is None else now
    ingest(store, [{"job_id": job_id, "type": "kill_requested", "at": now}])
    updated = store.get(job_id)
    assert updated is not None
    return Job.from_record(updated)


def _replace_states(flt: JobFilter, states: tuple[str, ...]) -> JobFilter:
    from dataclasses import replace

    return replace(flt, states=states)


def batch_summary(store: Store, batch_id: str) -> BatchSummary:
    counts: dict[str, int] = {}
    runtime = 0.0
    queued: list[float] = []
    started: list[float] = []
    finished: list[float] = []
    total = 0
    all_done = True
    for r in store.batch_rows(batch_id):
        total += 1
        counts[r["state"]] = counts.get(r["state"], 0) + 1
        if r["state"] not in TERMINAL:
            all_done = False
        if r["queued_at"] is not None:
            queued.append(r["queued_at"])
        first_start = min(
            (a["started_at"] for a in r["attempts"].values() if a.get("started_at") is not None),
            default=None,
        )
        if first_start is not None:
            started.append(first_start)
        if r["finished_at"] is not None:
            finished.append(r["finished_at"])
            if r["run"] is not None:
                runtime += r["run"]
    if total == 0:
        raise NotFound(f"no batch {batch_id!r}")
    first_q = min(queued) if queued else None
    first_s = min(started) if started else None
    last_f = max(finished) if finished and all_done else None
    return BatchSummary(
        id=batch_id,
        total=total,
        counts=counts,
        runtime=runtime,
        wall_time=(last_f - first_s) if last_f is not None and first_s is not None else None,
        queue_time=(first_s - first_q) if first_s is not None and first_q is not None else None,
        first_queued_at=first_q,
        first_started_at=first_s,
        last_finished_at=last_f,
        finished=all_done,
    )



def load_series(
    store: Store,
    since: float,
    until: float,
    step: int = 3600,
    names: Sequence[str] = (),
    queues: Sequence[str] = (),
) -> list[tuple[int, int, int]]:
    """(bucket start, queued, running at the bucket's end) every `step` seconds over [since, until);
    buckets start at UTC multiples of `step` (of the hour for shorter steps), the first holding `since`.

    The roll-ups hold +1/−1 deltas when jobs enter and leave the queue and a worker; the level at a
    time is their running sum from the beginning, read from hourly rows up to the window and at
    `step` resolution inside it (60 uses per-minute rows, while they are kept).
    """
    if step < 60 or (step >= 3600 and step % 3600) or (step < 3600 and 3600 % step):
        raise InvalidInput("step must divide an hour (60 s at least) or be whole hours")
    metrics = ("load:queued", "load:running")
    # Buckets start at UTC multiples of the step, as the roll-up reads group them; a step within
    # an hour starts at the hour, since the level before the window is read from hourly rows.
    align = max(step, 3600)
    start = int(since // align * align)
    level = {"load:queued": 0, "load:running": 0}
    for _, _, _, metric, n in store.rollup_counts(None, start, names, queues, metrics, 3600):
        level[metric] += n
    deltas: dict[int, dict[str, int]] = {}
    for t, _, _, metric, n in store.rollup_counts(start, until, names, queues, metrics, step):
        deltas.setdefault(t, {"load:queued": 0, "load:running": 0})[metric] += n
    out = []
    t = start
    while t < until:
        # The level at the end of the bucket: jobs that came and went inside one bucket do not
        # show, so charts of short jobs use per-minute steps (kept for recent days).
        for metric, n in deltas.get(t, {}).items():
            level[metric] += n
        if t + step > since:
            out.append((t, max(0, level["load:queued"]), max(0, level["load:running"])))
        t += step
    return out
