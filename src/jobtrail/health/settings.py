"""Health thresholds: one frozen dataclass read from the environment, with defaults that suit
jobs reporting a heartbeat every 30 seconds. Durations are seconds; counts are jobs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from jobtrail.durations import parse_duration
from jobtrail.errors import ConfigError, InvalidInput

__all__ = ["ENV", "HealthSettings"]

ENV = {
    "stall_timeout": "JOBTRAIL_STALL_TIMEOUT",
    "lost_window": "JOBTRAIL_LOST_WINDOW",
    "lost_unhealthy": "JOBTRAIL_LOST_UNHEALTHY",
    "queue_degraded": "JOBTRAIL_QUEUE_DEGRADED",
    "queue_unhealthy": "JOBTRAIL_QUEUE_UNHEALTHY",
    "queue_age_degraded": "JOBTRAIL_QUEUE_AGE_DEGRADED",
    "queue_age_unhealthy": "JOBTRAIL_QUEUE_AGE_UNHEALTHY",
    "queue_growth_window": "JOBTRAIL_QUEUE_GROWTH_WINDOW",
    "queue_growth_degraded": "JOBTRAIL_QUEUE_GROWTH_DEGRADED",
    "worker_timeout": "JOBTRAIL_WORKER_TIMEOUT",
    "worker_forget": "JOBTRAIL_WORKER_FORGET",
    "stall_sweep_interval": "JOBTRAIL_STALL_SWEEP_INTERVAL",
    "store_slow": "JOBTRAIL_STORE_SLOW",
}
"""Setting → environment variable."""
_DURATIONS = frozenset({"stall_timeout", "lost_window", "queue_age_degraded",
                        "queue_age_unhealthy", "queue_growth_window", "worker_timeout",
                        "worker_forget", "stall_sweep_interval", "store_slow"})


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """When each check turns degraded or unhealthy. A count threshold of 0 disables that test."""

    stall_timeout: float = 300.0
    """A started job silent (no heartbeat, progress or end) this long is marked `lost`."""
    lost_window: float = 3600.0
    """Jobs that became `lost` within this window make the stalled-jobs check degraded."""
    lost_unhealthy: int = 10
    queue_degraded: int = 1000
    """Jobs waiting in one queue."""
    queue_unhealthy: int = 10_000
    queue_age_degraded: float = 600.0
    """Age of the oldest queued job in a queue."""
    queue_age_unhealthy: float = 3600.0
    queue_growth_window: float = 600.0
    queue_growth_degraded: int = 500
    """Net jobs added to one queue within `queue_growth_window`."""
    worker_timeout: float = 120.0
    """A worker silent this long (and not stopped) is lost."""
    worker_forget: float = 86400.0
    """Workers silent longer than this are history, not a problem: the check ignores them."""
    stall_sweep_interval: float = 30.0
    """How often the server marks stalled jobs `lost` on its own."""

    store_slow: float = 1.0
    """A store that takes this long to answer one indexed query is degraded."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HealthSettings:
        env = os.environ if env is None else env
        values: dict[str, float | int] = {}
        for f in fields(cls):
            raw = env.get(ENV[f.name], "").strip()
            if not raw:
                continue
            try:
                values[f.name] = (parse_duration(raw) if f.name in _DURATIONS
                                  else _count(raw))
            except (InvalidInput, ValueError) as exc:
                raise ConfigError(f"invalid {ENV[f.name]}={raw!r}: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]


def _count(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value
