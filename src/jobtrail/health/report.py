"""The shape of a health answer: checks with a level and a human reason, and the worst of them.

The same dict (`HealthReport.to_dict`) is the HTTP body of `GET /api/v1/health`, the output of
`jobtrail health --json` and what the `/health` page renders, so all three always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LEVELS", "Check", "HealthReport", "worst"]

LEVELS = ("healthy", "degraded", "unhealthy")
"""From best to worst; a report's level is the worst of its checks."""
_RANK = {level: i for i, level in enumerate(LEVELS)}


def worst(levels: Iterable[str]) -> str:
    """The worst level among `levels` (healthy when there are none)."""
    return max(levels, key=_RANK.__getitem__, default="healthy")


@dataclass(frozen=True, slots=True)
class Check:
    """One finding: `reason` says in words why it has its level; `details` holds the numbers."""

    name: str
    level: str
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.level not in _RANK:
            raise ValueError(f"unknown health level {self.level!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "reason": self.reason,
                "details": self.details}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(name=str(data["name"]), level=str(data["level"]), reason=str(data["reason"]),
                   details=dict(data.get("details") or {}))


@dataclass(frozen=True, slots=True)
class HealthReport:
    """Every check of one run, at `checked_at` (Unix seconds)."""

    checks: tuple[Check, ...]
    checked_at: float

    @property
    def level(self) -> str:
        return worst(c.level for c in self.checks)

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 degraded, 2 unhealthy: what `jobtrail health` exits with."""
        return _RANK[self.level]

    @property
    def http_status(self) -> int:
        """503 only when unhealthy, so a load balancer keeps a degraded server in rotation."""
        return 503 if self.level == "unhealthy" else 200

    def to_dict(self) -> dict[str, Any]:
        # "status" repeats "level": API v1 answered {"status": ...} before the checks existed.
        return {"level": self.level, "status": self.level, "checked_at": self.checked_at,
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthReport:
        """The report a server sent (`GET /api/v1/health`)."""
        return cls(checks=tuple(Check.from_dict(c) for c in data.get("checks") or ()),
                   checked_at=float(data.get("checked_at") or 0.0))
