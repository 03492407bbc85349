"""Records ⇄ rows: the document drops what the columns say, and older documents still decode."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from jobtrail.ingest import ingest
from jobtrail.states import merge
from jobtrail.store import open_store

T0 = 1_790_000_000.0


def _events(job: str, *extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"job_id": job, "type": "queued", "at": T0, "name": "ImportBook", "args": {"book_id": 7}},
        {"job_id": job, "type": "started", "at": T0 + 2, "worker": "w1"},
        *({"job_id": job, **e} for e in extra),
    ]


def _record(events: list[dict[str, Any]]) -> dict[str, Any]:
    record = None
    for event in events:
        record = merge(record, {"attempt": 1, **event} if event["type"] in ("queued", "started") else event)
    assert record is not None
    return record


@pytest.fixture
def store(sqlite_url: str) -> Any:
    s = open_store(sqlite_url)
    yield s
    s.close()


def _doc(sqlite_url: str, job: str) -> list[Any]:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        return list(json.loads(db.execute("SELECT doc FROM jobs WHERE id = ?", (job,)).fetchone()[0]))


def test_a_plain_job_stores_its_attempt_and_clock_in_a_few_bytes(store: Any, sqlite_url: str) -> None:
    events = _events("a", {"type": "succeeded", "at": T0 + 5})
    assert ingest(store, events).rejected == []
    doc = _doc(sqlite_url, "a")
    assert doc[-2] == 1  # the one attempt comes from the columns
    assert isinstance(doc[-1], str) and len(doc[-1]) <= 8  # the clock as column codes
    assert store.get("a") == _record(events)


@pytest.mark.parametrize("extra", [
    [{"type": "failed", "at": T0 + 5, "error": {"type": "ValueError", "message": "bad"}}],
    [{"type": "retrying", "at": T0 + 5}, {"type": "started", "at": T0 + 9, "attempt": 2}],
    [{"type": "heartbeat", "at": T0 + 3, "worker": "w2"}],
    [{"type": "progress", "at": T0 + 4, "labels": {"tenant": "acme"}, "progress": {"done": 1}}],
    [{"type": "kill_requested", "at": T0 + 3}],
    [],
])
def test_jobs_the_columns_do_not_describe_keep_their_full_attempts(
    store: Any, extra: list[dict[str, Any]]
) -> None:
    events = _events("b", *extra)
    assert ingest(store, events).rejected == []
    assert store.get("b") == _record(events)


def test_documents_in_the_earlier_encoding_still_decode(store: Any, sqlite_url: str) -> None:
    events = _events("c", {"type": "succeeded", "at": T0 + 5})
    assert ingest(store, events).rejected == []
    expected = store.get("c")
    doc = _doc(sqlite_url, "c")
    doc[-2] = {"1": {"queued_at": "q", "started_at": "s", "worker": True, "ended_at": "f"}}
    doc[-1] = [None if c == "-" else c for c in doc[-1]]  # the clock as a list of codes
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE jobs SET doc = ? WHERE id = 'c'", (json.dumps(doc),))
    assert store.get("c") == expected
