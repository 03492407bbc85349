"""Health: is jobtrail, and the job system it watches, working? Five checks (the store, queues,
stalled jobs, workers, periodic jobs), each healthy, degraded or unhealthy with a human reason;
the report's level is the worst of them. `GET /api/v1/health`, `jobtrail health` and the
`/health` page all show `check()`'s report.
"""

from __future__ import annotations

import logging
import time

from jobtrail.health.checks import ALL, check_stalled
from jobtrail.health.report import LEVELS, Check, HealthReport, worst
from jobtrail.health.settings import HealthSettings
from jobtrail.health.stalled import Stalled, lost_since, mark_stalled
from jobtrail.store.base import Store

__all__ = [
    "LEVELS",
    "Check",
    "HealthReport",
    "HealthSettings",
    "Stalled",
    "check",
    "lost_since",
    "mark_stalled",
    "worst",
]

log = logging.getLogger("jobtrail.health")


def check(store: Store, settings: HealthSettings | None = None,
          now: float | None = None, *, mark: bool = True) -> HealthReport:
    """Run every check now. A check that fails to run is unhealthy, saying why, so this only
    raises for bad settings (`ConfigError` from the environment when `settings` is None).

    Checking also marks stalled jobs `lost` (see `jobtrail.health.stalled`) unless `mark` is False
    (a Prometheus scrape only reads); when the store itself does not answer, the other checks are
    not attempted.
    """
    settings = settings or HealthSettings.from_env()
    now = time.time() if now is None else now
    checks: list[Check] = []
    store_down = False
    for name, fn in ALL.items():
        if store_down:
            checks.append(Check(name, "unhealthy", "not checked: the database does not answer"))
            continue
        try:
            if name == "stalled":
                checks.append(check_stalled(store, settings, now, mark=mark))
            else:
                checks.append(fn(store, settings, now))
        except Exception as exc:  # noqa: BLE001 - a check that cannot run is itself the finding
            log.warning("health check %s failed: %s", name, exc)
            text = " ".join(str(exc).split())[:300] or type(exc).__name__
            store_down = name == "store"
            reason = (f"the database does not answer: {text}" if store_down
                      else f"could not check {name}: {text}")
            checks.append(Check(name, "unhealthy", reason, {"error": type(exc).__name__}))
    return HealthReport(checks=tuple(checks), checked_at=now)
