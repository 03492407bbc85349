"""Records ⇄ rows: filterable fields as columns, the rest as one compact JSON document.

The document leaves out what the columns already say, losslessly: a clock time equal to a column's
time is stored as that column's one-letter code (a clock of codes only as one short string), the
latest attempt's start, end and (for a single attempt) queued time are taken from the columns when
they match, and a single attempt the columns describe entirely is stored as the number 1. Older
encodings still decode.
"""

from __future__ import annotations

import json
import operator
from typing import Any

from jobtrail.events import scrub
from jobtrail.states import TERMINAL, derive, new_record
from jobtrail.store.sql.schema import COLUMNS

__all__ = ["from_row", "to_row"]

_DOC_FIELDS = (
    "args",
    "worker",
    "result",
    "progress",
    "labels",
    "resources",
    "scheduled_at",
    "lost_at",
)
_encode = json.JSONEncoder(separators=(",", ":")).encode
_EMPTY_DEFAULT = frozenset({"labels", "resources"})
_REFS = {"c": "created_at", "s": "started_at", "f": "finished_at", "u": "updated_at",
         "h": "heartbeat_at"}
_NAME = COLUMNS.index("name")
_PROGRESS = _DOC_FIELDS.index("progress")
_EMPTY_SLOTS = tuple(i for i, f in enumerate(_DOC_FIELDS) if f in _EMPTY_DEFAULT)
_REFS_LAST_FIRST = tuple(reversed(_REFS.items()))
_doc_values = operator.itemgetter(*_DOC_FIELDS)
_column_values = operator.itemgetter(*COLUMNS)


_FROM_COLUMNS = 1
"""The attempts slot of a job with one attempt that its columns describe entirely (most jobs)."""
_NO_TIME = "-"


def _column_attempt(record: dict[str, Any]) -> dict[str, Any]:
    """The one attempt that the columns (queued, started, finished, state, worker) describe."""
    a: dict[str, Any] = {}
    if record["queued_at"] is not None:
        a["queued_at"] = record["queued_at"]
    if record["started_at"] is not None:
        a["started_at"] = record["started_at"]
        if record["worker"] is not None:
            a["worker"] = record["worker"]
    if record["finished_at"] is not None:
        a["ended_at"] = record["finished_at"]
        a["end"] = record["state"]
    return a


def _encode_attempts(record: dict[str, Any]) -> dict[str, Any] | int:
    attempts = record["attempts"]
    if not attempts:
        return {}
    if len(attempts) == 1 and attempts.get("1") == _column_attempt(record):
        return _FROM_COLUMNS
    latest = str(max(int(k) for k in attempts))
    out: dict[str, Any] = {}
    for key, attempt in attempts.items():
        a = dict(attempt)
        if key == latest:
            if a.get("started_at") is not None and a["started_at"] == record["started_at"]:
                a["started_at"] = "s"
            if a.get("end") in TERMINAL and a.get("ended_at") == record["finished_at"]:
                a["ended_at"] = "f"
                if a["end"] == record["state"]:
                    del a["end"]
            if latest == "1" and a.get("queued_at") == record["queued_at"] and a.get("queued_at"):
                a["queued_at"] = "q"
            if "worker" in a and a["worker"] == record["worker"]:
                a["worker"] = True  # not a string, so no worker name can be mistaken for it
        out[key] = a
    return out


def _decode_attempts(attempts: dict[str, Any] | int, record: dict[str, Any]) -> dict[str, Any]:
    if attempts == _FROM_COLUMNS:
        return {"1": _column_attempt(record)}
    assert isinstance(attempts, dict)
    refs = {"s": record["started_at"], "f": record["finished_at"], "q": record["queued_at"]}
    for a in attempts.values():
        for field in ("started_at", "queued_at"):
            if isinstance(a.get(field), str):
                a[field] = refs[a[field]]
        if a.get("ended_at") == "f":
            a["ended_at"] = record["finished_at"]
            a.setdefault("end", record["state"])
        if a.get("worker") is True:
            a["worker"] = record["worker"]
    return dict(attempts)


