"""Alert tests feed events with chosen timestamps through the normal ingest path, then evaluate at
chosen instants. T is the middle of an hour, so windows and the hourly baseline are easy to read."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from jobtrail.alerts import DEFAULT_RULES, Evaluator, Rule, Transition
from jobtrail.ingest import ingest
from jobtrail.store.base import Store

T = 1_700_002_800.0 + 1800  # 2023-11-14 23:30 UTC
MINUTE = 60.0
assert T % 3600 == 1800


class Feed:
    """Writes jobs into a store as a tracked worker would have reported them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._ids = itertools.count(1)

    def run(self, name: str, end: float, seconds: float = 1.0, *, ok: bool = True,
            queue: str = "default", progress: dict[str, int] | None = None) -> str:
        events = self.run_events(name, end, seconds, ok=ok, queue=queue, progress=progress)
        self.ingest(events)
        return str(events[0]["job_id"])

    def run_events(self, name: str, end: float, seconds: float = 1.0, *, ok: bool = True,
                   queue: str = "default", progress: dict[str, int] | None = None
                   ) -> list[dict[str, Any]]:
        """The events of one run (queued, started, then succeeded or failed at `end`)."""
        job = f"{name}-{next(self._ids)}"
        start = end - seconds
        done: dict[str, Any] = {"job_id": job, "type": "succeeded" if ok else "failed", "at": end}
        if progress:
            done["progress"] = progress
        if not ok:
            done["error"] = {"type": "RuntimeError", "message": "boom"}
        return [
            {"job_id": job, "type": "queued", "at": start - 1, "name": name, "queue": queue},
            {"job_id": job, "type": "started", "at": start},
            done,
        ]

    def runs(self, name: str, ends: Sequence[float], seconds: float = 1.0, **kw: Any) -> None:
        """Several runs, ingested as one batch."""
        self.ingest([e for end in ends for e in self.run_events(name, end, seconds, **kw)])

    def queued(self, name: str, at: float, n: int, queue: str = "default") -> list[str]:
        ids = [f"{name}-{next(self._ids)}" for _ in range(n)]
        self.ingest([{"job_id": j, "type": "queued", "at": at, "name": name, "queue": queue}
                     for j in ids])
        return ids

    def ingest(self, events: list[dict[str, Any]]) -> None:
        result = ingest(self.store, events)
        assert not result.rejected, result.rejected


def rule(rule_id: str) -> Rule:
    return next(r for r in DEFAULT_RULES if r.id == rule_id)


def only(rule_id: str) -> Evaluator:
    """An evaluator of one default rule, notifying nobody."""
    return Evaluator([rule(rule_id)], notifiers=())


def steps(transitions: Sequence[Transition]) -> list[tuple[str, str, str]]:
    return [(t.subject, t.from_state, t.to_state) for t in transitions]


class Receiver:
    """A real webhook receiver on loopback (a thread): answers 500 to the first `fail_first`
    requests, 200 after; waits `delays[n]` seconds before answering the n-th request (0-based; a
    slow webhook); keeps every body it accepted."""

    def __init__(self, fail_first: int = 0, delays: Sequence[float] = ()) -> None:
        import json
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.fail_first = fail_first
        self.delays = list(delays)
        self.requests = 0
        self.accepted: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with outer.arrived:
                    n = outer.requests
                    outer.requests += 1
                    outer.arrived.notify_all()
                if n < len(outer.delays):
                    time.sleep(outer.delays[n])
                fail = n < outer.fail_first
                if not fail:
                    with outer.arrived:
                        outer.accepted.append(json.loads(body))
                        outer.headers.append(dict(self.headers))
                self.send_response(500 if fail else 200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for_requests(self, n: int, timeout: float = 30.0) -> None:
        """Until `n` requests have arrived (answered or not)."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: self.requests >= n, timeout), (
                f"{self.requests} of {n} requests arrived")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
