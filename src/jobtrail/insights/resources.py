"""Every job that touched one resource (e.g. `TaskPlan:42`), across names (seed 001)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobtrail.model import JobFilter, Page
from jobtrail.query import JobQuery
from jobtrail.store.base import Store

__all__ = ["ResourceDetail", "resource_detail"]


@dataclass(frozen=True, slots=True)
class ResourceDetail:
    """Counts per current state and one page of its jobs, newest first."""

    resource: str
    counts: dict[str, int]
    names: dict[str, int]
    page: Page

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "counts": dict(self.counts),
            "names": dict(self.names),
            "total": self.total,
            "jobs": [j.as_dict() for j in self.page.jobs],
            "next_cursor": self.page.next_cursor,
        }


def resource_detail(store: Store, resource: str, limit: int = 50,
                    cursor: str | None = None) -> ResourceDetail:
    """From the resource index, not roll-ups: a resource has few jobs (tens), and these are the
    rows that still exist."""
    query = JobQuery(store, JobFilter(resource=resource))
    return ResourceDetail(
        resource=resource,
        counts=query.counts("state"),
        names=query.counts("name"),
        page=query.page(limit=limit, cursor=cursor),
    )
