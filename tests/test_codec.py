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


def _doc(sqlite_url: str, job: str) -> str:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        return str(db.execute("SELECT doc FROM jobs WHERE id = ?", (job,)).fetchone()[0])


def _write_doc(sqlite_url: str, job: str, doc: str) -> None:
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE jobs SET doc = ? WHERE id = ?", (doc, job))


def test_a_plain_job_stores_only_what_its_columns_do_not_say(store: Any, sqlite_url: str) -> None:
    events = _events("a", {"type": "progress", "at": T0 + 3, "progress": {"done": 3, "total": 9}},
                     {"type": "succeeded", "at": T0 + 5})
    assert ingest(store, events).rejected == []
    doc = _doc(sqlite_url, "a")
    mask, slots = int(doc[: doc.index("[")]), json.loads(doc[doc.index("["):])
    assert bin(mask).count("1") == len(slots) == 5  # args, worker, progress, attempts, clock
    assert slots[2] == [3, 9]  # progress by position
    assert slots[3] == 1  # the one attempt comes from the columns
    assert isinstance(slots[4], str) and len(slots[4]) <= 8  # the clock as column codes
    assert len(doc) < 60
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


def test_documents_in_the_first_encoding_still_decode(store: Any, sqlite_url: str) -> None:
    events = _events("c", {"type": "progress", "at": T0 + 3, "progress": {"done": 2, "failed": 0}},
                     {"type": "succeeded", "at": T0 + 5})
    assert ingest(store, events).rejected == []
    expected = store.get("c")
    # Every slot positionally, nulls included, progress as an object, the attempt and clock in full.
    first = [{"book_id": 7}, "w1", None, {"done": 2, "failed": 0}, None, None, None, None,
             {"1": {"queued_at": "q", "started_at": "s", "worker": True, "ended_at": "f"}},
             ["c", None, None, "c", "s", None, None, T0 + 3]]
    _write_doc(sqlite_url, "c", json.dumps(first))
    assert store.get("c") == expected


def test_a_lone_surrogate_stored_before_ingest_replaced_them_reads_back_replaced(
        store: Any, sqlite_url: str) -> None:
    # Given a document holding one (written by an older version; it broke every page showing it)
    events = _events("d", {"type": "failed", "at": T0 + 5,
                           "error": {"type": "OSError", "message": "cannot open QQ"}})
    assert ingest(store, events).rejected == []
    _write_doc(sqlite_url, "d", _doc(sqlite_url, "d").replace("QQ", "\\udcff \\ud83d\\ude00"))
    # Expect it read back as U+FFFD, the valid pair beside it kept
    record = store.get("d")
    assert record["attempts"]["1"]["error"]["message"] == "cannot open \ufffd \U0001f600"
    assert record["error"]["message"] == "cannot open \ufffd \U0001f600"
    json.dumps(record, ensure_ascii=False).encode()  # now encodable
