"""Helpers for the metrics tests: known job history, and parsing the text format back."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jt_support import need

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, keyed by (sample name, label set)."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name` over every series whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def job(job_id: str, name: str, queue: str, queued: float, wait: float | None = None,
        run: float | None = None, end: str = "succeeded", **fields: Any) -> list[dict[str, Any]]:
    """A job's events: queued; then started `wait` s later; then `end` `run` s after that."""
    events: list[dict[str, Any]] = [
        {"job_id": job_id, "type": "queued", "at": queued, "name": name, "queue": queue}]
    if wait is not None:
        events.append({"job_id": job_id, "type": "started", "at": queued + wait})
        if run is not None:
            events.append({"job_id": job_id, "type": end, "at": queued + wait + run, **fields})
    elif end == "cancelled":
        events.append({"job_id": job_id, "type": "cancelled", "at": queued + 1})
    return events


def history(now: float | None = None) -> list[dict[str, Any]]:
    """Known jobs over the last days: successes, failures, a kill, a cancel, a retry, items, two
    still queued and one running. Durations sit far from any bucket bound."""
    now = time.time() if now is None else now
    ev: list[dict[str, Any]] = []
    day = 86400.0
    for i in range(6):  # reports.send on q1: 4 successes of 2 s, 2 failures of 40 s
        failed = i >= 4
        ev += job(f"r{i}", "reports.send", "q1", now - 3 * day + i * 600, wait=0.2,
                  run=40.0 if failed else 2.0, end="failed" if failed else "succeeded",
                  progress={"done": 10, "failed": 1 if failed else 0, "skipped": 2})
    ev += job("r-kill", "reports.send", "q1", now - 7200, wait=7.0, run=700.0, end="killed")
    ev += job("r-cancel", "reports.send", "q1", now - 3600, end="cancelled")
    ev += job("i1", "import.book", "q2", now - 5000, wait=0.03, run=0.3)
    ev += [{"job_id": "i2", "type": "queued", "at": now - 4000, "name": "import.book", "queue": "q2"},
           {"job_id": "i2", "type": "started", "at": now - 3990},
           {"job_id": "i2", "type": "retrying", "at": now - 3980},
           {"job_id": "i2", "type": "started", "at": now - 3900, "attempt": 2},
           {"job_id": "i2", "type": "succeeded", "at": now - 3880, "attempt": 2}]
    ev += job("i3", "import.book", "q2", now - 300)  # queued 5 minutes ago
    ev += job("i4", "import.book", "q2", now - 60)
    ev += job("i5", "import.book", "q2", now - 100, wait=4.0)  # running
    return ev


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def jobtrail_serve(url: str, tokens: str) -> Iterator[str]:
    """`jobtrail --url URL serve` as its own process on a free loopback port; yields its base URL
    once it answers, and stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBTRAIL_")}
    env["JOBTRAIL_TOKENS"] = tokens
    command = str(Path(sys.executable).with_name("jobtrail"))
    proc = subprocess.Popen([command, "--url", url, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                # Any answer means it is serving (health may well say 503 about the data).
                httpx.get(f"{base}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "jobtrail serve did not answer within 60 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            output = proc.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0]
        assert "Traceback" not in output, output


def promtool(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """The real promtool (Debian's `prometheus` package), or skip/fail via `need`."""
    path = shutil.which("promtool")
    if path is None:
        need("promtool", "not on PATH (apt-get install prometheus)")
    return subprocess.run([str(path), *args], input=stdin, capture_output=True, text=True,
                          timeout=120, cwd=cwd)
