"""Records ⇄ rows: filterable fields as columns, the rest as one compact JSON document."""

from __future__ import annotations

import json
from typing import Any

from jobtrail.states import derive, new_record
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
    "attempts",
    "clock",
)


def to_row(record: dict[str, Any]) -> dict[str, Any]:
    row = {c: record[c] for c in COLUMNS}
    row["name"] = record["name"] or ""
    doc = {f: record[f] for f in _DOC_FIELDS if record[f] not in (None, {}, [])}
    row["doc"] = json.dumps(doc, separators=(",", ":"))
    return row


def from_row(row: Any) -> dict[str, Any]:
    m = row._mapping
    record = new_record(m["id"])
    record.update(json.loads(m["doc"]))
    for c in COLUMNS:
        record[c] = m[c]
    record["name"] = m["name"] or None
    return derive(record)
