"""Apply a batch of events: validate each, merge per job, write records and roll-up deltas at once.

An invalid event is rejected with its index and reason; the rest of the batch is stored. Replaying
events (the same event_id, or any duplicate) changes nothing, because the merge is idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jobtrail.errors import InvalidEvent
from jobtrail.events import normalize
from jobtrail.rollup import Delta, diff
from jobtrail.states import TERMINAL, apply, copy_record, derive, new_record
from jobtrail.store.base import Record, Store

__all__ = ["IngestResult", "Rejection", "ingest"]

log = logging.getLogger(__name__)
_logged: set[str] = set()


def _unexpected(exc: Exception) -> None:
    """Log, once per kind, an event that validation could not handle: a bug to fix, not input."""
    kind = type(exc).__name__
    if kind not in _logged:
        _logged.add(kind)
        log.error("jobtrail: an event could not be validated (%s); it was rejected", kind,
                  exc_info=exc)


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    error: str


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What happened to a batch; `control` names the batch's jobs that have a pending kill request."""

    accepted: int
    rejected: list[Rejection] = field(default_factory=list)
    control: dict[str, dict[str, bool]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "rejected": [{"index": r.index, "error": r.error} for r in self.rejected],
            "control": self.control,
        }


def ingest(
    store: Store, events: Iterable[Any], now: float | None = None,
    refuse: Mapping[str, str] | None = None,
) -> IngestResult:
    """Store `events`. `refuse` maps event types this sender may not send to the reason, e.g. a
    kill request from a token without the admin scope; such events are rejected like invalid ones."""
    now = time.time() if now is None else now
    groups: dict[str, list[dict[str, Any]]] = {}
    rejected: list[Rejection] = []
    accepted = 0
    for index, raw in enumerate(events):
        try:
            event = normalize(raw, now)
        except InvalidEvent as exc:
            rejected.append(Rejection(index, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - one unreadable event must not lose the batch
            _unexpected(exc)
            rejected.append(Rejection(index, f"could not be read ({type(exc).__name__})"))
            continue
        if refuse and event["type"] in refuse:
            rejected.append(Rejection(index, f"type: {refuse[event['type']]}"))
            continue
        groups.setdefault(event["job_id"], []).append(event)
        accepted += 1
    if not groups:
        return IngestResult(accepted=0, rejected=rejected)
    final: dict[str, Record] = {}

    def change(current: Mapping[str, Record]) -> tuple[dict[str, Record], Delta]:
        changed: dict[str, Record] = {}
        for job_id, job_events in groups.items():
            old = current.get(job_id)
            record = copy_record(old) if old is not None else new_record(job_id)
            for event in job_events:
                apply(record, event)
            derive(record)
            final[job_id] = record
            if record != old:
                changed[job_id] = record
        return changed, diff((current.get(j), r) for j, r in changed.items())

    store.update(list(groups), change)
    control = {
        job_id: {"kill_requested": True}
        for job_id, record in final.items()
        if record["kill_requested_at"] is not None and record["state"] not in TERMINAL
    }
    return IngestResult(accepted=accepted, rejected=rejected, control=control)

