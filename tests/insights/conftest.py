"""Generated job histories with known times, and brute-force answers computed from them alone.

Each test ingests `Spec`s through a real `Trail` (both backends, `trail` fixture) and checks the
insights against what the specs themselves say, never against the store's own numbers.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

import pytest

H = 3600
T0 = 1_790_000_000 // H * H
"""An hour boundary; tests pass `now` explicitly, so per-minute roll-ups count as kept."""


@dataclass
class Spec:
    id: str
    name: str
    queued: float
    started: float | None = None
    ended: float | None = None
    end: str = "succeeded"
    queue: str = "default"
    labels: dict[str, str] = field(default_factory=dict)
    batch: str | None = None
    resources: list[str] = field(default_factory=list)

    @property
    def run(self) -> float | None:
        return None if self.started is None or self.ended is None else self.ended - self.started

    @property
    def wait(self) -> float | None:
        return None if self.started is None else self.started - self.queued

    def events(self) -> list[dict[str, Any]]:
        first: dict[str, Any] = {"job_id": self.id, "type": "queued", "at": self.queued,
                                 "name": self.name, "queue": self.queue}
        if self.labels:
            first["labels"] = self.labels
        if self.batch:
            first["batch"] = self.batch
        if self.resources:
            first["resources"] = self.resources
        out = [first]
        if self.started is not None:
            out.append({"job_id": self.id, "type": "started", "at": self.started})
        if self.ended is not None:
            out.append({"job_id": self.id, "type": self.end, "at": self.ended})
        return out


def ingest(trail: Any, specs: list[Spec]) -> None:
    events = [e for s in specs for e in s.events()]
    for i in range(0, len(events), 500):
        assert trail.ingest(events[i : i + 500]).rejected == []


def history(seed: int, n: int = 150, hours: float = 3, unfinished: int = 6) -> list[Spec]:
    """`n` jobs of names a (short), b (long, workspace labels) and c (often failing) over `hours`
    after T0, plus `unfinished` still queued or running at the end."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        name = rng.choice("aabbc")
        queued = T0 + rng.uniform(0, hours * H - 900)
        started = queued + rng.expovariate(1 / 20)
        run = {"a": 3.0, "b": 120.0, "c": 30.0}[name] * math.exp(rng.gauss(0, 0.5))
        end = "failed" if rng.random() < (0.5 if name == "c" else 0.05) else "succeeded"
        labels = {"workspace": rng.choice(["w1", "w2"])} if name == "b" else {}
        out.append(Spec(f"j{i:03d}", name, queued, started, started + run, end,
                        queue="slow" if name == "b" else "default", labels=labels))
    end_at = T0 + hours * H
    for i in range(unfinished):
        queued = end_at - rng.uniform(60, 600)
        started = queued + 30 if i % 2 else None
        out.append(Spec(f"u{i}", "b" if i % 3 else "a", queued, started, None,
                        queue="slow" if i % 3 else "default"))
    return out


def minute(at: float) -> float:
    return at // 60 * 60


def level(specs: list[Spec], at: float) -> tuple[int, int]:
    """(queued, running) just before the minute-aligned instant `at`, by the roll-ups' rule: a job
    counts from the minute it entered to the minute it left."""
    queued = running = 0
    for s in specs:
        if minute(s.queued) < at and (s.started is None or minute(s.started) >= at) and (
            s.started is not None or s.ended is None or minute(s.ended) >= at
        ):
            queued += 1
        if s.started is not None and minute(s.started) < at and (
            s.ended is None or minute(s.ended) >= at
        ):
            running += 1
    return queued, running


def exact_quantile(values: list[float], q: float) -> float:
    """numpy's default (linear) quantile."""
    v = sorted(values)
    pos = q * (len(v) - 1)
    i = int(pos)
    return v[i] if i + 1 >= len(v) else v[i] + (pos - i) * (v[i + 1] - v[i])


@pytest.fixture
def now() -> float:
    return T0 + 3 * H