_CLOCK_KEYS = ("name", "queue", "batch", "args", "worker", "result", "keep", "progress")
"""Stored positions of the clock entries: append-only, like every stored code."""


_PROGRESS_KEYS = ("done", "total", "failed", "skipped")
_SLOTS = len(_DOC_FIELDS) + 2  # the fields, then attempts, then the clock


def to_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """Values in `COLUMNS` order, then the doc: a bit mask of the slots present (`_DOC_FIELDS`, then
    attempts, then the clock) followed by a JSON array of just those, so common jobs cost few bytes.
    (The first encoding, still read, was the JSON array of every slot with nulls.)"""
    # This runs for every changed job at ingest: item getters and one pass per step.
    slots: list[Any] = list(_doc_values(record))
    for i in _EMPTY_SLOTS:  # empty labels and resources are their defaults (not args or result)
        if not slots[i]:
            slots[i] = None
    progress = record["progress"]
    if progress:
        codes = [progress.get(k) for k in _PROGRESS_KEYS]
        while codes[-1] is None:
            codes.pop()
        slots[_PROGRESS] = codes
    slots.append(_encode_attempts(record) or None)
    refs = {}  # clock time → the code of the first column (in _REFS order) holding it
    for code, column in _REFS_LAST_FIRST:
        at = record[column]
        if at is not None:
            refs[at] = code
    clock = {k: refs.get(v, v) for k, v in record["clock"].items()}
    entries = [clock.pop(k, None) for k in _CLOCK_KEYS]
    codes = [_NO_TIME if e is None else e for e in entries]
    if not clock and all(type(e) is str for e in codes):
        slots.append("".join(codes).rstrip(_NO_TIME) or None)
    else:
        slots.append(entries + ([clock] if clock else []))
    mask = 0
    present = []
    for i, v in enumerate(slots):
        if v is not None:
            mask |= 1 << i
            present.append(v)
    values = list(_column_values(record))
    values[_NAME] = record["name"] or ""
    values.append(str(mask) + _encode(present))
    return tuple(values)


def _slots(text: str) -> list[Any]:
    if text.startswith("["):  # the first encoding: every slot, trailing nulls dropped
        doc: list[Any] = json.loads(text)
        return doc + [None] * (_SLOTS - len(doc))
    start = text.index("[")
    mask, present = int(text[:start]), iter(json.loads(text[start:]))
    return [next(present) if mask >> i & 1 else None for i in range(_SLOTS)]


def from_row(row: Any) -> dict[str, Any]:
    m = row._mapping
    record = new_record(m["id"])
    text = m["doc"]
    doc = _slots(text)
    if "\\ud" in text:  # beyond U+FFFF, or a lone surrogate stored before ingest replaced them
        doc = scrub(doc)
    for c in COLUMNS:
        record[c] = m[c]
    record["name"] = m["name"] or None
    for i, f in enumerate(_DOC_FIELDS):
        if doc[i] is not None:
            record[f] = doc[i]
    if isinstance(record["progress"], list):
        record["progress"] = {
            k: v for k, v in zip(_PROGRESS_KEYS, record["progress"], strict=False) if v is not None
        }
    record["attempts"] = _decode_attempts(doc[len(_DOC_FIELDS)] or {}, record)
    encoded = doc[len(_DOC_FIELDS) + 1] or []
    if isinstance(encoded, str):
        encoded = [None if c == _NO_TIME else c for c in encoded]
    clock: dict[str, Any] = dict(zip(_CLOCK_KEYS, encoded, strict=False))
    if len(encoded) > len(_CLOCK_KEYS):
        clock.update(encoded[-1])
    record["clock"] = {
        k: record[_REFS[v]] if isinstance(v, str) else v for k, v in clock.items() if v is not None
    }
    return derive(record)
